"""Audit and repair through the workflow: the reconciler's own code, run with the operator's credentials."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cardshare.events import parse_card_arn, reconciler_event
from cardshare.ledger import DecisionLedger
from cardshare.ram import ResourceShares
from cardshare.reconciler import Fleet, LedgerUnavailableError, Report, reconcile
from cardshare.reconciliation import CardSummary, ResourceAssociation
from cardshare.sagemaker import ModelCards
from cardshare.stepfunctions import Workflow
from cardshare_cli.errors import OperatorError
from cardshare_cli.stack import Stack, resolve_card, unknown_card


class _StrictLedger:
    """The ledger, strict, reporting the cards it was read for to a progress bar."""

    def __init__(self, ledger: DecisionLedger, tick: Callable[[int], None]) -> None:
        self._ledger = ledger
        self._tick = tick

    def latest_of(self, card_arns: Sequence[str]) -> Mapping[str, Mapping[str, Any] | None]:
        try:
            records = self._ledger.latest_of(card_arns)
        except LedgerUnavailableError as error:
            # The scheduled reconciler falls back to the card's plain status and lets the workflow
            # judge; an operator asking for a report must hear that the ledger is unreadable instead.
            raise OperatorError(f"cannot audit without the decision ledger: {error}") from None
        self._tick(len(records))
        return records


class _OneCard:
    """The reconciler's listings narrowed to one card (two reads instead of the whole fleet)."""

    def __init__(self, summary: CardSummary | None, rows: Sequence[ResourceAssociation]) -> None:
        self._summary = summary
        self._rows = list(rows)

    def list_cards(self) -> list[CardSummary]:
        return [self._summary] if self._summary else []

    def all_associations(self, share_arns: Sequence[str]) -> list[ResourceAssociation]:
        return [row for row in self._rows if row.share_arn in share_arns]


class Repairs:
    """Runs the reconciler for a stack, as a dry run (audit) or starting promote-card executions."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._cards = ModelCards(stack.client("sagemaker"))
        self._shares = ResourceShares(stack.client("ram"))
        self._ledger = DecisionLedger(stack.client("dynamodb"), stack.outputs["DecisionLedgerTableName"])
        self._workflow = Workflow(stack.client("stepfunctions"), stack.outputs["PromoteCardStateMachineArn"])

    def fleet(self, *, dry_run: bool, tick: Callable[[int], None] = lambda _: None) -> Report:
        """Every card, as the scheduled reconciler sees it (cards still in flight are left alone)."""
        settings = self._stack.settings
        return reconcile(
            settings.ladder,
            Fleet(self._cards, self._shares, _StrictLedger(self._ledger, tick), self._workflow),
            dry_run=dry_run,
            now=datetime.now(UTC),
            in_flight_seconds=settings.in_flight_seconds,
        )

    def card(self, card: str, *, dry_run: bool) -> Report:
        """One card: its drift (dry run), or a promote-card execution started for it whatever its drift."""
        arn, described = resolve_card(self._stack, self._cards, card)
        ladder = self._stack.settings.ladder
        rows = [
            ResourceAssociation(arn, row.share_arn, row.status)
            for row in self._shares.associations(arn, ladder.share_arns)
        ]
        if described is None and not rows:
            raise unknown_card(self._stack, arn)
        summary = CardSummary(arn, described.name, described.status, described.modified_at) if described else None
        listing = _OneCard(summary, rows)
        # The operator asks about this card now: nothing is left to an execution in flight.
        now = datetime.now(UTC)
        strict = _StrictLedger(self._ledger, lambda _: None)
        report = reconcile(ladder, Fleet(listing, listing, strict, self._workflow), dry_run=True, now=now)
        if dry_run:
            return report
        run = f"operator-{uuid.uuid4().hex[:12]}"
        status = described.status if described else None
        event = reconciler_event(
            parse_card_arn(arn), status, run, now.isoformat(), "operator: cardshare reconcile --card"
        )
        execution = self._workflow.start(run, event)
        return Report(report.cards, report.drift, False, [execution], [], {arn: execution})
