"""Governance gates: what a card must satisfy before its status may widen who sees it.

A gate never changes the card; it decides which status the card has *earned* for sharing. The
registry (:data:`GATES`) says, for each gate, the statuses it applies to, what the card falls back
to when it fails, what it may keep while evidence is still missing, and whether a failure alerts.
Everything that needs to know which statuses are gated (the reconciler) derives it from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cardshare.approval import Check, Question, judge_approval
from cardshare.cards import Card
from cardshare.evidence import Evidence, Kind, changes, to_ms
from cardshare.gate_config import GateConfig
from cardshare.status import CardStatus


@dataclass(frozen=True)
class GateInput:
    """What a gate judges: the card as read now, the evidence (None: unreadable), the settings."""

    card: Card
    evidence: Evidence | None
    config: GateConfig
    now: float = 0.0
    """Seconds since the epoch, when the round judges."""
    final: bool = False
    """The execution has waited as long as it may: pending becomes failed."""

    def question(self, approved_at: int) -> Question:
        """The approval question for the card's version, approved (last seen so) at ``approved_at`` ms."""
        if self.evidence is None:
            raise ValueError("no evidence to judge an approval on (callers handle missing evidence first)")
        return Question(self.evidence, self.card.version, approved_at, to_ms(self.now), self.config)

    @property
    def settled(self) -> bool:
        """Whether the card has stood still for the whole evidence wait."""
        return self.remaining <= 0

    @property
    def remaining(self) -> int:
        """Whole seconds until the card has stood still for the evidence wait."""
        left = self.config.evidence_wait_seconds - (self.now - (self.card.modified_at or 0.0))
        return max(0, math.ceil(left))


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict: passed, failed (with reasons) or pending (evidence still missing)."""

    gate: str
    passed: bool
    reasons: tuple[str, ...] = ()
    pending: bool = False
    alerts: bool = True
    revertible: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)
    wait_seconds: int = 0
    """While pending: how long until the evidence can settle the question."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the ledger and notifications."""
        result: dict[str, Any] = {"gate": self.gate, "passed": self.passed, "reasons": list(self.reasons)}
        if self.pending:
            result["pending"] = True
        if self.details:
            result["details"] = dict(self.details)
        return result


@dataclass(frozen=True)
class Gate:
    """A registered gate: where it applies, how it checks, and what a card falls back to."""

    name: str
    statuses: frozenset[CardStatus]
    check: Callable[[GateInput], GateResult]
    fallback: Callable[[GateInput], CardStatus | None]
    hold: CardStatus | None
    """While evidence is missing, the card keeps only the shares it has that this status grants ..."""
    keep_if_approved: bool = False
    """... or all it has, when an earlier approval of the same version already passed the rule."""
    reads_evidence: bool = True
    """Whether ``check`` or ``fallback`` reads the card's evidence (else the card alone decides)."""


@dataclass(frozen=True)
class Verdict:
    """The status a card has earned for sharing, and why.

    ``pending`` lists evidence still missing: the run waits (keeping only the shares that ``hold``
    allows, adding none) and judges again, up to the evidence deadline.
    """

    status: CardStatus | None
    effective: CardStatus | None
    results: tuple[GateResult, ...] = ()
    pending: tuple[str, ...] = ()
    hold: CardStatus | None = None
    hold_all: bool = False
    """While pending, keep every share the card has (the card is still changing: touch nothing)."""
    wait_seconds: int = 0
    withhold_approval: bool = False
    """With ``hold_all``: except the stages only an approval grants, when the current version has none."""

    @property
    def blocked(self) -> bool:
        """True when a gate that alerts refused the card's status."""
        return any(not r.passed and not r.pending and r.alerts for r in self.results)

    @property
    def revert(self) -> bool:
        """True when a failure may set the card back to PendingReview (ApprovalEnforcement=revert)."""
        return any(not r.passed and not r.pending and r.revertible for r in self.results)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every failing or pending gate's reasons."""
        return tuple(reason for result in self.results if not result.passed for reason in result.reasons)


def _value(content: Mapping[str, Any], path: str) -> Any:
    current: Any = content
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def review_gate(given: GateInput) -> GateResult:
    """A card in review must fill every required content field."""
    missing = [p for p in given.config.required_fields if _value(given.card.content, p) in (None, "", [], {})]
    return GateResult("review", not missing, tuple(f"missing required field {path}" for path in missing))


def _modified_ms(card: Card) -> int:
    return to_ms(card.modified_at or 0.0)


def _unavailable(gate: str, given: GateInput, alerts: bool) -> GateResult:
    reason = "evidence store unavailable: the approval cannot be checked (withheld, not reverted)"
    result = GateResult(gate, False, (reason,), pending=True, alerts=alerts, wait_seconds=given.remaining)
    return replace(result, pending=False) if given.settled or given.final else result


def _settle(result: GateResult, given: GateInput) -> GateResult:
    """When the execution may wait no longer, a pending result becomes a failure saying so."""
    if not result.pending or not given.final:
        return result
    reasons = tuple(f"undecided after the longest wait: {r}" for r in result.reasons)
    return replace(result, pending=False, reasons=reasons)


def approval_gate(given: GateInput) -> GateResult:
    """Four eyes on the current version (see :mod:`cardshare.approval`)."""
    if given.evidence is None:
        return _unavailable("approval", given, alerts=True)
    finding = judge_approval(given.question(_modified_ms(given.card)))
    result = GateResult(
        "approval",
        finding.check is Check.PASS,
        finding.reasons,
        pending=finding.check is Check.PENDING,
        revertible=True,
        details=finding.to_dict(),
        wait_seconds=math.ceil(finding.wait_ms / 1000),
    )
    return _settle(result, given)


