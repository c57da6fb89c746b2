"""The planner: its per-share decision table, properties over every status and stage, and any ladder.

The table is written out by hand; the sweeps check properties (what may never happen, what must
eventually hold) rather than restating the planner's branches.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from template_loader import default_stages

from cardshare.planner import PRESENT, Action, Association, AssociationStatus, Op, Plan, hold_shares, plan, plan_shares
from cardshare.policy import Stage, StageLadder, build_ladder, ladder_from_json
from cardshare.status import CardStatus

OWNER = "123456789012"
LADDER = ladder_from_json(
    json.dumps(
        default_stages(OWNER, principals={"dev": "111111111111", "test": "222222222222", "prod": "333333333333"})
    ),
    OWNER,
)
NAMES = ("dev", "test", "prod")
SHARE = {stage.name: stage.share_arns[0] for stage in LADDER.stages}
CARD = f"arn:aws:sagemaker:us-east-1:{OWNER}:model-card/example-card"
FOREIGN_SHARE = "arn:aws:ram:us-east-1:123456789012:resource-share/not-managed-by-cardshare"

S = AssociationStatus
STATES: tuple[AssociationStatus | None, ...] = (
    None,  # no association at all
    S.ASSOCIATING,
    S.ASSOCIATED,
    S.FAILED,
    S.DISASSOCIATING,
    S.DISASSOCIATED,
)
MOVING = {S.ASSOCIATING, S.DISASSOCIATING}
STATUSES: tuple[CardStatus | None, ...] = (*CardStatus, None)  # None: the card was deleted

# The table, written out by hand (not derived from the ladder under test).
DESIRED = {
    CardStatus.DRAFT: {"dev"},
    CardStatus.PENDING_REVIEW: {"dev", "test"},
    CardStatus.APPROVED: {"dev", "test", "prod"},
    CardStatus.ARCHIVED: {"prod"},
    None: set(),
}

# Where RAM ends up on its own: transitional states settle, the others stay.
SETTLED = {
    None: None,
    S.ASSOCIATING: S.ASSOCIATED,
    S.ASSOCIATED: S.ASSOCIATED,
    S.FAILED: S.FAILED,
    S.DISASSOCIATING: S.DISASSOCIATED,
    S.DISASSOCIATED: S.DISASSOCIATED,
}

Start = dict[str, AssociationStatus | None]


def associations(start: Start, foreign: bool = True) -> list[Association]:
    rows = [
        Association(SHARE[name], state, "boom" if state is S.FAILED else "")
        for name, state in start.items()
        if state is not None
    ]
    if foreign:
        rows.append(Association(FOREIGN_SHARE, S.ASSOCIATED))
    return rows


def apply(start: Start, result: Plan) -> Start:
    """Apply the plan's actions as calls RAM has accepted (moving states are left moving)."""
    after = dict(start)
    for action in result.actions:
        after[action.stage.name] = S.ASSOCIATING if action.op is Op.ASSOCIATE else S.DISASSOCIATING
    return after


def apply_and_settle(ladder: StageLadder, start: Start, result: Plan) -> Start:
    """Apply the plan's actions the way RAM would, then let every transitional state settle."""
    return {name: SETTLED[state] for name, state in apply(start, result).items()}


def associated(start: Start) -> set[str]:
    return {name for name, state in start.items() if state is S.ASSOCIATED}


def ops(result: Plan) -> list[tuple[str, str]]:
    return [(action.op.value, action.stage.name) for action in result.actions]


def granted_shares(status: CardStatus | None) -> set[str]:
    return {SHARE[name] for name in DESIRED[status]}


# ---- one share: the decision table, by hand ------------------------------------------------------

# (card should be in the share?, the share's association) -> (call, waits?, failure reported?)
DECISIONS: list[tuple[bool, AssociationStatus | None, Op | None, bool, bool]] = [
    (True, None, Op.ASSOCIATE, False, False),
    (True, S.DISASSOCIATED, Op.ASSOCIATE, False, False),
    (True, S.FAILED, Op.ASSOCIATE, False, True),
    (True, S.ASSOCIATED, None, False, False),
    (True, S.ASSOCIATING, None, True, False),
    (True, S.DISASSOCIATING, None, True, False),
    (False, None, None, False, False),
    (False, S.DISASSOCIATED, None, False, False),
    (False, S.FAILED, None, False, False),
    (False, S.ASSOCIATED, Op.DISASSOCIATE, False, False),
    (False, S.ASSOCIATING, None, True, False),
    (False, S.DISASSOCIATING, None, True, False),
]


