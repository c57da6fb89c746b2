"""converge_round and promote_round over in-memory fakes of the card and association readers; settings."""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from template_loader import default_stages

from cardshare.cards import Card
from cardshare.convergence import (
    AssociationFailedError,
    CardRound,
    ConvergenceTimeoutError,
    Limits,
    Progress,
    Step,
    client_token,
    converge_round,
)
from cardshare.decisions import Outcome
from cardshare.events import InvalidEventError
from cardshare.evidence import Evidence
from cardshare.gate_config import DEFAULT_REQUIRED_FIELDS, Enforcement, GateConfig
from cardshare.gates import GateResult, Verdict
from cardshare.planner import Association, AssociationStatus, Op
from cardshare.policy import ConfigError, ladder_from_json
from cardshare.promotion import Ports, RoundResult, promote_round
from cardshare.settings import Settings, load_settings
from cardshare.status import CardStatus

S = AssociationStatus
ACCOUNT, REGION = "123456789012", "us-east-1"
CARD_NAME = "Customer-Churn-Model-Card"
CARD_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/{CARD_NAME}"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:cardshare-promote-card:run-1"
STAGES_JSON = json.dumps(
    default_stages(ACCOUNT, principals={"dev": "111111111111", "test": "222222222222", "prod": "333333333333"})
)
LADDER = ladder_from_json(STAGES_JSON, ACCOUNT)
SHARE = {stage.name: stage.share_arns[0] for stage in LADDER.stages}
LIMITS = Limits(poll_seconds=7, max_polls=3, max_rounds=2)
EVENTS = Path(__file__).resolve().parents[2] / "events"


class FakeCards:
    """CardReader over a dict; records every describe call."""

    def __init__(self, *cards: Card) -> None:
        self.cards = {card.arn: card for card in cards}
        self.calls: list[str] = []

    def describe(self, card_arn: str) -> Card | None:
        self.calls.append(card_arn)
        return self.cards.get(card_arn)

    def set_status(self, card_arn: str, status: CardStatus) -> None:
        self.cards[card_arn] = dataclasses.replace(self.cards[card_arn], status=status)


