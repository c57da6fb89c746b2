"""Smoke test of cardshare_local.extensions.dynamodb_read_cost: the same answers as stock moto, cheaper.

Every read is made twice on one table, with moto's own projection and serializer and with the
extension's, and the two parsed responses must be equal: every attribute type (binary included,
which keeps moto's path), nested paths, list elements, names that need ExpressionAttributeNames,
and Scan/Query pages cut by Limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item

from cardshare_local.accounts import REGION
from cardshare_local.extensions import dynamodb_read_cost

TABLE = "t"


def _item(key: str, sort: int) -> dict[str, Any]:
    return {
        "k": {"S": key},
        "r": {"N": str(sort)},
        "s": {"S": f"text {sort}"},
        "empty": {"S": ""},
        "n": {"N": "-12.5e3"},
        "flag": {"BOOL": sort % 2 == 0},
        "nothing": {"NULL": True},
        "b": {"B": bytes([0, 1, 2, sort % 256])},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"\x00", b"\xff"]},
        "l": {"L": [{"S": "first"}, {"M": {"deep": {"N": "1"}, "blob": {"B": b"\x07"}}}, {"L": []}]},
        "m": {"M": {"a": {"S": "1"}, "b": {"L": [{"BOOL": False}]}, "c": {"M": {}}}},
        "dash-name": {"S": "needs a placeholder"},
    }


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    dynamodb_read_cost.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "k", "AttributeType": "S"},
                {"AttributeName": "r", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for key in ("a", "b", "c"):
            for sort in range(4):
                client.put_item(TableName=TABLE, Item=_item(key, sort))
        yield client
    dynamodb_read_cost.install()


def _both(read: Callable[[], Any]) -> tuple[Any, Any]:
    """``read()`` with the extension, then with stock moto (the extension installed again after)."""
    fast = read()
    dynamodb_read_cost.uninstall()
    try:
        stock = read()
    finally:
        dynamodb_read_cost.install()
    return fast, stock


def _pages(client: Any, operation: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    while True:
        page = getattr(client, operation)(**request)
        page.pop("ResponseMetadata")
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


PROJECTIONS = {
    "whole items": {},
    "top-level names": {"ProjectionExpression": "k, s, n, flag, nothing, ss, ns"},
    "binary and nested": {"ProjectionExpression": "b, bs, l[1].deep, l[1].blob, m.b[0], m.c"},
    "a whole map and a path into it": {"ProjectionExpression": "m, m.a"},
    "placeholders and a missing name": {
        "ProjectionExpression": "#d, #missing, l[5]",
        "ExpressionAttributeNames": {"#d": "dash-name", "#missing": "absent"},
    },
}


@pytest.mark.parametrize("projection", list(PROJECTIONS.values()), ids=list(PROJECTIONS))
def test_a_scan_in_pages_answers_as_stock_moto(dynamodb: Any, projection: dict[str, Any]) -> None:
    request = {"TableName": TABLE, "Limit": 5, **projection}
    fast, stock = _both(lambda: _pages(dynamodb, "scan", request))
    assert fast == stock
    assert sum(len(page["Items"]) for page in fast) == 12


@pytest.mark.parametrize("projection", list(PROJECTIONS.values()), ids=list(PROJECTIONS))
def test_a_query_answers_as_stock_moto(dynamodb: Any, projection: dict[str, Any]) -> None:
    request = {
        "TableName": TABLE,
        "KeyConditionExpression": "k = :k",
        "ExpressionAttributeValues": {":k": {"S": "b"}},
        "Limit": 3,
        **projection,
    }
    fast, stock = _both(lambda: _pages(dynamodb, "query", request))
    assert fast == stock
    assert [len(page["Items"]) for page in fast] == [3, 1]


def test_get_item_answers_as_stock_moto(dynamodb: Any) -> None:
    def read() -> Any:
        return dynamodb.get_item(TableName=TABLE, Key={"k": {"S": "c"}, "r": {"N": "2"}})["Item"]

    fast, stock = _both(read)
    assert fast == stock
    assert fast["b"] == {"B": bytes([0, 1, 2, 2])}


def test_a_projected_item_is_made_plain_once_not_once_per_name(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    conversions = []
    original = Item.to_regular_json

    def counted(self: Item) -> dict[str, Any]:
        conversions.append(self)
        return original(self)

    monkeypatch.setattr(Item, "to_regular_json", counted)
    request = {"TableName": TABLE, "ProjectionExpression": "k, s, n, flag, m.a"}

    dynamodb.scan(**request)
    assert len(conversions) == 12  # one per item

    conversions.clear()
    dynamodb_read_cost.uninstall()
    try:
        dynamodb.scan(**request)
    finally:
        dynamodb_read_cost.install()
    assert len(conversions) == 12 * 5  # moto: one per item and projected name