@pytest.mark.parametrize(
    ("wanted", "state", "call", "waits", "reported"),
    DECISIONS,
    ids=[f"{'wanted' if w else 'unwanted'}-{s or 'absent'}" for w, s, *_ in DECISIONS],
)
def test_one_share_decision(
    wanted: bool, state: AssociationStatus | None, call: Op | None, waits: bool, reported: bool
) -> None:
    test = LADDER.stage_for_share(SHARE["test"])
    row = Association(SHARE["test"], state, "boom") if state is not None else None
    rows = [row] if row is not None else []
    result = plan_shares(LADDER, {SHARE["test"]} if wanted else set(), [*rows, Association(FOREIGN_SHARE, S.FAILED)])
    assert result.actions == ((Action(call, test, SHARE["test"]),) if call else ())
    assert result.pending == ((test,) if waits else ())
    assert result.failed == ((row,) if reported else ())
    assert result.converged is (call is None and not waits)


# ---- every status x stage x association state: properties --------------------------------------

SWEEP = [
    pytest.param(status, name, state, id=f"{status}-{name}-{state or 'absent'}")
    for status in STATUSES
    for name in NAMES
    for state in STATES
]


@pytest.mark.parametrize(("status", "name", "state"), SWEEP)
def test_plan_properties(status: CardStatus | None, name: str, state: AssociationStatus | None) -> None:
    start: Start = {other: None for other in NAMES} | {name: state}
    granted = DESIRED[status]
    result = plan(LADDER, CARD, status, associations(start))
    touched = [action.stage.name for action in result.actions]

    assert len(set(touched)) == len(touched), "two calls on one share (associated and disassociated?)"
    for action in result.actions:
        before = start[action.stage.name]
        if action.op is Op.ASSOCIATE:
            assert action.stage.name in granted, "associated a stage the status does not grant"
            assert before not in {S.ASSOCIATED, *MOVING}, "associated a share that holds or is moving"
        else:
            assert action.stage.name not in granted, "took away a stage the status grants"
            assert before is S.ASSOCIATED, "disassociated a share that does not hold the card"
    # Moving associations are waited out, never fought; settled ones are never waited on.
    assert {stage.name for stage in result.pending} == {n for n, s in start.items() if s in MOVING}
    assert not set(touched) & {stage.name for stage in result.pending}
    # A granted share that does not hold the card gets it, FAILED included (retried and reported).
    for other, before in start.items():
        if other in granted and before in {None, S.DISASSOCIATED, S.FAILED}:
            assert ("associate", other) in ops(result)
        if other not in granted and before is S.ASSOCIATED:
            assert ("disassociate", other) in ops(result)
    assert {a.share_arn for a in result.failed} == {
        SHARE[n] for n, s in start.items() if s is S.FAILED and n in granted
    }
    if result.actions or result.pending:
        assert not result.converged

    # Idempotent: once RAM has accepted the calls, planning again asks for nothing more.
    assert plan(LADDER, CARD, status, associations(apply(start, result))).actions == ()

    # Convergent: after RAM settles, at most one more round (a share that was moving the wrong way).
    state_after = apply_and_settle(LADDER, start, result)
    second = plan(LADDER, CARD, status, associations(state_after))
    if not result.pending:
        assert second.converged, "a plan without pending stages left work for the next round"
    state_after = apply_and_settle(LADDER, state_after, second)
    final = plan(LADDER, CARD, status, associations(state_after))
    assert final.converged
    assert not final.failed
    assert associated(state_after) == granted


@pytest.mark.parametrize("status", STATUSES)
def test_foreign_associations_change_nothing(status: CardStatus | None) -> None:
    for states in itertools.product(STATES, repeat=3):
        start = dict(zip(NAMES, states, strict=True))
        with_foreign = [
            *associations(start, foreign=False),
            Association(FOREIGN_SHARE, S.FAILED, "not ours"),
            Association(FOREIGN_SHARE.replace("not-managed", "other"), S.ASSOCIATING),
        ]
        without_foreign = associations(start, foreign=False)
        assert plan(LADDER, CARD, status, with_foreign) == plan(LADDER, CARD, status, without_foreign)


def test_plan_is_empty_for_a_card_with_only_foreign_associations() -> None:
    result = plan(LADDER, CARD, None, [Association(FOREIGN_SHARE, S.ASSOCIATED)])
    assert result == Plan((), (), ())
    assert result.converged


# ---- concrete cases, written out -----------------------------------------------------------------


def stage(name: str) -> Stage:
    return LADDER.stage_for_share(SHARE[name])