class FakeShares:
    """AssociationReader over (card, share) -> association; applies actions the way RAM would."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Association] = {}
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def associations(self, card_arn: str, share_arns: Sequence[str]) -> list[Association]:
        self.calls.append((card_arn, tuple(share_arns)))
        return [row for (card, share), row in self.rows.items() if card == card_arn and share in share_arns]

    def set(self, card_arn: str, stage: str, status: AssociationStatus, message: str = "") -> None:
        self.rows[(card_arn, SHARE[stage])] = Association(SHARE[stage], status, message)

    def apply(self, actions: list[dict[str, str]]) -> None:
        for action in actions:
            moving = S.ASSOCIATING if action["op"] == "associate" else S.DISASSOCIATING
            self.rows[(action["resourceArn"], action["shareArn"])] = Association(action["shareArn"], moving)

    def settle(self) -> None:
        done = {S.ASSOCIATING: S.ASSOCIATED, S.DISASSOCIATING: S.DISASSOCIATED}
        for key, row in self.rows.items():
            self.rows[key] = Association(row.share_arn, done.get(row.status, row.status), row.message)

    def stages_with(self, card_arn: str, status: AssociationStatus) -> set[str]:
        names = {arn: name for name, arn in SHARE.items()}
        return {names[share] for (card, share), row in self.rows.items() if card == card_arn and row.status is status}


# Content that passes the default review gate, so that only the status decides the sharing.
CONTENT = {
    "model_overview": {"model_owner": "churn-team", "problem_type": "Binary Classification"},
    "intended_uses": {"intended_uses": "Predict churn for retention offers"},
}


def card(status: CardStatus, arn: str = CARD_ARN, version: int = 3) -> Card:
    return Card(arn, CARD_NAME, status, version, CONTENT)


def round_(
    cards: FakeCards,
    shares: FakeShares,
    progress: Progress | None = None,
    execution: str = EXECUTION,
    judge: Judged | None = None,
) -> Step:
    if judge is None:
        return converge_round(CardRound(CARD_ARN, execution, progress or Progress()), LADDER, cards, shares, LIMITS)
    return converge_round(CardRound(CARD_ARN, execution, progress or Progress()), LADDER, cards, shares, LIMITS, judge)


def run_workflow(cards: FakeCards, shares: FakeShares, limits: Limits = LIMITS) -> tuple[list[str], dict[str, Any]]:
    """Drive rounds the way the state machine does (apply -> wait -> plan ...) until done."""
    progress = Progress()
    moves = []
    for _ in range(50):
        step = converge_round(CardRound(CARD_ARN, EXECUTION, progress), LADDER, cards, shares, limits)
        moves.append(step.next)
        data = json.loads(json.dumps(step.to_dict()))  # what the workflow really carries
        if step.next == "done":
            return moves, data
        if step.next == "apply":
            shares.apply(data["actions"])
        shares.settle()
        progress = Progress.from_dict(data["progress"])
    raise AssertionError(f"no end after 50 rounds: {moves}")


# ---- converge_round -----------------------------------------------------------------------------


def test_first_round_from_nothing_applies_with_client_tokens() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    step = round_(cards, shares)
    assert step.next == "apply"
    assert step.wait_seconds == LIMITS.poll_seconds
    assert [(a["op"], a["stage"]) for a in step.actions] == [
        ("associate", "dev"),
        ("associate", "test"),
        ("associate", "prod"),
    ]
    for action in step.actions:
        assert action["shareArn"] == SHARE[action["stage"]]
        assert action["resourceArn"] == CARD_ARN
        assert uuid.UUID(action["clientToken"])
        assert len(action["clientToken"]) <= 64  # RAM's clientToken limit
    assert len({a["clientToken"] for a in step.actions}) == 3
    # Settling: the next round reads RAM first, and reads the card only once RAM settled.
    assert step.progress == Progress(rounds=1, polls=0, added=("dev", "test", "prod"), removed=(), settling=True)
    # Few calls: one DescribeModelCard, one association read across all of the stack's shares.
    assert cards.calls == [CARD_ARN]
    assert shares.calls == [(CARD_ARN, LADDER.share_arns)]


def test_client_token_is_stable_for_the_same_call_and_differs_otherwise() -> None:
    token = client_token(EXECUTION, 0, SHARE["dev"], Op.ASSOCIATE)
    assert token == client_token(EXECUTION, 0, SHARE["dev"], Op.ASSOCIATE)
    others = {
        client_token(EXECUTION + "-2", 0, SHARE["dev"], Op.ASSOCIATE),
        client_token(EXECUTION, 1, SHARE["dev"], Op.ASSOCIATE),
        client_token(EXECUTION, 0, SHARE["test"], Op.ASSOCIATE),
        client_token(EXECUTION, 0, SHARE["dev"], Op.DISASSOCIATE),
    }
    assert token not in others
    assert len(others) == 4


def test_retried_round_produces_the_same_tokens() -> None:
    first = round_(FakeCards(card(CardStatus.APPROVED)), FakeShares())
    again = round_(FakeCards(card(CardStatus.APPROVED)), FakeShares())
    other_execution = round_(FakeCards(card(CardStatus.APPROVED)), FakeShares(), execution=EXECUTION + "-b")
    assert [a["clientToken"] for a in first.actions] == [a["clientToken"] for a in again.actions]
    assert not {a["clientToken"] for a in first.actions} & {a["clientToken"] for a in other_execution.actions}


def test_tokens_of_a_later_round_differ() -> None:
    cards, shares = FakeCards(card(CardStatus.DRAFT)), FakeShares()
    first = round_(cards, shares)
    # The association was lost (say, removed by hand) before the next round: associate again.
    later = round_(cards, shares, first.progress)
    assert later.next == "apply"
    assert later.actions[0]["stage"] == first.actions[0]["stage"] == "dev"
    assert later.actions[0]["clientToken"] != first.actions[0]["clientToken"]


def test_after_apply_associating_means_wait_and_polls_are_counted() -> None:
    cards, shares = FakeCards(card(CardStatus.PENDING_REVIEW)), FakeShares()
    applied = round_(cards, shares)
    shares.apply(applied.actions)
    waiting = round_(cards, shares, applied.progress)
    assert waiting.next == "wait"
    assert waiting.actions == []
    assert waiting.wait_seconds == LIMITS.poll_seconds
    assert waiting.progress == Progress(rounds=1, polls=1, added=("dev", "test"), removed=(), settling=True)
    again = round_(cards, shares, waiting.progress)
    assert again.next == "wait"
    assert again.progress.polls == 2


def test_polls_exhausted_raise_timeout_naming_the_stages() -> None:
    cards, shares = FakeCards(card(CardStatus.PENDING_REVIEW)), FakeShares()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    shares.set(CARD_ARN, "test", S.ASSOCIATING)
    progress = Progress(rounds=1, polls=LIMITS.max_polls, added=("test",))
    with pytest.raises(ConvergenceTimeoutError, match=r"test did not settle after 3 polls"):
        round_(cards, shares, progress)
    # One poll fewer is still a wait.
    assert round_(cards, shares, Progress(rounds=1, polls=LIMITS.max_polls - 1)).next == "wait"


def test_rounds_exhausted_while_actions_remain_raise_timeout() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    with pytest.raises(ConvergenceTimeoutError, match=r"still needs 3 change\(s\) after 2 rounds"):
        round_(cards, shares, Progress(rounds=LIMITS.max_rounds))
    assert round_(cards, shares, Progress(rounds=LIMITS.max_rounds - 1)).next == "apply"


def test_rounds_exhausted_without_actions_is_still_done() -> None:
    cards, shares = FakeCards(card(CardStatus.DRAFT)), FakeShares()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    assert round_(cards, shares, Progress(rounds=LIMITS.max_rounds, polls=LIMITS.max_polls)).next == "done"


def test_failed_association_of_this_execution_raises_with_stage_and_message() -> None:
    cards, shares = FakeCards(card(CardStatus.PENDING_REVIEW)), FakeShares()
    applied = round_(cards, shares)
    shares.apply(applied.actions)
    shares.settle()
    shares.set(CARD_ARN, "test", S.FAILED, "The principal 222222222222 is not part of your organization")
    with pytest.raises(AssociationFailedError) as raised:
        round_(cards, shares, applied.progress)
    message = str(raised.value)
    assert "test: The principal 222222222222 is not part of your organization" in message
    assert CARD_ARN in message
    assert "dev" not in message.split("(", 1)[1]


def test_failed_association_without_a_message_still_raises() -> None:
    cards, shares = FakeCards(card(CardStatus.DRAFT)), FakeShares()
    shares.set(CARD_ARN, "dev", S.FAILED)
    with pytest.raises(AssociationFailedError, match="dev: no status message"):
        round_(cards, shares, Progress(rounds=1, added=("dev",)))


def test_failed_association_from_before_this_execution_is_associated_again() -> None:
    cards, shares = FakeCards(card(CardStatus.DRAFT)), FakeShares()
    shares.set(CARD_ARN, "dev", S.FAILED, "an old failure")
    step = round_(cards, shares)
    assert step.next == "apply"
    assert [(a["op"], a["stage"]) for a in step.actions] == [("associate", "dev")]


def test_failed_association_on_an_unwanted_share_is_ignored() -> None:
    cards, shares = FakeCards(card(CardStatus.DRAFT)), FakeShares()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    shares.set(CARD_ARN, "prod", S.FAILED, "old")
    assert round_(cards, shares, Progress(rounds=1, added=("prod",))).next == "done"


def test_deleted_card_is_disassociated_everywhere_and_ends_as_a_no_op() -> None:
    cards, shares = FakeCards(), FakeShares()
    for stage in ("dev", "test", "prod"):
        shares.set(CARD_ARN, stage, S.ASSOCIATED)
    moves, result = run_workflow(cards, shares)
    assert moves == ["apply", "done"]
    assert shares.stages_with(CARD_ARN, S.ASSOCIATED) == set()
    assert result["summary"] == {
        "card": CARD_ARN,
        "exists": False,
        "status": None,
        "version": None,
        "effectiveStatus": None,
        "blocked": [],
        "pending": [],
        "sharesAdded": [],
        "sharesRemoved": ["dev", "prod", "test"],
    }


def test_deleted_card_never_shared_is_done_at_once() -> None:
    step = round_(FakeCards(), FakeShares())
    assert step.next == "done"
    assert step.to_dict()["summary"]["exists"] is False
    assert step.actions == []


def test_done_summary_lists_shares_added() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED, version=4)), FakeShares()
    moves, result = run_workflow(cards, shares)
    assert moves == ["apply", "done"]
    assert shares.stages_with(CARD_ARN, S.ASSOCIATED) == {"dev", "test", "prod"}
    assert result["next"] == "done"
    assert result["actions"] == []
    assert result["summary"] == {
        "card": CARD_ARN,
        "exists": True,
        "status": "Approved",
        "version": 4,
        "effectiveStatus": "Approved",
        "blocked": [],
        "pending": [],
        "sharesAdded": ["dev", "prod", "test"],
        "sharesRemoved": [],
    }


def test_done_summary_lists_shares_removed() -> None:
    cards, shares = FakeCards(card(CardStatus.DRAFT)), FakeShares()
    for stage in ("dev", "test", "prod"):
        shares.set(CARD_ARN, stage, S.ASSOCIATED)
    moves, result = run_workflow(cards, shares)
    assert moves == ["apply", "done"]
    assert shares.stages_with(CARD_ARN, S.ASSOCIATED) == {"dev"}
    assert result["summary"]["sharesAdded"] == []
    assert result["summary"]["sharesRemoved"] == ["prod", "test"]


def test_already_converged_card_is_done_in_one_round_with_two_reads() -> None:
    cards, shares = FakeCards(card(CardStatus.DRAFT)), FakeShares()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    step = round_(cards, shares)
    assert step.next == "done"
    assert step.progress == Progress()
    assert len(cards.calls) == 1
    assert len(shares.calls) == 1


def test_status_change_between_rounds_is_converged_on() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    first = round_(cards, shares)
    shares.apply(first.actions)
    cards.set_status(CARD_ARN, CardStatus.DRAFT)  # the race: someone moves the card back meanwhile
    shares.settle()
    second = round_(cards, shares, first.progress)
    assert second.next == "apply"
    assert [(a["op"], a["stage"]) for a in second.actions] == [("disassociate", "test"), ("disassociate", "prod")]
    shares.apply(second.actions)
    shares.settle()
    final = round_(cards, shares, second.progress)
    assert final.next == "done"
    assert shares.stages_with(CARD_ARN, S.ASSOCIATED) == {"dev"}
    assert final.to_dict()["summary"]["status"] == "Draft"


def test_associations_are_read_by_the_arn_sagemaker_reports() -> None:
    reported = CARD_ARN.lower()
    cards = FakeCards()
    cards.cards[CARD_ARN] = card(CardStatus.DRAFT, arn=reported)
    shares = FakeShares()
    step = round_(cards, shares)
    assert shares.calls[0][0] == reported
    assert step.actions[0]["resourceArn"] == reported
    # The summary (and so the failed record, the revert and every key) names the card the same way.
    assert step.card_arn == reported
    assert step.to_dict()["summary"]["card"] == reported


def test_progress_round_trips_through_json() -> None:
    progress = Progress(
        rounds=2, polls=5, added=("dev", "test"), removed=("prod",), defers=4, settling=True, merged="m", claimed="c"
    )
    progress = dataclasses.replace(progress, first=True)
    data = json.loads(json.dumps(progress.to_dict()))
    assert data == {
        "rounds": 2,
        "polls": 5,
        "added": ["dev", "test"],
        "removed": ["prod"],
        "defers": 4,
        "settling": True,
        "merged": "m",
        "claimed": "c",
        "first": True,
    }
    assert Progress.from_dict(data) == progress


def test_progress_carried_from_before_the_redesign_reads_without_its_old_keys() -> None:
    # An execution started before the lease and the ledger history were removed carries their keys.
    progress = Progress.from_dict(
        {"rounds": 1, "polls": 2, "added": ["dev"], "removed": [], "history": {}, "leased": True, "leaseWaits": 3}
    )
    assert progress == Progress(rounds=1, polls=2, added=("dev",), removed=(), defers=0)
    assert set(progress.to_dict()) == {
        "rounds",
        "polls",
        "added",
        "removed",
        "defers",
        "settling",
        "merged",
        "claimed",
        "first",
    }


@pytest.mark.parametrize("empty", [None, {}])
def test_progress_from_nothing_is_the_start(empty: dict[str, Any] | None) -> None:
    assert Progress.from_dict(empty) == Progress(rounds=0, polls=0, added=(), removed=(), defers=0)


def test_step_to_dict_has_the_keys_the_state_machine_reads() -> None:
    asl = json.loads((EVENTS.parent / "statemachines" / "promote_card.asl.json").read_text(encoding="utf-8"))
    selector = asl["States"]["Plan"]["ResultSelector"]
    read = {value.removeprefix("$.Payload.") for value in selector.values()}
    data = round_(FakeCards(card(CardStatus.DRAFT)), FakeShares()).to_dict()
    # The plan handler adds "decision" (the record once done) to what the step returns.
    assert "decision" in read
    assert read - {"decision"} <= set(data)
    assert {"op", "shareArn", "resourceArn", "clientToken"} <= set(data["actions"][0])


# ---- the judge -----------------------------------------------------------------------------------


class Judged:
    """A judge that grants ``effective`` to any card, refusing with ``reasons`` when given.

    With ``pending`` the verdict waits ``wait_seconds``, keeping only what ``hold`` grants (or every
    share the card has, with ``hold_all``).
    """

    def __init__(
        self,
        effective: CardStatus | None,
        *reasons: str,
        pending: tuple[str, ...] = (),
        hold: CardStatus | None = None,
        hold_all: bool = False,
        wait_seconds: int = 0,
    ) -> None:
        self.effective = effective
        self.reasons = reasons
        self.pending = pending
        self.hold = hold
        self.hold_all = hold_all
        self.wait_seconds = wait_seconds
        self.calls: list[Card | None] = []

    def __call__(self, seen: Card | None) -> Verdict:
        self.calls.append(seen)
        status = seen.status if seen else None
        if self.pending:
            waiting = (GateResult("approval", False, self.pending, pending=True, wait_seconds=self.wait_seconds),)
            return Verdict(status, self.effective, waiting, self.pending, self.hold, self.hold_all, self.wait_seconds)
        results = (GateResult("approval", False, self.reasons),) if self.reasons else ()
        return Verdict(status, self.effective, results)


def test_without_a_judge_a_card_is_shared_as_its_status_says() -> None:
    step = round_(FakeCards(card(CardStatus.APPROVED)), FakeShares())
    assert step.verdict == Verdict(CardStatus.APPROVED, CardStatus.APPROVED)
    assert not step.verdict.blocked
    summary = step.to_dict()["summary"]
    assert summary["effectiveStatus"] == "Approved"
    assert summary["blocked"] == []
    assert summary["pending"] == []


def test_the_plan_follows_the_status_the_judge_grants_not_the_cards() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    judge = Judged(CardStatus.PENDING_REVIEW, "separation of duties: approver x also authored version 3")
    step = round_(cards, shares, judge=judge)
    assert [(a["op"], a["stage"]) for a in step.actions] == [("associate", "dev"), ("associate", "test")]
    assert judge.calls == [cards.cards[CARD_ARN]]  # the judge sees the card as it is now, once
    summary = step.to_dict()["summary"]
    assert summary["status"] == "Approved"
    assert summary["effectiveStatus"] == "PendingReview"
    assert summary["blocked"] == ["separation of duties: approver x also authored version 3"]


def test_a_refused_card_already_in_prod_is_taken_out_of_prod() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    for stage in ("dev", "test", "prod"):
        shares.set(CARD_ARN, stage, S.ASSOCIATED)
    step = round_(cards, shares, judge=Judged(CardStatus.DRAFT, "missing required field x"))
    assert [(a["op"], a["stage"]) for a in step.actions] == [("disassociate", "test"), ("disassociate", "prod")]
    assert step.progress.removed == ("test", "prod")


def test_the_judge_sees_a_deleted_card_as_none() -> None:
    judge = Judged(None)
    step = round_(FakeCards(), FakeShares(), judge=judge)
    assert judge.calls == [None]
    assert step.next == "done"
    assert step.to_dict()["summary"]["effectiveStatus"] is None


def test_defers_are_carried_through_every_kind_of_round() -> None:
    cards, shares = FakeCards(card(CardStatus.PENDING_REVIEW)), FakeShares()
    applied = round_(cards, shares, Progress(defers=2))
    assert applied.next == "apply"
    assert applied.progress.defers == 2
    shares.apply(applied.actions)
    waited = round_(cards, shares, applied.progress)
    assert waited.next == "wait"
    assert waited.progress == Progress(rounds=1, polls=1, added=("dev", "test"), defers=2, settling=True)
    shares.settle()
    done = round_(cards, shares, waited.progress)
    assert done.next == "done"
    assert done.progress.defers == 2


# ---- a verdict waiting for evidence ---------------------------------------------------------------

MISSING = ("version 3 was never seen in PendingReview before its approval",)


def waiting_judge(wait_seconds: int = 40) -> Judged:
    """The approval gate waiting for evidence: the card keeps what PendingReview grants meanwhile."""
    return Judged(CardStatus.APPROVED, pending=MISSING, hold=CardStatus.PENDING_REVIEW, wait_seconds=wait_seconds)


def test_a_pending_verdict_removes_a_share_the_hold_status_does_not_grant_but_adds_none() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    shares.set(CARD_ARN, "prod", S.ASSOCIATED)  # prod is more than the card has earned so far
    step = round_(cards, shares, judge=waiting_judge())
    assert step.next == "apply"
    # test is granted by PendingReview (and by Approved) but the card does not hold it: not added.
    assert [(a["op"], a["stage"]) for a in step.actions] == [("disassociate", "prod")]
    assert step.progress == Progress(rounds=1, removed=("prod",), defers=0, settling=True)
    assert step.wait_seconds == LIMITS.poll_seconds
    summary = step.to_dict()["summary"]
    assert summary["pending"] == list(MISSING)
    assert summary["blocked"] == list(MISSING)


def test_a_pending_verdict_never_associates_from_nothing() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    step = round_(cards, shares, judge=waiting_judge())
    assert step.actions == []
    assert step.next == "wait"


def test_a_pending_verdict_keeps_the_shares_the_hold_status_grants() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    shares.set(CARD_ARN, "test", S.ASSOCIATED)
    step = round_(cards, shares, Progress(rounds=1, added=("dev", "test")), judge=waiting_judge())
    assert step.actions == []
    assert step.next == "wait"
    assert shares.stages_with(CARD_ARN, S.ASSOCIATED) == {"dev", "test"}


def test_pending_and_converged_waits_for_evidence_with_one_more_defer() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    before = Progress(rounds=1, polls=2, added=("dev",), defers=3)
    step = round_(cards, shares, before, judge=waiting_judge())
    assert step.next == "wait"
    assert step.actions == []
    assert step.wait_seconds == 40  # until the evidence can settle the question, in one wait
    assert step.progress == Progress(rounds=1, polls=2, added=("dev",), defers=4)  # polls untouched


@pytest.mark.parametrize(("verdict_wait", "step_wait"), [(0, 1), (1, 1), (37, 37)])
def test_an_evidence_wait_is_whole_seconds_and_at_least_one(verdict_wait: int, step_wait: int) -> None:
    # Step Functions waits whole seconds; a Wait of 0 would make the next round a busy loop.
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    step = round_(cards, shares, judge=waiting_judge(wait_seconds=verdict_wait))
    assert (step.next, step.wait_seconds) == ("wait", step_wait)


def test_a_card_still_changing_keeps_every_share_it_has_and_gets_none() -> None:
    # hold_all: the card's status may change again in a moment; touch nothing until it stands still.
    cards, shares = FakeCards(card(CardStatus.DRAFT)), FakeShares()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    shares.set(CARD_ARN, "prod", S.ASSOCIATED)  # more than Draft grants
    judge = Judged(CardStatus.DRAFT, pending=("the card changed 0.5s ago",), hold_all=True, wait_seconds=2)
    step = round_(cards, shares, judge=judge)
    assert (step.next, step.actions, step.wait_seconds) == ("wait", [], 2)
    assert step.progress.defers == 1
    assert shares.stages_with(CARD_ARN, S.ASSOCIATED) == {"dev", "prod"}
    # Without hold_all the same pending verdict would keep only what its hold status grants.
    strict = round_(cards, shares, judge=Judged(CardStatus.DRAFT, pending=("x",), hold=CardStatus.DRAFT))
    assert [(a["op"], a["stage"]) for a in strict.actions] == [("disassociate", "prod")]


def test_pending_while_ram_still_moves_polls_without_spending_a_defer() -> None:
    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    shares.set(CARD_ARN, "prod", S.DISASSOCIATING)
    step = round_(cards, shares, Progress(rounds=1, removed=("prod",), defers=1), judge=waiting_judge())
    assert step.next == "wait"
    assert step.wait_seconds == LIMITS.poll_seconds
    assert step.progress == Progress(rounds=1, polls=1, removed=("prod",), defers=1, settling=True)


def test_a_pending_verdict_that_resolves_is_then_shared_as_earned() -> None:
    """The workflow loop: hold and wait while evidence is missing, share once the gate passes."""

    class EventuallyPasses:
        def __init__(self, waits: int) -> None:
            self.waits = waits

        def __call__(self, seen: Card | None) -> Verdict:
            if self.waits:
                self.waits -= 1
                return waiting_judge()(seen)
            return Verdict(CardStatus.APPROVED, CardStatus.APPROVED)

    cards, shares = FakeCards(card(CardStatus.APPROVED)), FakeShares()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    judge, progress, moves = EventuallyPasses(waits=2), Progress(), []
    for _ in range(10):
        step = converge_round(CardRound(CARD_ARN, EXECUTION, progress), LADDER, cards, shares, LIMITS, judge)
        moves.append(step.next)
        if step.next == "done":
            break
        shares.apply(step.actions)
        shares.settle()
        progress = step.progress
    assert moves == ["wait", "wait", "apply", "done"]
    assert step.progress.defers == 2
    assert shares.stages_with(CARD_ARN, S.ASSOCIATED) == {"dev", "test", "prod"}


# ---- promote_round ------------------------------------------------------------------------------

LEDGER_TABLE = "cardshare-decisions"


class FakeEvidence:
    """The evidence store keyed by the exact card ARN, as DynamoDB keys it; records every call."""

    def __init__(self) -> None:
        self.items: dict[str, Evidence] = {}
        self.merged: list[tuple[str, Evidence]] = []
        self.alerts: dict[str, set[str]] = {}
        self.writes = 0  # UpdateItem calls, whatever they carry

    def merge(self, card_arn: str, facts: Evidence) -> Evidence:
        self.writes += 1
        self.merged.append((card_arn, facts))
        self.items[card_arn] = self.items.get(card_arn, Evidence()).merged(facts)
        return self.items[card_arn]

    def claim_alert(self, card_arn: str, fingerprint: str) -> bool:
        self.writes += 1
        return self._claim(card_arn, fingerprint)

    def record(self, card_arn: str, facts: Evidence, claim: str | None) -> bool:
        self.writes += 1  # one UpdateItem for the facts and the claim
        if facts.encode():
            self.merged.append((card_arn, facts))
            self.items[card_arn] = self.items.get(card_arn, Evidence()).merged(facts)
        return True if claim is None else self._claim(card_arn, claim)

    def _claim(self, card_arn: str, fingerprint: str) -> bool:
        claimed = self.alerts.setdefault(card_arn, set())
        first = fingerprint not in claimed
        claimed.add(fingerprint)
        return first


class ReadOnlyShares:
    """SharePermissions: no share lets its principals update a card; records the questions."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def grants_update(self, share_arn: str) -> bool:
        self.asked.append(share_arn)
        return False


