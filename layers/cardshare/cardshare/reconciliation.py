"""Reconciliation: find every card whose RAM associations differ from what it has earned.

Lost events, manual changes in the RAM console and FAILED associations all show up as drift. The
reconciler does not repair by itself: it starts the promote-card workflow for each drifted card,
so that repairs pass the same gates and land in the same ledger as any other decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cardshare.gates import GATED_STATUSES
from cardshare.planner import PRESENT, AssociationStatus
from cardshare.policy import StageLadder
from cardshare.status import CardStatus

# Times of one change read twice may differ by rounding (events carry nanoseconds, reads milliseconds).
_SAME_CHANGE_SECONDS = 0.002


@dataclass(frozen=True)
class CardSummary:
    """A card as ListModelCards reports it."""

    arn: str
    name: str
    status: CardStatus
    modified_at: float | None = None


@dataclass(frozen=True)
class ResourceAssociation:
    """One resource's association with one share, as RAM lists it."""

    resource_arn: str
    share_arn: str
    status: AssociationStatus
    updated: float = 0.0


@dataclass(frozen=True)
class Drift:
    """A card shared differently from what it has earned (status None: the card no longer exists)."""

    card_arn: str
    status: CardStatus | None
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    note: str = ""
    misplaced: tuple[str, ...] = ()
    """Stages the card belongs in but is associated with through another share than its own."""

    @property
    def reason(self) -> str:
        """One line for the log and the repair event."""
        parts = [self.note] if self.note else []
        if self.status is None:
            parts.append("card no longer exists")
        if self.missing:
            parts.append(f"missing {', '.join(self.missing)}")
        if self.extra:
            parts.append(f"unexpected {', '.join(self.extra)}")
        if self.misplaced:
            parts.append(f"in another share than its own in {', '.join(self.misplaced)}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for logs and the function's result."""
        return {
            "card": self.card_arn,
            "status": self.status.value if self.status else None,
            "missing": list(self.missing),
            "extra": list(self.extra),
            "misplaced": list(self.misplaced),
            "reason": self.reason,
        }


def _is_model_card(resource_arn: str) -> bool:
    # Another resource type added to a stack's share by hand is not a card: no repair could name it
    # (the workflow takes model card ARNs only), and reporting it as a vanished card made every
    # reconciler run fail on it.
    return ":model-card/" in resource_arn


def current_associations(associations: Iterable[ResourceAssociation]) -> dict[str, dict[str, AssociationStatus]]:
    """Resource ARN → share ARN → its newest association status."""
    newest: dict[tuple[str, str], ResourceAssociation] = {}
    for row in associations:
        key = (row.resource_arn, row.share_arn)
        if key not in newest or row.updated >= newest[key].updated:
            newest[key] = row
    by_resource: dict[str, dict[str, AssociationStatus]] = {}
    for (resource, share), row in newest.items():
        by_resource.setdefault(resource, {})[share] = row.status
    return by_resource


def _drift(
    ladder: StageLadder,
    arn: str,
    status: CardStatus | None,
    earned: CardStatus | None,
    actual: Mapping[str, AssociationStatus],
) -> Drift | None:
    """Stages missing, unexpected, or held through another share than the card's own.

    A stage's access is the card's association with any of its shares; a desired stage is
    misplaced when the card is associated with one of its shares other than ``share_for``.
    """
    wanted = ladder.stages_for(earned)
    desired = {stage.name for stage in wanted}
    held = {share for share, state in actual.items() if state in PRESENT}
    present = {ladder.stage_for_share(share).name for share in held}
    missing = tuple(sorted(desired - present))
    extra = tuple(sorted(present - desired))
    misplaced = tuple(sorted(stage.name for stage in wanted if held & set(stage.share_arns) - {stage.share_for(arn)}))
    if not missing and not extra and not misplaced:
        return None
    return Drift(arn, status, missing, extra, misplaced=misplaced)


def _ours(ladder: StageLadder, associations: Iterable[ResourceAssociation]) -> dict[str, dict[str, AssociationStatus]]:
    shares = set(ladder.share_arns)  # every share of every stage; looked up once per association row
    return current_associations(a for a in associations if a.share_arn in shares and _is_model_card(a.resource_arn))


def needs_record(
    ladder: StageLadder, cards: Iterable[CardSummary], associations: Iterable[ResourceAssociation]
) -> list[str]:
    """The cards (in listing order) whose verdict the ledger can change: the ones to read it for.

    A gated card (:data:`cardshare.gates.GATED_STATUSES`) always: governance may have held it back
    (a blocked approval keeps prod unshared, so matching its plain status can itself be drift), and
    a change after its last decision is drift however it is shared. Any other card only when its
    associations differ from its plain status; otherwise neither the ledger nor anything else can
    make it drift.
    """
    actual = _ours(ladder, associations)
    return [
        card.arn
        for card in cards
        if card.status in GATED_STATUSES
        or _drift(ladder, card.arn, card.status, card.status, actual.get(card.arn, {})) is not None
    ]


def find_drift(
    ladder: StageLadder,
    cards: Iterable[CardSummary],
    associations: Iterable[ResourceAssociation],
    earned: Callable[[CardSummary], CardStatus | None],
) -> list[Drift]:
    """Every card (and vanished card) whose associations differ from what ``earned`` says it deserves.

    Associations with shares outside the ladder, and of resources that are not model cards, are
    not cardshare's to manage and are ignored.

    ``earned`` (what the ledger says) is consulted only where a gate can matter: the cards
    :func:`needs_record` names. A gated card shared as its plain status may still be drift (a
    blocked approval shared with prod by hand), so it cannot be skipped.
    """
    actual = _ours(ladder, associations)
    drifts: list[Drift] = []
    listed: set[str] = set()
    for card in cards:
        listed.add(card.arn)
        current = actual.get(card.arn, {})
        suspect = _drift(ladder, card.arn, card.status, card.status, current)
        if suspect is None and card.status not in GATED_STATUSES:
            continue
        confirmed = _drift(ladder, card.arn, card.status, earned(card), current)
        if confirmed is not None:
            drifts.append(confirmed)
    for arn in sorted(set(actual) - listed):
        gone = _drift(ladder, arn, None, None, actual[arn])
        if gone is not None:
            drifts.append(gone)
    return drifts


def changed_since_decided(card: CardSummary, record: Mapping[str, Any] | None) -> bool:
    """Whether the card was modified after the change its latest decision judged.

    A content edit SageMaker sent no event for, or a lost event, leaves the card ahead of its
    ledger even when its shares still match its status.
    """
    if not record or card.modified_at is None or record.get("modifiedAt") is None:
        return False
    return card.modified_at - float(record["modifiedAt"]) > _SAME_CHANGE_SECONDS


def earned_from_record(card: CardSummary, record: Mapping[str, Any] | None) -> CardStatus | None:
    """The status a card has earned per its latest ledger record, if that record is about its status.

    A record of the card's status without an effective status says the card earned no sharing at
    all (an archived card that was never approved).
    """
    if record and record.get("status") == card.status.value and record.get("outcome") != "failed":
        effective = record.get("effectiveStatus")
        return CardStatus.parse(effective, "effectiveStatus") if effective else None
    return card.status