def version_approved(given: GateInput) -> bool:
    """Whether the card's current version has an approval that passes the four-eyes rule."""
    if given.evidence is None:
        return False
    return any(
        judge_approval(given.question(c.at)).check is Check.PASS
        for c in changes(given.evidence)
        if c.version == given.card.version and c.status is CardStatus.APPROVED and c.kind is Kind.STATUS
    )


def archive_gate(given: GateInput) -> GateResult:
    """An archived card stays with prod only if its version was approved under the four-eyes rule.

    A failure is not an alarm (archiving an abandoned draft is normal); it only shares the card
    with no one.
    """
    if given.evidence is None:
        return _unavailable("archive", given, alerts=False)
    version = given.card.version
    if version_approved(given):
        return GateResult("archive", True, details={"approvedVersion": version})
    approvals = [
        c
        for c in changes(given.evidence)
        if c.version == version and c.status is CardStatus.APPROVED and c.kind is Kind.STATUS
    ]
    findings = [judge_approval(given.question(c.at)) for c in approvals]
    reason = f"version {version} was not approved under the four-eyes rule before it was archived"
    waiting = any(f.check is Check.PENDING for f in findings) or not given.settled
    wait = max([math.ceil(f.wait_ms / 1000) for f in findings] + [given.remaining])
    result = GateResult("archive", False, (reason,), pending=waiting, alerts=False, wait_seconds=wait)
    return _settle(result, given)


def _approval_fallback(given: GateInput) -> CardStatus:
    """A refused approval keeps review-level sharing if the card was ever seen in review, else Draft.

    Without readable evidence the approval is only withheld: review-level sharing stays.
    """
    if given.evidence is None:
        return CardStatus.PENDING_REVIEW
    evidence = given.evidence
    reviewed = any(
        s.status is CardStatus.PENDING_REVIEW and s.version <= given.card.version for s in evidence.sightings
    )
    return CardStatus.PENDING_REVIEW if reviewed else CardStatus.DRAFT


GATES: tuple[Gate, ...] = (
    Gate(
        "review",
        frozenset({CardStatus.PENDING_REVIEW, CardStatus.APPROVED}),
        review_gate,
        lambda _: CardStatus.DRAFT,
        hold=None,
        reads_evidence=False,
    ),
    Gate(
        "approval",
        frozenset({CardStatus.APPROVED}),
        approval_gate,
        _approval_fallback,
        hold=CardStatus.PENDING_REVIEW,
        # Approved again (a second click, a second approver): prod keeps the version it already had.
        keep_if_approved=True,
    ),
    Gate("archive", frozenset({CardStatus.ARCHIVED}), archive_gate, lambda _: None, hold=CardStatus.ARCHIVED),
)

GATED_STATUSES: frozenset[CardStatus] = frozenset(s for gate in GATES for s in gate.statuses)
"""Statuses a gate can refuse: a card in one of them may be shared less than its status says."""

EVIDENCE_STATUSES: frozenset[CardStatus] = frozenset(s for gate in GATES if gate.reads_evidence for s in gate.statuses)
"""Statuses whose verdict depends on the card's evidence, not on the card alone."""

APPROVAL_STATUSES: frozenset[CardStatus] = frozenset(
    s for gate in GATES if gate.name in ("approval", "archive") for s in gate.statuses
)
"""Statuses that reach a stage only through a four-eyes approval of the card's version."""


def withholding(card: Card, evidence: Evidence | None, config: GateConfig, now: float) -> bool:
    """Whether stages only an approval grants must be withheld now.

    They must when the current version has no approval that passes the rule (an edit made a new
    version, or the card was created again under the same name).
    """
    if evidence is None:
        return True
    if not any(s.status in APPROVAL_STATUSES for s in evidence.sightings):
        # Never approved or archived under this ARN: no such stage was ever granted to it.
        return False
    return not version_approved(GateInput(card, of_this_card(card, evidence), config, now))


def of_this_card(card: Card, evidence: Evidence | None) -> Evidence | None:
    """Only the facts about this card, not an earlier one deleted under the same name (same ARN)."""
    if evidence is None or card.created_at is None:
        return evidence
    return evidence.since(to_ms(card.created_at))


def evaluate(
    card: Card | None, evidence: Evidence | None, config: GateConfig, *, now: float, final: bool = False
) -> Verdict:
    """Run the gates the card's status calls for, in registry order, and return what it has earned.

    The first gate that fails decides the fallback (later gates cannot widen it, so they are not
    run); the first gate still waiting for evidence makes the verdict pending.
    """
    if card is None:
        return Verdict(None, None)
    given = GateInput(card, of_this_card(card, evidence), config, now, final)
    results: list[GateResult] = []
    for gate in GATES:
        if card.status not in gate.statuses:
            continue
        result = gate.check(given)
        results.append(result)
        if result.pending:
            keep_all = gate.keep_if_approved and version_approved(given)
            return Verdict(
                card.status,
                card.status,
                tuple(results),
                result.reasons,
                gate.hold,
                hold_all=keep_all,
                wait_seconds=result.wait_seconds,
            )
        if not result.passed:
            return Verdict(card.status, gate.fallback(given), tuple(results))
    return Verdict(card.status, card.status, tuple(results))