EVIDENCE_WAIT = 120


def settings(limits: Limits = LIMITS) -> Settings:
    gates = GateConfig(approver_accounts=frozenset({ACCOUNT}), evidence_wait_seconds=EVIDENCE_WAIT)
    return Settings(ACCOUNT, REGION, LADDER, limits, gates, LEDGER_TABLE)


def event(name: str = "card-approved.json") -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


NOW = datetime(2026, 11, 28, 9, 0, 1, tzinfo=UTC)


def promote(
    payload: Any,
    cards: FakeCards,
    shares: FakeShares,
    evidence: FakeEvidence | None = None,
    limits: Limits = LIMITS,
) -> RoundResult:
    ports = Ports(cards, shares, evidence or FakeEvidence(), ReadOnlyShares())
    return promote_round(payload, settings(limits), ports, NOW)


def test_promote_round_converges_the_card_in_the_event() -> None:
    cards, shares = FakeCards(card(CardStatus.PENDING_REVIEW)), FakeShares()
    result = promote({"event": event("card-approved.json"), "progress": None, "execution": EXECUTION}, cards, shares)
    # The event says Approved, the card is PendingReview now: the card as it is now wins.
    assert result.event.status is CardStatus.APPROVED
    assert result.step.card is not None
    assert result.step.card.status is CardStatus.PENDING_REVIEW
    assert [a["stage"] for a in result.step.actions] == ["dev", "test"]
    assert result.step.actions[0]["clientToken"] == client_token(EXECUTION, 0, SHARE["dev"], Op.ASSOCIATE)
    assert result.decision is None  # not converged yet: no decision before the last round


