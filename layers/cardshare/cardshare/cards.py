"""What cardshare needs to know about a model card, and the ports that read cards and shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cardshare.planner import Association
from cardshare.status import CardStatus


@dataclass(frozen=True)
class Identity:
    """Who made a change, as SageMaker's UserContext reports it.

    Studio users carry a UserProfileArn (their IAM identity is often a role shared by the whole
    domain), IAM callers only an IamIdentity. The principal is the most specific of the two.
    """

    user_profile_arn: str | None = None
    iam_arn: str | None = None

    @property
    def principal(self) -> str | None:
        """The identity to compare and record: the Studio user profile, else the IAM ARN."""
        return self.user_profile_arn or self.iam_arn

    @classmethod
    def from_user_context(cls, raw: object) -> Identity | None:
        """Read a CreatedBy/LastModifiedBy structure; None when it names nobody."""
        if not isinstance(raw, Mapping):
            return None
        iam = raw.get("IamIdentity")
        iam_arn = iam.get("Arn") if isinstance(iam, Mapping) else None
        profile = raw.get("UserProfileArn")
        identity = cls(
            user_profile_arn=profile if isinstance(profile, str) and profile else None,
            iam_arn=iam_arn if isinstance(iam_arn, str) and iam_arn else None,
        )
        return identity if identity.principal else None


@dataclass(frozen=True)
class Card:
    """A model card as DescribeModelCard reports it now."""

    arn: str
    name: str
    status: CardStatus
    version: int
    content: Mapping[str, Any] = field(default_factory=dict)
    created_by: Identity | None = None
    last_modified_by: Identity | None = None
    modified_at: float | None = None


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
