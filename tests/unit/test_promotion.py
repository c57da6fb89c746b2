"""promote_round with governance: the ledger read once, the version-history fallback, gated plans, decisions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cardshare.cards import Card, Identity
from cardshare.convergence import Limits
from cardshare.gates import Enforcement, GateConfig, LedgerUnavailableError
from cardshare.planner import Association, AssociationStatus
from cardshare.policy import ladder_from_json
from cardshare.promotion import RoundResult, promote_round
from cardshare.settings import Settings
from cardshare.status import CardStatus

S = AssociationStatus
ACCOUNT, REGION = "123456789012", "us-east-1"
CARD_NAME = "Customer-Churn-Model-Card"
CARD_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/{CARD_NAME}"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:cardshare-promote-card:run-1"
# The template's default ladder; the template's own rendering is tested in test_template.py.
STAGES = [
    {"name": "dev", "access": "read-write", "statuses": "Draft,PendingReview,Approved"},
    {"name": "test", "access": "read-write", "statuses": "PendingReview,Approved"},
    {"name": "prod", "access": "read-only", "statuses": "Approved,Archived"},
]
LADDER = ladder_from_json(
    json.dumps(
        [
            {
                **stage,
                "principals": principals,
                "shareArn": f"arn:aws:ram:{REGION}:{ACCOUNT}:resource-share/{stage['name']}",
            }
            for stage, principals in zip(STAGES, ("111111111111", "222222222222", "333333333333"), strict=True)
        ]
    ),
    ACCOUNT,
)
SHARE = {stage.name: stage.share_arn for stage in LADDER.stages}
STAGE = {arn: name for name, arn in SHARE.items()}
EVENT = json.loads((Path(__file__).resolve().parents[2] / "events" / "card-approved.json").read_text(encoding="utf-8"))
NOW = datetime(2026, 11, 28, 9, 0, 5, tzinfo=UTC)

ALICE = Identity(iam_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/DataScientist/alice")
JANE = Identity(iam_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/ModelApprover/jane")
CONTENT: dict[str, Any] = {
    "model_overview": {"model_owner": "churn-team", "problem_type": "Binary Classification"},
    "intended_uses": {"intended_uses": "Predict churn"},
}


def settings(gates: GateConfig | None = None) -> Settings:
    return Settings(
        ACCOUNT, REGION, LADDER, Limits(poll_seconds=0, max_polls=3, max_rounds=3), gates or GateConfig(), "t"
    )


def make_card(status: CardStatus, approver: Identity = JANE, *, version: int = 1, created_by: Identity = ALICE) -> Card:
    return Card(CARD_ARN, CARD_NAME, status, version, CONTENT, created_by, approver)


def ledger_record(status: str, version: int = 1, **extra: Any) -> dict[str, Any]:
    """A record as an earlier execution left it in the ledger."""
    return {
        "cardArn": CARD_ARN,
        "decidedAt": "2026-11-27T10:00:00+00:00#run-0",
        "status": status,
        "version": version,
        "versionAuthors": [ALICE.principal],
        "outcome": "shared",
        "gates": [],
        **extra,
    }


class Cards:
    def __init__(self, card: Card | None) -> None:
        self.card = card

    def describe(self, card_arn: str) -> Card | None:
        return self.card if card_arn == CARD_ARN else None


class Shares:
    """RAM as the workflow sees it: actions take effect at once."""

    def __init__(self, *stages: str) -> None:
        self.associated = set(stages)

    def associations(self, card_arn: str, share_arns: Sequence[str]) -> list[Association]:
        return [Association(SHARE[stage], S.ASSOCIATED) for stage in sorted(self.associated)]

    def apply(self, actions: list[dict[str, str]]) -> None:
        for action in actions:
            stage = STAGE[action["shareArn"]]
            if action["op"] == "associate":
                self.associated.add(stage)
            else:
                self.associated.discard(stage)


class Ledger:
    def __init__(self, record: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.record = record
        self.error = error
        self.calls: list[str] = []

    def latest(self, card_arn: str) -> dict[str, Any] | None:
        self.calls.append(card_arn)
        if self.error:
            raise self.error
        return self.record


class Versions:
    def __init__(self, previous: CardStatus | None = None) -> None:
        self.previous = previous
        self.calls: list[tuple[str, CardStatus]] = []

    def previous_status(self, card_arn: str, status: CardStatus) -> CardStatus | None:
        self.calls.append((card_arn, status))
        return self.previous


def run(
    card: Card | None,
    ledger: Ledger,
    versions: Versions | None = None,
    shares: Shares | None = None,
    gates: GateConfig | None = None,
) -> list[RoundResult]:
    """Drive rounds the way the state machine does, carrying progress as JSON, until done."""
    shares = shares if shares is not None else Shares()
    versions = versions or Versions()
    progress = None
    results: list[RoundResult] = []
    for _ in range(10):
        payload = {"event": EVENT, "progress": progress, "execution": EXECUTION}
        result = promote_round(payload, settings(gates), Cards(card), shares, ledger, versions, NOW)
        results.append(result)
        data = json.loads(json.dumps(result.step.to_dict()))
        if result.step.next == "done":
            return results
        shares.apply(data["actions"])
        progress = data["progress"]
    raise AssertionError("no end after 10 rounds")


# ---- the ledger is read once ---------------------------------------------------------------------------


def test_the_ledger_is_read_on_the_first_round_and_carried() -> None:
    ledger = Ledger(ledger_record("PendingReview"))
    results = run(make_card(CardStatus.APPROVED), ledger)
    assert [r.step.next for r in results] == ["apply", "done"]
    assert ledger.calls == [CARD_ARN]  # the second round did not read it again
    assert results[0].step.progress.history == ledger_record("PendingReview")
    assert results[1].step.progress.history == ledger_record("PendingReview")


def test_an_empty_ledger_is_read_once_too() -> None:
    ledger = Ledger(None)
    results = run(make_card(CardStatus.PENDING_REVIEW), ledger)
    assert len(results) == 2
    assert ledger.calls == [CARD_ARN]
    assert results[0].step.progress.to_dict()["history"] == {}


def test_a_history_carried_in_from_an_earlier_round_is_trusted() -> None:
    # The carried record says PendingReview: the approval is judged on it, not on a fresh read.
    ledger = Ledger(ledger_record("Draft"))
    progress = {"rounds": 1, "polls": 0, "added": [], "removed": [], "history": ledger_record("PendingReview")}
    shares = Shares("dev", "test", "prod")
    result = promote_round(
        {"event": EVENT, "progress": progress, "execution": EXECUTION},
        settings(),
        Cards(make_card(CardStatus.APPROVED)),
        shares,
        ledger,
        Versions(),
        NOW,
    )
    assert ledger.calls == []
    assert result.step.next == "done"
    assert result.decision is not None
    assert result.decision.record["previousStatus"] == "PendingReview"


# ---- the version-history fallback --------------------------------------------------------------------


def test_an_approved_card_unknown_to_the_ledger_falls_back_to_version_history() -> None:
    versions = Versions(CardStatus.PENDING_REVIEW)
    results = run(make_card(CardStatus.APPROVED, version=3), Ledger(None), versions)
    assert versions.calls
    assert set(versions.calls) == {(CARD_ARN, CardStatus.APPROVED)}
    decision = results[-1].decision
    assert decision is not None
    assert decision.outcome.value == "shared"
    assert decision.record["previousStatus"] == "PendingReview"
    assert decision.record["sharesAdded"] == ["dev", "prod", "test"]


def test_version_history_saying_draft_blocks_the_approval() -> None:
    versions = Versions(CardStatus.DRAFT)
    shares = Shares()
    results = run(make_card(CardStatus.APPROVED, version=3), Ledger(None), versions, shares)
    assert shares.associated == {"dev"}
    decision = results[-1].decision
    assert decision is not None
    assert decision.outcome.value == "blocked"
    assert decision.record["previousStatus"] == "Draft"
    assert "approved from Draft" in decision.record["gates"][1]["reasons"][0]


def test_no_version_history_either_fails_closed() -> None:
    shares = Shares()
    results = run(make_card(CardStatus.APPROVED, version=3), Ledger(None), Versions(None), shares)
    assert "prod" not in shares.associated
    assert results[-1].decision is not None
    assert results[-1].decision.outcome.value == "blocked"


def test_an_approved_card_the_ledger_knows_does_not_read_version_history() -> None:
    versions = Versions(CardStatus.DRAFT)
    results = run(make_card(CardStatus.APPROVED), Ledger(ledger_record("PendingReview")), versions)
    assert versions.calls == []
    assert results[-1].decision is not None
    assert results[-1].decision.outcome.value == "shared"


@pytest.mark.parametrize("status", [CardStatus.DRAFT, CardStatus.PENDING_REVIEW, CardStatus.ARCHIVED])
def test_other_statuses_never_read_version_history(status: CardStatus) -> None:
    versions = Versions(CardStatus.DRAFT)
    run(make_card(status), Ledger(None), versions)
    assert versions.calls == []


def test_a_deleted_card_reads_no_version_history_and_is_recorded() -> None:
    versions = Versions(CardStatus.DRAFT)
    shares = Shares("dev", "test", "prod")
    results = run(None, Ledger(ledger_record("Approved")), versions, shares)
    assert versions.calls == []
    assert shares.associated == set()
    decision = results[-1].decision
    assert decision is not None
    assert decision.outcome.value == "revoked"
    assert decision.record["exists"] is False
    assert decision.record["previousStatus"] == "Approved"


# ---- gated plans and decisions ---------------------------------------------------------------------------


def test_a_self_approved_card_is_planned_without_prod_and_blocked() -> None:
    shares = Shares()
    results = run(make_card(CardStatus.APPROVED, ALICE), Ledger(ledger_record("PendingReview")), shares=shares)
    planned = {action["stage"] for result in results for action in result.step.actions}
    assert planned == {"dev", "test"}
    assert shares.associated == {"dev", "test"}
    assert [r.decision is None for r in results] == [True, False]  # one decision, when done
    decision = results[-1].decision
    assert decision is not None
    assert decision.outcome.value == "blocked"
    assert decision.notify
    assert not decision.revert
    assert decision.record["effectiveStatus"] == "PendingReview"
    assert decision.record["actor"] == ALICE.principal
    assert decision.record["sharesAdded"] == ["dev", "test"]
    (approval,) = [gate for gate in decision.record["gates"] if gate["gate"] == "approval"]
    assert approval["reasons"] == [f"separation of duties: approver {ALICE.principal} also authored version 1"]
    summary = results[-1].step.to_dict()["summary"]
    assert summary["effectiveStatus"] == "PendingReview"
    assert summary["blocked"] == approval["reasons"]


def test_a_self_approved_card_already_in_prod_is_taken_out() -> None:
    shares = Shares("dev", "test", "prod")
    results = run(make_card(CardStatus.APPROVED, ALICE), Ledger(ledger_record("PendingReview")), shares=shares)
    assert shares.associated == {"dev", "test"}
    assert results[-1].decision is not None
    assert results[-1].decision.record["sharesRemoved"] == ["prod"]
    assert results[-1].decision.outcome.value == "blocked"


def test_a_self_approval_in_revert_mode_asks_for_the_revert() -> None:
    gates = GateConfig(enforcement=Enforcement.REVERT)
    results = run(make_card(CardStatus.APPROVED, ALICE), Ledger(ledger_record("PendingReview")), gates=gates)
    assert results[-1].decision is not None
    assert results[-1].decision.revert
    assert results[-1].decision.to_dict()["revert"] is True


def test_a_correct_approval_ends_with_prod_and_shared() -> None:
    shares = Shares("dev", "test")
    results = run(make_card(CardStatus.APPROVED, JANE), Ledger(ledger_record("PendingReview")), shares=shares)
    assert shares.associated == {"dev", "test", "prod"}
    decision = results[-1].decision
    assert decision is not None
    assert decision.outcome.value == "shared"
    assert decision.record["sharesAdded"] == ["prod"]
    assert decision.record["previousStatus"] == "PendingReview"
    assert decision.record["effectiveStatus"] == "Approved"
    assert decision.record["eventId"] == EVENT["id"]
    assert decision.record["executionArn"] == EXECUTION
    assert decision.record["time"] == NOW.isoformat()
    assert all(gate["passed"] for gate in decision.record["gates"])


def test_an_approver_off_the_allow_list_gets_no_prod() -> None:
    gates = GateConfig(approver_patterns=("arn:aws:iam::*:role/Release*",))
    shares = Shares("dev", "test")
    results = run(
        make_card(CardStatus.APPROVED, JANE), Ledger(ledger_record("PendingReview")), shares=shares, gates=gates
    )
    assert shares.associated == {"dev", "test"}
    assert results[-1].decision is not None
    assert results[-1].decision.outcome.value == "blocked"


def test_the_same_block_on_a_later_event_is_a_quiet_no_op() -> None:
    first = run(make_card(CardStatus.APPROVED, ALICE), Ledger(ledger_record("PendingReview")), shares=Shares())
    assert first[-1].decision is not None
    shares = Shares("dev", "test")
    again = run(make_card(CardStatus.APPROVED, ALICE), Ledger(first[-1].decision.record), shares=shares)
    assert len(again) == 1
    assert again[-1].decision is not None
    assert again[-1].decision.outcome.value == "no-op"
    assert not again[-1].decision.notify


# ---- an unreadable ledger ---------------------------------------------------------------------------------


def test_an_unreadable_ledger_blocks_approval_but_not_sharing() -> None:
    ledger = Ledger(error=LedgerUnavailableError("decision ledger t unreadable"))
    shares = Shares()
    results = run(make_card(CardStatus.APPROVED, JANE), ledger, Versions(CardStatus.PENDING_REVIEW), shares)
    assert ledger.calls == [CARD_ARN]  # not retried on every round
    assert shares.associated == {"dev", "test"}
    decision = results[-1].decision
    assert decision is not None
    assert decision.outcome.value == "blocked"
    assert any("ledger unavailable" in r for r in decision.record["gates"][1]["reasons"])


def test_an_unreadable_ledger_does_not_hold_up_review_sharing() -> None:
    shares = Shares()
    results = run(make_card(CardStatus.PENDING_REVIEW), Ledger(error=LedgerUnavailableError("x")), shares=shares)
    assert shares.associated == {"dev", "test"}
    assert results[-1].decision is not None
    assert results[-1].decision.outcome.value == "shared"