def test_promote_round_carries_progress() -> None:
    cards, shares, evidence = FakeCards(card(CardStatus.DRAFT)), FakeShares(), FakeEvidence()
    shares.set(CARD_ARN, "dev", S.ASSOCIATING)
    progress = Progress(rounds=1, polls=1, added=("dev",)).to_dict()
    result = promote({"event": event(), "progress": progress, "execution": EXECUTION}, cards, shares, evidence)
    assert result.step.next == "wait"
    # What this round wrote is remembered, so that a later round reading the same card writes nothing.
    assert result.step.progress.merged
    merged = result.step.progress.merged
    assert result.step.progress == Progress(rounds=1, polls=2, added=("dev",), settling=True, merged=merged)
    # Every round that reads the card writes what it saw into the card's evidence, keyed by the card's ARN.
    assert [arn for arn, _ in evidence.merged] == [CARD_ARN]


def test_promote_round_decides_when_done() -> None:
    cards, shares, evidence = FakeCards(card(CardStatus.DRAFT)), FakeShares(), FakeEvidence()
    shares.set(CARD_ARN, "dev", S.ASSOCIATED)
    progress = Progress(rounds=1, polls=1, added=("dev",)).to_dict()
    result = promote({"event": event(), "progress": progress, "execution": EXECUTION}, cards, shares, evidence)
    assert result.step.next == "done"
    assert result.decision is not None
    assert result.decision.record["outcome"] == "shared"
    assert result.decision.record["sharesAdded"] == ["dev"]
    assert result.decision.record["eventId"] == event()["id"]
    assert result.decision.record["executionArn"] == EXECUTION
    assert result.decision.record["evidenceWaits"] == 0
    # The change is claimed once, so an execution beside this one reports it no second time.
    assert len(evidence.alerts[CARD_ARN]) == 1


