"""Governance end to end: what the ledger records and subscribers hear, through the real stack.

The attacks on the approval rule (self-approval in every guise, skipping review, allow-lists,
Studio users, stale approvals) and their controls are in test_attacks.py; here: the record of a
proper approval, the review gate, failures, the ledger being away, and revert mode.
"""

from __future__ import annotations

import json
from typing import Any

from e2e_support import (
    APPROVER,
    LEAD,
    SCIENTIST,
    Executions,
    assert_associations,
    card_arn,
    card_content,
    client,
    describe,
    ram_rows,
    sagemaker,
    stack,
    start,
)
from governance_support import last_output, ledger, outcomes, received, settle, subscribe

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.runtime import LocalAws

NAME = "Governed-Model-Card"
ARN = card_arn(NAME)
KEY = f"arn:aws:kms:{REGION}:{MODEL_CARD_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def step(system: LocalAws, executions: Executions, role: str, **update: Any) -> dict[str, Any]:
    """One person's UpdateModelCard (or CreateModelCard with ``create=True``); the last execution's output."""
    cards = sagemaker(system, role=role)
    if update.pop("create", False):
        cards.create_model_card(ModelCardName=NAME, **update)
    else:
        cards.update_model_card(ModelCardName=NAME, **update)
    return last_output(settle(executions))


def as_recorded(message: dict[str, Any]) -> dict[str, Any]:
    """A notification's record as the ledger keeps it (DynamoDB items leave out empty values)."""
    return {key: value for key, value in message["record"].items() if value is not None}


def session(role: str) -> str:
    """The ARN SageMaker records for a role session the tests open (session name = role name)."""
    return f"arn:aws:sts::{MODEL_CARD_ACCOUNT}:assumed-role/{role}/{role}"


def test_a_proper_approval_is_shared_recorded_and_notified_once(system: LocalAws) -> None:
    executions = Executions(system)
    everything = subscribe(system)
    step(
        system,
        executions,
        LEAD,
        create=True,
        Content=card_content(),
        ModelCardStatus="Draft",
        SecurityConfig={"KmsKeyId": KEY},
    )
    step(system, executions, SCIENTIST, ModelCardStatus="PendingReview")
    result = step(system, executions, APPROVER, ModelCardStatus="Approved")
    assert (result["outcome"], result["sharesAdded"], result["blocked"], result["pending"]) == (
        "shared",
        ["prod"],
        [],
        [],
    )
    assert_associations(system, ARN, ["dev", "test", "prod"])

    records = ledger(system, ARN)
    assert [(r["status"], r["outcome"]) for r in records] == [
        ("Draft", "shared"),
        ("PendingReview", "shared"),
        ("Approved", "shared"),
    ]
    approval = records[-1]
    assert approval["actor"] == session(APPROVER)
    assert approval["sharesAdded"] == ["prod"]
    assert approval["sharesRemoved"] == []
    assert (approval["version"], approval["effectiveStatus"], approval["kmsKeyId"]) == (1, "Approved", KEY)
    assert approval["executionArn"].startswith("arn:aws:states:")
    assert approval["eventId"]
    assert approval["time"] < approval["decidedAt"]
    # Prod got the card only once the approval had settled (EvidenceWaitSeconds after it); the
    # execution waited for that, and says so.
    approved_at = sagemaker(system).describe_model_card(ModelCardName=NAME)["LastModifiedTime"]
    [prod_created] = [created for share, _, created, _ in ram_rows(system, ARN) if share.endswith("-prod-1")]
    assert (prod_created - approved_at).total_seconds() >= system.settings().gates.evidence_wait_seconds
    assert approval["evidenceWaits"] >= 1
    gates = {g["gate"]: g for g in approval["gates"]}
    assert {name: g["passed"] for name, g in gates.items()} == {"review": True, "approval": True}
    # Who approved, and whom the version's four eyes were checked against: its creator and submitter.
    assert gates["approval"]["details"] == {
        "version": 1,
        "check": "pass",
        "approver": session(APPROVER),
        "authors": sorted([session(LEAD), session(SCIENTIST)]),
        "reviewed": True,
        "stale": False,
    }
    # What the record no longer carries (the order-dependent history of the lease design).
    assert not {"previousStatus", "versionAuthors", "trail"} & set(approval)

    messages = received(system, everything)
    assert [m["record"]["outcome"] for m in messages] == ["shared", "shared", "shared"]
    assert as_recorded(messages[-1]) == approval
    attributes = {name: value["StringValue"] for name, value in messages[-1]["attributes"].items()}
    assert attributes == {"outcome": "shared", "status": "Approved", "card": ARN}

    # The approval event delivered again: recorded as a no-op, nobody hears about it twice.
    start(system, executions.last_input())
    again = last_output(settle(executions))
    assert (again["outcome"], again["sharesAdded"], again["sharesRemoved"]) == ("no-op", [], [])
    assert outcomes(system, ARN) == ["shared", "shared", "shared", "no-op"]
    assert received(system, everything) == []
    assert_associations(system, ARN, ["dev", "test", "prod"])


