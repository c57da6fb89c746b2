"""The plan step of the promote-card workflow: validate its input, judge the card, converge a round."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from cardshare.cards import AssociationReader, Card, CardReader
from cardshare.convergence import ConvergenceTimeoutError, Progress, Step, converge_round
from cardshare.decisions import Decision, decide
from cardshare.events import CardEvent, InvalidEventError, parse_event
from cardshare.gates import GateConfig, History, LedgerUnavailableError, Verdict, evaluate
from cardshare.settings import Settings
from cardshare.status import CardStatus

_UNAVAILABLE = "ledgerUnavailable"


class LedgerReader(Protocol):
    """Reads a card's latest recorded decision."""

    def latest(self, card_arn: str) -> Mapping[str, Any] | None:
        """The newest decision that reached a verdict, or None; LedgerUnavailableError if unreadable."""
        ...

    def acquire(self, card_arn: str, owner: str, now: float, seconds: int) -> bool:
        """Take the card's lease; False while another execution holds it."""
        ...


class VersionHistory(Protocol):
    """Reads a card's earlier status from its version history."""

    def previous_status(self, card_arn: str, status: CardStatus) -> CardStatus | None:
        """The newest earlier version's status that differs from ``status``."""
        ...


@dataclass
class Governance:
    """The gates with what the ledger (or, failing that, version history) knows of the card."""

    config: GateConfig
    history: History
    versions: VersionHistory

    def judge(self, card: Card | None) -> Verdict:
        """Evaluate the gates; a card the ledger never saw approved falls back to version history."""
        if card is not None and card.status is CardStatus.APPROVED and self.history.last_status is None:
            self.history = replace(self.history, last_status=self.versions.previous_status(card.arn, card.status))
        return evaluate(card, self.history, self.config)


def _wait_for_lease(
    event: CardEvent, execution: str, ledger: LedgerReader, progress: Progress, settings: Settings, now: datetime
) -> RoundResult | None:
    """None once this execution holds the card's lease; else the round that waits for it."""
    try:
        if ledger.acquire(event.card.arn, execution, now.timestamp(), settings.limits.lease_seconds):
            return None
    except LedgerUnavailableError:
        # Sharing must not wait for the ledger; approvals fail closed when it cannot be read.
        return None
    if progress.lease_waits >= settings.limits.lease_waits:
        raise ConvergenceTimeoutError(
            f"another execution held the lease on {event.card.arn} for {progress.lease_waits} waits; "
            "the next event or the reconciler will converge the card"
        )
    waiting = replace(progress, lease_waits=progress.lease_waits + 1)
    step = Step("wait", event.card.arn, None, waiting, Verdict(None, None), [], max(1, settings.limits.poll_seconds))
    return RoundResult(event, step, None)


def _net_change(settings: Settings, step: Step) -> tuple[list[str], list[str]]:
    """Stages added and removed by the whole execution, net.

    A stage both associated and disassociated (the card changed mid-run) counts as what it ended as.
    """
    added, removed = set(step.progress.added), set(step.progress.removed)
    final = {stage.name for stage in settings.ladder.stages_for(step.verdict.effective)}
    both = added & removed
    return sorted((added - removed) | (both & final)), sorted((removed - added) | (both - final))


@dataclass(frozen=True)
class RoundResult:
    """What one round produced: the parsed event, the step, and the decision once converged."""

    event: CardEvent
    step: Step
    decision: Decision | None


def promote_round(
    payload: Mapping[str, Any],
    settings: Settings,
    cards: CardReader,
    shares: AssociationReader,
    ledger: LedgerReader,
    versions: VersionHistory,
    now: datetime,
) -> RoundResult:
    """Handle one workflow round.

    ``payload`` is ``{"event": <EventBridge event>, "progress": <previous round or null>,
    "execution": <execution ARN>}``. Raises :class:`InvalidEventError` for a malformed payload.
    The card's latest ledger record is read on the first round and carried in the progress.
    """
    if not isinstance(payload, Mapping):
        raise InvalidEventError(f"payload: expected an object, got {type(payload).__name__}")
    event = parse_event(payload.get("event"), settings.account, settings.region)
    execution = payload.get("execution")
    if not isinstance(execution, str) or not execution:
        raise InvalidEventError("execution: missing (the workflow passes $$.Execution.Id)")
    progress_raw = payload.get("progress")
    if progress_raw is not None and not isinstance(progress_raw, Mapping):
        raise InvalidEventError("progress: expected an object or null")
    progress = Progress.from_dict(progress_raw)
    if not progress.leased:
        waiting = _wait_for_lease(event, execution, ledger, progress, settings, now)
        if waiting is not None:
            return waiting
        progress = replace(progress, leased=True)
    if progress.history is None:
        try:
            record = dict(ledger.latest(event.card.arn) or {})
        except LedgerUnavailableError:
            # Sharing must not wait for the ledger; approvals fail closed (the gate says why).
            record = {_UNAVAILABLE: True}
        progress = replace(progress, history=record)
    carried = progress.history or {}
    history = History(unavailable=True) if carried.get(_UNAVAILABLE) else History.from_record(carried)
    # The triggering event is a sighting too: it says what status the card had, and when.
    history = history.observed(event.modified_at, event.status)
    governance = Governance(settings.gates, history, versions)
    step = converge_round(
        event.card.arn,
        settings.ladder,
        cards,
        shares,
        progress,
        settings.limits,
        execution,
        governance.judge,
    )
    decision = None
    if step.next == "done":
        decision = decide(
            event.card.arn,
            step.card,
            step.verdict,
            governance.history,
            *_net_change(settings, step),
            event_id=event.event_id,
            execution=execution,
            now=now,
            config=settings.gates,
        )
    return RoundResult(event, step, decision)
