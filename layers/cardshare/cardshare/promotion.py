"""The plan step of the promote-card workflow: one round of gather → judge → plan.

Each round reads the card now, merges what the event and the read prove into the card's evidence
(one write that returns the union), judges the gates on that evidence, and plans the RAM changes.
Executions of one card run side by side without a lock: the evidence merges, and every round
re-reads the card and RAM.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cardshare.cards import AssociationReader, Card, CardReader
from cardshare.convergence import CardRound, Progress, Step, converge_round
from cardshare.decisions import Converged, Decision, alert_fingerprint, change_fingerprint, decide
from cardshare.events import RECONCILER_SOURCE, SOURCE, CardEvent, InvalidEventError, parse_event
from cardshare.evidence import Evidence, Observation, facts
from cardshare.evidence_store import EvidenceUnavailableError
from cardshare.gates import Verdict, evaluate, withholding
from cardshare.planner import Op
from cardshare.policy import Access, StageLadder
from cardshare.settings import Settings


class PermissionMismatchError(RuntimeError):
    """A read-only stage's share carries a permission that allows updating cards."""


class EvidenceKeeper(Protocol):
    """Merges facts into a card's evidence and remembers which refusals were already alerted."""

    def merge(self, card_arn: str, facts: Evidence) -> Evidence:
        """Add facts; return the card's whole evidence. EvidenceUnavailableError if unwritable."""
        ...

    def claim_alert(self, card_arn: str, fingerprint: str) -> bool:
        """True the first time this refusal is claimed for the card."""
        ...


class SharePermissions(Protocol):
    """What a share's RAM permissions allow."""

    def grants_update(self, share_arn: str) -> bool:
        """Whether the share lets principals update the card."""
        ...


@dataclass(frozen=True)
class Ports:
    """The AWS the round talks to, behind small interfaces."""

    cards: CardReader
    shares: AssociationReader
    evidence: EvidenceKeeper
    permissions: SharePermissions


@dataclass(frozen=True)
class RoundResult:
    """What one round produced: the parsed event, the step, and the decision once converged."""

    event: CardEvent
    step: Step
    decision: Decision | None


@dataclass(frozen=True)
class _Request:
    event: CardEvent
    execution: str
    progress: Progress


def _request(payload: object, settings: Settings) -> _Request:
    if not isinstance(payload, Mapping):
        raise InvalidEventError(f"payload: expected an object, got {type(payload).__name__}")
    event = parse_event(payload.get("event"), settings.account, settings.region)
    execution = payload.get("execution")
    if not isinstance(execution, str) or not execution:
        raise InvalidEventError("execution: missing (the workflow passes $$.Execution.Id)")
    progress = payload.get("progress")
    if progress is not None and not isinstance(progress, Mapping):
        raise InvalidEventError("progress: expected an object or null")
    return _Request(event, execution, Progress.from_dict(progress))


def _reported(event: CardEvent) -> Evidence:
    """What a SageMaker event proves (the reconciler's own events prove nothing about the card)."""
    if event.source != SOURCE:
        return Evidence()
    return facts(
        Observation(
            event.version, event.status, event.modified_at, event.modified_by, event.created_at, event.created_by
        )
    )


def _observed(card: Card) -> Evidence:
    return facts(
        Observation(
            card.version, card.status, card.modified_at, card.last_modified_by, card.created_at, card.created_by
        )
    )


