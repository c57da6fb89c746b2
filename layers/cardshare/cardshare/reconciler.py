"""One reconciler run: list cards and associations once, find drift, start a repair per drifted card."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cardshare.events import parse_card_arn, reconciler_event
from cardshare.policy import StageLadder
from cardshare.reconciliation import CardSummary, Drift, ResourceAssociation, earned_from_record, find_drift


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
    """Reads a card's latest decision."""

    def latest(self, card_arn: str) -> Mapping[str, Any] | None:
        """The newest decision that reached a verdict, or None."""
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


def reconcile(
    ladder: StageLadder,
    cards: CardLister,
    shares: AssociationLister,
    ledger: LedgerReader,
    starter: RepairStarter,
    *,
    dry_run: bool,
    now: datetime,
) -> Report:
    """Compare every card with its associations; unless ``dry_run``, start a repair for each drift.

    AWS calls grow with pages of cards and of associations, plus one ledger read per card whose
    associations differ from its plain status (a gate may explain it) and one start per repair.
    """
    listed = cards.list_cards()
    associations = shares.all_associations(ladder.share_arns)

    def earned(card: CardSummary) -> Any:
        try:
            return earned_from_record(card, ledger.latest(card.arn))
        except LedgerUnavailableError:
            # Without the ledger, let the workflow judge the card again (it fails closed on approvals).
            return card.status

    drift = find_drift(ladder, listed, associations, earned)
    report = Report(len(listed), drift, dry_run)
    if dry_run:
        return report
    run = uuid.uuid4().hex[:12]
    for index, item in enumerate(drift):
        event = reconciler_event(
            parse_card_arn(item.card_arn), item.status, f"{run}-{index}", now.isoformat(), item.reason
        )
        try:
            execution = starter.start(f"reconcile-{run}-{index}", event)
            report.repairs.append(execution)
            report.started[item.card_arn] = execution
        except Exception as error:
            report.failures.append(f"{item.card_arn}: {error}")
    return report
