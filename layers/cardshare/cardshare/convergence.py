"""One round of converging a card: read it, read its associations, decide what comes next.

The workflow calls this round after round: apply the actions it returns, wait, call again. Each
round re-reads the card, so a status change between read and apply is caught by the next round
and converged on (bounded by ``max_rounds``). Duplicate and out-of-order events are harmless for
the same reason: every round starts from the card as it is now.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cardshare.cards import AssociationReader, Card, CardReader
from cardshare.gates import APPROVAL_STATUSES, Verdict
from cardshare.planner import Action, Association, AssociationStatus, Op, hold_shares, plan
from cardshare.policy import StageLadder

Judge = Callable[[Card | None], Verdict]
"""Decides which status a card has earned for sharing (the governance gates)."""


def ungated(card: Card | None) -> Verdict:
    """A judge without gates: a card is shared as its status says."""
    return Verdict(card.status if card else None, card.status if card else None)


_TOKEN_NAMESPACE = uuid.UUID("6f1c1a52-7d0e-4d1c-9a39-8c5b0f0c2a11")

MOVING = frozenset({AssociationStatus.ASSOCIATING, AssociationStatus.DISASSOCIATING})


class AssociationFailedError(RuntimeError):
    """RAM reports FAILED for an association this execution asked for."""


class ConvergenceTimeoutError(RuntimeError):
    """RAM did not settle, or the card kept changing, within the configured bounds."""


@dataclass(frozen=True)
class Limits:
    """Bounds of one execution.

    Seconds between polls, polls in all, apply rounds in all; how long a card must stand still
    before it is acted on; and how many times one execution may wait for a card to settle.
    """

    poll_seconds: int = 5
    max_polls: int = 24
    max_rounds: int = 3
    quiet_seconds: int = 2
    max_defers: int = 10


@dataclass(frozen=True)
class Progress:
    """What this execution has done so far; carried between rounds by the workflow."""

    rounds: int = 0
    polls: int = 0
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    defers: int = 0
    moved: tuple[str, ...] = ()
    """Stages whose card this execution moved from one of their shares to another (no access change)."""
    settling: bool = False
    """The last round changed associations or found them moving: the next one reads RAM first."""
    merged: str = ""
    """Digest of the facts this execution last wrote into the card's evidence ("" before any)."""
    claimed: str = ""
    """The change (fingerprint) this execution claimed to report, once it planned it ("" before)."""
    first: bool = False
    """Whether that claim was the first for the card: whether the change is this execution's to report."""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> Progress:
        """Rebuild progress from the workflow state (None on the first round)."""
        if not raw:
            return cls()
        return cls(
            rounds=int(raw.get("rounds", 0)),
            polls=int(raw.get("polls", 0)),
            added=tuple(raw.get("added", ())),
            removed=tuple(raw.get("removed", ())),
            defers=int(raw.get("defers", 0)),
            moved=tuple(raw.get("moved", ())),
            settling=bool(raw.get("settling", False)),
            merged=str(raw.get("merged") or ""),
            claimed=str(raw.get("claimed") or ""),
            first=bool(raw.get("first", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form the workflow carries (``moved`` only once a stage was moved between its shares)."""
        carried: dict[str, Any] = {
            "rounds": self.rounds,
            "polls": self.polls,
            "added": list(self.added),
            "removed": list(self.removed),
            "defers": self.defers,
            "settling": self.settling,
            "merged": self.merged,
            "claimed": self.claimed,
            "first": self.first,
        }
        if self.moved:
            carried["moved"] = list(self.moved)
        return carried


@dataclass(frozen=True)
class Step:
    """The outcome of one round: ``next`` is apply, wait or done."""

    next: str
    card_arn: str
    card: Card | None
    progress: Progress
    verdict: Verdict
    actions: list[dict[str, str]] = field(default_factory=list)
    wait_seconds: int = 0
    polled: Mapping[str, Any] | None = None
    """For a round that read only RAM: the summary of the last round that read the card (``card`` is None)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form the workflow reads (keys match the ASL's paths)."""
        return {
            "next": self.next,
            "waitSeconds": self.wait_seconds,
            "actions": self.actions,
            "progress": self.progress.to_dict(),
            "summary": dict(self.polled) if self.polled is not None else self.summary(),
        }

    def summary(self) -> dict[str, Any]:
        """What the round found: the card, its status and verdict, and the shares changed so far."""
        return {
            "card": self.card_arn,
            "exists": self.card is not None,
            "status": self.card.status.value if self.card else None,
            "version": self.card.version if self.card else None,
            "effectiveStatus": self.verdict.effective.value if self.verdict.effective else None,
            "blocked": list(self.verdict.reasons),
            "pending": list(self.verdict.pending),
            "sharesAdded": sorted(set(self.progress.added)),
            "sharesRemoved": sorted(set(self.progress.removed)),
        }


def _held(ladder: StageLadder, verdict: Verdict) -> set[str]:
    """The shares a waiting card may keep (it is never given more while it waits)."""
    if not verdict.hold_all:
        return {share for stage in ladder.stages_for(verdict.hold) for share in stage.share_arns}
    if verdict.withhold_approval:
        # Stages only an approval grants go at once: the version they would show was never approved.
        return {share for stage in ladder.stages if stage.statuses - APPROVAL_STATUSES for share in stage.share_arns}
    return set(ladder.share_arns)


def _defer(card_arn: str, card: Card | None, progress: Progress, verdict: Verdict) -> Step:
    """Wait for what the verdict is pending on (Step Functions waits whole seconds, at least one)."""
    after = replace(progress, defers=progress.defers + 1, settling=False)
    return Step("wait", card_arn, card, after, verdict, [], max(1, verdict.wait_seconds))


def client_token(execution: str, rounds: int, share_arn: str, op: Op) -> str:
    """A RAM clientToken stable across retries of the same call in the same execution."""
    return str(uuid.uuid5(_TOKEN_NAMESPACE, f"{execution}|{rounds}|{share_arn}|{op.value}"))


def _applied(progress: Progress, actions: tuple[Action, ...]) -> Progress:
    """Progress after a round's actions: stages added, removed, or only moved between their shares."""
    added = tuple(a.stage.name for a in actions if a.op is Op.ASSOCIATE and not a.move)
    removed = tuple(a.stage.name for a in actions if a.op is Op.DISASSOCIATE and not a.move)
    moved = tuple(dict.fromkeys(a.stage.name for a in actions if a.move))
    return replace(
        progress,
        rounds=progress.rounds + 1,
        added=progress.added + added,
        removed=progress.removed + removed,
        moved=progress.moved + tuple(name for name in moved if name not in progress.moved),
    )


@dataclass(frozen=True)
class CardRound:
    """Which card a round is about, in which execution, and how far the execution has come."""

    card_arn: str
    execution: str
    progress: Progress
    summary: Mapping[str, Any] | None = None
    """The last round's summary (None on the first round): what a round that reads only RAM reports."""


def _poll(this: CardRound, ladder: StageLadder, shares: AssociationReader, limits: Limits) -> Step | list[Association]:
    """Read RAM alone while what the last round left moving still moves; the read, once it settled.

    Only RAM changes what an apply round left moving, so these rounds neither read the card nor
    judge it: the round after them does both, and plans on this read.
    """
    actual = shares.associations(this.card_arn, ladder.share_arns)
    moving = [a for a in actual if a.status in MOVING]
    if not moving:
        return actual
    progress = this.progress
    if progress.polls >= limits.max_polls:
        stages = ", ".join(ladder.stage_for_share(a.share_arn).name for a in moving)
        raise ConvergenceTimeoutError(
            f"RAM associations of {this.card_arn} with {stages} did not settle after {progress.polls} polls "
            f"of {limits.poll_seconds}s"
        )
    after = replace(progress, polls=progress.polls + 1)
    return Step("wait", this.card_arn, None, after, Verdict(None, None), [], limits.poll_seconds, this.summary)


def converge_round(
    this: CardRound,
    ladder: StageLadder,
    cards: CardReader,
    shares: AssociationReader,
    limits: Limits,
    judge: Judge = ungated,
) -> Step:
    """Plan the next move for the card; raise when RAM failed or the bounds ran out.

    The card is shared as the status ``judge`` says it has earned, which is its own status
    unless a governance gate refuses it.
    """
    polled: list[Association] | None = None
    if this.progress.settling and this.summary is not None:
        read = _poll(this, ladder, shares, limits)
        if isinstance(read, Step):
            return read
        polled = read
    card = cards.describe(this.card_arn)
    verdict = judge(card)
    # Associations (and every key) use the ARN SageMaker reports, not however the event spelled it.
    card_arn = card.arn if card else this.card_arn
    if verdict.pending and verdict.hold_all and not verdict.withhold_approval:
        # The card is still changing: touch nothing, so there is nothing to read in RAM either.
        return _defer(card_arn, card, this.progress, verdict)
    if polled is None or card_arn != this.card_arn:
        polled = shares.associations(card_arn, ladder.share_arns)
    return _next_move(this, _Read(card_arn, card, verdict, polled), ladder, limits)


@dataclass(frozen=True)
class _Read:
    """What a round read and judged: the card (by the ARN SageMaker reports), its verdict, its associations."""

    card_arn: str
    card: Card | None
    verdict: Verdict
    actual: list[Association]


def _next_move(this: CardRound, read: _Read, ladder: StageLadder, limits: Limits) -> Step:
    card_arn, card, verdict, actual = read.card_arn, read.card, read.verdict, read.actual
    execution, progress = this.execution, this.progress
    if verdict.pending:
        current = hold_shares(ladder, _held(ladder, verdict), actual)
    else:
        current = plan(ladder, card_arn, verdict.effective, actual)
    ours = set(progress.added) | set(progress.moved)
    ours_failed = [a for a in current.failed if ladder.stage_for_share(a.share_arn).name in ours]
    if ours_failed:
        details = "; ".join(
            f"{ladder.stage_for_share(a.share_arn).name}: {a.message or 'no status message'} (share {a.share_arn})"
            for a in ours_failed
        )
        raise AssociationFailedError(f"RAM reports FAILED associating {card_arn} ({details})")
    if current.actions:
        if progress.rounds >= limits.max_rounds:
            raise ConvergenceTimeoutError(
                f"{card_arn} still needs {len(current.actions)} change(s) after {progress.rounds} rounds; "
                "its status kept changing. The next event or the reconciler will converge it."
            )
        actions = [
            {
                "op": action.op.value,
                "stage": action.stage.name,
                "shareArn": action.share_arn,
                "resourceArn": card_arn,
                "clientToken": client_token(execution, progress.rounds, action.share_arn, action.op),
            }
            for action in current.actions
        ]
        after = replace(_applied(progress, current.actions), settling=True)
        return Step("apply", card_arn, card, after, verdict, actions, limits.poll_seconds)
    if current.pending:
        if progress.polls >= limits.max_polls:
            stages = ", ".join(stage.name for stage in current.pending)
            raise ConvergenceTimeoutError(
                f"RAM associations of {card_arn} with {stages} did not settle after {progress.polls} polls "
                f"of {limits.poll_seconds}s"
            )
        after = replace(progress, polls=progress.polls + 1, settling=True)
        return Step("wait", card_arn, card, after, verdict, [], limits.poll_seconds)
    if verdict.pending:
        # Converged on what the card may keep meanwhile; look at the evidence again later.
        return _defer(card_arn, card, progress, verdict)
    return Step("done", card_arn, card, progress, verdict)
