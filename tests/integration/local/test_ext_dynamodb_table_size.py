"""Smoke test of the DynamoDB table-size extension: fails on stock moto 5.2.5 (TableSizeBytes is always 0)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cardshare_local.extensions import dynamodb_table_size


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    dynamodb_table_size.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def test_describe_table_reports_the_size_of_its_items(dynamodb: Any) -> None:
    def size() -> int:
        return int(dynamodb.describe_table(TableName="t")["Table"]["TableSizeBytes"])

    assert size() == 0
    dynamodb.put_item(TableName="t", Item={"k": {"S": "a"}, "v": {"S": "x" * 1000}})
    first = size()
    assert 1000 < first < 1100
    dynamodb.put_item(TableName="t", Item={"k": {"S": "b"}, "v": {"S": "x" * 1000}})
    assert size() == 2 * first
