"""Decisions: outcome rules, alert de-duplication, revert, the ledger record, notifications, failures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cardshare.cards import Card
from cardshare.decisions import (
    NOTIFY,
    ConfirmedShares,
    Converged,
    Decision,
    Outcome,
    alert_fingerprint,
    decide,
    failure_decision,
)
from cardshare.evidence import Creation, Evidence, Observation, Sighting, facts, to_ms
from cardshare.gate_config import Enforcement, GateConfig
from cardshare.gates import GateResult, Verdict, evaluate
from cardshare.identity import Actor
from cardshare.status import CardStatus

ACCOUNT, REGION = "123456789012", "us-east-1"
CARD_NAME = "Customer-Churn-Model-Card"
CARD_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/{CARD_NAME}"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:cardshare-promote-card"
EXECUTION = f"{MACHINE}:run-1"
EVENT_ID = "1d7e0b7c-3c0e-4f5e-8f43-6a3d2b0c1a03"
NOW = datetime(2026, 11, 28, 9, 0, 1, 250000, tzinfo=UTC)
ALERT = GateConfig(approver_accounts=frozenset({ACCOUNT}))
REVERT = replace(ALERT, enforcement=Enforcement.REVERT)
# When the card's history starts (epoch seconds); each step of a history is one second later.
T0 = 1_795_000_000.0
# When the gates judge: long after the history, so every event about it has had time to arrive.
JUDGED_AT = T0 + 86_400


def who(name: str) -> Actor:
    actor = Actor.from_user_context({"IamIdentity": {"Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/session"}})
    assert actor is not None
    return actor


ALICE, BOB, CAROL, DAN = who("Alice"), who("Bob"), who("Carol"), who("Dan")
CONTENT: dict[str, Any] = {
    "model_overview": {"model_owner": "churn-team", "problem_type": "Binary Classification"},
    "intended_uses": {"intended_uses": "Predict churn"},
}

Step = tuple[int, CardStatus, Actor | None]


def history(*steps: Step, creator: Actor = ALICE, content: dict[str, Any] | None = None) -> tuple[Card, Evidence]:
    """The card after ``steps`` (version, status, who), one second apart, and the evidence of all but the last.

    The last step is the card as the round reads it; :func:`run` merges that read into the evidence
    the way a round does.
    """
    *earlier, (version, status, actor) = steps
    sightings = frozenset(Sighting(to_ms(T0 + i), v, s, a) for i, (v, s, a) in enumerate(earlier))
    card = Card(
        CARD_ARN,
        CARD_NAME,
        status,
        version,
        CONTENT if content is None else content,
        created_by=creator,
        last_modified_by=actor,
        modified_at=T0 + len(earlier),
        created_at=T0,
    )
    return card, Evidence(sightings, frozenset({Creation(to_ms(T0), creator)}))


def make_card(
    status: CardStatus, actor: Actor | None, *, version: int = 2, content: dict[str, Any] | None = None
) -> Card:
    """A card outside any gate that needs evidence (Draft, PendingReview)."""
    return Card(CARD_ARN, CARD_NAME, status, version, CONTENT if content is None else content, ALICE, actor)


# Alice writes version 1 and submits it; she then approves it herself, or Bob does.
SELF_APPROVED = history(
    (1, CardStatus.DRAFT, ALICE), (1, CardStatus.PENDING_REVIEW, ALICE), (1, CardStatus.APPROVED, ALICE)
)
APPROVED_BY_BOB = history(
    (1, CardStatus.DRAFT, ALICE), (1, CardStatus.PENDING_REVIEW, ALICE), (1, CardStatus.APPROVED, BOB)
)


def verdict_of(card: Card | None, evidence: Evidence = Evidence(), config: GateConfig = ALERT) -> Verdict:  # noqa: B008
    """The gates' verdict on the card, with the card's own read merged into the evidence (as a round does)."""
    if card is not None:
        observed = Observation(card.version, card.status, card.modified_at, card.last_modified_by)
        evidence = evidence.merged(facts(observed))
    return evaluate(card, evidence, config, now=JUDGED_AT, final=True)


def run(
    scenario: Card | tuple[Card, Evidence] | None,
    added: Sequence[str] = (),
    removed: Sequence[str] = (),
    *,
    config: GateConfig = ALERT,
    execution: str = EXECUTION,
    now: datetime = NOW,
    first_alert: bool = True,
    first_change: bool = True,
    defers: int = 0,
) -> Decision:
    """Evaluate the gates and decide, the way promote_round does once converged."""
    card, evidence = scenario if isinstance(scenario, tuple) else (scenario, Evidence())
    return decide(
        Converged(
            card_arn=CARD_ARN,
            card=card,
            verdict=verdict_of(card, evidence, config),
            added=added,
            removed=removed,
            event_id=EVENT_ID,
            execution=execution,
            now=now,
            config=config,
            defers=defers,
            first_alert=first_alert,
            first_change=first_change,
        )
    )


def converged(
    card: Card | None, verdict: Verdict, *, config: GateConfig = ALERT, first_alert: bool = True
) -> Converged:
    return Converged(CARD_ARN, card, verdict, [], [], EVENT_ID, EXECUTION, NOW, config, first_alert=first_alert)


# ---- outcomes ------------------------------------------------------------------------------------------


def test_added_shares_are_shared() -> None:
    decision = run(APPROVED_BY_BOB, added=["prod"])
    assert decision.outcome is Outcome.SHARED
    assert decision.record["effectiveStatus"] == "Approved"


def test_removed_shares_are_revoked() -> None:
    decision = run(make_card(CardStatus.DRAFT, BOB), removed=["test", "prod"])
    assert decision.outcome is Outcome.REVOKED
    assert decision.record["sharesRemoved"] == ["prod", "test"]


def test_nothing_changed_is_a_no_op() -> None:
    decision = run(make_card(CardStatus.DRAFT, BOB))
    assert decision.outcome is Outcome.NO_OP
    assert not decision.notify


def test_a_deleted_card_that_loses_its_shares_is_revoked() -> None:
    decision = run(None, removed=["dev", "test", "prod"])
    assert decision.outcome is Outcome.REVOKED
    assert decision.record["exists"] is False
    assert decision.record["cardArn"] == CARD_ARN
    assert decision.record["cardName"] == CARD_NAME
    assert decision.record["status"] is None
    assert decision.record["effectiveStatus"] is None
    assert decision.record["kmsKeyId"] is None


@pytest.mark.parametrize(("added", "removed"), [([], []), (["dev", "test"], []), ([], ["prod"])])
def test_blocked_takes_precedence_over_shared_revoked_and_no_op(added: list[str], removed: list[str]) -> None:
    decision = run(SELF_APPROVED, added, removed)
    assert decision.outcome is Outcome.BLOCKED
    assert decision.record["sharesAdded"] == sorted(added)
    assert decision.record["sharesRemoved"] == sorted(removed)


def test_a_block_already_alerted_is_a_no_op() -> None:
    first = run(SELF_APPROVED, added=["dev", "test"])
    assert first.outcome is Outcome.BLOCKED
    again = run(SELF_APPROVED, first_alert=False)
    assert again.outcome is Outcome.NO_OP
    assert not again.notify
    # Still recorded with the failing gate: the ledger keeps saying why prod is withheld.
    assert again.record["gates"] == first.record["gates"]
    assert again.record["effectiveStatus"] == "PendingReview"


@pytest.mark.parametrize(
    ("added", "removed", "outcome"),
    [([], ["prod"], Outcome.REVOKED), (["test"], [], Outcome.SHARED), ([], [], Outcome.NO_OP)],
)
def test_an_already_alerted_block_is_judged_by_what_the_run_changed(
    added: list[str], removed: list[str], outcome: Outcome
) -> None:
    # Someone associated prod by hand meanwhile: taking it away again is still worth a message.
    decision = run(SELF_APPROVED, added, removed, first_alert=False)
    assert decision.outcome is outcome
    assert decision.notify is (outcome is not Outcome.NO_OP)
    assert decision.record["gates"][-1]["passed"] is False


# ---- shares confirmed (what the SharesAdded / SharesRemoved metrics count) --------------------------


def test_a_shared_or_revoked_decision_confirms_its_net_change() -> None:
    shared = run(APPROVED_BY_BOB, added=["prod", "dev", "prod"], removed=["test"])
    assert shared.confirmed_shares() == ConfirmedShares(added=("dev", "prod"), removed=("test",))
    revoked = run(None, removed=["dev", "test", "prod"])
    assert revoked.confirmed_shares() == ConfirmedShares(removed=("dev", "prod", "test"))


def test_a_blocked_decision_confirms_what_it_changed() -> None:
    # A self-approval still gets dev and test (the review it earned), and loses prod.
    blocked = run(SELF_APPROVED, added=["dev", "test"], removed=["prod"])
    assert blocked.outcome is Outcome.BLOCKED
    assert blocked.confirmed_shares() == ConfirmedShares(added=("dev", "test"), removed=("prod",))


def test_the_same_change_reported_by_a_second_execution_is_not_counted_again() -> None:
    second = run(APPROVED_BY_BOB, added=["prod"], first_change=False)
    assert second.outcome is Outcome.NO_OP
    assert second.record["sharesAdded"] == ["prod"]  # recorded, as the ledger keeps it
    assert second.confirmed_shares() == ConfirmedShares()


def test_a_failed_execution_confirms_nothing_it_asked_for() -> None:
    state = {"event": {}, "failure": {"Error": "AssociationFailedError"}, "plan": {"progress": {"added": ["prod"]}}}
    failed = failure_decision(state, EXECUTION, NOW)
    assert failed.record["sharesAdded"] == ["prod"]
    assert failed.confirmed_shares() == ConfirmedShares()


def test_first_alert_does_not_matter_when_nothing_is_blocked() -> None:
    assert run(APPROVED_BY_BOB, added=["prod"], first_alert=False).outcome is Outcome.SHARED
    assert run(make_card(CardStatus.DRAFT, BOB), first_alert=False).outcome is Outcome.NO_OP


def test_a_card_that_now_passes_after_a_block_is_not_blocked() -> None:
    blocked = run(make_card(CardStatus.PENDING_REVIEW, BOB, content={}), added=["dev"])
    assert blocked.outcome is Outcome.BLOCKED
    fixed = run(make_card(CardStatus.PENDING_REVIEW, BOB), added=["test"])
    assert fixed.outcome is Outcome.SHARED


# ---- which blocks count as the same alert ----------------------------------------------------------------


def fingerprint(card: Card, evidence: Evidence = Evidence()) -> str:  # noqa: B008
    return alert_fingerprint(card, verdict_of(card, evidence))


def test_the_same_block_has_the_same_fingerprint_in_every_execution() -> None:
    card, evidence = SELF_APPROVED
    assert fingerprint(card, evidence) == fingerprint(card, evidence)
    # Evidence that adds nothing new to the reasons (a duplicate sighting) keeps the fingerprint.
    again = evidence.merged(Evidence(frozenset({Sighting(to_ms(T0), 1, CardStatus.DRAFT, ALICE)})))
    assert fingerprint(card, again) == fingerprint(card, evidence)
    assert len(fingerprint(card, evidence)) == 24


def test_a_block_for_a_new_version_is_a_new_alert() -> None:
    incomplete = {"model_overview": CONTENT["model_overview"]}
    version_2 = make_card(CardStatus.PENDING_REVIEW, BOB, version=2, content=incomplete)
    version_3 = replace(version_2, version=3)
    # Same status, same reasons, a new version.
    assert verdict_of(version_2).reasons == verdict_of(version_3).reasons
    assert fingerprint(version_2) != fingerprint(version_3)


def test_a_block_for_another_status_is_a_new_alert() -> None:
    in_review = make_card(CardStatus.PENDING_REVIEW, BOB, content={})
    approved_anyway = replace(in_review, status=CardStatus.APPROVED, last_modified_by=CAROL)
    assert verdict_of(in_review).reasons == verdict_of(approved_anyway).reasons  # the review gate fails first
    assert fingerprint(in_review) != fingerprint(approved_anyway)


def test_a_block_for_other_reasons_is_a_new_alert() -> None:
    first = make_card(CardStatus.PENDING_REVIEW, BOB, content={})
    fewer_missing = make_card(CardStatus.PENDING_REVIEW, BOB, content={"model_overview": CONTENT["model_overview"]})
    assert fingerprint(first) != fingerprint(fewer_missing)
    decision = run(fewer_missing)
    assert decision.record["gates"][0]["reasons"] == ["missing required field intended_uses.intended_uses"]


# ---- revert --------------------------------------------------------------------------------------------


def test_a_new_blocked_approval_in_revert_mode_is_reverted() -> None:
    decision = run(SELF_APPROVED, config=REVERT)
    assert decision.outcome is Outcome.BLOCKED
    assert decision.revert
    assert decision.record["enforcement"] == "reverted to PendingReview"
    assert decision.to_dict()["revert"] is True


def test_a_blocked_approval_in_alert_mode_is_not_reverted() -> None:
    decision = run(SELF_APPROVED, config=ALERT)
    assert decision.outcome is Outcome.BLOCKED
    assert not decision.revert
    assert "enforcement" not in decision.record


@pytest.mark.parametrize("status", [CardStatus.PENDING_REVIEW, CardStatus.APPROVED])
def test_a_review_block_is_not_reverted(status: CardStatus) -> None:
    decision = run(make_card(status, BOB, content={}), config=REVERT)
    assert decision.outcome is Outcome.BLOCKED
    assert not decision.revert
    assert "enforcement" not in decision.record


def test_an_archive_without_approval_is_neither_blocked_nor_reverted() -> None:
    # Archiving an abandoned draft is normal: the card is shared with no one, quietly.
    abandoned = history((1, CardStatus.DRAFT, ALICE), (1, CardStatus.ARCHIVED, ALICE))
    decision = run(abandoned, removed=["dev"], config=REVERT)
    assert decision.outcome is Outcome.REVOKED
    assert not decision.revert
    assert decision.record["effectiveStatus"] is None
    assert decision.record["gates"][0]["gate"] == "archive"


def test_a_block_already_alerted_still_reverts_a_card_that_is_still_approved() -> None:
    # Enforcement does not depend on whether an alert was sent: the card must not stay Approved.
    decision = run(SELF_APPROVED, config=REVERT, first_alert=False)
    assert decision.revert
    assert decision.record["enforcement"] == "reverted to PendingReview"


def test_a_good_approval_in_revert_mode_is_not_reverted() -> None:
    decision = run(APPROVED_BY_BOB, added=["prod"], config=REVERT)
    assert decision.outcome is Outcome.SHARED
    assert not decision.revert


@pytest.mark.parametrize(
    ("result", "status", "reverted"),
    [
        pytest.param(
            GateResult("approval", False, ("r",), revertible=True), CardStatus.APPROVED, True, id="revertible"
        ),
        pytest.param(GateResult("approval", False, ("r",)), CardStatus.APPROVED, False, id="not-revertible"),
        pytest.param(
            GateResult("approval", False, ("r",), alerts=False, revertible=True),
            CardStatus.APPROVED,
            False,
            id="not-an-alert",
        ),
        pytest.param(
            GateResult("approval", False, ("r",), pending=True, revertible=True),
            CardStatus.APPROVED,
            False,
            id="still-pending",
        ),
        pytest.param(
            GateResult("approval", False, ("r",), revertible=True),
            CardStatus.PENDING_REVIEW,
            False,
            id="card-no-longer-approved",
        ),
    ],
)
def test_revert_needs_a_revertible_block_of_an_approved_card(
    result: GateResult, status: CardStatus, reverted: bool
) -> None:
    card = make_card(status, BOB)
    verdict = Verdict(status, CardStatus.PENDING_REVIEW, (result,))
    assert decide(converged(card, verdict, config=REVERT)).revert is reverted
    assert decide(converged(card, verdict, config=ALERT)).revert is False


def test_a_revertible_block_of_a_deleted_card_is_not_reverted() -> None:
    verdict = Verdict(None, None, (GateResult("approval", False, ("r",), revertible=True),))
    assert decide(converged(None, verdict, config=REVERT)).revert is False


# ---- the record ---------------------------------------------------------------------------------------


def test_the_record_holds_everything_an_auditor_needs() -> None:
    card, evidence = APPROVED_BY_BOB
    card = replace(card, kms_key_id="arn:aws:kms:us-east-1:123456789012:key/1234abcd")
    decision = run((card, evidence), added=["prod"], defers=3)
    assert decision.record == {
        "cardArn": CARD_ARN,
        "decidedAt": "2026-11-28T09:00:01.250000+00:00#run-1",
        "time": "2026-11-28T09:00:01.250000+00:00",
        "cardName": CARD_NAME,
        "exists": True,
        "version": 1,
        "status": "Approved",
        "modifiedAt": card.modified_at,
        "effectiveStatus": "Approved",
        "actor": BOB.principal,
        "gates": [
            {"gate": "review", "passed": True, "reasons": []},
            {
                "gate": "approval",
                "passed": True,
                "reasons": [],
                "details": {
                    "version": 1,
                    "check": "pass",
                    "approver": BOB.principal,
                    "authors": [ALICE.principal],
                    "reviewed": True,
                    "stale": False,
                },
            },
        ],
        "sharesAdded": ["prod"],
        "sharesRemoved": [],
        "outcome": "shared",
        "eventId": EVENT_ID,
        "executionArn": EXECUTION,
        "evidenceWaits": 3,
        "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd",
    }
    assert json.loads(json.dumps(decision.record)) == decision.record  # plain JSON values only


def test_the_record_names_the_approver_and_the_authors_of_a_refused_version() -> None:
    # Bob's edit made version 2, Carol submitted it for review and then approved it herself.
    scenario = history(
        (1, CardStatus.DRAFT, ALICE),
        (2, CardStatus.DRAFT, BOB),
        (2, CardStatus.PENDING_REVIEW, CAROL),
        (2, CardStatus.APPROVED, CAROL),
    )
    decision = run(scenario)
    assert decision.outcome is Outcome.BLOCKED
    approval = decision.record["gates"][1]
    assert approval["details"]["approver"] == CAROL.principal
    assert approval["details"]["authors"] == sorted([BOB.principal, CAROL.principal])
    assert approval["reasons"][0].startswith(f"separation of duties: approver {CAROL.principal}")
    assert decision.record["actor"] == CAROL.principal


def test_a_blocked_record_names_the_failing_gate_and_its_reasons() -> None:
    decision = run(make_card(CardStatus.PENDING_REVIEW, BOB, content={}))
    (review,) = decision.record["gates"]
    assert review["gate"] == "review"
    assert review["passed"] is False
    assert "missing required field model_overview.model_owner" in review["reasons"]
    assert decision.record["effectiveStatus"] == "Draft"
    assert "previousStatus" not in decision.record


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
    # Every decision sorts after the card's evidence item ('#evidence') in the same partition.
    assert all(key > "#evidence" for key in keys)


def test_the_actor_is_the_most_specific_name_of_who_made_the_change() -> None:
    jane = Actor.from_user_context(
        {
            "UserProfileArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:user-profile/d-1/jane",
            "DomainId": "d-1",
            "IamIdentity": {"Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/SharedExecutionRole/SageMaker"},
        }
    )
    sourced = Actor.from_user_context(
        {"IamIdentity": {"Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/ci", "SourceIdentity": "bob@example"}}
    )
    assert jane is not None
    assert sourced is not None
    assert run(make_card(CardStatus.DRAFT, jane)).record["actor"] == jane.user_profile
    assert run(make_card(CardStatus.DRAFT, sourced)).record["actor"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/ci (source identity bob@example)"
    )
    assert run(make_card(CardStatus.DRAFT, None)).record["actor"] is None


# ---- notifications -------------------------------------------------------------------------------------


def test_notify_for_every_outcome_that_changes_or_refuses_access() -> None:
    assert {Outcome.SHARED, Outcome.REVOKED, Outcome.BLOCKED, Outcome.FAILED} == NOTIFY
    assert Outcome.NO_OP not in NOTIFY
    assert run(make_card(CardStatus.DRAFT, BOB), added=["dev"]).to_dict()["notify"] is True
    assert run(make_card(CardStatus.DRAFT, BOB), removed=["test"]).to_dict()["notify"] is True
    assert run(SELF_APPROVED).to_dict()["notify"] is True
    assert failure_decision({}, EXECUTION, NOW).to_dict()["notify"] is True
    assert run(make_card(CardStatus.DRAFT, BOB)).to_dict()["notify"] is False


def test_message_attributes_let_subscribers_filter_on_card_status_and_outcome() -> None:
    decision = run(SELF_APPROVED)
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
    decision = run(SELF_APPROVED)
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


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        pytest.param("Modèle-de-churn", "cardshare: Mod?le-de-churn shared", id="accented"),
        pytest.param("churn-\U0001f600-card", "cardshare: churn-?-card shared", id="emoji"),
        pytest.param(
            "churn\r\nBcc: someone@example.com", "cardshare: churn?Bcc: someone@example.com shared", id="crlf"
        ),
        pytest.param("tab\there\x00nul\x7fdel", "cardshare: tab?here?nul?del shared", id="control-characters"),
        pytest.param("\u00e9" * 300, "cardshare: ? shared", id="long-non-ascii-run"),
    ],
)
def test_the_subject_is_one_line_of_printable_ascii(name: str, subject: str) -> None:
    decision = Decision({"cardArn": CARD_ARN, "cardName": name, "outcome": "shared", "status": "Draft"})
    assert decision.subject() == subject
    assert all(0x20 <= ord(character) <= 0x7E for character in decision.to_dict()["subject"])
    # The record and the message keep the name as it is.
    assert json.loads(decision.to_dict()["message"])["cardName"] == name


def test_a_long_non_ascii_name_still_fits_in_100_characters() -> None:
    name = "é-" * 150  # alternating: every character but the hyphens is replaced one for one
    subject = Decision({"cardArn": CARD_ARN, "cardName": name, "outcome": "blocked"}).subject()
    assert len(subject) == 100
    assert subject.startswith("cardshare: ?-?-")


def test_a_notification_for_a_blocked_review_names_the_missing_fields() -> None:
    card = make_card(CardStatus.PENDING_REVIEW, BOB, content={"intended_uses": CONTENT["intended_uses"]})
    message = json.loads(run(card).to_dict()["message"])
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
        {"event": {"id": EVENT_ID, "resources": [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/" + "x" * 64]}},
        {"event": {"id": EVENT_ID, "resources": [CARD_ARN + "/../other"]}, "plan": {"summary": {"card": 7}}},
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
        "card-name-too-long",
        "neither-parses",
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
            "progress": {"rounds": 1, "polls": 2, "added": ["test", "dev", "test"], "removed": ["prod"], "defers": 0},
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


def test_a_failed_record_is_keyed_by_the_arn_the_round_read() -> None:
    # SageMaker reported the name lower-cased; the event spelled it as the user typed it.
    canonical = CARD_ARN.lower()
    state = {"event": event(), "failure": FAILURE, "plan": {"summary": {"card": canonical, "version": 4}}}
    record = failure_decision(state, EXECUTION, NOW).record
    assert record["cardArn"] == canonical
    assert record["cardName"] == CARD_NAME.lower()


@pytest.mark.parametrize(
    "summary",
    [
        None,
        {},
        {"card": None},
        {"card": "invalid-event/run-0"},
        {"card": "arn:aws:sagemaker:us-east-1:1:model-package/x"},
    ],
    ids=["no-summary", "empty-summary", "card-null", "card-not-an-arn", "card-not-a-card"],
)
def test_without_a_usable_summary_a_failed_record_is_keyed_by_the_events_card(summary: dict[str, Any] | None) -> None:
    record = failure_decision(
        {"event": event(), "failure": FAILURE, "plan": {"summary": summary}}, EXECUTION, NOW
    ).record
    assert record["cardArn"] == CARD_ARN
    assert record["cardName"] == CARD_NAME


def test_an_event_card_in_another_partition_keys_the_failed_record() -> None:
    china = f"arn:aws-cn:sagemaker:cn-north-1:{ACCOUNT}:model-card/{CARD_NAME}"
    record = failure_decision({"event": {"id": EVENT_ID, "resources": [china]}}, EXECUTION, NOW).record
    assert record["cardArn"] == china


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


def test_a_states_error_becomes_a_workflow_error_named_in_the_cause() -> None:
    failure = {"Error": "States.TaskFailed", "Cause": "the task failed"}
    record = failure_decision({"event": event(), "failure": failure}, EXECUTION, NOW).record
    assert record["error"] == "WorkflowError"
    assert record["cause"] == "States.TaskFailed: the task failed"


def test_an_event_id_that_is_not_a_string_is_left_out() -> None:
    record = failure_decision({"event": {"id": 7, "resources": [CARD_ARN]}}, EXECUTION, NOW).record
    assert record["eventId"] is None
    assert record["cardArn"] == CARD_ARN


def test_an_oversized_event_id_is_left_out_of_the_failed_record() -> None:
    huge = "i" * 100_000
    decision = failure_decision({"event": {"id": huge, "resources": [CARD_ARN]}}, EXECUTION, NOW)
    assert decision.record["eventId"] is None
    assert huge not in decision.to_dict()["message"]
    assert len(decision.to_dict()["message"]) < 2_000


@pytest.mark.parametrize(("length", "kept"), [(128, True), (129, False)])
def test_event_ids_are_kept_up_to_128_characters(length: int, kept: bool) -> None:
    event_id = "e" * length
    record = failure_decision({"event": {"id": event_id}}, EXECUTION, NOW).record
    assert record["eventId"] == (event_id if kept else None)


def test_verdict_results_reach_the_record_in_order() -> None:
    verdict = Verdict(
        CardStatus.APPROVED,
        CardStatus.PENDING_REVIEW,
        (GateResult("review", True), GateResult("approval", False, ("r1", "r2"), details={"version": 2})),
    )
    card = make_card(CardStatus.APPROVED, BOB)
    decision = decide(converged(card, verdict))
    assert decision.record["gates"] == [
        {"gate": "review", "passed": True, "reasons": []},
        {"gate": "approval", "passed": False, "reasons": ["r1", "r2"], "details": {"version": 2}},
    ]
    assert decision.record["effectiveStatus"] == "PendingReview"
    assert decision.outcome is Outcome.BLOCKED


def test_a_change_another_execution_already_reported_is_recorded_not_reported() -> None:
    decision = run(APPROVED_BY_BOB, added=["prod"], first_change=False)
    assert (decision.outcome, decision.notify) == (Outcome.NO_OP, False)
    assert decision.record["sharesAdded"] == ["prod"]  # the ledger still says what this run did
