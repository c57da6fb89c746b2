"""Governance end to end: gates, revert mode, the ledger and notifications, through the real stack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_support import (
    APPROVER,
    LEAD,
    SCIENTIST,
    Executions,
    assert_associations,
    card_arn,
    card_content,
    client,
    output,
    sagemaker,
    start,
)

from cardshare_local.runtime import LocalAws

NAME = "Governed-Model-Card"


def subscribe(system: LocalAws, filter_policy: dict[str, Any] | None = None) -> str:
    """An SQS queue on the decisions topic (raw delivery keeps the message attributes on the SQS side)."""
    sqs = client(system, "sqs")
    url = sqs.create_queue(QueueName=f"decisions-{len(sqs.list_queues().get('QueueUrls', []))}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"RawMessageDelivery": "true"}
    if filter_policy:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    client(system, "sns").subscribe(
        TopicArn=system.stack.outputs["DecisionsTopicArn"], Protocol="sqs", Endpoint=arn, Attributes=attributes
    )
    return str(url)


def received(system: LocalAws, url: str) -> list[dict[str, Any]]:
    """Messages on the queue: body (the record) and message attributes."""
    messages = (
        client(system, "sqs")
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )
    return [{"record": json.loads(m["Body"]), "attributes": m.get("MessageAttributes", {})} for m in messages]


def ledger(system: LocalAws, arn: str) -> list[dict[str, Any]]:
    """The card's ledger records in time order, as plain values."""
    from cardshare.ledger import from_item

    items = client(system, "dynamodb").query(
        TableName=system.stack.outputs["DecisionLedgerTableName"],
        KeyConditionExpression="cardArn = :card",
        ExpressionAttributeValues={":card": {"S": arn}},
    )["Items"]
    return [from_item(item) for item in items]


def step(system: LocalAws, executions: Executions, role: str, **update: Any) -> dict[str, Any]:
    """One person's UpdateModelCard (or CreateModelCard with ``create=True``); the last execution's output."""
    cards = sagemaker(system, role=role)
    if update.pop("create", False):
        cards.create_model_card(ModelCardName=NAME, **update)
    else:
        cards.update_model_card(ModelCardName=NAME, **update)
    fresh = executions.new()
    assert fresh and all(e["status"] == "SUCCEEDED" for e in fresh), [(e["status"], e.get("cause")) for e in fresh]
    return output(fresh[-1])


def to_review(system: LocalAws, executions: Executions, author: str = LEAD) -> None:
    step(system, executions, author, create=True, Content=card_content(author, True), ModelCardStatus="Draft")
    step(system, executions, author, ModelCardStatus="PendingReview")


def test_a_proper_approval_is_shared_recorded_and_notified(system: LocalAws) -> None:
    executions = Executions(system)
    everything = subscribe(system)
    to_review(system, executions)
    result = step(system, executions, APPROVER, ModelCardStatus="Approved")
    assert (result["outcome"], result["sharesAdded"], result["blocked"]) == ("shared", ["prod"], [])
    assert_associations(system, card_arn(NAME), ["dev", "test", "prod"])

    records = ledger(system, card_arn(NAME))
    assert [(r["status"], r["outcome"]) for r in records] == [
        ("Draft", "shared"),
        ("PendingReview", "shared"),
        ("Approved", "shared"),
    ]
    approval = records[-1]
    assert approval["previousStatus"] == "PendingReview"
    assert approval["actor"].endswith(f"assumed-role/{APPROVER}/{APPROVER}")
    assert approval["sharesAdded"] == ["prod"] and approval["sharesRemoved"] == []
    assert {g["gate"]: g["passed"] for g in approval["gates"]} == {"review": True, "approval": True}
    assert approval["executionArn"].startswith("arn:aws:states:") and approval["eventId"]
    assert approval["version"] == 1 and approval["time"] < approval["decidedAt"]

    messages = received(system, everything)
    assert [m["record"]["outcome"] for m in messages] == ["shared", "shared", "shared"]
    assert messages[-1]["attributes"]["outcome"]["StringValue"] == "shared"
    assert messages[-1]["attributes"]["status"]["StringValue"] == "Approved"
    assert messages[-1]["attributes"]["card"]["StringValue"] == card_arn(NAME)


def test_approval_straight_from_draft_is_blocked(system: LocalAws) -> None:
    executions = Executions(system)
    blocked_only = subscribe(system, {"outcome": ["blocked"]})
    step(system, executions, LEAD, create=True, Content=card_content(LEAD, True), ModelCardStatus="Draft")
    result = step(system, executions, APPROVER, ModelCardStatus="Approved")
    assert result["outcome"] == "blocked"
    assert any("approved from Draft" in reason for reason in result["blocked"])
    assert_associations(system, card_arn(NAME), ["dev"])
    [message] = received(system, blocked_only)
    assert message["record"]["effectiveStatus"] == "Draft"


