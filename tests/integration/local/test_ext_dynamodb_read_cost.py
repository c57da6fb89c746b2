"""Smoke test of cardshare_local.extensions.dynamodb_read_cost: the same answers as stock moto, cheaper.

Every read is made twice on one table, with moto's own Scan, projection and serializer and with the
extension's, and the two parsed responses must be equal: every attribute type (binary and sets
included, which keep moto's path), nested paths, list elements, names that need
ExpressionAttributeNames, pages cut by Limit and by DynamoDB's 1 MB, any start key, number keys,
and a filtered Scan (moto's path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from cardshare_local.accounts import REGION
from cardshare_local.extensions import dynamodb_read_cost, dynamodb_table_size

TABLE = "t"


def _item(key: str, sort: int) -> dict[str, Any]:
    return {
        "k": {"S": key},
        "r": {"N": str(sort)},
        "s": {"S": f"text {sort}"},
        "zerolength": {"S": ""},
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
        "plain": {"M": {"x": {"N": "0.10"}, "y": {"L": [{"N": "1E+2"}, {"S": ""}, {"NULL": True}, {"M": {}}]}}},
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
    pages: list[dict[str, Any]] = []
    while len(pages) < 100:  # a start key that does not advance would page forever
        page = getattr(client, operation)(**request)
        page.pop("ResponseMetadata")
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}
    raise AssertionError(f"{operation} does not end: {pages[-2:]}")


PROJECTIONS = {
    "whole items": {},
    "top-level plain names": {"ProjectionExpression": "r, k, s, n, flag, nothing, plain, zerolength"},
    "top-level names with sets": {"ProjectionExpression": "k, s, n, flag, nothing, ss, ns"},
    "binary and nested": {"ProjectionExpression": "b, bs, l[1].deep, l[1].blob, m.b[0], m.c"},
    "a whole map and a path into it": {"ProjectionExpression": "m, m.a"},
    "placeholders and a missing name": {
        "ProjectionExpression": "#d, #missing, l[5]",
        "ExpressionAttributeNames": {"#d": "dash-name", "#missing": "absent"},
    },
}


@pytest.mark.parametrize("limit", [1, 5, 12, 100])
@pytest.mark.parametrize("projection", list(PROJECTIONS.values()), ids=list(PROJECTIONS))
def test_a_scan_in_pages_answers_as_stock_moto(dynamodb: Any, projection: dict[str, Any], limit: int) -> None:
    request = {"TableName": TABLE, "Limit": limit, **projection}
    fast, stock = _both(lambda: _pages(dynamodb, "scan", request))
    assert fast == stock
    assert sum(len(page["Items"]) for page in fast) == 12
    assert len(fast) == -(-12 // limit)


@pytest.mark.parametrize(
    "start",
    [
        {"k": {"S": "a"}, "r": {"N": "3"}},  # the last item of a hash key
        {"k": {"S": "b"}, "r": {"N": "1.5"}},  # between two items
        {"k": {"S": "0"}, "r": {"N": "9"}},  # before every item
        {"k": {"S": "z"}, "r": {"N": "0"}},  # after every item
    ],
    ids=["last of a key", "between", "before all", "after all"],
)
def test_a_scan_from_any_start_key_answers_as_stock_moto(dynamodb: Any, start: dict[str, Any]) -> None:
    request = {"TableName": TABLE, "Limit": 4, "ExclusiveStartKey": start, "ProjectionExpression": "k, r, n"}
    fast, stock = _both(lambda: _pages(dynamodb, "scan", request))
    assert fast == stock


def test_a_scan_of_a_table_without_range_key_in_megabyte_pages_answers_as_stock_moto(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName="big",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for number in (10, 9, 100, 1, 55, 2, 30, 7, 8, 64, 3, 12):  # numeric order differs from text order
        dynamodb.put_item(TableName="big", Item={"id": {"N": str(number)}, "blob": {"S": "x" * 300_000}})
    fast, stock = _both(lambda: _pages(dynamodb, "scan", {"TableName": "big", "ProjectionExpression": "id"}))
    assert fast == stock
    assert [len(page["Items"]) for page in fast] == [3, 3, 3, 3]  # 1 MB pages of ~300 KB items
    assert [item["id"]["N"] for page in fast for item in page["Items"]][:4] == ["1", "2", "3", "7"]


def test_a_filtered_scan_answers_as_stock_moto(dynamodb: Any) -> None:
    request = {
        "TableName": TABLE,
        "Limit": 5,
        "FilterExpression": "flag = :yes",
        "ExpressionAttributeValues": {":yes": {"BOOL": True}},
    }
    fast, stock = _both(lambda: _pages(dynamodb, "scan", request))
    assert fast == stock
    assert sum(len(page["Items"]) for page in fast) == 6


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


def test_items_measure_as_in_stock_moto(dynamodb: Any) -> None:
    dynamodb_table_size.install()  # DescribeTable's size is the sum of the items' sizes

    def size() -> int:
        return int(dynamodb.describe_table(TableName=TABLE)["Table"]["TableSizeBytes"])

    fast, stock = _both(size)
    assert fast == stock
    assert fast > 12 * 100


def test_get_item_answers_as_stock_moto(dynamodb: Any) -> None:
    def read() -> Any:
        return dynamodb.get_item(TableName=TABLE, Key={"k": {"S": "c"}, "r": {"N": "2"}})["Item"]

    fast, stock = _both(read)
    assert fast == stock
    assert fast["b"] == {"B": bytes([0, 1, 2, 2])}


def test_a_scan_projecting_plain_names_neither_compares_items_nor_makes_them_plain(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any) -> Any:
        raise AssertionError("moto's per-item path was taken")

    monkeypatch.setattr(Table, "_item_comes_before_dct", refuse)
    monkeypatch.setattr(Item, "to_regular_json", refuse)
    pages = _pages(dynamodb, "scan", {"TableName": TABLE, "Limit": 5, "ProjectionExpression": "k, r, n, plain"})
    assert [page["Items"][0]["n"] for page in pages] == [{"N": "-1.25E+4"}] * 3  # canonical, as moto's projection


def test_a_projected_item_is_made_plain_once_not_once_per_name(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    conversions = []
    original = Item.to_regular_json

    def counted(self: Item) -> dict[str, Any]:
        conversions.append(self)
        return original(self)

    monkeypatch.setattr(Item, "to_regular_json", counted)
    request = {"TableName": TABLE, "ProjectionExpression": "k, s, n, flag, m.a"}  # a path: moto's projection

    dynamodb.scan(**request)
    assert len(conversions) == 12  # one per item

    conversions.clear()
    dynamodb_read_cost.uninstall()
    try:
        dynamodb.scan(**request)
    finally:
        dynamodb_read_cost.install()
    assert len(conversions) == 12 * 5  # moto: one per item and projected name
