"""Smoke tests of cardshare_local.extensions.logs_query_definitions.

Stock moto 5.2.5 answers PutQueryDefinition with "not yet implemented": each test fails without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from cardshare_local.accounts import REGION
from cardshare_local.extensions import logs_query_definitions


@pytest.fixture
def logs() -> Iterator[Any]:
    logs_query_definitions.install()
    with mock_aws():
        yield boto3.client("logs", region_name=REGION)


def test_a_definition_is_stored_and_described_by_name_prefix(logs: Any) -> None:
    created = logs.put_query_definition(
        name="stack-a/card-decisions", queryString="fields @timestamp | limit 5", logGroupNames=["/aws/lambda/a"]
    )["queryDefinitionId"]
    logs.put_query_definition(name="stack-b/other", queryString="fields @message")

    (definition,) = logs.describe_query_definitions(queryDefinitionNamePrefix="stack-a/")["queryDefinitions"]

    assert definition["queryDefinitionId"] == created
    assert (definition["name"], definition["queryString"]) == ("stack-a/card-decisions", "fields @timestamp | limit 5")
    assert definition["logGroupNames"] == ["/aws/lambda/a"]
    assert len(logs.describe_query_definitions()["queryDefinitions"]) == 2


def test_putting_with_an_id_replaces_that_definition_and_delete_removes_it(logs: Any) -> None:
    created = logs.put_query_definition(name="q", queryString="fields @message")["queryDefinitionId"]

    again = logs.put_query_definition(queryDefinitionId=created, name="q", queryString="fields @timestamp")

    assert again["queryDefinitionId"] == created
    (definition,) = logs.describe_query_definitions()["queryDefinitions"]
    assert definition["queryString"] == "fields @timestamp"
    assert logs.delete_query_definition(queryDefinitionId=created)["success"] is True
    assert logs.describe_query_definitions()["queryDefinitions"] == []


def test_unknown_ids_and_empty_queries_are_refused_like_aws(logs: Any) -> None:
    with pytest.raises(ClientError) as unknown:
        logs.put_query_definition(queryDefinitionId="0" * 36, name="q", queryString="fields @message")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as empty:
        logs.delete_query_definition(queryDefinitionId="0" * 36)
    assert empty.value.response["Error"]["Code"] == "ResourceNotFoundException"