def test_self_approval_is_blocked_and_a_duplicate_is_a_no_op(system: LocalAws) -> None:
    executions = Executions(system)
    blocked_only = subscribe(system, {"outcome": ["blocked"]})
    to_review(system, executions, author=SCIENTIST)
    result = step(system, executions, SCIENTIST, ModelCardStatus="Approved")
    assert result["outcome"] == "blocked"
    assert any("separation of duties" in reason for reason in result["blocked"])
    assert_associations(system, card_arn(NAME), ["dev", "test"])

    # The same approval event delivered again: no new decision, no new notification.
    start(system, json.loads(system.executions()[-1]["input"]))
    [again] = executions.new()
    assert output(again)["outcome"] == "no-op"
    assert len(received(system, blocked_only)) == 1
    assert [r["outcome"] for r in ledger(system, card_arn(NAME))][-2:] == ["blocked", "no-op"]


@pytest.mark.parametrize("system", [{"ApproverAllowList": "arn:aws:iam::*:role/model-approver"}], indirect=True)
def test_only_listed_approvers_may_approve(system: LocalAws) -> None:
    executions = Executions(system)
    to_review(system, executions)
    refused = step(system, executions, "release-manager", ModelCardStatus="Approved")
    assert refused["outcome"] == "blocked"
    assert any("allow-list" in reason for reason in refused["blocked"])
    assert_associations(system, card_arn(NAME), ["dev", "test"])
    step(system, executions, LEAD, ModelCardStatus="PendingReview")
    accepted = step(system, executions, APPROVER, ModelCardStatus="Approved")
    assert (accepted["outcome"], accepted["sharesAdded"]) == ("shared", ["prod"])


@pytest.mark.parametrize("system", [{"ApprovalEnforcement": "revert"}], indirect=True)
def test_revert_mode_sets_a_blocked_approval_back_to_pending_review(system: LocalAws) -> None:
    executions = Executions(system)
    to_review(system, executions, author=SCIENTIST)
    sagemaker(system, role=SCIENTIST).update_model_card(ModelCardName=NAME, ModelCardStatus="Approved")
    fresh = executions.new()
    # The blocked approval, then the execution started by cardshare's own revert.
    assert [e["status"] for e in fresh] == ["SUCCEEDED", "SUCCEEDED"]
    assert [output(e)["status"] for e in fresh] == ["Approved", "PendingReview"]
    card = sagemaker(system).describe_model_card(ModelCardName=NAME)
    assert card["ModelCardStatus"] == "PendingReview"
    blocked = [r for r in ledger(system, card_arn(NAME)) if r["outcome"] == "blocked"]
    assert blocked[-1]["enforcement"] == "reverted to PendingReview"
    assert_associations(system, card_arn(NAME), ["dev", "test"])


def test_review_gate_keeps_an_incomplete_card_out_of_test(system: LocalAws) -> None:
    executions = Executions(system)
    blocked_only = subscribe(system, {"outcome": ["blocked"]})
    step(system, executions, LEAD, create=True, Content=card_content(LEAD, False), ModelCardStatus="Draft")
    result = step(system, executions, LEAD, ModelCardStatus="PendingReview")
    assert result["outcome"] == "blocked"
    assert result["blocked"] == ["missing required field intended_uses.intended_uses"]
    assert_associations(system, card_arn(NAME), ["dev"])
    [message] = received(system, blocked_only)
    assert "intended_uses.intended_uses" in json.dumps(message["record"]["gates"])

    # Completing the content while in review shares it with test.
    completed = step(system, executions, LEAD, Content=card_content(LEAD, True))
    assert (completed["outcome"], completed["sharesAdded"]) == ("shared", ["test"])


def test_a_failed_execution_is_recorded_and_notified(system: LocalAws) -> None:
    executions = Executions(system)
    everything = subscribe(system)
    event = json.loads((system.root / "events" / "malformed-unknown-status.json").read_text())
    start(system, event)
    [failed] = executions.new()
    assert failed["status"] == "FAILED" and failed["error"] == "InvalidEventError"
    records = ledger(system, event["resources"][0])
    assert [(r["outcome"], r["error"]) for r in records] == [("failed", "InvalidEventError")]
    assert "ModelCardStatus" in records[0]["cause"]
    [message] = received(system, everything)
    assert message["attributes"]["outcome"]["StringValue"] == "failed"


def test_shares_converge_even_when_the_ledger_is_unavailable(system: LocalAws) -> None:
    executions = Executions(system)
    dynamodb = client(system, "dynamodb")
    table = system.stack.outputs["DecisionLedgerTableName"]
    dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=table)
    sagemaker(system).create_model_card(ModelCardName=NAME, Content=card_content(LEAD), ModelCardStatus="Draft")
    [execution] = executions.new()
    assert execution["status"] == "FAILED"
    assert execution["error"].startswith("DynamoDB.")
    assert_associations(system, card_arn(NAME), ["dev"])