def test_approved_from_nothing_associates_dev_test_prod() -> None:
    result = plan(LADDER, CARD, CardStatus.APPROVED, [])
    assert result.actions == (
        Action(Op.ASSOCIATE, stage("dev"), SHARE["dev"]),
        Action(Op.ASSOCIATE, stage("test"), SHARE["test"]),
        Action(Op.ASSOCIATE, stage("prod"), SHARE["prod"]),
    )
    assert result.pending == ()
    assert result.failed == ()
    assert not result.converged


def test_approved_back_to_draft_disassociates_test_and_prod() -> None:
    everything = [Association(SHARE[name], S.ASSOCIATED) for name in ("dev", "test", "prod")]
    result = plan(LADDER, CARD, CardStatus.DRAFT, everything)
    assert ops(result) == [("disassociate", "test"), ("disassociate", "prod")]
    assert result.pending == ()


def test_approved_to_archived_keeps_only_prod() -> None:
    everything = [Association(SHARE[name], S.ASSOCIATED) for name in ("dev", "test", "prod")]
    result = plan(LADDER, CARD, CardStatus.ARCHIVED, everything)
    assert ops(result) == [("disassociate", "dev"), ("disassociate", "test")]


def test_deleted_card_is_removed_from_every_share() -> None:
    everything = [Association(SHARE[name], S.ASSOCIATED) for name in ("dev", "test", "prod")]
    assert ops(plan(LADDER, CARD, None, everything)) == [
        ("disassociate", "dev"),
        ("disassociate", "test"),
        ("disassociate", "prod"),
    ]


def test_draft_to_pending_review_adds_only_test() -> None:
    result = plan(LADDER, CARD, CardStatus.PENDING_REVIEW, [Association(SHARE["dev"], S.ASSOCIATED)])
    assert ops(result) == [("associate", "test")]


def test_already_converged_is_a_no_op() -> None:
    result = plan(
        LADDER,
        CARD,
        CardStatus.PENDING_REVIEW,
        [Association(SHARE["dev"], S.ASSOCIATED), Association(SHARE["test"], S.ASSOCIATED)],
    )
    assert result == Plan((), (), ())
    assert result.converged


def test_moving_association_is_waited_out_not_fought() -> None:
    result = plan(
        LADDER,
        CARD,
        CardStatus.DRAFT,
        [Association(SHARE["dev"], S.DISASSOCIATING), Association(SHARE["prod"], S.ASSOCIATING)],
    )
    assert result.actions == ()
    assert [s.name for s in result.pending] == ["dev", "prod"]
    assert not result.converged


def test_failed_desired_share_is_retried_and_reported() -> None:
    failed = Association(SHARE["test"], S.FAILED, "principal 222222222222 is not in the organization")
    result = plan(LADDER, CARD, CardStatus.PENDING_REVIEW, [Association(SHARE["dev"], S.ASSOCIATED), failed])
    assert ops(result) == [("associate", "test")]
    assert result.failed == (failed,)


def test_failed_undesired_share_is_left_alone() -> None:
    result = plan(LADDER, CARD, CardStatus.DRAFT, [Association(SHARE["prod"], S.FAILED, "old failure")])
    assert ops(result) == [("associate", "dev")]
    assert result.failed == ()


def test_present_is_what_holds_the_card_once_ram_settles_without_another_call() -> None:
    """PRESENT (read by the reconciler and the CLI) against RAM's own transitions (SETTLED, by hand)."""
    for state in STATES:
        if state is not None:
            assert (state in PRESENT) is (SETTLED[state] is S.ASSOCIATED), state


# ---- hold_shares: what a card keeps while its verdict waits for evidence --------------------------


@pytest.mark.parametrize(("status", "name", "state"), SWEEP)
def test_hold_never_adds_and_keeps_only_what_the_status_grants(
    status: CardStatus | None, name: str, state: AssociationStatus | None
) -> None:
    start: Start = {other: None for other in NAMES} | {name: state}
    result = hold_shares(LADDER, granted_shares(status), associations(start))
    assert all(action.op is Op.DISASSOCIATE for action in result.actions), "hold associated a share"
    for action in result.actions:
        assert start[action.stage.name] is S.ASSOCIATED
        assert action.stage.name not in DESIRED[status], "hold removed a share the status grants"
    assert result.failed == (), "hold retried a failed association"
    # Once RAM settles (and a share moving the wrong way is undone), the card holds exactly the
    # shares it held, or was gaining, that the status also grants.
    after = apply_and_settle(LADDER, start, result)
    after = apply_and_settle(LADDER, after, hold_shares(LADDER, granted_shares(status), associations(after)))
    assert hold_shares(LADDER, granted_shares(status), associations(after)).converged
    assert associated(after) == {n for n, s in start.items() if s in {S.ASSOCIATED, S.ASSOCIATING}} & DESIRED[status]


