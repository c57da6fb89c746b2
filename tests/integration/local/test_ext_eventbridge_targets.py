"""Smoke tests of cardshare_local.extensions.eventbridge_targets.

Stock moto 5.2.5 raises NotImplementedError from PutEvents for Step Functions and Lambda targets,
drops "account" from events sent to SQS and ignores Input/InputPath.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from inprocess_functions import in_process_function
from moto import mock_aws

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.extensions import eventbridge_targets, lambda_inprocess

PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
DETAIL = {"name": "churn", "status": "Approved", "version": 3}


@pytest.fixture
def aws() -> Iterator[None]:
    eventbridge_targets.install()
    lambda_inprocess.install()
    eventbridge_targets.reset()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield
    eventbridge_targets.reset()
    lambda_inprocess.reset(sources=True)


def _clients() -> tuple[Any, Any, Any]:
    return (
        boto3.client("events", region_name=REGION),
        boto3.client("stepfunctions", region_name=REGION),
        boto3.client("sqs", region_name=REGION),
    )


def _state_machine(sfn: Any, name: str = "promote") -> str:
    role = f"arn:aws:iam::{MODEL_CARD_ACCOUNT}:role/sfn"
    return str(sfn.create_state_machine(name=name, definition=PASS_MACHINE, roleArn=role)["stateMachineArn"])


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _rule(events: Any, targets: list[dict[str, Any]]) -> None:
    events.put_rule(Name="cards", EventPattern=json.dumps({"source": ["cardshare.test"]}))
    events.put_targets(Rule="cards", Targets=targets)


def _put(events: Any) -> str:
    entry = {"Source": "cardshare.test", "DetailType": "Card", "Detail": json.dumps(DETAIL), "Resources": ["r1"]}
    result = events.put_events(Entries=[entry])
    assert result["FailedEntryCount"] == 0
    return str(result["Entries"][0]["EventId"])


def _execution_inputs(sfn: Any, state_machine_arn: str) -> list[Any]:
    executions = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]


def test_state_machine_target_gets_the_whole_event(aws: None) -> None:
    events, sfn, _ = _clients()
    machine = _state_machine(sfn)
    _rule(events, [{"Id": "sfn", "Arn": machine, "RoleArn": f"arn:aws:iam::{MODEL_CARD_ACCOUNT}:role/events"}])
    event_id = _put(events)

    [delivery] = eventbridge_targets.deliveries()
    assert (delivery.event_id, delivery.target_arn, delivery.outcome) == (event_id, machine, "delivered")
    assert delivery.execution_arn
    assert delivery.execution_arn.startswith(machine.replace(":stateMachine:", ":execution:"))
    [event] = _execution_inputs(sfn, machine)
    assert event["id"] == event_id
    assert (event["source"], event["detail-type"], event["detail"]) == ("cardshare.test", "Card", DETAIL)
    assert (event["account"], event["region"], event["resources"]) == (MODEL_CARD_ACCOUNT, REGION, ["r1"])
    assert time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert "ingestion-time" not in event
    status = sfn.describe_execution(executionArn=delivery.execution_arn)["status"]
    assert status in {"RUNNING", "SUCCEEDED"}


def test_input_input_path_and_input_transformer(aws: None) -> None:
    events, sfn, _ = _clients()
    constant, path, transformed = (_state_machine(sfn, n) for n in ("constant", "path", "transformed"))
    _rule(
        events,
        [
            {"Id": "constant", "Arn": constant, "Input": '{"fixed": true}'},
            {"Id": "path", "Arn": path, "InputPath": "$.detail"},
            {
                "Id": "transformed",
                "Arn": transformed,
                "InputTransformer": {
                    "InputPathsMap": {"card": "$.detail.name", "version": "$.detail.version", "detail": "$.detail"},
                    "InputTemplate": (
                        '{"card": <card>, "version": <version>, "detail": <detail>, '
                        '"text": "<card> v<version>", "rule": <aws.events.rule-name>}'
                    ),
                },
            },
        ],
    )
    _put(events)
    assert _execution_inputs(sfn, constant) == [{"fixed": True}]
    assert _execution_inputs(sfn, path) == [DETAIL]
    assert _execution_inputs(sfn, transformed) == [
        {"card": "churn", "version": 3, "detail": DETAIL, "text": "churn v3", "rule": "cards"}
    ]


def test_failed_delivery_goes_to_the_dead_letter_queue(aws: None) -> None:
    events, _, sqs = _clients()
    dlq_url, dlq_arn = _queue(sqs, "promote-dlq")
    missing = f"arn:aws:states:{REGION}:{MODEL_CARD_ACCOUNT}:stateMachine:missing"
    _rule(events, [{"Id": "sfn", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}}])
    event_id = _put(events)  # PutEvents itself succeeds: delivery is EventBridge's business

    [delivery] = eventbridge_targets.deliveries()
    assert (delivery.outcome, delivery.error_code) == ("dead-lettered", "RESOURCE_NOT_FOUND")
    [message] = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["id"] == event_id
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == f"arn:aws:events:{REGION}:{MODEL_CARD_ACCOUNT}:rule/cards"
    assert attributes["TARGET_ARN"] == missing
    assert attributes["ERROR_CODE"] == "RESOURCE_NOT_FOUND"
    assert attributes["ERROR_MESSAGE"]


def test_failure_without_dead_letter_queue_is_dropped(aws: None) -> None:
    events, _, _ = _clients()
    _rule(events, [{"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{MODEL_CARD_ACCOUNT}:function:missing"}])
    _put(events)
    [delivery] = eventbridge_targets.deliveries()
    assert (delivery.outcome, delivery.error_code) == ("dropped", "RESOURCE_NOT_FOUND")


def test_lambda_target_is_invoked_asynchronously(aws: None, tmp_path: Path) -> None:
    function_arn = in_process_function(
        "on-card",
        tmp_path,
        """
        import json, os

        def handler(event, context):
            with open(os.environ["OUT"], "w") as out:
                json.dump(event, out)
        """,
        {"OUT": str(tmp_path / "event.json")},
    )
    events, _, _ = _clients()
    _rule(events, [{"Id": "fn", "Arn": function_arn, "InputPath": "$.detail"}])
    _put(events)

    [delivery] = eventbridge_targets.deliveries()
    assert delivery.outcome == "delivered"
    assert json.loads((tmp_path / "event.json").read_text()) == DETAIL
    assert lambda_inprocess.invocations()[-1].invocation_type == "Event"


def test_sqs_target_next_to_a_state_machine(aws: None) -> None:
    events, sfn, sqs = _clients()
    url, arn = _queue(sqs, "copies")
    _rule(events, [{"Id": "q", "Arn": arn}, {"Id": "sfn", "Arn": _state_machine(sfn)}])
    event_id = _put(events)
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    body = json.loads(message["Body"])
    assert (body["id"], body["account"], body["detail"]) == (event_id, MODEL_CARD_ACCOUNT, DETAIL)
    assert [d.outcome for d in eventbridge_targets.deliveries()] == ["delivered", "delivered"]


def test_disabled_rule_delivers_nothing(aws: None) -> None:
    events, sfn, _ = _clients()
    machine = _state_machine(sfn)
    _rule(events, [{"Id": "sfn", "Arn": machine}])
    events.disable_rule(Name="cards")
    _put(events)
    assert eventbridge_targets.deliveries() == []
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
