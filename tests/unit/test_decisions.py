"""Decisions: outcome rules, revert, the ledger record, version authors, notifications, failures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cardshare.cards import Card, Identity
from cardshare.decisions import NOTIFY, Decision, Outcome, decide, failure_decision
from cardshare.gates import Enforcement, GateConfig, GateResult, History, Verdict, evaluate
from cardshare.status import CardStatus

ACCOUNT, REGION = "123456789012", "us-east-1"
CARD_NAME = "Customer-Churn-Model-Card"
CARD_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/{CARD_NAME}"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:cardshare-promote-card"
EXECUTION = f"{MACHINE}:run-1"
EVENT_ID = "1d7e0b7c-3c0e-4f5e-8f43-6a3d2b0c1a03"
NOW = datetime(2026, 11, 28, 9, 0, 1, 250000, tzinfo=UTC)
ALERT, REVERT = GateConfig(), GateConfig(enforcement=Enforcement.REVERT)


def who(name: str) -> Identity:
    return Identity(iam_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/session")


ALICE, BOB, CAROL, DAN = who("Alice"), who("Bob"), who("Carol"), who("Dan")
CONTENT: dict[str, Any] = {
    "model_overview": {"model_owner": "churn-team", "problem_type": "Binary Classification"},
    "intended_uses": {"intended_uses": "Predict churn"},
}


def make_card(
    status: CardStatus,
    actor: Identity | None,
    *,
    version: int = 2,
    created_by: Identity | None = ALICE,
    content: dict[str, Any] | None = None,
) -> Card:
    return Card(CARD_ARN, CARD_NAME, status, version, CONTENT if content is None else content, created_by, actor)


def run(
    card: Card | None,
    history: History = History(),  # noqa: B008 - frozen, never mutated
    added: Sequence[str] = (),
    removed: Sequence[str] = (),
    *,
    config: GateConfig = ALERT,
    execution: str = EXECUTION,
    now: datetime = NOW,
) -> Decision:
    """Evaluate the gates and decide, the way promote_round does once converged."""
    verdict = evaluate(card, history, config)
    return decide(
        CARD_ARN, card, verdict, history, added, removed, event_id=EVENT_ID, execution=execution, now=now, config=config
    )


def then(decision: Decision) -> History:
    """The history the next execution reads back from the ledger."""
    return History.from_record(json.loads(json.dumps(decision.record)))


REVIEWED = History(last_status=CardStatus.PENDING_REVIEW, previous_status=CardStatus.DRAFT, version=2)


# ---- outcomes ------------------------------------------------------------------------------------------


def test_added_shares_are_shared() -> None:
    assert run(make_card(CardStatus.APPROVED, BOB), REVIEWED, added=["prod"]).outcome is Outcome.SHARED


def test_removed_shares_are_revoked() -> None:
    history = History(last_status=CardStatus.APPROVED, version=2)
    decision = run(make_card(CardStatus.DRAFT, BOB), history, removed=["test", "prod"])
    assert decision.outcome is Outcome.REVOKED
    assert decision.record["sharesRemoved"] == ["prod", "test"]


def test_nothing_changed_is_a_no_op() -> None:
    decision = run(make_card(CardStatus.DRAFT, BOB))
    assert decision.outcome is Outcome.NO_OP
    assert not decision.notify


def test_a_deleted_card_that_loses_its_shares_is_revoked() -> None:
    decision = run(None, History(last_status=CardStatus.APPROVED, version=2), removed=["dev", "test", "prod"])
    assert decision.outcome is Outcome.REVOKED
    assert decision.record["exists"] is False
    assert decision.record["cardArn"] == CARD_ARN
    assert decision.record["status"] is None
    assert decision.record["previousStatus"] == "Approved"


@pytest.mark.parametrize(("added", "removed"), [([], []), (["dev", "test"], []), ([], ["prod"])])
def test_blocked_takes_precedence_over_shared_revoked_and_no_op(added: list[str], removed: list[str]) -> None:
    self_approved = make_card(CardStatus.APPROVED, ALICE, version=1)
    history = History(last_status=CardStatus.PENDING_REVIEW, version=1)
    decision = run(self_approved, history, added, removed)
    assert decision.outcome is Outcome.BLOCKED
    assert decision.record["sharesAdded"] == sorted(added)
    assert decision.record["sharesRemoved"] == sorted(removed)


def test_a_repeat_of_the_same_block_without_change_is_a_no_op() -> None:
    self_approved = make_card(CardStatus.APPROVED, ALICE, version=1)
    first = run(self_approved, History(last_status=CardStatus.PENDING_REVIEW, version=1), added=["dev", "test"])
    assert first.outcome is Outcome.BLOCKED
    again = run(self_approved, then(first))
    assert again.outcome is Outcome.NO_OP
    assert not again.notify
    # Still recorded with the failing gate: the ledger keeps saying why prod is withheld.
    assert again.record["gates"] == first.record["gates"]
    assert again.record["effectiveStatus"] == "PendingReview"


def test_a_block_stays_quiet_however_often_it_repeats() -> None:
    card = make_card(CardStatus.PENDING_REVIEW, BOB, content={})
    decision = run(card, History(last_status=CardStatus.DRAFT, version=2), added=["dev"])
    outcomes = [decision.outcome]
    for _ in range(3):
        decision = run(card, then(decision))
        outcomes.append(decision.outcome)
    assert outcomes == [Outcome.BLOCKED, Outcome.NO_OP, Outcome.NO_OP, Outcome.NO_OP]


def test_a_repeated_block_that_had_to_change_shares_is_blocked_again() -> None:
    self_approved = make_card(CardStatus.APPROVED, ALICE, version=1)
    first = run(self_approved, History(last_status=CardStatus.PENDING_REVIEW, version=1))
    # Someone associated prod by hand meanwhile; taking it away again is worth a new alert.
    assert run(self_approved, then(first), removed=["prod"]).outcome is Outcome.BLOCKED


def test_a_block_for_a_new_version_is_blocked_again() -> None:
    incomplete = {"model_overview": CONTENT["model_overview"]}
    first = run(make_card(CardStatus.PENDING_REVIEW, BOB, version=2, content=incomplete), REVIEWED, added=["dev"])
    assert first.outcome is Outcome.BLOCKED
    same_version = run(make_card(CardStatus.PENDING_REVIEW, BOB, version=2, content=incomplete), then(first))
    assert same_version.outcome is Outcome.NO_OP
    # Version 3 is still incomplete in the same way: same status, same reasons, but a new version.
    new_version = run(make_card(CardStatus.PENDING_REVIEW, BOB, version=3, content=incomplete), then(same_version))
    assert new_version.outcome is Outcome.BLOCKED
    assert new_version.record["gates"] == first.record["gates"]


def test_a_block_for_another_status_is_blocked_again() -> None:
    blocked_review = run(make_card(CardStatus.PENDING_REVIEW, BOB, content={}), History(last_status=CardStatus.DRAFT))
    assert blocked_review.outcome is Outcome.BLOCKED
    approved_anyway = make_card(CardStatus.APPROVED, CAROL, content={})
    assert run(approved_anyway, then(blocked_review)).outcome is Outcome.BLOCKED


def test_a_block_for_other_reasons_is_blocked_again() -> None:
    first = run(make_card(CardStatus.PENDING_REVIEW, BOB, content={}), History(last_status=CardStatus.DRAFT))
    fewer_missing = {"model_overview": CONTENT["model_overview"]}
    again = run(make_card(CardStatus.PENDING_REVIEW, BOB, content=fewer_missing), then(first))
    assert again.outcome is Outcome.BLOCKED
    assert again.record["gates"][0]["reasons"] == ["missing required field intended_uses.intended_uses"]


def test_a_card_that_now_passes_after_a_block_is_not_blocked() -> None:
    first = run(make_card(CardStatus.PENDING_REVIEW, BOB, content={}), History(last_status=CardStatus.DRAFT))
    fixed = run(make_card(CardStatus.PENDING_REVIEW, BOB), then(first), added=["test"])
    assert fixed.outcome is Outcome.SHARED


# ---- revert --------------------------------------------------------------------------------------------


def test_a_new_blocked_approval_in_revert_mode_is_reverted() -> None:
    decision = run(make_card(CardStatus.APPROVED, ALICE, version=1), REVIEWED, config=REVERT)
    assert decision.outcome is Outcome.BLOCKED
    assert decision.revert
    assert decision.record["enforcement"] == "reverted to PendingReview"
    assert decision.to_dict()["revert"] is True


def test_a_blocked_approval_in_alert_mode_is_not_reverted() -> None:
    decision = run(make_card(CardStatus.APPROVED, ALICE, version=1), REVIEWED, config=ALERT)
    assert decision.outcome is Outcome.BLOCKED
    assert not decision.revert
    assert "enforcement" not in decision.record


@pytest.mark.parametrize("status", [CardStatus.PENDING_REVIEW, CardStatus.APPROVED])
def test_a_review_block_is_not_reverted(status: CardStatus) -> None:
    decision = run(make_card(status, BOB, content={}), REVIEWED, config=REVERT)
    assert decision.outcome is Outcome.BLOCKED
    assert not decision.revert
    assert "enforcement" not in decision.record


def test_a_repeated_block_is_not_reverted_again() -> None:
    first = run(make_card(CardStatus.APPROVED, ALICE, version=1), History(last_status=CardStatus.PENDING_REVIEW))
    again = run(make_card(CardStatus.APPROVED, ALICE, version=1), then(first), config=REVERT)
    assert again.outcome is Outcome.NO_OP
    assert not again.revert


def test_a_good_approval_in_revert_mode_is_not_reverted() -> None:
    decision = run(make_card(CardStatus.APPROVED, BOB), REVIEWED, added=["prod"], config=REVERT)
    assert decision.outcome is Outcome.SHARED
    assert not decision.revert


# ---- the record ---------------------------------------------------------------------------------------


def test_the_record_holds_everything_an_auditor_needs() -> None:
    card = make_card(CardStatus.APPROVED, BOB, version=2)
    history = History(
        last_status=CardStatus.PENDING_REVIEW,
        previous_status=CardStatus.DRAFT,
        version=2,
        version_authors=frozenset({str(ALICE.principal)}),
    )
    decision = run(card, history, added=["prod"])
    assert decision.record == {
        "cardArn": CARD_ARN,
        "decidedAt": "2026-11-28T09:00:01.250000+00:00#run-1",
        "time": "2026-11-28T09:00:01.250000+00:00",
        "cardName": CARD_NAME,
        "exists": True,
        "version": 2,
        "status": "Approved",
        "previousStatus": "PendingReview",
        "effectiveStatus": "Approved",
        "actor": BOB.principal,
        "versionAuthors": [ALICE.principal],
        "gates": [
            {"gate": "review", "passed": True, "reasons": []},
            {"gate": "approval", "passed": True, "reasons": []},
        ],
        "sharesAdded": ["prod"],
        "sharesRemoved": [],
        "outcome": "shared",
        "eventId": EVENT_ID,
        "executionArn": EXECUTION,
        "trail": [],  # the card has no LastModifiedTime here, so there is nothing to order
    }
    assert json.loads(json.dumps(decision.record)) == decision.record  # plain JSON values only


def test_a_blocked_record_names_the_failing_gate_and_its_reasons() -> None:
    decision = run(make_card(CardStatus.PENDING_REVIEW, BOB, content={}), History(last_status=CardStatus.DRAFT))
    (review,) = decision.record["gates"]
    assert review["gate"] == "review"
    assert review["passed"] is False
    assert "missing required field model_overview.model_owner" in review["reasons"]
    assert decision.record["effectiveStatus"] == "Draft"
    assert decision.record["previousStatus"] == "Draft"


def test_shares_are_listed_once_and_sorted() -> None:
    decision = run(make_card(CardStatus.DRAFT, BOB), added=["test", "dev", "test"], removed=["prod", "prod"])
    assert decision.record["sharesAdded"] == ["dev", "test"]
    assert decision.record["sharesRemoved"] == ["prod"]


def test_decided_at_sorts_by_time_and_is_unique_per_execution() -> None:
    card = make_card(CardStatus.DRAFT, BOB)
    times = [NOW.replace(microsecond=0), NOW, NOW + timedelta(seconds=1), NOW + timedelta(days=40)]
    keys = [run(card, execution=f"{MACHINE}:run-{i}", now=time).record["decidedAt"] for i, time in enumerate(times)]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    same_time = {run(card, execution=f"{MACHINE}:{name}").record["decidedAt"] for name in ("a", "b")}
    assert len(same_time) == 2
    assert all(key.startswith(NOW.isoformat()) for key in same_time)


def test_the_actor_is_the_principal_that_made_the_change() -> None:
    jane = Identity(
        user_profile_arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:user-profile/d-1/jane",
        iam_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/SharedExecutionRole/SageMaker",
    )
    assert run(make_card(CardStatus.DRAFT, jane)).record["actor"] == jane.user_profile_arn
    assert run(make_card(CardStatus.DRAFT, None)).record["actor"] is None


# ---- version authors ----------------------------------------------------------------------------------


def test_version_authors_accumulate_for_a_version_and_reset_on_a_new_one() -> None:
    # Alice creates version 1; Bob's edit makes version 2, which Carol submits for review.
    created = run(make_card(CardStatus.DRAFT, ALICE, version=1), added=["dev"])
    assert created.record["versionAuthors"] == [ALICE.principal]
    edited = run(make_card(CardStatus.DRAFT, BOB, version=2), then(created))
    assert edited.record["versionAuthors"] == [BOB.principal]  # version 2: Alice's v1 authorship is gone
    submitted = run(make_card(CardStatus.PENDING_REVIEW, CAROL, version=2), then(edited), added=["test"])
    assert submitted.record["versionAuthors"] == sorted([BOB.principal, CAROL.principal])
    # Carol submitted version 2, so she may not approve it; Dan may.
    by_carol = run(make_card(CardStatus.APPROVED, CAROL, version=2), then(submitted))
    assert by_carol.outcome is Outcome.BLOCKED
    assert "separation of duties" in by_carol.record["gates"][1]["reasons"][0]
    by_dan = run(make_card(CardStatus.APPROVED, DAN, version=2), then(by_carol), added=["prod"])
    assert by_dan.outcome is Outcome.SHARED
    # Approving is not authoring: the approvers are not added.
    assert by_carol.record["versionAuthors"] == by_dan.record["versionAuthors"] == submitted.record["versionAuthors"]
    # Version 3 starts afresh.
    reworked = run(make_card(CardStatus.DRAFT, DAN, version=3), then(by_dan), removed=["test", "prod"])
    assert reworked.record["versionAuthors"] == [DAN.principal]


def test_the_creator_is_an_author_of_version_1_even_when_someone_else_submits_it() -> None:
    submitted = run(make_card(CardStatus.PENDING_REVIEW, BOB, version=1, created_by=ALICE))
    assert submitted.record["versionAuthors"] == sorted([ALICE.principal, BOB.principal])


# ---- notifications -------------------------------------------------------------------------------------


def test_notify_for_every_outcome_that_changes_or_refuses_access() -> None:
    assert {Outcome.SHARED, Outcome.REVOKED, Outcome.BLOCKED, Outcome.FAILED} == NOTIFY
    assert Outcome.NO_OP not in NOTIFY
    assert run(make_card(CardStatus.DRAFT, BOB), added=["dev"]).to_dict()["notify"] is True
    assert run(make_card(CardStatus.DRAFT, BOB), removed=["test"]).to_dict()["notify"] is True
    assert run(make_card(CardStatus.APPROVED, ALICE, version=1), REVIEWED).to_dict()["notify"] is True
    assert failure_decision({}, EXECUTION, NOW).to_dict()["notify"] is True
    assert run(make_card(CardStatus.DRAFT, BOB)).to_dict()["notify"] is False


def test_message_attributes_let_subscribers_filter_on_card_status_and_outcome() -> None:
    decision = run(make_card(CardStatus.APPROVED, ALICE, version=1), REVIEWED)
    assert decision.attributes() == {
        "card": {"DataType": "String", "StringValue": CARD_ARN},
        "status": {"DataType": "String", "StringValue": "Approved"},
        "outcome": {"DataType": "String", "StringValue": "blocked"},
    }


def test_attributes_of_a_card_without_status_are_never_empty() -> None:
    # SNS rejects an empty StringValue.
    for decision in (run(None, removed=["dev"]), failure_decision({}, EXECUTION, NOW)):
        attributes = decision.attributes()
        assert attributes["status"] == {"DataType": "String", "StringValue": "Unknown"}
        assert all(value["StringValue"] for value in attributes.values())


def test_to_dict_carries_subject_message_and_attributes() -> None:
    decision = run(make_card(CardStatus.APPROVED, ALICE, version=1), REVIEWED)
    data = decision.to_dict()
    assert set(data) == {"record", "notify", "revert", "subject", "message", "attributes"}
    assert json.loads(data["message"]) == decision.record
    assert data["subject"] == f"cardshare: {CARD_NAME} blocked"
    assert data["attributes"] == decision.attributes()


def test_the_subject_fits_in_100_characters() -> None:
    long_name = "a" * 63
    card = Card(f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/{long_name}", long_name, CardStatus.DRAFT, 1)
    assert len(run(card, added=["dev"]).subject()) <= 100
    execution = f"{MACHINE}:" + "x" * 80
    subject = failure_decision({"event": {}}, execution, NOW).subject()
    assert len(subject) <= 100
    assert subject.startswith("cardshare: " + "x" * 20)
    # Whatever the name, SNS's limit holds.
    oversized = Decision({"cardArn": CARD_ARN, "cardName": "n" * 200, "outcome": "blocked", "status": "Approved"})
    assert len(oversized.subject()) == 100
    assert oversized.subject().startswith("cardshare: nnn")


def test_a_notification_for_a_blocked_review_names_the_missing_fields() -> None:
    card = make_card(CardStatus.PENDING_REVIEW, BOB, content={"intended_uses": CONTENT["intended_uses"]})
    message = json.loads(run(card, History(last_status=CardStatus.DRAFT)).to_dict()["message"])
    reasons = message["gates"][0]["reasons"]
    assert reasons == [
        "missing required field model_overview.model_owner",
        "missing required field model_overview.problem_type",
    ]


# ---- failures -------------------------------------------------------------------------------------------

FAILURE = {"Error": "AssociationFailedError", "Cause": "RAM reports FAILED associating the card (test: denied)"}


def event() -> dict[str, Any]:
    return {"id": EVENT_ID, "resources": [CARD_ARN], "detail": {"ModelCardStatus": "Approved"}}


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"failure": FAILURE},
        {"event": None, "failure": FAILURE},
        {"event": "not an event", "failure": FAILURE},
        {"event": {"id": EVENT_ID}, "failure": FAILURE},
        {"event": {"id": EVENT_ID, "resources": []}, "failure": FAILURE},
        {"event": {"id": EVENT_ID, "resources": "arn"}, "failure": FAILURE},
        {"event": {"id": EVENT_ID, "resources": [42]}, "failure": FAILURE},
        {"event": {"id": EVENT_ID, "resources": ["arn:aws:sagemaker:us-east-1:1:model-package/x"]}},
    ],
    ids=[
        "nothing",
        "no-event",
        "event-null",
        "event-not-an-object",
        "no-resources",
        "empty-resources",
        "resources-not-a-list",
        "resource-not-a-string",
        "resource-not-a-card",
    ],
)
def test_a_malformed_state_still_gives_a_failed_record(state: dict[str, Any]) -> None:
    record = failure_decision(state, EXECUTION, NOW).record
    assert record["cardArn"] == "invalid-event/run-1"
    assert record["cardName"] == "run-1"
    assert record["outcome"] == "failed"
    assert record["executionArn"] == EXECUTION
    assert record["decidedAt"] == f"{NOW.isoformat()}#run-1"
    assert record["sharesAdded"] == record["sharesRemoved"] == []
    assert record["version"] is None
    assert record["status"] is None
    if "failure" in state:
        assert record["error"] == "AssociationFailedError"
        assert record["cause"] == FAILURE["Cause"]
    else:
        assert record["error"] == "Unknown"
        assert record["cause"] == ""


def test_a_failure_after_a_round_keeps_what_the_plan_knew() -> None:
    state = {
        "event": event(),
        "failure": FAILURE,
        "plan": {
            "summary": {"card": CARD_ARN, "status": "Approved", "version": 4, "effectiveStatus": "Approved"},
            "progress": {"rounds": 1, "polls": 2, "added": ["test", "dev", "test"], "removed": ["prod"]},
        },
    }
    decision = failure_decision(state, EXECUTION, NOW)
    assert decision.record == {
        "cardArn": CARD_ARN,
        "decidedAt": f"{NOW.isoformat()}#run-1",
        "time": NOW.isoformat(),
        "cardName": CARD_NAME,
        "version": 4,
        "status": "Approved",
        "sharesAdded": ["dev", "test"],
        "sharesRemoved": ["prod"],
        "outcome": "failed",
        "error": "AssociationFailedError",
        "cause": FAILURE["Cause"],
        "eventId": EVENT_ID,
        "executionArn": EXECUTION,
    }
    assert decision.outcome is Outcome.FAILED
    assert decision.notify
    assert not decision.revert
    assert decision.attributes()["outcome"] == {"DataType": "String", "StringValue": "failed"}
    assert decision.subject() == f"cardshare: {CARD_NAME} failed"


def test_a_failure_with_an_incomplete_plan_uses_what_there_is() -> None:
    record = failure_decision({"event": event(), "failure": FAILURE, "plan": {"summary": None}}, EXECUTION, NOW).record
    assert record["cardArn"] == CARD_ARN
    assert record["status"] is None
    assert record["sharesAdded"] == []


def test_a_long_cause_is_truncated_to_4000_characters() -> None:
    cause = "x" * 3990 + "END" + "y" * 5000
    record = failure_decision({"event": event(), "failure": {"Error": "E", "Cause": cause}}, EXECUTION, NOW).record
    assert len(record["cause"]) == 4000
    assert record["cause"] == cause[:4000]
    assert "END" in record["cause"]


def test_an_event_id_that_is_not_a_string_is_left_out() -> None:
    record = failure_decision({"event": {"id": 7, "resources": [CARD_ARN]}}, EXECUTION, NOW).record
    assert record["eventId"] is None
    assert record["cardArn"] == CARD_ARN


def test_verdict_results_reach_the_record_in_order() -> None:
    verdict = Verdict(
        CardStatus.APPROVED,
        CardStatus.PENDING_REVIEW,
        (GateResult("review", True), GateResult("approval", False, ("r1", "r2"))),
    )
    card = make_card(CardStatus.APPROVED, BOB)
    decision = decide(
        CARD_ARN, card, verdict, REVIEWED, [], [], event_id=EVENT_ID, execution=EXECUTION, now=NOW, config=ALERT
    )
    assert decision.record["gates"] == [
        {"gate": "review", "passed": True, "reasons": []},
        {"gate": "approval", "passed": False, "reasons": ["r1", "r2"]},
    ]
    assert decision.record["effectiveStatus"] == "PendingReview"
    assert decision.outcome is Outcome.BLOCKED


def test_the_trail_orders_sightings_by_when_they_happened_not_when_they_were_processed() -> None:
    # A quick approval: the PendingReview event is processed after the card is already Approved.
    approved_at = 1_800_000_300.0
    card = replace(make_card(CardStatus.APPROVED, BOB, version=1), modified_at=approved_at)
    late_draft_run = History().observed(1_800_000_100.0, CardStatus.DRAFT)
    first = run(card, late_draft_run)
    assert first.outcome is Outcome.BLOCKED  # only the Draft sighting is known yet
    pending_run = History.from_record(first.record).observed(1_800_000_200.0, CardStatus.PENDING_REVIEW)
    second = run(card, pending_run, added=["prod"])
    assert second.record["previousStatus"] == "PendingReview"
    assert second.outcome is Outcome.SHARED
    assert [status for _, status in second.record["trail"]] == ["Draft", "PendingReview", "Approved"]
