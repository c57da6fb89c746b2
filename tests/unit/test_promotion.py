"""promote_round on a simulated account: evidence merged per round, quiet period, settling, guards, keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from governance_world import ACCOUNT, ALICE, BOB, CARD_ARN, JANE, Execution, World, _Shares, settings

from cardshare.decisions import Outcome
from cardshare.events import InvalidEventError, parse_card_arn, reconciler_event
from cardshare.gate_config import Enforcement, GateConfig
from cardshare.planner import Association
from cardshare.promotion import PermissionMismatchError
from cardshare.status import CardStatus

WAIT = 10
D, P, A = CardStatus.DRAFT, CardStatus.PENDING_REVIEW, CardStatus.APPROVED


def reviewed(world: World) -> None:
    """Alice creates the card and submits it; both executions run to the end."""
    Execution(world, world.create(ALICE), settings(wait=WAIT), "create").run()
    world.tick(2)
    Execution(world, world.set_status(ALICE, P), settings(wait=WAIT), "submit").run()
    world.tick(2)
    assert world.shares_of() == {"dev", "test"}


def test_a_proper_approval_waits_for_late_events_then_shares_prod() -> None:
    world = World()
    reviewed(world)
    run = Execution(world, world.set_status(JANE, A), settings(wait=WAIT), "approve")
    first = run.step()
    assert (first.step.next, first.step.verdict.pending != (), world.shares_of()) == ("wait", True, {"dev", "test"})
    assert first.step.wait_seconds == WAIT  # one wait until settled, not a poll per second
    decided = run.run()
    assert (decided.outcome, world.shares_of()) == (Outcome.SHARED, {"dev", "test", "prod"})
    assert world.now - world.card.modified_at >= WAIT  # type: ignore[union-attr]
    assert decided.record["evidenceWaits"] >= 1


def test_a_self_approval_is_blocked_at_once_and_alerted_once() -> None:
    world = World()
    reviewed(world)
    event = world.set_status(ALICE, A)
    decided = Execution(world, event, settings(wait=WAIT), "self").run()
    assert (decided.outcome, decided.revert, world.shares_of()) == (Outcome.BLOCKED, False, {"dev", "test"})
    assert decided.record["evidenceWaits"] == 0
    again = Execution(world, event, settings(wait=WAIT), "duplicate").run()
    assert again.outcome is Outcome.NO_OP


def test_revert_mode_reverts_a_refused_approval_but_not_for_an_unreadable_store() -> None:
    revert = settings(GateConfig(approver_accounts=frozenset({ACCOUNT}), enforcement=Enforcement.REVERT), wait=WAIT)
    world = World()
    reviewed(world)
    assert Execution(world, world.set_status(ALICE, A), revert, "self").run().revert
    world.tick(2)
    world.set_status(ALICE, P)
    world.tick(2)
    event = world.set_status(JANE, A)
    world.evidence_down = True
    decided = Execution(world, event, revert, "down").run()
    assert (decided.outcome, decided.revert, world.shares_of()) == (Outcome.BLOCKED, False, {"dev", "test"})


def test_a_card_still_changing_is_not_acted_on() -> None:
    world = World()
    config = settings(wait=WAIT, quiet=2)
    result = Execution(world, world.create(ALICE), config, "create").step()
    assert (result.step.next, result.step.actions, result.step.wait_seconds) == ("wait", [], 2)
    assert result.step.verdict.hold_all
    world.tick(2)
    assert Execution(world, world.event(), config, "later").run().outcome is Outcome.SHARED


def test_a_card_that_never_stands_still_is_decided_after_the_most_waits() -> None:
    world = World()
    busy = settings(quiet=5)
    config = replace(busy, limits=replace(busy.limits, max_defers=2))
    run = Execution(world, world.create(ALICE), config, "busy")
    quiet_waits = 0
    for _ in range(20):
        result = run.step()
        quiet_waits += result.step.verdict.hold_all
        if run.done is not None:
            break
        world.tick(1)
        world.edit(ALICE)  # someone keeps editing
    assert run.done is not None
    assert quiet_waits == 2
    assert world.shares_of() == {"dev"}


def test_every_key_uses_the_arn_sagemaker_returns() -> None:
    world = World()
    event = world.create(ALICE)
    spelled = CARD_ARN.replace("Customer-Churn", "customer-churn")
    event["resources"] = [spelled]
    event["detail"]["ModelCardName"] = spelled.rsplit("/", 1)[-1]
    decided = Execution(world, event, settings(wait=WAIT), "lower").run()
    assert decided.record["cardArn"] == CARD_ARN
    assert set(world.evidence) == {CARD_ARN}
    assert world.shares_of() == {"dev"}


def test_a_writable_permission_on_a_read_only_stage_stops_the_round() -> None:
    world = World()
    reviewed(world)
    world.prod_writable = True
    run = Execution(world, world.set_status(JANE, A), settings(wait=WAIT), "approve")
    with pytest.raises(PermissionMismatchError, match="prod"):
        run.run()
    assert "prod" not in world.shares_of()


def test_an_oversized_event_is_rejected_before_anything_is_read() -> None:
    world = World()
    event = world.create(ALICE)
    event["id"] = "x" * 100_000
    with pytest.raises(InvalidEventError, match="bytes") as refused:
        Execution(world, event, settings(), "huge").step()
    assert len(str(refused.value)) < 200
    assert world.evidence == {}
    assert world.ram_calls == []


def test_a_repair_event_proves_nothing_but_the_read_does() -> None:
    world = World()
    world.create(ALICE)  # its event was lost
    world.tick(5)
    repair = reconciler_event(parse_card_arn(CARD_ARN), None, "r-1", "2026-12-01T00:00:00Z", "missing dev")
    assert Execution(world, repair, settings(), "repair").run().outcome is Outcome.SHARED
    stored = world.evidence[CARD_ARN]
    assert len(stored) == 2  # the read's sighting and the card's creation, nothing from the event


def test_a_round_that_waits_for_the_card_to_stand_still_reads_no_ram(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    calls: list[str] = []
    real = _Shares.associations

    def counted(self: _Shares, card_arn: str, share_arns: Sequence[str]) -> list[Association]:
        calls.append(card_arn)
        return real(self, card_arn, share_arns)

    monkeypatch.setattr(_Shares, "associations", counted)
    run = Execution(world, world.create(ALICE), settings(quiet=2), "quiet")
    assert run.step().step.verdict.hold_all
    assert calls == []
    world.tick(2)
    run.run()
    assert calls == [CARD_ARN] * len(calls)
    assert calls


def approved(world: World) -> None:
    """A proper approval, settled: prod reads the card."""
    reviewed(world)
    Execution(world, world.set_status(JANE, A), settings(wait=WAIT), "approve").run()
    world.tick(2)
    assert world.shares_of() == {"dev", "test", "prod"}


def test_an_edit_of_an_approved_card_takes_prod_away_in_the_first_round() -> None:
    world = World()
    approved(world)
    run = Execution(world, world.edit(ALICE), settings(wait=WAIT, quiet=2), "edit")
    first = run.step()
    # Still inside the quiet period, yet prod goes: version 2 was never approved.
    assert first.step.verdict.hold_all
    assert first.step.verdict.withhold_approval
    assert world.shares_of() == {"dev", "test"}
    assert run.run().outcome is Outcome.BLOCKED


def test_a_card_created_again_under_the_same_name_loses_prod_in_the_first_round() -> None:
    world = World()
    approved(world)
    # Deleted and created again by someone else: same ARN, RAM still holds the old association.
    run = Execution(world, world.create(BOB, A), settings(wait=WAIT, quiet=2), "again")
    run.step()
    assert "prod" not in world.shares_of()
    assert run.run().outcome is Outcome.BLOCKED
    assert "prod" not in world.shares_of()


def test_approving_again_keeps_prod_and_raises_no_alarm() -> None:
    world = World()
    approved(world)
    again = Execution(world, world.set_status(JANE, A), settings(wait=WAIT, quiet=2), "twice").run()
    assert again.outcome is Outcome.NO_OP
    assert world.shares_of() == {"dev", "test", "prod"}


def test_a_repair_of_a_share_removed_by_hand_is_reported_once_per_repair_not_swallowed() -> None:
    """Putting back what someone removed is a change of its own, though the card's state is the same."""
    world = World()
    created = world.create(ALICE)
    assert Execution(world, created, settings(), "create").run().outcome is Outcome.SHARED
    assert Execution(world, created, settings(), "duplicate").run().outcome is Outcome.NO_OP
    world.associations.clear()  # dev removed by hand
    world.tick(5)
    card = parse_card_arn(CARD_ARN)
    repair = reconciler_event(card, D, "run-1-0", "2026-12-01T00:00:00Z", "missing dev")
    first = Execution(world, repair, settings(), "repair")
    assert (first.run().outcome, world.shares_of()) == (Outcome.SHARED, {"dev"})
    # The same repair run's execution started twice reports once; the next run's repair is new.
    world.associations.clear()
    assert Execution(world, repair, settings(), "repair-again").run().outcome is Outcome.NO_OP
    assert world.shares_of() == {"dev"}
    world.associations.clear()
    later = reconciler_event(card, D, "run-2-0", "2026-12-01T01:00:00Z", "missing dev")
    assert Execution(world, later, settings(), "next-run").run().outcome is Outcome.SHARED