def test_hold_removes_prod_from_an_approval_still_waiting_but_does_not_add_test() -> None:
    rows = [Association(SHARE["dev"], S.ASSOCIATED), Association(SHARE["prod"], S.ASSOCIATED)]
    result = hold_shares(LADDER, granted_shares(CardStatus.PENDING_REVIEW), rows)
    assert ops(result) == [("disassociate", "prod")]
    assert plan(LADDER, CARD, CardStatus.PENDING_REVIEW, rows).actions != result.actions  # plan would add test


def test_hold_keeps_a_share_still_associating_that_the_status_grants() -> None:
    result = hold_shares(LADDER, granted_shares(CardStatus.PENDING_REVIEW), [Association(SHARE["test"], S.ASSOCIATING)])
    assert result.actions == ()
    assert [s.name for s in result.pending] == ["test"]


def test_hold_does_not_retry_a_failed_association() -> None:
    failed = Association(SHARE["test"], S.FAILED, "principal 222222222222 is not in the organization")
    rows = [Association(SHARE["dev"], S.ASSOCIATED), failed]
    assert hold_shares(LADDER, granted_shares(CardStatus.PENDING_REVIEW), rows) == Plan((), (), ())


def test_hold_with_nothing_allowed_removes_everything() -> None:
    everything = [Association(SHARE[name], S.ASSOCIATED) for name in NAMES]
    assert ops(hold_shares(LADDER, set(), everything)) == [
        ("disassociate", "dev"),
        ("disassociate", "test"),
        ("disassociate", "prod"),
    ]


@pytest.mark.parametrize(("name", "state"), [(name, state) for name in NAMES for state in STATES])
def test_hold_keeping_all_touches_no_share_and_adds_none(name: str, state: AssociationStatus | None) -> None:
    """While the card is still changing: keep what it has, add nothing, wait out what moves."""
    start: Start = {other: None for other in NAMES} | {name: state}
    result = hold_shares(LADDER, set(LADDER.share_arns), associations(start))
    assert result.actions == (), "a card still changing lost or gained a share"
    assert [s.name for s in result.pending] == ([name] if state in MOVING else [])
    assert result.failed == ()


def test_hold_ignores_foreign_shares() -> None:
    rows = [Association(FOREIGN_SHARE, S.ASSOCIATED), Association(SHARE["prod"], S.ASSOCIATED)]
    assert ops(hold_shares(LADDER, granted_shares(CardStatus.ARCHIVED), rows)) == []
    assert ops(hold_shares(LADDER, granted_shares(CardStatus.DRAFT), rows)) == [("disassociate", "prod")]


# ---- any ladder, not just the default one -----------------------------------------------------


@st.composite
def ladders(draw: st.DrawFn) -> StageLadder:
    count = draw(st.integers(min_value=1, max_value=4))
    raw = [
        {
            "name": f"stage-{index}",
            "access": "read-write",
            "principals": f"{index + 1:012d}",
            "statuses": sorted(draw(st.sets(st.sampled_from([s.value for s in CardStatus])))),
            "shareArns": [f"arn:aws:ram:us-east-1:{OWNER}:resource-share/share-{index}"],
        }
        for index in range(count)
    ]
    return build_ladder(raw, OWNER)


@given(data=st.data(), ladder=ladders(), status=st.sampled_from(STATUSES))
def test_any_ladder_converges_on_the_stages_its_statuses_grant(
    data: st.DataObject, ladder: StageLadder, status: CardStatus | None
) -> None:
    start: dict[str, AssociationStatus | None] = {
        stage.name: data.draw(st.sampled_from(STATES), label=stage.name) for stage in ladder.stages
    }
    by_name = {stage.name: stage.share_arns[0] for stage in ladder.stages}
    wanted = {stage.name for stage in ladder.stages if status is not None and status in stage.statuses}

    def rows(state: Start) -> list[Association]:
        return [Association(by_name[name], s) for name, s in state.items() if s is not None]

    state = start
    for _ in range(2):
        result = plan(ladder, CARD, status, rows(state))
        for action in result.actions:
            before = state[action.stage.name]
            if action.op is Op.ASSOCIATE:
                assert before not in {S.ASSOCIATED, S.ASSOCIATING}
                assert action.stage.name in wanted
            else:
                assert before is S.ASSOCIATED
                assert action.stage.name not in wanted
        state = apply_and_settle(ladder, state, result)
    assert plan(ladder, CARD, status, rows(state)).converged
    assert associated(state) == wanted
