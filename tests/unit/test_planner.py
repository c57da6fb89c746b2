"""The planner, for every status and every starting set of associations, against an independent oracle."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from template_loader import default_stages

from cardshare.planner import PRESENT, Action, Association, AssociationStatus, Op, Plan, hold, plan
from cardshare.policy import Stage, StageLadder, build_ladder, ladder_from_json
from cardshare.status import CardStatus

OWNER = "123456789012"
LADDER = ladder_from_json(
    json.dumps(
        default_stages(OWNER, principals={"dev": "111111111111", "test": "222222222222", "prod": "333333333333"})
    ),
    OWNER,
)
SHARE = {stage.name: stage.share_arn for stage in LADDER.stages}
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
STATUSES: tuple[CardStatus | None, ...] = (*CardStatus, None)  # None: the card was deleted

# The table, written out by hand (not derived from the ladder under test).
DESIRED = {
    CardStatus.DRAFT: {"dev"},
    CardStatus.PENDING_REVIEW: {"dev", "test"},
    CardStatus.APPROVED: {"dev", "test", "prod"},
    CardStatus.ARCHIVED: {"prod"},
    None: set(),
}

# The oracle: what one share in one state needs, depending on whether the card should be in it.
#   (state, wanted) -> "associate" | "disassociate" | "wait" | "nothing"
ORACLE = {
    (None, True): "associate",
    (None, False): "nothing",
    (S.DISASSOCIATED, True): "associate",
    (S.DISASSOCIATED, False): "nothing",
    (S.FAILED, True): "associate",
    (S.FAILED, False): "nothing",
    (S.ASSOCIATED, True): "nothing",
    (S.ASSOCIATED, False): "disassociate",
    (S.ASSOCIATING, True): "wait",
    (S.ASSOCIATING, False): "wait",
    (S.DISASSOCIATING, True): "wait",
    (S.DISASSOCIATING, False): "wait",
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


def apply_and_settle(ladder: StageLadder, start: Start, result: Plan) -> Start:
    """Apply the plan's actions the way RAM would, then let every transitional state settle."""
    after = dict(start)
    for action in result.actions:
        name = action.stage.name
        after[name] = S.ASSOCIATING if action.op is Op.ASSOCIATE else S.DISASSOCIATING
    return {name: SETTLED[state] for name, state in after.items()}


def associated(start: Start) -> set[str]:
    return {name for name, state in start.items() if state is S.ASSOCIATED}


def ops(result: Plan) -> list[tuple[str, str]]:
    return [(action.op.value, action.stage.name) for action in result.actions]


CASES = [
    pytest.param(
        status, dict(zip(("dev", "test", "prod"), states, strict=True)), id=f"{status}-{'-'.join(map(str, states))}"
    )
    for status in STATUSES
    for states in itertools.product(STATES, repeat=3)
]


def test_every_status_and_starting_set_is_covered() -> None:
    assert len(CASES) == 5 * 6**3


@pytest.mark.parametrize(("status", "start"), CASES)
def test_plan_matches_the_oracle_and_converges(status: CardStatus | None, start: Start) -> None:
    result = plan(LADDER, status, associations(start))
    wanted = DESIRED[status]

    expected = {name: ORACLE[(state, name in wanted)] for name, state in start.items()}
    assert ops(result) == [(what, name) for name, what in expected.items() if what in {"associate", "disassociate"}], (
        "actions differ from the oracle"
    )
    assert [stage.name for stage in result.pending] == [name for name, what in expected.items() if what == "wait"]
    assert [a.share_arn for a in result.failed] == [
        SHARE[name] for name, state in start.items() if state is S.FAILED and name in wanted
    ]
    assert all(a.message == "boom" and a.status is S.FAILED for a in result.failed)
    assert result.converged == (not result.actions and not result.pending)

    for action in result.actions:
        state = start[action.stage.name]
        assert action.stage.share_arn != FOREIGN_SHARE
        if action.op is Op.ASSOCIATE:
            assert state not in {S.ASSOCIATED, S.ASSOCIATING}, "associates a share that already holds the card"
        else:
            assert state is S.ASSOCIATED, "disassociates a share that does not hold the card"
    assert FOREIGN_SHARE not in {stage.share_arn for stage in result.pending}
    assert len({action.stage.name for action in result.actions}) == len(result.actions), "two calls on one share"

    # Apply, let RAM settle, plan again: at most one more round (a share that was moving the wrong
    # way), then nothing is left to do and RAM holds exactly the desired shares.
    state = apply_and_settle(LADDER, start, result)
    settled_plan = plan(LADDER, status, associations(state))
    state = apply_and_settle(LADDER, state, settled_plan)
    final = plan(LADDER, status, associations(state))
    assert final.converged, f"not converged after two rounds: {ops(final)} pending {final.pending}"
    assert not final.failed
    assert associated(state) == wanted
    if not result.pending:
        assert settled_plan.converged, "a plan without pending stages left work for the next round"