@dataclass
class _Judge:
    """Judges the card a round reads, after merging the round's facts into its evidence."""

    settings: Settings
    ports: Ports
    reported: Evidence
    defers: int
    now: datetime

    @property
    def final(self) -> bool:
        """Whether this execution has waited as often as it may (a card that never stands still)."""
        return self.defers >= self.settings.limits.max_defers

    def quiet(self, card: Card, evidence: Evidence | None) -> Verdict | None:
        """A verdict that changes nothing while the card is still changing, else None.

        Acting on a status someone is about to change again would grant or take away access for
        a moment (PendingReview -> Draft -> Approved in quick succession must not remove test).
        The one exception: stages only an approval grants go at once when the current version has
        no valid approval (a content edit, a card created again under the same name).
        """
        quiet = self.settings.limits.quiet_seconds
        if card.modified_at is None or self.final:
            return None
        left = quiet - (self.now.timestamp() - card.modified_at)
        if left <= 0:
            return None
        reason = f"the card changed {quiet - left:.1f}s ago; waiting {quiet}s for it to stand still"
        withhold = withholding(card, evidence, self.settings.gates, self.now.timestamp())
        return Verdict(
            card.status,
            card.status,
            pending=(reason,),
            hold_all=True,
            withhold_approval=withhold,
            wait_seconds=math.ceil(left),
        )

    def __call__(self, card: Card | None) -> Verdict:
        if card is None:
            return Verdict(None, None)
        try:
            # Keyed by the ARN SageMaker returns, however the event spelled it.
            evidence: Evidence | None = self.ports.evidence.merge(card.arn, self.reported.merged(_observed(card)))
        except EvidenceUnavailableError:
            evidence = None
        waiting = self.quiet(card, evidence)
        if waiting is not None:
            return waiting
        return evaluate(card, evidence, self.settings.gates, now=self.now.timestamp(), final=self.final)


def _guard_read_only(ladder: StageLadder, step: Step, permissions: SharePermissions) -> None:
    """Refuse to associate a card with a read-only stage's share that would let it be updated.

    The share checked is the one the action names: a read-only stage spanning several shares has
    each of them checked before the first card lands in it.
    """
    for action in step.actions:
        if action["op"] != Op.ASSOCIATE.value:
            continue
        share_arn = action["shareArn"]
        stage = ladder.stage_for_share(share_arn)
        if stage.access is Access.READ_ONLY and permissions.grants_update(share_arn):
            raise PermissionMismatchError(
                f"stage {stage.name} is read-only but its share {share_arn} has a permission that allows "
                "sagemaker:UpdateModelCard; not sharing (check ProdPermissionArn)"
            )


def _net_change(ladder: StageLadder, step: Step) -> tuple[list[str], list[str]]:
    """Stages added and removed by the whole execution, net.

    A stage both associated and disassociated (the card changed mid-run) counts as what it ended as.
    """
    added, removed = set(step.progress.added), set(step.progress.removed)
    final = {stage.name for stage in ladder.stages_for(step.verdict.effective)}
    both = added & removed
    return sorted((added - removed) | (both & final)), sorted((removed - added) | (both - final))


def _decision(request: _Request, step: Step, settings: Settings, ports: Ports, now: datetime) -> Decision:
    added, removed = _net_change(settings.ladder, step)
    first_alert = first_change = True
    card = step.card
    if card is not None and step.verdict.blocked:
        first_alert = ports.evidence.claim_alert(card.arn, alert_fingerprint(card, step.verdict))
    if card is not None and (added or removed) and not (step.verdict.blocked and first_alert):
        repair = request.event.event_id if request.event.source == RECONCILER_SOURCE else None
        first_change = ports.evidence.claim_alert(card.arn, change_fingerprint(card, added, removed, repair))
    return decide(
        Converged(
            card_arn=step.card_arn,
            card=step.card,
            verdict=step.verdict,
            added=added,
            removed=removed,
            event_id=request.event.event_id,
            execution=request.execution,
            now=now,
            config=settings.gates,
            defers=step.progress.defers,
            first_alert=first_alert,
            first_change=first_change,
        )
    )


def promote_round(payload: Mapping[str, Any], settings: Settings, ports: Ports, now: datetime) -> RoundResult:
    """Handle one workflow round.

    ``payload`` is ``{"event": <EventBridge event>, "progress": <previous round or null>,
    "execution": <execution ARN>}``. Raises :class:`InvalidEventError` for a malformed payload and
    :class:`PermissionMismatchError` when a read-only stage's share would allow updates.
    """
    request = _request(payload, settings)
    limits = settings.limits
    judge = _Judge(settings, ports, _reported(request.event), request.progress.defers, now)
    this = CardRound(request.event.card.arn, request.execution, request.progress)
    step = converge_round(this, settings.ladder, ports.cards, ports.shares, limits, judge)
    _guard_read_only(settings.ladder, step, ports.permissions)
    decision = _decision(request, step, settings, ports, now) if step.next == "done" else None
    return RoundResult(request.event, step, decision)
