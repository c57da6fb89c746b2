"""Four eyes on the version: whether an approval of version V may reach prod.

Version V of a card may be shared with prod only when
1. V was submitted for review: the card was seen in PendingReview at version V before the approval;
2. the person who set Approved at V is not an author of V (its creator for version 1, the editor
   whose content edit created V, whoever submitted V for review);
3. that person belongs to an approver account and matches the allow-list when one is set;
4. V is still the card's current version (checked by the caller: it judges the card as read now).

The answer is a function of the evidence alone. Missing evidence gives ``PENDING`` (wait and look
again), never a guess; a rule the evidence already breaks gives ``FAIL`` at once, because more
evidence can only add authors, never remove one.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from enum import StrEnum

from cardshare.evidence import Change, Evidence, Kind, changes
from cardshare.gate_config import GateConfig
from cardshare.identity import Actor, same_person
from cardshare.status import CardStatus


class Check(StrEnum):
    """A rule's answer on the evidence so far."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    PENDING = "pending"


@dataclass(frozen=True)
class ApprovalFinding:
    """The verdict on one approval, with what it rests on."""

    check: Check
    version: int
    reasons: tuple[str, ...] = ()
    approver: Actor | None = None
    authors: tuple[Actor, ...] = ()
    reviewed: bool = False
    stale: bool = False
    wait_ms: int = 0
    """While pending: how long until the question settles."""

    def to_dict(self) -> dict[str, object]:
        """JSON form for the decision record."""
        return {
            "version": self.version,
            "check": self.check.value,
            "approver": self.approver.label if self.approver else None,
            "authors": sorted({a.label for a in self.authors}),
            "reviewed": self.reviewed,
            "stale": self.stale,
        }


def approval_at(history: list[Change], version: int, before: int) -> Change | None:
    """The change that put the card into Approved at ``version`` most recently before ``before``."""
    current: Change | None = None
    for change in history:
        if change.at > before:
            break
        if change.version == version and change.status is CardStatus.APPROVED:
            current = change
        elif change.version == version or change.version > version:
            current = None
    return current


def _authors(history: list[Change], evidence: Evidence, version: int, before: int) -> tuple[list[Actor], bool]:
    """Authors of ``version`` seen before ``before``, and whether the change that made it was seen."""
    at_version = [c for c in history if c.version == version and c.at <= before]
    authors: list[Actor] = list(evidence.creators) if version == 1 else []
    first = at_version[0] if at_version else None
    complete = (version == 1 and bool(evidence.creators)) or (first is not None and first.kind is Kind.EDIT)
    for change in at_version:
        made_version = change.kind in (Kind.CREATE, Kind.EDIT)
        # Whoever was first seen at V in PendingReview either submitted V or edited it there: an author.
        submitted = change.status is CardStatus.PENDING_REVIEW
        if change.actor and (made_version or submitted):
            authors.append(change.actor)
    return authors, complete


def _reviewed(evidence: Evidence, version: int, before: int) -> bool:
    return any(
        s.version == version and s.status is CardStatus.PENDING_REVIEW and s.at < before for s in evidence.sightings
    )


def _allowed(approver: Actor, config: GateConfig) -> list[str]:
    """Reasons the approver may not approve at all (account, allow-list); empty when allowed."""
    reasons = []
    if approver.account not in config.approver_accounts:
        accounts = ", ".join(sorted(config.approver_accounts))
        reasons.append(f"approver {approver.label} is not in an approver account ({accounts})")
    candidates = [c for c in (approver.user_profile, approver.role, approver.principal) if c]
    if config.approver_patterns and not any(
        fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates for pattern in config.approver_patterns
    ):
        reasons.append(f"approver {approver.label} is not on the approver allow-list")
    return reasons


@dataclass(frozen=True)
class Question:
    """Which approval to judge, on what evidence, and when (times in epoch milliseconds)."""

    evidence: Evidence
    version: int
    approved_at: int
    """When the card was last seen Approved at ``version`` (its LastModifiedTime)."""
    now: int
    config: GateConfig

    @property
    def settled(self) -> bool:
        """Whether every event about changes up to the approval has had the evidence wait to arrive.

        Events come late and out of order, and a missing one can hide an author (an approver who
        also submitted). So a verdict that more evidence could overturn waits until then.
        """
        return self.wait_ms <= 0

    @property
    def wait_ms(self) -> int:
        """Milliseconds until the approval has settled (0 once it has)."""
        return max(0, self.config.evidence_wait_seconds * 1000 - (self.now - self.approved_at))


def _missing(question: Question, reasons: tuple[str, ...], found: ApprovalFinding) -> ApprovalFinding:
    """Pending while late events may still arrive; afterwards a failure that says evidence was missing."""
    if not question.settled:
        return replace(found, check=Check.PENDING, reasons=reasons, wait_ms=question.wait_ms)
    wait = question.config.evidence_wait_seconds
    settled = tuple(f"evidence missing after {wait}s: {reason}" for reason in reasons)
    return replace(found, check=Check.FAIL, reasons=settled)


def judge_approval(question: Question) -> ApprovalFinding:
    """Judge the approval that made the card Approved at ``question.version``."""
    q = question
    history = changes(q.evidence)
    change = approval_at(history, q.version, q.approved_at)
    reviewed = _reviewed(q.evidence, q.version, change.at if change else q.approved_at)
    if change is None or change.kind is Kind.GAP:
        unseen = (f"the change that approved version {q.version} has not been seen",)
        return _missing(q, unseen, ApprovalFinding(Check.PENDING, q.version, reviewed=reviewed))
    if change.kind is Kind.EDIT:
        reason = f"stale approval: version {q.version} was created by a content edit after approval and never reviewed"
        if q.settled:
            return ApprovalFinding(Check.FAIL, q.version, (reason,), stale=True)
        return ApprovalFinding(Check.PENDING, q.version, (reason,), stale=True, wait_ms=q.wait_ms)
    approver = change.actor
    if approver is None:
        reason = "approver unknown: LastModifiedBy names nobody (failing closed)"
        return ApprovalFinding(Check.FAIL, q.version, (reason,), reviewed=reviewed)
    authors, complete = _authors(history, q.evidence, q.version, change.at)
    known = ApprovalFinding(Check.PENDING, q.version, (), approver, tuple(_unique(authors)), reviewed)
    # More evidence can only add authors: a rule already broken stays broken, so fail at once.
    failures = _allowed(approver, q.config)
    failures += [
        f"separation of duties: approver {approver.label} is the same person as {author.label}, "
        f"an author of version {q.version}"
        for author in _unique(authors)
        if same_person(approver, author)
    ][:1]
    if failures:
        return replace(known, check=Check.FAIL, reasons=tuple(failures))
    missing = []
    if not reviewed:
        missing.append(f"version {q.version} was never seen in PendingReview before its approval")
    if not complete and q.config.edit_events:
        missing.append(f"who created version {q.version} has not been seen")
    if missing:
        return _missing(q, tuple(missing), known)
    if not q.settled:
        waiting = f"approval of version {q.version} verified so far; waiting for late events before sharing"
        return replace(known, reasons=(waiting,), wait_ms=q.wait_ms)
    return replace(known, check=Check.PASS)


def _unique(actors: list[Actor]) -> list[Actor]:
    return sorted(set(actors))