def changed(seconds_ago: float, status: CardStatus = CardStatus.APPROVED) -> FakeCards:
    """The card, last modified ``seconds_ago`` before NOW; its approval's review was never seen."""
    return FakeCards(dataclasses.replace(card(status), modified_at=NOW.timestamp() - seconds_ago))


def test_promote_round_leaves_a_card_that_is_still_changing_alone() -> None:
    cards, shares, evidence = changed(0.5), FakeShares(), FakeEvidence()
    shares.set(CARD_ARN, "prod", S.ASSOCIATED)
    result = promote({"event": event(), "progress": None, "execution": EXECUTION}, cards, shares, evidence)
    # Nothing is granted meanwhile; prod alone goes at once, since no approval of this version is known.
    assert result.step.next == "apply"
    assert [(a["op"], a["stage"]) for a in result.step.actions] == [("disassociate", "prod")]
    assert result.step.verdict.hold_all
    assert result.step.verdict.withhold_approval
    assert [arn for arn, _ in evidence.merged] == [CARD_ARN]  # what it saw is kept all the same
    assert result.decision is None


def test_promote_round_leaves_a_changing_draft_card_alone_without_reading_ram() -> None:
    cards, shares, evidence = changed(0.5, CardStatus.DRAFT), FakeShares(), FakeEvidence()
    shares.set(CARD_ARN, "test", S.ASSOCIATED)
    # Never approved under this ARN: no stage only an approval grants can be held, nothing to check.
    draft = event("card-draft.json")
    result = promote({"event": draft, "progress": None, "execution": EXECUTION}, cards, shares, evidence)
    assert (result.step.next, result.step.actions) == ("wait", [])
    assert result.step.wait_seconds == 2  # the rest of LIMITS.quiet_seconds, whole seconds
    assert result.step.verdict.hold_all
    assert not result.step.verdict.withhold_approval
    assert shares.stages_with(CARD_ARN, S.ASSOCIATED) == {"test"}  # nothing taken away meanwhile