@pytest.mark.parametrize("status", STATUSES)
def test_foreign_associations_change_nothing(status: CardStatus | None) -> None:
    for states in itertools.product(STATES, repeat=3):
        start = dict(zip(("dev", "test", "prod"), states, strict=True))
        with_foreign = [
            *associations(start, foreign=False),
            Association(FOREIGN_SHARE, S.FAILED, "not ours"),
            Association(FOREIGN_SHARE.replace("not-managed", "other"), S.ASSOCIATING),
        ]
        assert plan(LADDER, status, with_foreign) == plan(LADDER, status, associations(start, foreign=False))


def test_plan_is_empty_for_a_card_with_only_foreign_associations() -> None:
    result = plan(LADDER, None, [Association(FOREIGN_SHARE, S.ASSOCIATED)])
    assert result == Plan((), (), ())
    assert result.converged


# ---- concrete cases, written out -----------------------------------------------------------------


def stage(name: str) -> Stage:
    return LADDER.stage_for_share(SHARE[name])


def test_approved_from_nothing_associates_dev_test_prod() -> None:
    result = plan(LADDER, CardStatus.APPROVED, [])
    assert result.actions == (
        Action(Op.ASSOCIATE, stage("dev")),
        Action(Op.ASSOCIATE, stage("test")),
        Action(Op.ASSOCIATE, stage("prod")),
    )
    assert result.pending == ()
    assert result.failed == ()
    assert not result.converged


def test_approved_back_to_draft_disassociates_test_and_prod() -> None:
    everything = [Association(SHARE[name], S.ASSOCIATED) for name in ("dev", "test", "prod")]
    result = plan(LADDER, CardStatus.DRAFT, everything)
    assert ops(result) == [("disassociate", "test"), ("disassociate", "prod")]
    assert result.pending == ()


def test_approved_to_archived_keeps_only_prod() -> None:
    everything = [Association(SHARE[name], S.ASSOCIATED) for name in ("dev", "test", "prod")]
    assert ops(plan(LADDER, CardStatus.ARCHIVED, everything)) == [("disassociate", "dev"), ("disassociate", "test")]


def test_deleted_card_is_removed_from_every_share() -> None:
    everything = [Association(SHARE[name], S.ASSOCIATED) for name in ("dev", "test", "prod")]
    assert ops(plan(LADDER, None, everything)) == [
        ("disassociate", "dev"),
        ("disassociate", "test"),
        ("disassociate", "prod"),
    ]


def test_draft_to_pending_review_adds_only_test() -> None:
    result = plan(LADDER, CardStatus.PENDING_REVIEW, [Association(SHARE["dev"], S.ASSOCIATED)])
    assert ops(result) == [("associate", "test")]


def test_already_converged_is_a_no_op() -> None:
    result = plan(
        LADDER,
        CardStatus.PENDING_REVIEW,
        [Association(SHARE["dev"], S.ASSOCIATED), Association(SHARE["test"], S.ASSOCIATED)],
    )
    assert result == Plan((), (), ())
    assert result.converged


def test_moving_association_is_waited_out_not_fought() -> None:
    result = plan(
        LADDER,
        CardStatus.DRAFT,
        [Association(SHARE["dev"], S.DISASSOCIATING), Association(SHARE["prod"], S.ASSOCIATING)],
    )
    assert result.actions == ()
    assert [s.name for s in result.pending] == ["dev", "prod"]
    assert not result.converged


def test_failed_desired_share_is_retried_and_reported() -> None:
    failed = Association(SHARE["test"], S.FAILED, "principal 222222222222 is not in the organization")
    result = plan(LADDER, CardStatus.PENDING_REVIEW, [Association(SHARE["dev"], S.ASSOCIATED), failed])
    assert ops(result) == [("associate", "test")]
    assert result.failed == (failed,)


def test_failed_undesired_share_is_left_alone() -> None:
    result = plan(LADDER, CardStatus.DRAFT, [Association(SHARE["prod"], S.FAILED, "old failure")])
    assert ops(result) == [("associate", "dev")]
    assert result.failed == ()


# ---- hold: what a card keeps while its verdict waits for evidence ---------------------------------


def test_present_is_on_the_way_in_or_in() -> None:
    assert {S.ASSOCIATED, S.ASSOCIATING} == PRESENT


