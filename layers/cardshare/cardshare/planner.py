"""Desired shares minus actual associations: the RAM actions that converge one card.

Pure: no AWS, no clock. Transitional states are waited out rather than fought, because RAM
rejects a disassociate on an association that is still ASSOCIATING (and vice versa).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from cardshare.policy import Stage, StageLadder
from cardshare.status import CardStatus


class AssociationStatus(StrEnum):
    """RAM's resource association statuses."""

    ASSOCIATING = "ASSOCIATING"
    ASSOCIATED = "ASSOCIATED"
    FAILED = "FAILED"
    DISASSOCIATING = "DISASSOCIATING"
    DISASSOCIATED = "DISASSOCIATED"


@dataclass(frozen=True)
class Association:
    """One card's association with one share, as RAM reports it."""

    share_arn: str
    status: AssociationStatus
    message: str = ""


class Op(StrEnum):
    """What to do to a share."""

    ASSOCIATE = "associate"
    DISASSOCIATE = "disassociate"


@dataclass(frozen=True)
class Action:
    """One RAM call to make: ``op`` on ``share_arn``, one of ``stage``'s shares.

    ``move`` is True when the call changes which of the stage's shares holds the card but not
    whether the stage has access (the card keeps access through another of its shares).
    """

    op: Op
    stage: Stage
    share_arn: str
    move: bool = False


@dataclass(frozen=True)
class Plan:
    """What converging the card needs now.

    ``actions`` are calls to make; ``pending`` are stages whose association is moving (wait, then
    plan again); ``failed`` are desired stages whose last association attempt FAILED.
    """

    actions: tuple[Action, ...]
    pending: tuple[Stage, ...]
    failed: tuple[Association, ...]

    @property
    def converged(self) -> bool:
        """True when RAM already holds exactly the desired shares."""
        return not self.actions and not self.pending


PRESENT = frozenset({AssociationStatus.ASSOCIATED, AssociationStatus.ASSOCIATING})


def plan(ladder: StageLadder, card_arn: str, status: CardStatus | None, actual: Iterable[Association]) -> Plan:
    """Compare the shares ``status`` calls for with ``actual`` associations.

    ``status`` is None for a card that no longer exists: every association must go. In each stage
    the card belongs in exactly one share, :meth:`Stage.share_for`; an association with another
    of the stage's shares is drift and moves to the card's own share, without a gap in access.
    Associations with shares outside the ladder are ignored (they are not ours to manage).
    """
    desired = {stage.share_for(card_arn) for stage in ladder.stages_for(status)}
    return plan_shares(ladder, desired, actual)


def hold_shares(ladder: StageLadder, allowed: set[str], actual: Iterable[Association]) -> Plan:
    """Keep only the shares the card has among ``allowed`` (share ARNs); add none, move none."""
    rows = list(actual)
    present = {a.share_arn for a in rows if a.status in PRESENT}
    return plan_shares(ladder, present & allowed, rows)


def plan_shares(ladder: StageLadder, desired: set[str], actual: Iterable[Association]) -> Plan:
    """The actions that make the card's associations exactly ``desired`` (share ARNs).

    Adds come before removes within a stage: a share of a stage the card keeps is disassociated
    only once a desired share of that stage is ASSOCIATED, so that moving a card between a
    stage's shares never leaves the stage without access. Until then the removal waits for the
    round after the add (or the pending association) settles.
    """
    ours = set(ladder.share_arns)
    current = {a.share_arn: a for a in actual if a.share_arn in ours}
    actions: list[Action] = []
    pending: list[Stage] = []
    failed: list[Association] = []
    for stage in ladder.stages:
        stage_plan = _plan_stage(stage, desired, current)
        actions += stage_plan.actions
        pending += stage_plan.pending[:1]  # a stage is pending once, however many of its shares move
        failed += stage_plan.failed
    return Plan(tuple(actions), tuple(pending), tuple(failed))


def _state(current: dict[str, Association], share_arn: str) -> AssociationStatus:
    association = current.get(share_arn)
    return association.status if association else AssociationStatus.DISASSOCIATED


def _plan_stage(stage: Stage, desired: set[str], current: dict[str, Association]) -> Plan:
    """One stage's part of the plan (``pending`` lists the stage once per moving share)."""
    wanted = [share for share in stage.share_arns if share in desired]
    # A card already ASSOCIATED elsewhere in the stage keeps its access: adding the own share moves it.
    associated = {share for share in stage.share_arns if _state(current, share) is AssociationStatus.ASSOCIATED}
    # Removing a share of a stage the card keeps must wait until the card is confirmed elsewhere in it.
    covered = any(_state(current, share) is AssociationStatus.ASSOCIATED for share in wanted)
    actions: list[Action] = []
    pending: list[Stage] = []
    failed: list[Association] = []
    for share in stage.share_arns:
        state = _state(current, share)
        if state is AssociationStatus.ASSOCIATED:
            if share not in desired and (covered or not wanted):
                actions.append(Action(Op.DISASSOCIATE, stage, share, move=bool(wanted)))
        elif state is AssociationStatus.ASSOCIATING or state is AssociationStatus.DISASSOCIATING:
            # Wait for RAM to finish; the next round sees a settled state and acts on it.
            pending.append(stage)
        elif share in desired:  # DISASSOCIATED, FAILED or never associated
            association = current.get(share)
            if state is AssociationStatus.FAILED and association is not None:
                failed.append(association)
            actions.append(Action(Op.ASSOCIATE, stage, share, move=bool(associated - {share})))
    return Plan(tuple(actions), tuple(pending), tuple(failed))
