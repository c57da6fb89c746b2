"""Smoke test: the local Lambda refuses environment variables over 4 KB, as AWS does."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from cardshare_local.extensions import lambda_environment_limit


@pytest.fixture
def lam() -> Iterator[object]:
    with mock_aws():
        lambda_environment_limit.install()
        yield boto3.client("lambda", region_name="us-east-1")


def code() -> dict[str, bytes]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context): return event\n")
    return {"ZipFile": buffer.getvalue()}


def role() -> str:
    iam = boto3.client("iam", region_name="us-east-1")
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    return str(iam.create_role(RoleName="fn", AssumeRolePolicyDocument=document)["Role"]["Arn"])


def variables_of_size(size: int) -> dict[str, str]:
    """One variable whose compact JSON ({"V":"..."}) is exactly ``size`` bytes."""
    return {"V": "x" * (size - len('{"V":""}'))}


def test_exactly_4_kb_is_accepted_and_one_byte_more_is_refused_on_create_and_update(lam: object) -> None:
    client = lam  # type: ignore[assignment]
    arn = role()
    at_limit = variables_of_size(4096)
    assert lambda_environment_limit.environment_size(at_limit) == 4096
    client.create_function(  # type: ignore[attr-defined]
        FunctionName="ok",
        Runtime="python3.11",
        Role=arn,
        Handler="app.handler",
        Code=code(),
        Environment={"Variables": at_limit},
    )
    with pytest.raises(ClientError) as created:
        client.create_function(  # type: ignore[attr-defined]
            FunctionName="big",
            Runtime="python3.11",
            Role=arn,
            Handler="app.handler",
            Code=code(),
            Environment={"Variables": variables_of_size(4097)},
        )
    assert created.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "exceeded the 4KB limit" in created.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as updated:
        client.update_function_configuration(  # type: ignore[attr-defined]
            FunctionName="ok", Environment={"Variables": variables_of_size(5000)}
        )
    assert updated.value.response["Error"]["Code"] == "InvalidParameterValueException"