def test_promote_round_holds_an_approval_whose_evidence_is_missing_until_it_settles() -> None:
    cards, shares, evidence = changed(10), FakeShares(), FakeEvidence()
    shares.set(CARD_ARN, "prod", S.ASSOCIATED)  # shared with prod by hand before anything was judged
    result = promote({"event": event(), "progress": None, "execution": EXECUTION}, cards, shares, evidence)
    assert result.step.verdict.pending
    assert not result.step.verdict.hold_all
    assert [(a["op"], a["stage"]) for a in result.step.actions] == [("disassociate", "prod")]
    assert result.decision is None
    shares.apply(result.step.actions)
    shares.settle()
    again = promote(
        {"event": event(), "progress": result.step.progress.to_dict(), "execution": EXECUTION},
        cards,
        shares,
        evidence,
    )
    # One wait until the evidence wait has passed since the approval, not a poll per second.
    assert (again.step.next, again.step.wait_seconds, again.step.progress.defers) == ("wait", EVIDENCE_WAIT - 10, 1)
    assert again.decision is None


def test_promote_round_decides_on_what_it_has_seen_once_the_evidence_has_settled() -> None:
    cards, shares, evidence = changed(86_400), FakeShares(), FakeEvidence()
    result = promote({"event": event(), "progress": None, "execution": EXECUTION}, cards, shares, evidence)
    assert result.step.next == "apply"  # the refused approval still gets what its fallback grants
    assert [a["stage"] for a in result.step.actions] == ["dev"]
    assert result.step.verdict.pending == ()
    assert result.step.verdict.blocked
    assert result.step.verdict.effective is CardStatus.DRAFT  # never seen in review: Draft's sharing only
    assert [r.gate for r in result.step.verdict.results if not r.passed] == ["approval"]


def test_promote_round_decides_after_max_defers_even_if_the_card_keeps_changing() -> None:
    cards, shares, evidence = changed(0.5), FakeShares(), FakeEvidence()
    last = Progress(defers=LIMITS.max_defers).to_dict()
    result = promote({"event": event(), "progress": last, "execution": EXECUTION}, cards, shares, evidence)
    assert not result.step.verdict.hold_all
    assert result.step.verdict.pending == ()
    assert result.step.verdict.blocked
    assert [a["stage"] for a in result.step.actions] == ["dev"]
    assert any(reason.startswith("undecided after the longest wait: ") for reason in result.step.verdict.reasons)


@pytest.mark.parametrize("payload", [None, [], "event", 3])
def test_promote_round_payload_not_an_object(payload: Any) -> None:
    with pytest.raises(InvalidEventError, match=r"^payload: "):
        promote(payload, FakeCards(), FakeShares())


@pytest.mark.parametrize("execution", [None, "", 42])
def test_promote_round_needs_the_execution(execution: Any) -> None:
    payload: dict[str, Any] = {"event": event(), "progress": None, "execution": execution}
    with pytest.raises(InvalidEventError, match=r"^execution: "):
        promote(payload, FakeCards(card(CardStatus.DRAFT)), FakeShares())
    del payload["execution"]
    with pytest.raises(InvalidEventError, match=r"^execution: "):
        promote(payload, FakeCards(card(CardStatus.DRAFT)), FakeShares())


@pytest.mark.parametrize("progress", [[], "round 1", 1, True])
def test_promote_round_progress_of_the_wrong_type(progress: Any) -> None:
    with pytest.raises(InvalidEventError, match=r"^progress: "):
        promote(
            {"event": event(), "progress": progress, "execution": EXECUTION},
            FakeCards(card(CardStatus.DRAFT)),
            FakeShares(),
        )


def test_promote_round_rejects_a_bad_event_before_reading_anything() -> None:
    cards, shares, evidence = FakeCards(card(CardStatus.DRAFT)), FakeShares(), FakeEvidence()
    with pytest.raises(InvalidEventError, match=r"^detail\.ModelCardStatus: "):
        promote(
            {"event": event("malformed-unknown-status.json"), "progress": None, "execution": EXECUTION},
            cards,
            shares,
            evidence,
        )
    with pytest.raises(InvalidEventError, match=r"^event: "):
        promote({"progress": None, "execution": EXECUTION}, cards, shares, evidence)
    assert cards.calls == []
    assert shares.calls == []
    assert evidence.merged == []


@pytest.mark.parametrize("execution", [None, ""])
def test_promote_round_merges_no_evidence_without_an_execution(execution: Any) -> None:
    cards, evidence = FakeCards(card(CardStatus.DRAFT)), FakeEvidence()
    with pytest.raises(InvalidEventError, match=r"^execution: "):
        promote({"event": event(), "progress": None, "execution": execution}, cards, FakeShares(), evidence)
    assert evidence.merged == []
    assert cards.calls == []


# ---- settings -------------------------------------------------------------------------------------

GOOD_ENV = {
    "CARDSHARE_ACCOUNT_ID": ACCOUNT,
    "AWS_REGION": REGION,
    "CARDSHARE_STAGES": STAGES_JSON,
    "CARDSHARE_LEDGER_TABLE": LEDGER_TABLE,
}