@pytest.mark.parametrize(("status", "start"), CASES)
def test_hold_never_adds_a_share_and_keeps_only_what_the_status_grants(status: CardStatus | None, start: Start) -> None:
    result = hold(LADDER, status, associations(start))
    assert all(action.op is Op.DISASSOCIATE for action in result.actions), "hold associated a share"
    for action in result.actions:
        name = action.stage.name
        assert start[name] is S.ASSOCIATED
        assert name not in DESIRED[status], "hold removed a share the status grants"
    # Once RAM settles (and a share moving the wrong way is undone), the card holds exactly the
    # shares it held before that the status also grants.
    state = apply_and_settle(LADDER, start, result)
    state = apply_and_settle(LADDER, state, hold(LADDER, status, associations(state)))
    assert hold(LADDER, status, associations(state)).converged
    assert associated(state) == {name for name, s in start.items() if s in PRESENT} & DESIRED[status]


def test_hold_removes_prod_from_an_approval_still_waiting_but_does_not_add_test() -> None:
    rows = [Association(SHARE["dev"], S.ASSOCIATED), Association(SHARE["prod"], S.ASSOCIATED)]
    result = hold(LADDER, CardStatus.PENDING_REVIEW, rows)
    assert ops(result) == [("disassociate", "prod")]
    assert plan(LADDER, CardStatus.PENDING_REVIEW, rows).actions != result.actions  # plan would add test


def test_hold_keeps_a_share_still_associating_that_the_status_grants() -> None:
    result = hold(LADDER, CardStatus.PENDING_REVIEW, [Association(SHARE["test"], S.ASSOCIATING)])
    assert result.actions == ()
    assert [s.name for s in result.pending] == ["test"]


def test_hold_does_not_retry_a_failed_association() -> None:
    failed = Association(SHARE["test"], S.FAILED, "principal 222222222222 is not in the organization")
    result = hold(LADDER, CardStatus.PENDING_REVIEW, [Association(SHARE["dev"], S.ASSOCIATED), failed])
    assert result == Plan((), (), ())


def test_hold_with_no_status_removes_everything() -> None:
    everything = [Association(SHARE[name], S.ASSOCIATED) for name in ("dev", "test", "prod")]
    assert ops(hold(LADDER, None, everything)) == [
        ("disassociate", "dev"),
        ("disassociate", "test"),
        ("disassociate", "prod"),
    ]


@pytest.mark.parametrize(("status", "start"), CASES)
def test_hold_keeping_all_touches_no_settled_share_and_adds_none(status: CardStatus | None, start: Start) -> None:
    """While the card is still changing: whatever its status, keep what it has, add nothing."""
    result = hold(LADDER, status, associations(start), keep_all=True)
    assert result == hold(LADDER, None, associations(start), keep_all=True)  # the status does not matter
    assert result.actions == (), "a card still changing lost or gained a share"
    assert [s.name for s in result.pending] == [n for n, st in start.items() if st in (S.ASSOCIATING, S.DISASSOCIATING)]
    assert result.failed == ()


def test_hold_keeping_all_waits_out_a_share_moving_out() -> None:
    result = hold(LADDER, CardStatus.DRAFT, [Association(SHARE["prod"], S.DISASSOCIATING)], keep_all=True)
    assert result.actions == ()
    assert [s.name for s in result.pending] == ["prod"]


def test_hold_ignores_foreign_shares() -> None:
    rows = [Association(FOREIGN_SHARE, S.ASSOCIATED), Association(SHARE["prod"], S.ASSOCIATED)]
    assert ops(hold(LADDER, CardStatus.ARCHIVED, rows)) == []
    assert ops(hold(LADDER, CardStatus.DRAFT, rows)) == [("disassociate", "prod")]


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
            "shareArn": f"arn:aws:ram:us-east-1:{OWNER}:resource-share/share-{index}",
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
    by_name = {stage.name: stage.share_arn for stage in ladder.stages}
    wanted = {stage.name for stage in ladder.stages if status is not None and status in stage.statuses}

    def rows(state: Start) -> list[Association]:
        return [Association(by_name[name], s) for name, s in state.items() if s is not None]

    state = start
    for _ in range(2):
        result = plan(ladder, status, rows(state))
        for action in result.actions:
            before = state[action.stage.name]
            if action.op is Op.ASSOCIATE:
                assert before not in {S.ASSOCIATED, S.ASSOCIATING}
                assert action.stage.name in wanted
            else:
                assert before is S.ASSOCIATED
                assert action.stage.name not in wanted
        state = apply_and_settle(ladder, state, result)
    assert plan(ladder, status, rows(state)).converged
    assert associated(state) == wanted
