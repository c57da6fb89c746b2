"""What cardshare needs to know about a model card, and the ports that read cards and shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cardshare.identity import Actor
from cardshare.planner import Association
from cardshare.status import CardStatus


@dataclass(frozen=True)
class Card:
    """A model card as DescribeModelCard reports it now."""

    arn: str
    name: str
    status: CardStatus
    version: int
    content: Mapping[str, Any] = field(default_factory=dict)
    created_by: Actor | None = None
    last_modified_by: Actor | None = None
    modified_at: float | None = None
    created_at: float | None = None
    kms_key_id: str | None = None


class CardReader(Protocol):
    """Reads a card by ARN; None when the card does not exist (any more)."""

    def describe(self, card_arn: str) -> Card | None:
        """Return the card's current state, or None if it is gone."""
        ...


class AssociationReader(Protocol):
    """Reads one card's associations across a set of shares, in as few calls as RAM allows."""

    def associations(self, card_arn: str, share_arns: Sequence[str]) -> list[Association]:
        """Return the card's current association with each of ``share_arns`` that has one."""
        ...
