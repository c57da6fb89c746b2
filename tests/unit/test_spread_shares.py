"""Stages spanning several RAM shares: each card in exactly its own share per stage, moved without a gap.

The ladder here spreads dev over three shares and test and prod over two each. A card's access to
a stage is its association with any of the stage's shares; the planner, the convergence rounds,
the reconciliation and the read-only guard must all agree on that and on the card's slot.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from template_loader import default_stages

from cardshare.cards import Card
from cardshare.convergence import AssociationFailedError, CardRound, Limits, Progress, converge_round
from cardshare.gate_config import GateConfig
from cardshare.planner import PRESENT, Association, AssociationStatus, Op, Plan, hold_shares, plan
from cardshare.policy import Stage, StageLadder, build_ladder
from cardshare.promotion import PermissionMismatchError, Ports, promote_round
from cardshare.reconciliation import CardSummary, ResourceAssociation, find_drift, needs_record
from cardshare.settings import Settings
from cardshare.status import CardStatus

S = AssociationStatus
OWNER, REGION = "123456789012", "us-east-1"
SLOTS = {"dev": 3, "test": 2, "prod": 2}
LIMITS = Limits(poll_seconds=1, max_polls=5, max_rounds=4)
EXECUTION = f"arn:aws:states:{REGION}:{OWNER}:execution:cardshare-promote-card:run-1"


def share(stage: str, slot: int) -> str:
    return f"arn:aws:ram:{REGION}:{OWNER}:resource-share/{stage}-{slot}"


def spread_ladder() -> StageLadder:
    raw: list[dict[str, Any]] = default_stages(
        OWNER, principals={"dev": "111111111111", "test": "222222222222", "prod": "333333333333"}
    )
    for stage in raw:
        stage["shareArns"] = [share(stage["name"], slot) for slot in range(SLOTS[stage["name"]])]
    return build_ladder(raw, OWNER)


LADDER = spread_ladder()
STAGE = {stage.name: stage for stage in LADDER.stages}


def card_arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{OWNER}:model-card/{name}"


def card_in_slot(stage: str, slot: int, *, other: tuple[str, int] | None = None) -> str:
    """A card ARN whose own share of ``stage`` is ``slot`` (and of ``other`` stage, that slot)."""
    for index in itertools.count():
        arn = card_arn(f"card-{index}")
        if STAGE[stage].share_for(arn) != share(stage, slot):
            continue
        if other is None or STAGE[other[0]].share_for(arn) == share(*other):
            return arn
    raise AssertionError("unreachable")


CARD = card_in_slot("dev", 0, other=("prod", 0))
OWN = {name: stage.share_for(CARD) for name, stage in STAGE.items()}
WRONG = {name: next(s for s in stage.share_arns if s != OWN[name]) for name, stage in STAGE.items()}


def ops(result: Plan) -> list[tuple[str, str, str, bool]]:
    return [(a.op.value, a.stage.name, a.share_arn, a.move) for a in result.actions]


def access(states: dict[str, AssociationStatus], stage: Stage) -> bool:
    return any(states.get(s) is S.ASSOCIATED for s in stage.share_arns)


def apply(states: dict[str, AssociationStatus], result: Plan) -> dict[str, AssociationStatus]:
    after = dict(states)
    for action in result.actions:
        after[action.share_arn] = S.ASSOCIATING if action.op is Op.ASSOCIATE else S.DISASSOCIATING
    return after


def settle(states: dict[str, AssociationStatus]) -> dict[str, AssociationStatus]:
    done = {S.ASSOCIATING: S.ASSOCIATED, S.DISASSOCIATING: S.DISASSOCIATED}
    return {arn: done.get(state, state) for arn, state in states.items()}


def rows(states: dict[str, AssociationStatus]) -> list[Association]:
    return [Association(arn, state) for arn, state in states.items()]


# ---- the planner ---------------------------------------------------------------------------------


def test_a_new_card_goes_to_its_own_share_of_each_stage_only() -> None:
    result = plan(LADDER, CARD, CardStatus.APPROVED, [])
    assert ops(result) == [
        ("associate", "dev", OWN["dev"], False),
        ("associate", "test", OWN["test"], False),
        ("associate", "prod", OWN["prod"], False),
    ]


def test_the_slot_follows_the_arn_however_its_case_is_spelled() -> None:
    upper = CARD.replace("card-", "CARD-")
    assert ops(plan(LADDER, upper, CardStatus.DRAFT, [])) == ops(plan(LADDER, CARD, CardStatus.DRAFT, []))


def test_a_card_in_another_share_of_its_stage_is_added_to_its_own_first_and_removed_after() -> None:
    states = {WRONG["dev"]: S.ASSOCIATED}
    first = plan(LADDER, CARD, CardStatus.DRAFT, rows(states))
    # Add before remove: the other share stays until the own one is confirmed.
    assert ops(first) == [("associate", "dev", OWN["dev"], True)]
    states = apply(states, first)
    waiting = plan(LADDER, CARD, CardStatus.DRAFT, rows(states))
    assert waiting.actions == ()
    assert waiting.pending == (STAGE["dev"],)
    states = settle(states)
    second = plan(LADDER, CARD, CardStatus.DRAFT, rows(states))
    assert ops(second) == [("disassociate", "dev", WRONG["dev"], True)]
    states = settle(apply(states, second))
    assert plan(LADDER, CARD, CardStatus.DRAFT, rows(states)).converged
    assert states == {OWN["dev"]: S.ASSOCIATED, WRONG["dev"]: S.DISASSOCIATED}


def test_adding_the_own_share_is_a_move_only_when_the_stage_already_has_access() -> None:
    # Another share still ASSOCIATING gives no access yet: the own share adds the stage.
    associating = plan(LADDER, CARD, CardStatus.DRAFT, [Association(WRONG["dev"], S.ASSOCIATING)])
    assert ops(associating) == [("associate", "dev", OWN["dev"], False)]
    assert associating.pending == (STAGE["dev"],)
    associated = plan(LADDER, CARD, CardStatus.DRAFT, [Association(WRONG["dev"], S.ASSOCIATED)])
    assert ops(associated) == [("associate", "dev", OWN["dev"], True)]


def test_a_failed_association_with_the_own_share_keeps_the_other_share() -> None:
    states = {WRONG["dev"]: S.ASSOCIATED, OWN["dev"]: S.FAILED}
    result = plan(LADDER, CARD, CardStatus.DRAFT, rows(states))
    assert ops(result) == [("associate", "dev", OWN["dev"], True)]
    assert [a.share_arn for a in result.failed] == [OWN["dev"]]


def test_a_card_in_both_its_own_and_another_share_leaves_the_other() -> None:
    states = {WRONG["dev"]: S.ASSOCIATED, OWN["dev"]: S.ASSOCIATED}
    assert ops(plan(LADDER, CARD, CardStatus.DRAFT, rows(states))) == [("disassociate", "dev", WRONG["dev"], True)]


def test_a_stage_the_card_no_longer_belongs_in_loses_every_share_at_once() -> None:
    states = {share("prod", 0): S.ASSOCIATED, share("prod", 1): S.ASSOCIATED, OWN["dev"]: S.ASSOCIATED}
    result = plan(LADDER, CARD, CardStatus.DRAFT, rows(states))
    assert ops(result) == [
        ("disassociate", "prod", share("prod", 0), False),
        ("disassociate", "prod", share("prod", 1), False),
    ]


def test_a_deleted_card_leaves_every_share_of_every_stage() -> None:
    states = dict.fromkeys(LADDER.share_arns, S.ASSOCIATED)
    result = plan(LADDER, CARD, None, rows(states))
    assert sorted(a.share_arn for a in result.actions) == sorted(LADDER.share_arns)
    assert all(a.op is Op.DISASSOCIATE and not a.move for a in result.actions)


def test_a_stage_waits_once_however_many_of_its_shares_move() -> None:
    states = {share("dev", 0): S.ASSOCIATING, share("dev", 1): S.DISASSOCIATING, share("dev", 2): S.ASSOCIATING}
    assert plan(LADDER, CARD, CardStatus.DRAFT, rows(states)).pending == (STAGE["dev"],)


def test_holding_a_card_keeps_whichever_share_it_is_in_and_moves_nothing() -> None:
    states = {WRONG["dev"]: S.ASSOCIATED, WRONG["prod"]: S.ASSOCIATED}
    allowed = set(STAGE["dev"].share_arns)
    result = hold_shares(LADDER, allowed, rows(states))
    assert ops(result) == [("disassociate", "prod", WRONG["prod"], False)]


DEV_STATES = (None, S.ASSOCIATING, S.ASSOCIATED, S.FAILED, S.DISASSOCIATING, S.DISASSOCIATED)


@pytest.mark.parametrize("start", list(itertools.product(DEV_STATES, repeat=3)), ids=str)
def test_any_start_in_a_three_share_stage_converges_on_the_own_share_without_losing_access(
    start: tuple[AssociationStatus | None, ...],
) -> None:
    dev = STAGE["dev"]
    states = {arn: state for arn, state in zip(dev.share_arns, start, strict=True) if state is not None}
    for _ in range(6):
        result = plan(LADDER, CARD, CardStatus.DRAFT, rows(states))
        had_access = access(states, dev)
        for action in result.actions:
            if action.op is Op.DISASSOCIATE:
                # A share of a stage the card keeps goes only while the own share is confirmed.
                assert states.get(OWN["dev"]) is S.ASSOCIATED
                assert action.share_arn != OWN["dev"]
            else:
                assert action.share_arn == OWN["dev"]
        states = apply(states, result)
        # Never a gap: a card that had access to dev keeps it through every round.
        assert not had_access or access(states, dev) or states.get(OWN["dev"]) is S.ASSOCIATING
        states = settle(states)
        assert not had_access or access(states, dev)
    assert plan(LADDER, CARD, CardStatus.DRAFT, rows(states)).converged
    assert {arn for arn, state in states.items() if state in PRESENT} == {OWN["dev"]}


# ---- convergence rounds: moves are not access changes --------------------------------------------


class Cards:
    def __init__(self, card: Card) -> None:
        self.card = card

    def describe(self, card_arn: str) -> Card | None:
        return self.card if card_arn.lower() == self.card.arn.lower() else None


class Shares:
    """Associations of one card, as RAM would hold them; records each read."""

    def __init__(self, states: dict[str, AssociationStatus]) -> None:
        self.states = dict(states)
        self.reads: list[tuple[str, ...]] = []

    def associations(self, card_arn: str, share_arns: Sequence[str]) -> list[Association]:
        self.reads.append(tuple(share_arns))
        return [Association(arn, state) for arn, state in self.states.items() if arn in share_arns]


CONTENT = {
    "model_overview": {"model_owner": "churn-team", "problem_type": "Binary Classification"},
    "intended_uses": {"intended_uses": "Predict churn for retention offers"},
}


def run(card: Card, shares: Shares) -> tuple[list[str], dict[str, Any]]:
    progress = Progress()
    moves: list[str] = []
    for _ in range(20):
        step = converge_round(CardRound(card.arn, EXECUTION, progress), LADDER, Cards(card), shares, LIMITS)
        moves.append(step.next)
        data = json.loads(json.dumps(step.to_dict()))
        if step.next == "done":
            return moves, data
        for action in data["actions"]:
            shares.states[action["shareArn"]] = S.ASSOCIATING if action["op"] == "associate" else S.DISASSOCIATING
        shares.states = settle(shares.states)
        progress = Progress.from_dict(data["progress"])
    raise AssertionError(moves)


def test_a_round_reads_every_share_of_every_stage_at_once() -> None:
    shares = Shares({})
    card = Card(CARD, "card", CardStatus.DRAFT, 1, CONTENT)
    converge_round(CardRound(CARD, EXECUTION, Progress()), LADDER, Cards(card), shares, LIMITS)
    assert shares.reads == [LADDER.share_arns]


def test_moving_a_card_between_shares_of_a_stage_is_neither_added_nor_removed() -> None:
    shares = Shares({WRONG["dev"]: S.ASSOCIATED, WRONG["test"]: S.ASSOCIATED})
    card = Card(CARD, "card", CardStatus.PENDING_REVIEW, 1, CONTENT)
    moves, data = run(card, shares)
    assert moves == ["apply", "apply", "done"]
    assert data["summary"]["sharesAdded"] == []
    assert data["summary"]["sharesRemoved"] == []
    assert sorted(data["progress"]["moved"]) == ["dev", "test"]
    present = {arn for arn, state in shares.states.items() if state in PRESENT}
    assert present == {OWN["dev"], OWN["test"]}


def test_a_new_stage_is_added_in_the_own_share() -> None:
    shares = Shares({OWN["dev"]: S.ASSOCIATED})
    card = Card(CARD, "card", CardStatus.PENDING_REVIEW, 1, CONTENT)
    _, data = run(card, shares)
    assert data["summary"]["sharesAdded"] == ["test"]
    assert "moved" not in data["progress"]
    assert shares.states[OWN["test"]] is S.ASSOCIATED
    assert WRONG["test"] not in shares.states


def test_a_move_whose_own_association_failed_raises() -> None:
    shares = Shares({WRONG["dev"]: S.ASSOCIATED, OWN["dev"]: S.FAILED})
    card = Card(CARD, "card", CardStatus.DRAFT, 1, CONTENT)
    progress = Progress(rounds=1, moved=("dev",))
    with pytest.raises(AssociationFailedError, match=f"dev: .*{OWN['dev']}"):
        converge_round(CardRound(CARD, EXECUTION, progress), LADDER, Cards(card), shares, LIMITS)


# ---- reconciliation: access counted across a stage's shares --------------------------------------


def summary(arn: str, status: CardStatus) -> CardSummary:
    return CardSummary(arn, arn.rsplit("/", 1)[-1], status)


def test_a_card_in_its_own_shares_is_not_drift() -> None:
    associations = [ResourceAssociation(CARD, OWN["dev"], S.ASSOCIATED)]
    cards = [summary(CARD, CardStatus.DRAFT)]
    assert find_drift(LADDER, cards, associations, lambda c: c.status) == []
    assert needs_record(LADDER, cards, associations) == []


def test_a_card_in_another_share_of_its_stage_is_misplaced_not_missing() -> None:
    associations = [ResourceAssociation(CARD, WRONG["dev"], S.ASSOCIATED)]
    cards = [summary(CARD, CardStatus.DRAFT)]
    [drift] = find_drift(LADDER, cards, associations, lambda c: c.status)
    assert (drift.missing, drift.extra, drift.misplaced) == ((), (), ("dev",))
    assert drift.reason == "in another share than its own in dev"
    assert needs_record(LADDER, cards, associations) == [CARD]


def test_a_stage_reached_through_two_shares_is_one_stage_and_misplaced() -> None:
    associations = [
        ResourceAssociation(CARD, OWN["dev"], S.ASSOCIATED),
        ResourceAssociation(CARD, WRONG["dev"], S.ASSOCIATED),
        ResourceAssociation(CARD, WRONG["prod"], S.ASSOCIATED),
    ]
    [drift] = find_drift(LADDER, [summary(CARD, CardStatus.DRAFT)], associations, lambda c: c.status)
    assert (drift.missing, drift.extra, drift.misplaced) == ((), ("prod",), ("dev",))


def test_a_vanished_card_in_several_shares_is_extra_in_each_stage_once() -> None:
    associations = [
        ResourceAssociation(CARD, share("dev", 1), S.ASSOCIATED),
        ResourceAssociation(CARD, share("dev", 2), S.ASSOCIATED),
    ]
    [drift] = find_drift(LADDER, [], associations, lambda c: c.status)
    assert (drift.status, drift.extra, drift.misplaced) == (None, ("dev",), ())


# ---- the read-only guard checks the share a card goes to ------------------------------------------


class Evidence:
    def merge(self, card_arn: str, facts: Any) -> Any:
        return facts

    def claim_alert(self, card_arn: str, fingerprint: str) -> bool:
        return True

    def record(self, card_arn: str, facts: Any, claim: str | None) -> bool:
        return True


class WritableShare:
    """One prod share carries a permission that allows UpdateModelCard; records the questions."""

    def __init__(self, writable: str) -> None:
        self.writable = writable
        self.asked: list[str] = []

    def grants_update(self, share_arn: str) -> bool:
        self.asked.append(share_arn)
        return share_arn == self.writable


def audit_ladder() -> StageLadder:
    """dev, and a read-only stage that a Draft card reaches (no approval gate in the way) over two shares."""
    raw = [
        {"name": "dev", "access": "read-write", "principals": "111111111111", "statuses": "Draft"},
        {"name": "audit", "access": "read-only", "principals": "444444444444", "statuses": "Draft"},
    ]
    raw[0]["shareArns"] = [share("dev", 0)]
    raw[1]["shareArns"] = [share("audit", 0), share("audit", 1)]
    return build_ladder(raw, OWNER)


AUDIT = audit_ladder()


def draft_round(arn: str, permissions: WritableShare) -> Any:
    """One round for a Draft card that belongs in dev and in the read-only audit stage."""
    card = Card(arn, arn.rsplit("/", 1)[-1], CardStatus.DRAFT, 1, CONTENT)
    event = {
        "version": "0",
        "id": "0b6f8e4e-0000-4000-8000-000000000001",
        "detail-type": "SageMaker Model Card State Change",
        "source": "cardshare.reconciler",
        "account": OWNER,
        "time": "2026-11-28T09:00:00Z",
        "region": REGION,
        "resources": [arn],
        "detail": {"ModelCardName": card.name, "ModelCardStatus": "Draft", "AccountId": OWNER, "Reason": "test"},
    }
    settings = Settings(OWNER, REGION, AUDIT, LIMITS, GateConfig(approver_accounts=frozenset({OWNER})), "ledger")
    ports = Ports(Cards(card), Shares({}), Evidence(), permissions)
    return promote_round({"event": event, "progress": None, "execution": EXECUTION}, settings, ports, NOW)


def audit_card(slot: int) -> str:
    audit = AUDIT.stages[1]
    return next(
        card_arn(f"audit-{i}")
        for i in itertools.count()
        if audit.share_for(card_arn(f"audit-{i}")) == share("audit", slot)
    )


NOW = datetime(2026, 11, 28, 9, 0, 1, tzinfo=UTC)


def test_a_read_only_stage_refuses_a_card_whose_own_share_allows_updates() -> None:
    permissions = WritableShare(share("audit", 1))
    with pytest.raises(PermissionMismatchError, match=f"stage audit is read-only but its share {share('audit', 1)}"):
        draft_round(audit_card(1), permissions)
    assert permissions.asked == [share("audit", 1)]


def test_a_read_only_stage_shares_a_card_whose_own_share_is_read_only() -> None:
    permissions = WritableShare(share("audit", 1))
    result = draft_round(audit_card(0), permissions)
    assert [(a["op"], a["shareArn"]) for a in result.step.actions] == [
        ("associate", share("dev", 0)),
        ("associate", share("audit", 0)),
    ]
    # Only the read-only stage's share the card goes to is asked about (read-write stages never are).
    assert permissions.asked == [share("audit", 0)]