def env(**changes: str | None) -> dict[str, str]:
    result = copy.deepcopy(GOOD_ENV)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def test_good_environment_gives_settings() -> None:
    loaded = load_settings(
        env(
            CARDSHARE_POLL_SECONDS="0",  # minimum poll: 0
            CARDSHARE_MAX_POLLS="10",
            CARDSHARE_MAX_ROUNDS="4",
            CARDSHARE_EVIDENCE_WAIT_SECONDS="1",  # minimum evidence wait: 1
            CARDSHARE_QUIET_SECONDS="0",  # minimum quiet period: 0 (act at once)
        )
    )
    assert loaded == Settings(
        ACCOUNT,
        REGION,
        LADDER,
        Limits(poll_seconds=0, max_polls=10, max_rounds=4, quiet_seconds=0),
        GateConfig(approver_accounts=frozenset({ACCOUNT}), evidence_wait_seconds=1),
        LEDGER_TABLE,
    )


def test_defaults_for_the_limits_and_the_gates() -> None:
    loaded = load_settings(env())
    assert loaded.limits == Limits(poll_seconds=5, max_polls=24, max_rounds=3, quiet_seconds=2, max_defers=10)
    # Without ApproverAccountIds only the model-card account's own people may approve.
    assert loaded.gates == GateConfig(DEFAULT_REQUIRED_FIELDS, (), frozenset({ACCOUNT}), Enforcement.ALERT, 120)


def test_the_evidence_wait_and_the_quiet_period_come_from_their_variables() -> None:
    loaded = load_settings(env(CARDSHARE_EVIDENCE_WAIT_SECONDS="45", CARDSHARE_QUIET_SECONDS="7"))
    assert loaded.gates.evidence_wait_seconds == 45
    assert loaded.limits.quiet_seconds == 7


def test_gates_come_from_their_variables() -> None:
    loaded = load_settings(
        env(
            CARDSHARE_REQUIRED_FIELDS="model_overview.model_owner, training_details.training_job_details",
            CARDSHARE_APPROVERS="arn:aws:iam::444455556666:role/ModelApprover*,"
            "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-1/jane",
            CARDSHARE_APPROVER_ACCOUNTS="444455556666, 123456789012",
            CARDSHARE_ENFORCEMENT="revert",
        )
    )
    assert loaded.gates == GateConfig(
        ("model_overview.model_owner", "training_details.training_job_details"),
        (
            "arn:aws:iam::444455556666:role/ModelApprover*",
            "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-1/jane",
        ),
        frozenset({"444455556666", ACCOUNT}),
        Enforcement.REVERT,
        120,
    )
    assert loaded.ledger_table == LEDGER_TABLE


@pytest.mark.parametrize(
    "variable", ["CARDSHARE_EVIDENCE_WAIT_SECONDS", "CARDSHARE_QUIET_SECONDS", "CARDSHARE_APPROVER_ACCOUNTS"]
)
def test_an_empty_variable_reads_as_unset(variable: str) -> None:
    assert load_settings(env(**{variable: ""})) == load_settings(env())


def test_the_removed_lease_variable_is_ignored() -> None:
    # A stack updated from before the redesign may still set it; it no longer means anything.
    assert load_settings(env(CARDSHARE_LEASE_SECONDS="5m")) == load_settings(env())


def test_region_falls_back_to_aws_default_region() -> None:
    assert load_settings(env(AWS_REGION=None, AWS_DEFAULT_REGION="eu-west-1")).region == "eu-west-1"


def test_settings_read_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GOOD_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CARDSHARE_MAX_ROUNDS", "9")
    assert load_settings().limits.max_rounds == 9


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        pytest.param({"CARDSHARE_STAGES": None}, "CARDSHARE_STAGE_ORDER", id="stages-missing"),
        pytest.param({"CARDSHARE_STAGES": ""}, "CARDSHARE_STAGE_ORDER", id="stages-empty"),
        pytest.param({"AWS_REGION": None}, "AWS_REGION", id="region-missing"),
        pytest.param({"CARDSHARE_POLL_SECONDS": "five"}, "CARDSHARE_POLL_SECONDS", id="poll-not-int"),
        pytest.param({"CARDSHARE_MAX_POLLS": "2.5"}, "CARDSHARE_MAX_POLLS", id="polls-float"),
        pytest.param({"CARDSHARE_MAX_ROUNDS": " "}, "CARDSHARE_MAX_ROUNDS", id="rounds-blank"),
        pytest.param({"CARDSHARE_POLL_SECONDS": "-1"}, "CARDSHARE_POLL_SECONDS", id="poll-below-minimum"),
        pytest.param({"CARDSHARE_MAX_POLLS": "0"}, "CARDSHARE_MAX_POLLS", id="polls-below-minimum"),
        pytest.param({"CARDSHARE_MAX_ROUNDS": "0"}, "CARDSHARE_MAX_ROUNDS", id="rounds-below-minimum"),
        pytest.param(
            {"CARDSHARE_EVIDENCE_WAIT_SECONDS": "2m"}, "CARDSHARE_EVIDENCE_WAIT_SECONDS", id="evidence-wait-not-int"
        ),
        pytest.param(
            {"CARDSHARE_EVIDENCE_WAIT_SECONDS": "0"},
            "CARDSHARE_EVIDENCE_WAIT_SECONDS",
            id="evidence-wait-below-minimum",
        ),
        pytest.param({"CARDSHARE_LEDGER_TABLE": None}, "CARDSHARE_LEDGER_TABLE", id="ledger-missing"),
        pytest.param({"CARDSHARE_LEDGER_TABLE": ""}, "CARDSHARE_LEDGER_TABLE", id="ledger-empty"),
        pytest.param({"CARDSHARE_REQUIRED_FIELDS": "model overview"}, "CARDSHARE_REQUIRED_FIELDS", id="field-bad"),
        pytest.param({"CARDSHARE_APPROVERS": "ModelApprover"}, "CARDSHARE_APPROVERS", id="approver-not-arn"),
        pytest.param(
            {"CARDSHARE_APPROVERS": "arn:aws:iam::*:role/ModelApprover"},
            "CARDSHARE_APPROVERS",
            id="approver-any-account",
        ),
        pytest.param(
            {"CARDSHARE_APPROVER_ACCOUNTS": "123456789012,prod"},
            "CARDSHARE_APPROVER_ACCOUNTS",
            id="approver-account-not-an-id",
        ),
        pytest.param({"CARDSHARE_ENFORCEMENT": "block"}, "CARDSHARE_ENFORCEMENT", id="enforcement-unknown"),
    ],
)
def test_bad_environment_names_the_variable(changes: dict[str, str | None], variable: str) -> None:
    # The gate settings name the template parameter too: "ApprovalEnforcement (CARDSHARE_ENFORCEMENT): ...".
    with pytest.raises(ConfigError, match=rf"^([A-Za-z]+ \()?{variable}\)?: "):
        load_settings(env(**changes))


