"""promote_round with governance: the ledger read once, the version-history fallback, gated plans, decisions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cardshare.cards import Card, Identity
from cardshare.convergence import ConvergenceTimeoutError, Limits, Progress
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


LIMITS = Limits(poll_seconds=0, max_polls=3, max_rounds=3)


def settings(gates: GateConfig | None = None, limits: Limits = LIMITS) -> Settings:
    return Settings(ACCOUNT, REGION, LADDER, limits, gates or GateConfig(), "t")


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
        self.calls: list[str] = []

    def describe(self, card_arn: str) -> Card | None:
        self.calls.append(card_arn)
        return self.card if card_arn == CARD_ARN else None


class Shares:
    """RAM as the workflow sees it: actions take effect at once."""

    def __init__(self, *stages: str) -> None:
        self.associated = set(stages)
        self.calls: list[str] = []

    def associations(self, card_arn: str, share_arns: Sequence[str]) -> list[Association]:
        self.calls.append(card_arn)
        return [Association(SHARE[stage], S.ASSOCIATED) for stage in sorted(self.associated)]

    def apply(self, actions: list[dict[str, str]]) -> None:
        for action in actions:
            stage = STAGE[action["shareArn"]]
            if action["op"] == "associate":
                self.associated.add(stage)
            else:
                self.associated.discard(stage)


class Ledger:
    """The ledger as the plan step sees it: the latest record, and the card's lease.

    The lease is granted unless ``refusals`` says how many times to refuse it first (another
    execution holds it); ``acquire_error`` makes the table unwritable. ``log`` keeps the order
    of every call.
    """

    def __init__(
        self,
        record: dict[str, Any] | None = None,
        error: Exception | None = None,
        *,
        refusals: int = 0,
        acquire_error: Exception | None = None,
    ) -> None:
        self.record = record
        self.error = error
        self.refusals = refusals
        self.acquire_error = acquire_error
        self.calls: list[str] = []
        self.acquired: list[tuple[str, str, float, int]] = []
        self.log: list[str] = []

    def latest(self, card_arn: str) -> dict[str, Any] | None:
        self.calls.append(card_arn)
        self.log.append("latest")
        if self.error:
            raise self.error
        return self.record

    def acquire(self, card_arn: str, owner: str, now: float, seconds: int) -> bool:
        self.acquired.append((card_arn, owner, now, seconds))
        self.log.append("acquire")
        if self.acquire_error:
            raise self.acquire_error
        if self.refusals:
            self.refusals -= 1
            return False
        return True


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
    assert len(ledger.acquired) == 1  # nor take the lease again
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
    progress = {
        "rounds": 1,
        "polls": 0,
        "added": [],
        "removed": [],
        "history": ledger_record("PendingReview"),
        "leased": True,
        "leaseWaits": 0,
    }
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
    assert ledger.acquired == []  # the lease was taken on the first round
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
    assert len(ledger.acquired) == 1
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


# ---- the card's lease --------------------------------------------------------------------------------------


def one_round(
    ledger: Ledger,
    progress: dict[str, Any] | None = None,
    cards: Cards | None = None,
    shares: Shares | None = None,
    limits: Limits = LIMITS,
) -> RoundResult:
    return promote_round(
        {"event": EVENT, "progress": progress, "execution": EXECUTION},
        settings(limits=limits),
        cards if cards is not None else Cards(make_card(CardStatus.PENDING_REVIEW)),
        shares if shares is not None else Shares(),
        ledger,
        Versions(),
        NOW,
    )


def test_the_lease_is_taken_on_the_first_round_before_the_ledger_is_read() -> None:
    ledger = Ledger(ledger_record("PendingReview"))
    result = one_round(ledger)
    assert ledger.log == ["acquire", "latest"]
    # Owned by this execution, for the configured lifetime, from the round's clock.
    assert ledger.acquired == [(CARD_ARN, EXECUTION, NOW.timestamp(), LIMITS.lease_seconds)]
    assert result.step.next == "apply"
    assert result.step.progress.leased is True
    assert result.step.progress.lease_waits == 0
    assert result.step.to_dict()["progress"]["leased"] is True


def test_the_lease_lifetime_comes_from_the_limits() -> None:
    ledger = Ledger()
    one_round(ledger, limits=Limits(poll_seconds=0, max_polls=3, max_rounds=3, lease_seconds=45))
    assert [seconds for *_, seconds in ledger.acquired] == [45]


def test_a_refused_lease_waits_and_reads_neither_the_card_nor_the_ledger() -> None:
    ledger, cards, shares = (
        Ledger(ledger_record("PendingReview"), refusals=1),
        Cards(make_card(CardStatus.APPROVED)),
        Shares(),
    )
    result = one_round(ledger, cards=cards, shares=shares)
    assert ledger.log == ["acquire"]
    assert ledger.calls == []
    assert cards.calls == []
    assert shares.calls == []
    assert result.decision is None
    step = result.step
    assert step.next == "wait"
    assert step.card is None
    assert step.card_arn == CARD_ARN  # the state machine releases the lease by this ARN
    assert step.actions == []
    assert step.progress == Progress(lease_waits=1)  # not leased, history not read
    data = json.loads(json.dumps(step.to_dict()))
    assert data["waitSeconds"] == 1  # poll_seconds 0 would spin: at least a second
    assert data["progress"]["leased"] is False
    assert data["progress"]["leaseWaits"] == 1
    assert data["progress"]["history"] is None
    assert data["summary"]["card"] == CARD_ARN


def test_a_refused_lease_waits_one_poll_interval() -> None:
    limits = Limits(poll_seconds=7, max_polls=3, max_rounds=3)
    result = one_round(Ledger(refusals=1), limits=limits)
    assert result.step.next == "wait"
    assert result.step.wait_seconds == 7


def test_each_refusal_counts_one_more_wait_carried_in_the_progress() -> None:
    ledger = Ledger(refusals=5)
    progress = Progress(lease_waits=3).to_dict()
    result = one_round(ledger, progress)
    assert result.step.next == "wait"
    assert result.step.progress.lease_waits == 4


def test_the_lease_is_waited_for_then_taken_and_the_card_converged() -> None:
    ledger = Ledger(ledger_record("PendingReview"), refusals=2)
    shares = Shares()
    results = run(make_card(CardStatus.APPROVED, JANE), ledger, shares=shares)
    assert [r.step.next for r in results] == ["wait", "wait", "apply", "done"]
    assert ledger.log == ["acquire", "acquire", "acquire", "latest"]
    assert shares.associated == {"dev", "test", "prod"}
    decision = results[-1].decision
    assert decision is not None
    assert decision.outcome.value == "shared"
    assert decision.record["previousStatus"] == "PendingReview"
    assert results[-1].step.progress.leased is True


def test_waiting_for_the_lease_gives_up_at_the_limit_naming_the_card() -> None:
    limits = Limits(poll_seconds=5, max_polls=3, max_rounds=3, lease_seconds=60)
    assert limits.lease_waits == 13  # one lease lifetime of polls, and one more
    last = one_round(Ledger(refusals=1), Progress(lease_waits=limits.lease_waits - 1).to_dict(), limits=limits)
    assert last.step.next == "wait"
    assert last.step.progress.lease_waits == limits.lease_waits
    ledger, cards = Ledger(refusals=1), Cards(make_card(CardStatus.APPROVED))
    with pytest.raises(ConvergenceTimeoutError, match=CARD_ARN):
        one_round(ledger, Progress(lease_waits=limits.lease_waits).to_dict(), cards=cards, limits=limits)
    assert ledger.calls == []
    assert cards.calls == []


def test_a_lease_taken_at_the_limit_is_not_a_timeout() -> None:
    # The limit is only for waiting: the round that finally gets the lease goes on.
    limits = Limits(poll_seconds=5, max_polls=3, max_rounds=3, lease_seconds=60)
    result = one_round(Ledger(), Progress(lease_waits=limits.lease_waits).to_dict(), limits=limits)
    assert result.step.next == "apply"
    assert result.step.progress.leased is True


@pytest.mark.parametrize(
    ("poll_seconds", "lease_seconds", "waits"),
    [(5, 300, 61), (7, 300, 43), (0, 300, 301), (1, 30, 31), (60, 30, 1)],
)
def test_the_lease_wait_limit_covers_one_lease_lifetime(poll_seconds: int, lease_seconds: int, waits: int) -> None:
    limits = Limits(poll_seconds=poll_seconds, lease_seconds=lease_seconds)
    assert limits.lease_waits == waits
    # Waiting that many times at the interval the wait step uses outlasts a lease left behind by a crash.
    assert limits.lease_waits * max(1, poll_seconds) > lease_seconds


def test_an_unwritable_ledger_does_not_stop_sharing() -> None:
    ledger = Ledger(
        ledger_record("PendingReview"), acquire_error=LedgerUnavailableError("decision ledger t unwritable")
    )
    shares = Shares()
    results = run(make_card(CardStatus.APPROVED, JANE), ledger, shares=shares)
    assert [r.step.next for r in results] == ["apply", "done"]
    assert shares.associated == {"dev", "test", "prod"}
    assert ledger.log == ["acquire", "latest"]  # not retried on every round; the ledger is still read
    assert results[0].step.progress.leased is True
    decision = results[-1].decision
    assert decision is not None
    assert decision.outcome.value == "shared"


def test_an_unwritable_and_unreadable_ledger_still_shares_for_review() -> None:
    down = LedgerUnavailableError("decision ledger t unavailable")
    ledger = Ledger(error=down, acquire_error=down)
    shares = Shares()
    results = run(make_card(CardStatus.PENDING_REVIEW), ledger, shares=shares)
    assert shares.associated == {"dev", "test"}
    assert results[-1].decision is not None
    assert results[-1].decision.outcome.value == "shared"


def test_leased_progress_skips_acquire_on_later_rounds() -> None:
    ledger = Ledger(refusals=1)  # would be refused if asked: another execution holds it now
    progress = Progress(rounds=1, added=("dev", "test"), history={}, leased=True).to_dict()
    result = one_round(ledger, progress, shares=Shares("dev", "test"))
    assert ledger.acquired == []
    assert ledger.calls == []  # the carried history is trusted too
    assert result.step.next == "done"
    assert result.step.progress.leased is True


def test_leased_progress_without_a_history_still_reads_the_ledger() -> None:
    ledger = Ledger(ledger_record("PendingReview"))
    result = one_round(ledger, Progress(leased=True).to_dict())
    assert ledger.log == ["latest"]
    assert result.step.progress.history == ledger_record("PendingReview")
