"""Governance gates: what a card must satisfy before its status may widen who sees it.

A gate never changes the card; it decides which status the card has *earned* for sharing. A card
that fails a gate is shared as the lower status says, and the decision is recorded as blocked.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from cardshare.cards import Card
from cardshare.policy import ConfigError
from cardshare.status import CardStatus

DEFAULT_REQUIRED_FIELDS = (
    "model_overview.model_owner",
    "model_overview.problem_type",
    "intended_uses.intended_uses",
)
# Status sightings kept per card: enough to order a burst of changes, small enough for every record.
TRAIL_LENGTH = 20
_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+$")


class LedgerUnavailableError(RuntimeError):
    """The decision ledger could not be read, so the card's history is unknown."""


class Enforcement(StrEnum):
    """What cardshare does about a blocked approval besides withholding prod."""

    ALERT = "alert"
    REVERT = "revert"


@dataclass(frozen=True)
class GateConfig:
    """Required content fields for review, the approver allow-list, and the enforcement mode."""

    required_fields: tuple[str, ...] = DEFAULT_REQUIRED_FIELDS
    approver_patterns: tuple[str, ...] = ()
    enforcement: Enforcement = Enforcement.ALERT


def _items(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def parse_gate_config(required_fields: str | None, approvers: str | None, enforcement: str | None) -> GateConfig:
    """Build the gate configuration from its comma-separated settings; ConfigError names the bad one."""
    fields = _items(required_fields) if required_fields is not None else DEFAULT_REQUIRED_FIELDS
    for path in fields:
        if not _FIELD_PATH.match(path):
            raise ConfigError(f"CARDSHARE_REQUIRED_FIELDS: {path!r} is not a dotted path into the card content")
    patterns = _items(approvers)
    for pattern in patterns:
        if not pattern.startswith("arn:"):
            raise ConfigError(f"CARDSHARE_APPROVERS: {pattern!r} is not an ARN pattern")
    mode = (enforcement or Enforcement.ALERT.value).strip()
    if mode not in {e.value for e in Enforcement}:
        raise ConfigError(f"CARDSHARE_ENFORCEMENT: {mode!r} is not one of alert, revert")
    return GateConfig(fields, patterns, Enforcement(mode))


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict with the reasons it failed (empty when it passed)."""

    gate: str
    passed: bool
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the ledger and notifications."""
        return {"gate": self.gate, "passed": self.passed, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class History:
    """What the ledger knew about a card before this decision."""

    previous_status: CardStatus | None = None
    version: int | None = None
    version_authors: frozenset[str] = frozenset()
    last_status: CardStatus | None = None
    last_outcome: str | None = None
    last_reasons: tuple[str, ...] = ()
    unavailable: bool = False
    trail: tuple[tuple[float, CardStatus], ...] = ()

    def observed(self, when: float | None, status: CardStatus | None) -> History:
        """A copy with one more status sighting (from an event or a card read), kept in time order."""
        if when is None or status is None or (when, status) in self.trail:
            return self
        return replace(self, trail=tuple(sorted((*self.trail, (when, status)), key=lambda e: e[0]))[-TRAIL_LENGTH:])

    def status_before(self, when: float | None, status: CardStatus) -> CardStatus | None:
        """The last status other than ``status`` seen before ``when``, by event time.

        Events arrive late and out of order, and runs overlap; ordering sightings by when the
        change happened (not when cardshare processed it) makes the answer independent of that.
        Falls back to the ledger's processing order when there is no usable sighting.
        """
        if when is not None:
            for seen_at, seen in reversed(self.trail):
                if seen_at < when and seen != status:
                    return seen
        return self.previous_for(status)

    def authors_of(self, card: Card) -> frozenset[str]:
        """Everyone cardshare saw shape the card's current version before this decision."""
        authors = set(self.version_authors) if self.version == card.version else set()
        if card.version == 1 and card.created_by and card.created_by.principal:
            authors.add(card.created_by.principal)
        return frozenset(authors)

    def previous_for(self, status: CardStatus) -> CardStatus | None:
        """The status the card had before ``status`` (the last recorded one that differs)."""
        if self.last_status is not None and self.last_status != status:
            return self.last_status
        return self.previous_status

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> History:
        """The history the card's latest ledger record leaves behind (empty when there is none)."""
        if not record:
            return cls()
        status = record.get("status")
        version = record.get("version")
        return cls(
            previous_status=CardStatus.parse(record["previousStatus"]) if record.get("previousStatus") else None,
            version=int(version) if version is not None else None,
            version_authors=frozenset(record.get("versionAuthors") or ()),
            last_status=CardStatus.parse(status) if status else None,
            last_outcome=record.get("outcome"),
            last_reasons=tuple(
                reason for gate in record.get("gates") or () for reason in gate.get("reasons", ()) if reason
            ),
            # Sorted on read as well: status_before relies on time order, whoever wrote the record.
            trail=tuple(
                sorted(
                    ((float(when), CardStatus.parse(seen, "trail")) for when, seen in record.get("trail") or ()),
                    key=lambda sighting: sighting[0],
                )
            ),
        )


@dataclass(frozen=True)
class Verdict:
    """The status a card has earned for sharing, and why."""

    status: CardStatus | None
    effective: CardStatus | None
    results: tuple[GateResult, ...] = field(default_factory=tuple)

    @property
    def blocked(self) -> bool:
        """True when a gate refused the card's status."""
        return any(not result.passed for result in self.results)

    @property
    def approval_blocked(self) -> bool:
        """True when the approval gate (not only the review gate) refused."""
        return any(r.gate == "approval" and not r.passed for r in self.results)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every failing gate's reasons."""
        return tuple(reason for result in self.results for reason in result.reasons)


def _value(content: Mapping[str, Any], path: str) -> Any:
    current: Any = content
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def review_gate(card: Card, config: GateConfig) -> GateResult:
    """A card entering review must fill every required content field."""
    missing = [path for path in config.required_fields if _value(card.content, path) in (None, "", [], {})]
    return GateResult("review", not missing, tuple(f"missing required field {path}" for path in missing))


def _role_arn(principal: str) -> str | None:
    match = _ASSUMED_ROLE.match(principal)
    if match is None:
        return None
    return f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}"


def _allowed(principal: str, patterns: Iterable[str]) -> bool:
    candidates = [principal] + [arn for arn in (_role_arn(principal),) if arn]
    return any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates for pattern in patterns)


