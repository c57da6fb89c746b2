"""What each stage's accounts can do with a card right now, read from SageMaker and RAM."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cardshare.planner import PRESENT, AssociationStatus
from cardshare.policy import Stage
from cardshare.ram import ResourceShares
from cardshare.reconciliation import CardSummary, ResourceAssociation, current_associations
from cardshare.sagemaker import ModelCards
from cardshare_cli.stack import Stack, resolve_card, unknown_card

NONE = "none"
READ_WRITE = "read-write"
READ_ONLY = "read-only"


@dataclass(frozen=True)
class StageRow:
    """One stage as a card sees it: the share holding it, the card's association, who is on it and what they may do.

    ``share_arn`` is the stage's share that holds the card (its own share when none does);
    ``own_share_arn`` the one the card belongs in (:meth:`cardshare.policy.Stage.share_for`).
    """

    stage: str
    share_arn: str
    association: str | None
    principals: Mapping[str, str]
    access: str
    earned: bool
    """Whether the card's status alone would grant the stage (gates may still hold it back)."""
    own_share_arn: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "stage": self.stage,
            "shareArn": self.share_arn,
            "ownShareArn": self.own_share_arn or self.share_arn,
            "association": self.association,
            "principals": dict(self.principals),
            "access": self.access,
            "statusGrants": self.earned,
        }


DELETED = "(deleted)"


@dataclass(frozen=True)
class CardView:
    """A card (or a deleted card still shared) and its stages."""

    arn: str
    name: str
    status: str
    version: int | None
    kms_key_id: str | None
    stages: tuple[StageRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "cardArn": self.arn,
            "name": self.name,
            "status": self.status,
            "version": self.version,
            "kmsKeyId": self.kms_key_id,
            "stages": [row.to_dict() for row in self.stages],
        }


@dataclass(frozen=True)
class MatrixRow:
    """One card across every stage: the access its accounts have (or the association's state)."""

    arn: str
    name: str
    status: str
    cells: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"cardArn": self.arn, "name": self.name, "status": self.status, "stages": dict(self.cells)}


class Inspector:
    """Reads cards and shares of one stack; a share's permission is read once per run."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._cards = ModelCards(stack.client("sagemaker"))
        self._shares = ResourceShares(stack.client("ram"))

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The stack's stage ladder, in order."""
        return self._stack.settings.ladder.stages

    def access(self, share_arn: str, association: str | None, reachable: Collection[str]) -> str:
        """What a share's accounts may do with a card, from the card's association and the share's permission.

        ``reachable``: the shares with at least one principal ASSOCIATED (an invitation not yet
        accepted, or a principal removed, gives nobody access).
        """
        # ASSOCIATING is not access yet: RAM grants it when the association settles.
        if association != AssociationStatus.ASSOCIATED.value or share_arn not in reachable:
            return NONE
        return READ_WRITE if self._shares.grants_update(share_arn) else READ_ONLY

    def _principals(self) -> dict[str, dict[str, AssociationStatus]]:
        return self._shares.principals(self._stack.settings.ladder.share_arns)

    def card(self, card: str) -> CardView:
        """``cardshare status``: the card's status and version, and each stage's share, principals and access."""
        arn, described = resolve_card(self._stack, self._cards, card)
        shares = self._stack.settings.ladder.share_arns
        states = {row.share_arn: row.status for row in self._shares.associations(arn, shares)}
        if described is None and not any(state in PRESENT for state in states.values()):
            raise unknown_card(self._stack, arn)
        principals = self._principals()
        reachable = _reachable(principals)

        def row(stage: Stage) -> StageRow:
            share = holding_share(stage, arn, states)
            state = states[share].value if share in states else None
            members = {p: status.value for p, status in sorted(principals.get(share, {}).items())}
            earned = described is not None and described.status in stage.statuses
            access = self.access(share, state, reachable)
            return StageRow(stage.name, share, state, members, access, earned, stage.share_for(arn))

        rows = tuple(row(stage) for stage in self.stages)
        if described is None:
            # Deleted, still shared: what the consumers can read until the reconciler removes it.
            return CardView(arn, arn.rsplit("/", 1)[-1], DELETED, None, None, rows)
        status = described.status.value
        return CardView(arn, described.name, status, described.version, described.kms_key_id, rows)

    def matrix(self, progress: Callable[[int], None] = lambda _: None) -> list[MatrixRow]:
        """``cardshare cards``: every card (and every deleted card still shared) x every stage."""
        listed = self._cards.list_cards()
        progress(len(listed))
        rows = self._shares.all_associations(self._stack.settings.ladder.share_arns)
        progress(len(rows))
        reachable = _reachable(self._principals())
        return matrix_rows(self.stages, listed, rows, lambda share, state: self.access(share, state, reachable))


def holding_share(stage: Stage, card_arn: str, states: Mapping[str, AssociationStatus]) -> str:
    """The share of ``stage`` that shows the card's access there (the card's association with any share).

    The first of: a share the card is ASSOCIATED with, one it is ASSOCIATING with, one with any
    other association still listed (FAILED, DISASSOCIATING); else the card's own share. The
    card's own share comes first among equals.
    """
    own = stage.share_for(card_arn)
    ordered = [own, *(share for share in stage.share_arns if share != own)]
    for wanted in ({AssociationStatus.ASSOCIATED}, PRESENT, set(AssociationStatus) - {AssociationStatus.DISASSOCIATED}):
        for share in ordered:
            if states.get(share) in wanted:
                return share
    return own


def _reachable(principals: Mapping[str, Mapping[str, AssociationStatus]]) -> set[str]:
    return {
        share
        for share, members in principals.items()
        if any(status is AssociationStatus.ASSOCIATED for status in members.values())
    }


def matrix_rows(
    stages: Sequence[Stage],
    cards: Sequence[CardSummary],
    associations: Sequence[ResourceAssociation],
    access: Callable[[str, str | None], str],
) -> list[MatrixRow]:
    """The matrix from one listing of cards and one of associations (cards by name, vanished ones last)."""
    current = current_associations(associations)

    def cells(arn: str) -> dict[str, str]:
        states = current.get(arn, {})
        result = {}
        for stage in stages:
            share = holding_share(stage, arn, states)
            state = states.get(share)
            shown = access(share, state.value if state else None)
            if state is not None and shown == NONE and state is not AssociationStatus.DISASSOCIATED:
                shown = state.value.lower()
            result[stage.name] = shown
        return result

    rows = [
        MatrixRow(card.arn, card.name, card.status.value, cells(card.arn))
        for card in sorted(cards, key=lambda c: c.name)
    ]
    listed = {card.arn for card in cards}
    for arn in sorted(set(current) - listed):
        if ":model-card/" in arn and any(v in PRESENT for v in current[arn].values()):
            rows.append(MatrixRow(arn, arn.rsplit("/", 1)[-1], DELETED, cells(arn)))
    return rows