def per_stage_environment() -> dict[str, str]:
    """The same ladder as STAGES_JSON, in the template's per-stage variables."""
    variables = env(CARDSHARE_STAGES=None)
    stages = json.loads(STAGES_JSON)
    variables["CARDSHARE_STAGE_ORDER"] = ",".join(stage["name"] for stage in stages)
    variables["CARDSHARE_SHARE_SLOTS"] = "1"
    for stage in stages:
        fields = {key: stage[key] for key in ("access", "principals", "statuses")}
        variables[f"CARDSHARE_STAGE_{stage['name']}"] = json.dumps(fields)
        variables[f"CARDSHARE_SHARE_{stage['name']}_1"] = stage.get("shareArn") or stage["shareArns"][0]
    return variables


def test_the_per_stage_variables_give_the_same_ladder_as_the_one_document() -> None:
    assert load_settings(per_stage_environment()) == load_settings(env())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"CARDSHARE_STAGE_test": None}, r"^CARDSHARE_STAGE_test: not set", id="stage-block-missing"),
        pytest.param({"CARDSHARE_SHARE_prod_1": ""}, r"^CARDSHARE_SHARE_prod_1: not set", id="share-missing"),
        pytest.param({"CARDSHARE_STAGE_dev": "{"}, r"^CARDSHARE_STAGE_dev: not valid JSON", id="stage-not-json"),
        pytest.param({"CARDSHARE_STAGE_dev": "[]"}, r"^CARDSHARE_STAGE_dev: expected a JSON object", id="stage-list"),
        pytest.param({"CARDSHARE_SHARE_SLOTS": ""}, r"^CARDSHARE_SHARE_SLOTS: not set", id="no-slots"),
        pytest.param(
            {
                "CARDSHARE_STAGE_prod": '{"access":"read-write","principals":"","statuses":"Approved"}',
                "CARDSHARE_STAGE_test": '{"access":"read-only","principals":"","statuses":"Approved"}',
            },
            None,
            id="access-is-per-stage-control",
        ),
    ],
)
def test_a_broken_per_stage_variable_is_named(change: dict[str, str | None], message: str | None) -> None:
    variables = {**per_stage_environment(), **change}
    variables = {key: value for key, value in variables.items() if value is not None}
    if message is None:
        ladder = load_settings(variables).ladder
        assert [stage.access.value for stage in ladder.stages] == ["read-write", "read-only", "read-write"]
        return
    with pytest.raises(ConfigError, match=message):
        load_settings(variables)


def test_bad_stages_json_fails_with_the_ladder_field() -> None:
    with pytest.raises(ConfigError, match=r"^stages: not valid JSON"):
        load_settings(env(CARDSHARE_STAGES="[{"))
    bad = json.loads(STAGES_JSON)
    bad[2]["principals"] = ACCOUNT
    with pytest.raises(ConfigError, match=r"^stages\[2\] \(prod\)\.principals: "):
        load_settings(env(CARDSHARE_STAGES=json.dumps(bad)))


def test_missing_account_fails_as_the_owner_account() -> None:
    with pytest.raises(ConfigError, match=r"^owner account: "):
        load_settings(env(CARDSHARE_ACCOUNT_ID=None))


def next_round(payload: dict[str, Any], result: RoundResult) -> dict[str, Any]:
    """The next round's payload, as the workflow builds it from this round's output."""
    output = result.step.to_dict()
    return {**payload, "progress": output["progress"], "summary": output["summary"]}


def test_a_draft_promotion_writes_once_polls_ram_alone_and_reads_the_card_again_to_decide() -> None:
    cards, shares, evidence = FakeCards(card(CardStatus.DRAFT)), FakeShares(), FakeEvidence()
    payload = {"event": event("card-draft.json"), "progress": None, "summary": None, "execution": EXECUTION}

    applied = promote(payload, cards, shares, evidence)
    assert [a["stage"] for a in applied.step.actions] == ["dev"]
    # Draft's verdict reads no evidence: the facts and the claim on +dev go in one write, before the apply.
    assert evidence.writes == 1
    assert evidence.items[CARD_ARN].encode()
    assert applied.step.progress.first
    shares.apply(applied.step.actions)

    polled = promote(next_round(payload, applied), cards, shares, evidence)
    assert polled.step.next == "wait"
    # Only RAM moves: the card is not read, nothing is written, the summary is the last card read.
    assert cards.calls == [CARD_ARN]
    assert evidence.writes == 1
    assert polled.step.to_dict()["summary"] == applied.step.to_dict()["summary"]

    shares.settle()
    done = promote(next_round(payload, polled), cards, shares, evidence)
    assert done.step.next == "done"
    assert cards.calls == [CARD_ARN, CARD_ARN]  # the deciding round reads the card again
    assert evidence.writes == 1  # the same card: its facts were written, its change claimed
    assert done.decision is not None
    assert done.decision.outcome is Outcome.SHARED


def test_the_polling_round_still_sees_a_status_change_once_ram_settles() -> None:
    cards, shares, evidence = FakeCards(card(CardStatus.DRAFT)), FakeShares(), FakeEvidence()
    payload = {"event": event("card-draft.json"), "progress": None, "summary": None, "execution": EXECUTION}
    applied = promote(payload, cards, shares, evidence)
    shares.apply(applied.step.actions)
    shares.settle()
    cards.set_status(CARD_ARN, CardStatus.PENDING_REVIEW)
    again = promote(next_round(payload, applied), cards, shares, evidence)
    assert [a["stage"] for a in again.step.actions] == ["test"]
    # The new card state's facts are new: written, with the claim on the net change so far (+dev, +test).
    assert evidence.writes == 2


def test_two_executions_planning_the_same_change_report_it_once() -> None:
    cards, evidence = FakeCards(card(CardStatus.DRAFT)), FakeEvidence()
    payload = {"event": event("card-draft.json"), "progress": None, "summary": None, "execution": EXECUTION}
    outcomes = []
    for execution in (EXECUTION, EXECUTION + "-duplicate"):
        shares = FakeShares()  # both read before either association shows in RAM
        first = {**payload, "execution": execution}
        applied = promote(first, cards, shares, evidence)
        shares.apply(applied.step.actions)
        shares.settle()
        done = promote(next_round(first, applied), cards, shares, evidence)
        assert done.decision is not None
        outcomes.append(done.decision.outcome)
    assert outcomes == [Outcome.SHARED, Outcome.NO_OP]