def approval_gate(card: Card, history: History, config: GateConfig) -> GateResult:
    """An approval must follow review, come from someone who did not author it, and be allowed."""
    reasons: list[str] = []
    previous = history.status_before(card.modified_at, CardStatus.APPROVED)
    if history.unavailable:
        reasons.append("decision ledger unavailable: the approval's history cannot be checked (failing closed)")
    elif previous is not CardStatus.PENDING_REVIEW:
        came_from = previous.value if previous else "an unknown status"
        reasons.append(f"approved from {came_from}; approval must follow PendingReview")
    approver = card.last_modified_by.principal if card.last_modified_by else None
    if approver is None:
        reasons.append("approver unknown: LastModifiedBy has no UserProfileArn or IamIdentity.Arn (failing closed)")
    else:
        if approver in history.authors_of(card):
            reasons.append(f"separation of duties: approver {approver} also authored version {card.version}")
        if config.approver_patterns and not _allowed(approver, config.approver_patterns):
            reasons.append(f"approver {approver} is not on the approver allow-list")
    return GateResult("approval", not reasons, tuple(reasons))


def evaluate(card: Card | None, history: History, config: GateConfig) -> Verdict:
    """Run the gates the card's status calls for and return the status it has earned."""
    if card is None:
        return Verdict(None, None)
    if card.status is CardStatus.PENDING_REVIEW:
        review = review_gate(card, config)
        return Verdict(card.status, card.status if review.passed else CardStatus.DRAFT, (review,))
    if card.status is CardStatus.APPROVED:
        review = review_gate(card, config)
        approval = approval_gate(card, history, config)
        if not review.passed:
            effective = CardStatus.DRAFT
        elif not approval.passed:
            # Withhold prod; keep what the card had before (Draft or Archived), else review-level sharing.
            previous = history.status_before(card.modified_at, CardStatus.APPROVED)
            effective = previous if previous in (CardStatus.DRAFT, CardStatus.ARCHIVED) else CardStatus.PENDING_REVIEW
        else:
            effective = CardStatus.APPROVED
        return Verdict(card.status, effective, (review, approval))
    return Verdict(card.status, card.status)