def test_review_gate_keeps_an_incomplete_card_out_of_test(system: LocalAws) -> None:
    executions = Executions(system)
    blocked_only = subscribe(system, {"outcome": ["blocked"]})
    step(system, executions, LEAD, create=True, Content=card_content(LEAD, False), ModelCardStatus="Draft")
    result = step(system, executions, LEAD, ModelCardStatus="PendingReview")
    assert (result["outcome"], result["effectiveStatus"]) == ("blocked", "Draft")
    assert result["blocked"] == ["missing required field intended_uses.intended_uses"]
    assert_associations(system, ARN, ["dev"])
    [message] = received(system, blocked_only)
    assert message["record"]["effectiveStatus"] == "Draft"
    assert message["record"]["gates"] == [
        {"gate": "review", "passed": False, "reasons": ["missing required field intended_uses.intended_uses"]}
    ]

    # Completing the content while in review (version 2) shares it with test; that is no alarm.
    completed = step(system, executions, LEAD, Content=card_content(LEAD, True))
    assert (completed["outcome"], completed["sharesAdded"], completed["version"]) == ("shared", ["test"], 2)
    assert_associations(system, ARN, ["dev", "test"])
    assert received(system, blocked_only) == []


def test_a_failed_execution_is_recorded_and_notified(system: LocalAws) -> None:
    executions = Executions(system)
    everything = subscribe(system)
    event = json.loads((system.root / "events" / "malformed-unknown-status.json").read_text())
    start(system, event)
    [failed] = executions.new()
    assert failed["status"] == "FAILED"
    assert failed["error"] == "InvalidEventError"
    records = ledger(system, event["resources"][0])
    assert [(r["outcome"], r["error"], r["executionArn"]) for r in records] == [
        ("failed", "InvalidEventError", failed["executionArn"])
    ]
    assert "ModelCardStatus" in records[0]["cause"]
    [message] = received(system, everything)
    assert as_recorded(message) == records[0]
    assert message["attributes"]["outcome"]["StringValue"] == "failed"


def test_shares_converge_even_when_the_ledger_is_unavailable(system: LocalAws) -> None:
    executions = Executions(system)
    dynamodb = client(system, "dynamodb")
    table = system.stack.outputs["DecisionLedgerTableName"]
    dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=table)
    sagemaker(system).create_model_card(ModelCardName=NAME, Content=card_content(LEAD), ModelCardStatus="Draft")
    [execution] = executions.new()
    assert execution["status"] == "FAILED", describe(execution)
    assert execution["error"] == "DynamoDB.ResourceNotFoundException", describe(execution)
    assert_associations(system, ARN, ["dev"])


@stack(ApprovalEnforcement="revert")
def test_revert_mode_sends_a_self_approval_back_to_review_and_alerts_once(system: LocalAws) -> None:
    executions = Executions(system)
    alerts = subscribe(system, {"outcome": ["blocked"]})
    step(system, executions, SCIENTIST, create=True, Content=card_content(SCIENTIST), ModelCardStatus="Draft")
    step(system, executions, SCIENTIST, ModelCardStatus="PendingReview")
    sagemaker(system, role=SCIENTIST).update_model_card(ModelCardName=NAME, ModelCardStatus="Approved")
    fresh = settle(executions)
    # The blocked approval, then the execution started by cardshare's own revert (nothing to change).
    assert [(r["status"], r["outcome"]) for r in (json.loads(e["output"]) for e in fresh)] == [
        ("Approved", "blocked"),
        ("PendingReview", "no-op"),
    ]
    card = sagemaker(system).describe_model_card(ModelCardName=NAME)
    assert card["ModelCardStatus"] == "PendingReview"
    assert card["LastModifiedBy"]["IamIdentity"]["Arn"] != session(SCIENTIST)  # cardshare set it back
    [blocked] = [r for r in ledger(system, ARN) if r["outcome"] == "blocked"]
    assert blocked["enforcement"] == "reverted to PendingReview"
    assert any("separation of duties" in reason for gate in blocked["gates"] for reason in gate["reasons"])
    assert_associations(system, ARN, ["dev", "test"])
    [alert] = received(system, alerts)
    assert as_recorded(alert) == blocked

    # The same approval event delivered again finds the card in review: recorded, not alerted,
    # not reverted a second time.
    start(system, json.loads(fresh[0]["input"]))
    again = last_output(settle(executions))
    assert (again["status"], again["outcome"]) == ("PendingReview", "no-op")
    assert received(system, alerts) == []
    assert [r for r in ledger(system, ARN) if r.get("enforcement")] == [blocked]
    assert_associations(system, ARN, ["dev", "test"])
