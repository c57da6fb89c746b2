"""One reconciler run: list cards and associations once, find drift, start a repair per drifted card."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cardshare.events import parse_card_arn, reconciler_event
from cardshare.policy import StageLadder
from cardshare.reconciliation import (
    CardSummary,
    Drift,
    ResourceAssociation,
    changed_since_decided,
    earned_from_record,
    find_drift,
    needs_record,
)


class CardLister(Protocol):
    """Lists every model card of the account."""

    def list_cards(self) -> list[CardSummary]:
        """All cards, every page."""
        ...


class AssociationLister(Protocol):
    """Lists every resource association of a set of shares."""

    def all_associations(self, share_arns: Sequence[str]) -> list[ResourceAssociation]:
        """Every association of the shares, every page."""
        ...


class LedgerUnavailableError(RuntimeError):
    """The decision ledger could not be read."""


class LedgerReader(Protocol):
    """Reads cards' latest decisions."""

    def latest_of(self, card_arns: Sequence[str]) -> Mapping[str, Mapping[str, Any] | None]:
        """Each card's newest decision that reached a verdict (None: no such decision), in bulk.

        Raises :class:`LedgerUnavailableError` when the ledger cannot be read.
        """
        ...


class RepairStarter(Protocol):
    """Starts the promote-card workflow."""

    def start(self, name: str, event: Mapping[str, Any]) -> str:
        """Start an execution; return its ARN."""
        ...


@dataclass
class Report:
    """What a run found and did."""

    cards: int
    drift: list[Drift]
    dry_run: bool
    repairs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    started: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The function's result."""
        return {
            "cards": self.cards,
            "drifted": len(self.drift),
            "dryRun": self.dry_run,
            "drift": [d.to_dict() for d in self.drift],
            "repairs": self.repairs,
            "repairFailures": self.failures,
        }


@dataclass(frozen=True)
class Fleet:
    """What a run reads and starts: the cards, their associations, the ledger, the workflow."""

    cards: CardLister
    shares: AssociationLister
    ledger: LedgerReader
    starter: RepairStarter


def reconcile(
    ladder: StageLadder,
    fleet: Fleet,
    *,
    dry_run: bool,
    now: datetime,
    in_flight_seconds: float = 0.0,
) -> Report:
    """Compare every card with its associations; unless ``dry_run``, start a repair for each drift.

    A card modified less than ``in_flight_seconds`` ago is left to the executions its change
    started (an approval waits for its evidence to settle). A gated card modified after the change
    its latest decision judged is drift too, even when its shares match.

    The ledger is read once per run, in bulk, for the cards it can change the verdict of: gated
    cards (governance may have held them back, and only the ledger says what they earned and which
    change it judged) and cards whose associations differ from their plain status. A plain-status
    card whose shares match, and a card still in flight, cost no ledger read.

    AWS calls grow with pages of cards and of associations, plus the ledger's bulk read (one Query
    per card asked about, or the pages of one Scan, whichever the ledger expects to be fewer), and
    one start per repair.
    """
    listed = fleet.cards.list_cards()
    associations = fleet.shares.all_associations(ladder.share_arns)
    cutoff = now.timestamp() - in_flight_seconds
    moving = {card.arn for card in listed if card.modified_at is not None and card.modified_at > cutoff}
    settled = [card for card in listed if card.arn not in moving]
    wanted = needs_record(ladder, settled, associations)
    try:
        records: Mapping[str, Mapping[str, Any] | None] = fleet.ledger.latest_of(wanted) if wanted else {}
    except LedgerUnavailableError:
        # Without the ledger, let the workflow judge the cards again (it fails closed on approvals).
        records = {}

    def earned(card: CardSummary) -> Any:
        return earned_from_record(card, records[card.arn]) if card.arn in records else card.status

    drift = find_drift(ladder, settled, associations, earned)
    drifted = {item.card_arn for item in drift}
    drift += [
        Drift(card.arn, card.status, (), (), note="changed since its last decision")
        for card in settled
        if card.arn in records and card.arn not in drifted and changed_since_decided(card, records[card.arn])
    ]
    # A vanished card has no modification time: its drift is never in flight.
    drift = [item for item in drift if item.card_arn not in moving]
    report = Report(len(listed), drift, dry_run)
    if dry_run:
        return report
    run = uuid.uuid4().hex[:12]
    for index, item in enumerate(drift):
        event = reconciler_event(
            parse_card_arn(item.card_arn), item.status, f"{run}-{index}", now.isoformat(), item.reason
        )
        try:
            execution = fleet.starter.start(f"reconcile-{run}-{index}", event)
            report.repairs.append(execution)
            report.started[item.card_arn] = execution
        except Exception as error:
            report.failures.append(f"{item.card_arn}: {error}")
    return report
