"""Smoke tests of cardshare_local.extensions.sfn_errors, run through moto's ASL interpreter.

Stock moto 5.2.5 names aws-sdk errors ``ram.UnknownResourceException`` (or ``ram.ramException``)
and rejects the PascalCase parameters AWS documents for aws-sdk tasks with States.Runtime.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from inprocess_functions import in_process_function
from moto import mock_aws

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.extensions import lambda_inprocess, sfn_errors

ROLE = f"arn:aws:iam::{MODEL_CARD_ACCOUNT}:role/sfn"
UNKNOWN_SHARE = f"arn:aws:ram:{REGION}:{MODEL_CARD_ACCOUNT}:resource-share/00000000-0000-0000-0000-000000000000"


@pytest.fixture
def sfn() -> Iterator[Any]:
    sfn_errors.install()
    lambda_inprocess.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)
    lambda_inprocess.reset(sources=True)


def _ram_extension() -> Any:
    ram = pytest.importorskip("cardshare_local.extensions.ram")  # stock moto has no AssociateResourceShare
    ram.install()
    return ram


def _run(sfn: Any, states: dict[str, Any], start: str = "Task") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    definition = json.dumps({"StartAt": start, "States": states})
    machine = sfn.create_state_machine(name=f"m{time.monotonic_ns()}", definition=definition, roleArn=ROLE)
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]
    deadline = time.monotonic() + 30
    while (result := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution did not finish"
        time.sleep(0.05)
    return result, sfn.get_execution_history(executionArn=execution)["events"]


def _task_errors(history: list[dict[str, Any]]) -> list[str]:
    details = ("taskFailedEventDetails", "lambdaFunctionFailedEventDetails")
    return [e[d]["error"] for e in history for d in details if d in e]


def _caught(resource: str, parameters: dict[str, Any], error: str, **task: Any) -> dict[str, Any]:
    return {
        "Task": {
            "Type": "Task",
            "Resource": resource,
            "Parameters": parameters,
            "Catch": [{"ErrorEquals": [error], "Next": "Caught", "ResultPath": "$.error"}],
            "End": True,
            **task,
        },
        "Caught": {"Type": "Pass", "End": True},
    }


def test_error_name_rules() -> None:
    def client_error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")

    assert sfn_errors.error_name(sfn_errors.service_prefix("ram"), client_error("ThrottlingException")) == (
        "Ram.ThrottlingException"
    )
    assert sfn_errors.error_name(sfn_errors.service_prefix("sagemaker"), client_error("ResourceNotFound")) == (
        "SageMaker.ResourceNotFoundException"
    )
    assert sfn_errors.service_prefix("dynamodb") == "DynamoDb"
    assert sfn_errors.service_prefix("athena") == "Athena"


def test_catch_on_ram_error_with_pascal_case_parameters(sfn: Any) -> None:
    _ram_extension()
    states = _caught(
        "arn:aws:states:::aws-sdk:ram:associateResourceShare",
        {"ResourceShareArn": UNKNOWN_SHARE, "ResourceArns": ["arn:aws:sagemaker:us-east-1:123456789012:model-card/x"]},
        "Ram.UnknownResourceException",
    )
    result, history = _run(sfn, states)
    assert result["status"] == "SUCCEEDED", result
    caught = json.loads(result["output"])["error"]
    assert caught["Error"] == "Ram.UnknownResourceException"
    assert "(Service: Ram, Status Code: 400, Request ID: " in caught["Cause"]
    assert _task_errors(history) == ["Ram.UnknownResourceException"]


def test_retry_on_ram_throttling(sfn: Any) -> None:
    ram = _ram_extension()
    if not hasattr(ram, "inject_error"):
        pytest.skip("extensions.ram cannot inject errors")
    ram.inject_error("AssociateResourceShare", "ThrottlingException", times=1)
    states = _caught(
        "arn:aws:states:::aws-sdk:ram:associateResourceShare",
        {"ResourceShareArn": UNKNOWN_SHARE, "ResourceArns": ["arn:aws:sagemaker:us-east-1:123456789012:model-card/x"]},
        "Ram.UnknownResourceException",
        Retry=[{"ErrorEquals": ["Ram.ThrottlingException"], "IntervalSeconds": 1, "MaxAttempts": 2}],
    )
    try:
        result, history = _run(sfn, states)
    finally:
        ram.reset_faults()
    assert result["status"] == "SUCCEEDED", result
    assert _task_errors(history) == ["Ram.ThrottlingException", "Ram.UnknownResourceException"]


def test_catch_on_sagemaker_error(sfn: Any) -> None:
    states = _caught(
        "arn:aws:states:::aws-sdk:sagemaker:describeModelCard",
        {"ModelCardName": "missing"},
        "SageMaker.ResourceNotFoundException",
    )
    result, _ = _run(sfn, states)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["error"]["Error"] == "SageMaker.ResourceNotFoundException"


def test_results_come_back_in_pascal_case(sfn: Any) -> None:
    boto3.client("ram", region_name=REGION).create_resource_share(name="cards")
    states = {
        "Task": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:ram:getResourceShares",
            "Parameters": {"ResourceOwner": "SELF"},
            "End": True,
        }
    }
    result, _ = _run(sfn, states)
    assert result["status"] == "SUCCEEDED", result
    [share] = json.loads(result["output"])["ResourceShares"]
    assert share["Name"] == "cards"
    assert share["ResourceShareArn"].startswith(f"arn:aws:ram:{REGION}:{MODEL_CARD_ACCOUNT}:resource-share/")


def test_lambda_task_error_is_the_error_type(sfn: Any, tmp_path: Path) -> None:
    """Already right in stock moto; kept so an upgrade that breaks it is noticed."""
    function_arn = in_process_function(
        "plan",
        tmp_path,
        """
        class CardNotReady(Exception):
            pass

        def handler(event, context):
            raise CardNotReady("not yet")
        """,
    )

    for resource, parameters in (
        ("arn:aws:states:::lambda:invoke", {"FunctionName": function_arn, "Payload": {"a": 1}}),
        (function_arn, {"a": 1}),
    ):
        result, history = _run(sfn, _caught(resource, parameters, "CardNotReady"))
        assert result["status"] == "SUCCEEDED", result
        caught = json.loads(result["output"])["error"]
        assert caught["Error"] == "CardNotReady"
        cause = json.loads(caught["Cause"])
        assert (cause["errorType"], cause["errorMessage"]) == ("CardNotReady", "not yet")
        assert _task_errors(history) == ["CardNotReady"]
