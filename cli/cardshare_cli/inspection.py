"""What each stage's accounts can do with a card right now, read from SageMaker and RAM."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cardshare.cards import Card
from cardshare.planner import PRESENT, AssociationStatus
from cardshare.policy import Stage
from cardshare.ram import ResourceShares
from cardshare.reconciliation import CardSummary, ResourceAssociation, current_associations
from cardshare.sagemaker import ModelCards
from cardshare_cli.errors import OperatorError
from cardshare_cli.stack import Stack

NONE = "none"
READ_WRITE = "read-write"
READ_ONLY = "read-only"


@dataclass(frozen=True)
class StageRow:
    """One stage as a card sees it: its share, the card's association, who is on it and what they may do."""

    stage: str
    share_arn: str
    association: str | None
    principals: Mapping[str, str]
    access: str
    earned: bool
    """Whether the card's status alone would grant the stage (gates may still hold it back)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "stage": self.stage,
            "shareArn": self.share_arn,
            "association": self.association,
            "principals": dict(self.principals),
            "access": self.access,
            "statusGrants": self.earned,
        }


@dataclass(frozen=True)
class CardView:
    """A card and its stages."""

    card: Card
    stages: tuple[StageRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "cardArn": self.card.arn,
            "name": self.card.name,
            "status": self.card.status.value,
            "version": self.card.version,
            "kmsKeyId": self.card.kms_key_id,
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

    def access(self, share_arn: str, association: str | None) -> str:
        """What a share's accounts may do with an associated card, from the share's permission."""
        # ASSOCIATING is not access yet: RAM grants it when the association settles.
        if association != AssociationStatus.ASSOCIATED.value:
            return NONE
        return READ_WRITE if self._shares.grants_update(share_arn) else READ_ONLY

    def card(self, card: str) -> CardView:
        """``cardshare status``: the card's status and version, and each stage's share, principals and access."""
        arn = self._stack.card_arn(card)
        described = self._cards.describe(arn)
        if described is None:
            raise OperatorError(
                f"no model card {arn.rsplit('/', 1)[-1]!r} in {self._stack.account} ({self._stack.region})"
            )
        shares = [stage.share_arn for stage in self.stages]
        associations = {row.share_arn: row.status.value for row in self._shares.associations(described.arn, shares)}
        principals = self._shares.principals(shares)
        rows = tuple(
            StageRow(
                stage.name,
                stage.share_arn,
                associations.get(stage.share_arn),
                {p: status.value for p, status in sorted(principals.get(stage.share_arn, {}).items())},
                self.access(stage.share_arn, associations.get(stage.share_arn)),
                described.status in stage.statuses,
            )
            for stage in self.stages
        )
        return CardView(described, rows)

    def matrix(self, progress: Callable[[int], None] = lambda _: None) -> list[MatrixRow]:
        """``cardshare cards``: every card (and every vanished card still shared) x every stage."""
        listed = self._cards.list_cards()
        progress(len(listed))
        shares = [stage.share_arn for stage in self.stages]
        rows = self._shares.all_associations(shares)
        progress(len(rows))
        return matrix_rows(self.stages, listed, rows, self.access)


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
            state = states.get(stage.share_arn)
            shown = access(stage.share_arn, state.value if state else None)
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
            rows.append(MatrixRow(arn, arn.rsplit("/", 1)[-1], "(deleted)", cells(arn)))
    return rows
