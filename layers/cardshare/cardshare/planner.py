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
    """One RAM call to make."""

    op: Op
    stage: Stage


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


def plan(ladder: StageLadder, status: CardStatus | None, actual: Iterable[Association]) -> Plan:
    """Compare the shares ``status`` calls for with ``actual`` associations.

    ``status`` is None for a card that no longer exists: every association must go.
    Associations with shares outside the ladder are ignored (they are not ours to manage).
    """
    return plan_shares(ladder, {stage.share_arn for stage in ladder.stages_for(status)}, actual)


def hold_shares(ladder: StageLadder, allowed: set[str], actual: Iterable[Association]) -> Plan:
    """Keep only the shares the card has among ``allowed`` (share ARNs); add none."""
    rows = list(actual)
    present = {a.share_arn for a in rows if a.status in PRESENT}
    return plan_shares(ladder, present & allowed, rows)


def plan_shares(ladder: StageLadder, desired: set[str], actual: Iterable[Association]) -> Plan:
    """The actions that make the card's associations exactly ``desired`` (share ARNs)."""
    current = {a.share_arn: a for a in actual if a.share_arn in ladder.share_arns}
    actions: list[Action] = []
    pending: list[Stage] = []
    failed: list[Association] = []
    for stage in ladder.stages:
        association = current.get(stage.share_arn)
        state = association.status if association else AssociationStatus.DISASSOCIATED
        wanted = stage.share_arn in desired
        if state is AssociationStatus.ASSOCIATED:
            if not wanted:
                actions.append(Action(Op.DISASSOCIATE, stage))
        elif state is AssociationStatus.ASSOCIATING or state is AssociationStatus.DISASSOCIATING:
            # Wait for RAM to finish; the next round sees a settled state and acts on it.
            pending.append(stage)
        elif wanted:  # DISASSOCIATED, FAILED or never associated
            if state is AssociationStatus.FAILED and association is not None:
                failed.append(association)
            actions.append(Action(Op.ASSOCIATE, stage))
    return Plan(tuple(actions), tuple(pending), tuple(failed))
