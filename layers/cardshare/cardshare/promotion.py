"""The plan step of the promote-card workflow: one round of gather → judge → plan.

Each round reads the card now, merges what the event and the read prove into the card's evidence
(one write that returns the union), judges the gates on that evidence, and plans the RAM changes.
Executions of one card run side by side without a lock: the evidence merges, and every round that
decides re-reads the card and RAM.

A status whose gates read no evidence (Draft, PendingReview), once the card stands still, is judged
without it: its facts are then written after the plan, together with the claim on the change the
round plans to report (one write for both), and not again while the card reads the same.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from cardshare.cards import AssociationReader, Card, CardReader
from cardshare.convergence import CardRound, Progress, Step, converge_round
from cardshare.decisions import Converged, Decision, alert_fingerprint, change_fingerprint, decide
from cardshare.events import RECONCILER_SOURCE, SOURCE, CardEvent, InvalidEventError, parse_event
from cardshare.evidence import Evidence, Observation, facts
from cardshare.evidence_store import EvidenceUnavailableError
from cardshare.gates import EVIDENCE_STATUSES, Verdict, evaluate, withholding
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

    def record(self, card_arn: str, facts: Evidence, claim: str | None) -> bool:
        """Add facts and claim ``claim`` in one write; True when the claim is the first. EvidenceUnavailableError."""
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
    summary: Mapping[str, Any] | None


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
    summary = payload.get("summary")
    return _Request(event, execution, Progress.from_dict(progress), summary if isinstance(summary, Mapping) else None)


def _reported(event: CardEvent) -> Evidence:
    """What a SageMaker event proves (the reconciler's own events prove nothing about the card)."""
    if event.source != SOURCE:
        return Evidence()
    return facts(
        Observation(
            event.version, event.status, event.modified_at, event.modified_by, event.created_at, event.created_by
        )
    )


def digest(facts: Evidence) -> str:
    """Identifies a set of facts: a round whose facts this execution already wrote need not write them."""
    return hashlib.sha256("\n".join(sorted(facts.encode())).encode()).hexdigest()[:24]


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
    progress: Progress
    now: datetime
    unwritten: Evidence | None = None
    """The facts of a round judged without evidence: written after the plan (see _write_round)."""
    merged: str = ""
    """Digest of the facts this round merged before judging ("" when it merged none)."""

    @property
    def final(self) -> bool:
        """Whether this execution has waited as often as it may (a card that never stands still)."""
        return self.progress.defers >= self.settings.limits.max_defers

    def _quiet_left(self, card: Card) -> float:
        """Seconds the card must still stand still before it is acted on (<= 0: it has)."""
        if card.modified_at is None or self.final:
            return 0.0
        return self.settings.limits.quiet_seconds - (self.now.timestamp() - card.modified_at)

    def quiet(self, card: Card, evidence: Evidence | None) -> Verdict | None:
        """A verdict that changes nothing while the card is still changing, else None.

        Acting on a status someone is about to change again would grant or take away access for
        a moment (PendingReview -> Draft -> Approved in quick succession must not remove test).
        The one exception: stages only an approval grants go at once when the current version has
        no valid approval (a content edit, a card created again under the same name).
        """
        quiet = self.settings.limits.quiet_seconds
        left = self._quiet_left(card)
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
        facts = self.reported.merged(_observed(card))
        if card.status not in EVIDENCE_STATUSES and self._quiet_left(card) <= 0:
            # Neither the gates of this status nor the quiet period read the evidence (None here
            # would fail closed if one did): the facts are written after the plan.
            self.unwritten = facts
            return evaluate(card, None, self.settings.gates, now=self.now.timestamp(), final=self.final)
        try:
            # Keyed by the ARN SageMaker returns, however the event spelled it.
            evidence: Evidence | None = self.ports.evidence.merge(card.arn, facts)
            self.merged = digest(facts)
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
                "sagemaker:UpdateModelCard; not sharing (check ReadOnlyPermissionArn)"
            )


def _net_change(ladder: StageLadder, step: Step) -> tuple[list[str], list[str]]:
    """Stages added and removed by the whole execution, net.

    A stage both associated and disassociated (the card changed mid-run) counts as what it ended as.
    """
    added, removed = set(step.progress.added), set(step.progress.removed)
    final = {stage.name for stage in ladder.stages_for(step.verdict.effective)}
    both = added & removed
    return sorted((added - removed) | (both & final)), sorted((removed - added) | (both - final))


def _repair(request: _Request) -> str | None:
    return request.event.event_id if request.event.source == RECONCILER_SOURCE else None


def _planned_change(request: _Request, ladder: StageLadder, step: Step) -> str | None:
    """The change (fingerprint) this execution reports if it ends as this round plans; None if none."""
    if step.card is None or step.verdict.blocked or step.next not in ("apply", "done"):
        return None
    added, removed = _net_change(ladder, step)
    if not (added or removed):
        return None
    return change_fingerprint(step.card, added, removed, _repair(request))


def _write_round(request: _Request, step: Step, judge: _Judge, ports: Ports) -> Step:
    """Write what a round judged without evidence deferred: its facts, and its claim on the change.

    One write for both, skipped when this execution already wrote the same facts and claimed the
    same change. Claiming when the change is planned (not once RAM confirmed it) is what lets the
    claim ride on the facts' write: two executions planning the same change still report it once.
    """
    facts, progress = judge.unwritten, step.progress
    if step.card is None or facts is None:
        return step if not judge.merged else replace(step, progress=replace(progress, merged=judge.merged))
    new = facts if digest(facts) != progress.merged else Evidence()
    claim = _planned_change(request, judge.settings.ladder, step)
    if claim == progress.claimed:
        claim = None
    if not new.encode() and claim is None:
        return step
    try:
        first = ports.evidence.record(step.card.arn, new, claim)
    except EvidenceUnavailableError:
        # As when a merge fails: the facts wait for a later round, the claim for the decision.
        return step
    after = replace(progress, merged=digest(facts))
    if claim is not None:
        after = replace(after, claimed=claim, first=first)
    return replace(step, progress=after)


def _decision(request: _Request, step: Step, settings: Settings, ports: Ports, now: datetime) -> Decision:
    added, removed = _net_change(settings.ladder, step)
    first_alert = first_change = True
    card = step.card
    if card is not None and step.verdict.blocked:
        first_alert = ports.evidence.claim_alert(card.arn, alert_fingerprint(card, step.verdict))
    if card is not None and (added or removed) and not (step.verdict.blocked and first_alert):
        change = change_fingerprint(card, added, removed, _repair(request))
        # Claimed when this execution planned it (same card state, same net change): not claimed again.
        claimed = change == step.progress.claimed
        first_change = step.progress.first if claimed else ports.evidence.claim_alert(card.arn, change)
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
    "summary": <previous round's summary or null>, "execution": <execution ARN>}``. Raises
    :class:`InvalidEventError` for a malformed payload and :class:`PermissionMismatchError` when a
    read-only stage's share would allow updates.
    """
    request = _request(payload, settings)
    limits = settings.limits
    judge = _Judge(settings, ports, _reported(request.event), request.progress, now)
    this = CardRound(request.event.card.arn, request.execution, request.progress, request.summary)
    step = converge_round(this, settings.ladder, ports.cards, ports.shares, limits, judge)
    _guard_read_only(settings.ladder, step, ports.permissions)
    step = _write_round(request, step, judge, ports)
    decision = _decision(request, step, settings, ports, now) if step.next == "done" else None
    return RoundResult(request.event, step, decision)
