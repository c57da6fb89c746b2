"""Decisions: what cardshare did about a card and why, as one ledger record and one notification.

Every execution ends in exactly one decision, failures included, so an auditor can replay a
card's sharing history from the ledger alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cardshare.cards import Card
from cardshare.events import InvalidEventError, parse_card_arn
from cardshare.gate_config import Enforcement, GateConfig
from cardshare.gates import Verdict
from cardshare.status import CardStatus

_MAX_CAUSE = 4000
_MAX_EVENT_ID = 128
_SUBJECT_LIMIT = 100
# SNS subjects: printable ASCII, no line breaks.
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


class Outcome(StrEnum):
    """The kinds of decision the ledger records."""

    SHARED = "shared"
    REVOKED = "revoked"
    BLOCKED = "blocked"
    FAILED = "failed"
    NO_OP = "no-op"


# A decision that changes or refuses access is worth a message; a no-op is only recorded.
NOTIFY = frozenset({Outcome.SHARED, Outcome.REVOKED, Outcome.BLOCKED, Outcome.FAILED})


@dataclass(frozen=True)
class ConfirmedShares:
    """Stages a decision added and removed, once RAM reported the associations settled."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


# Outcomes whose stage lists are not changes this execution confirmed: a failure lists what it had
# asked RAM for, and a no-op lists a change another execution made and reported already.
_UNCONFIRMED = frozenset({Outcome.FAILED, Outcome.NO_OP})


@dataclass(frozen=True)
class Decision:
    """A ledger record (plain JSON values) and what to do with it."""

    record: dict[str, Any]
    revert: bool = False

    def confirmed_shares(self) -> ConfirmedShares:
        """The stages this decision reports as added and removed, counted once across executions.

        A converged execution decides only when RAM shows exactly the shares the card earned, so
        its net change is confirmed; the same change seen by a second execution side by side is a
        no-op and confirms nothing new.
        """
        if self.outcome in _UNCONFIRMED:
            return ConfirmedShares()
        return ConfirmedShares(tuple(self.record["sharesAdded"]), tuple(self.record["sharesRemoved"]))

    @property
    def outcome(self) -> Outcome:
        """The record's outcome."""
        return Outcome(self.record["outcome"])

    @property
    def notify(self) -> bool:
        """True when subscribers should hear about it."""
        return self.outcome in NOTIFY

    def attributes(self) -> dict[str, dict[str, str]]:
        """SNS message attributes, so subscribers can filter on card, status and outcome."""
        values = {
            "card": self.record["cardArn"],
            "status": self.record.get("status") or "Unknown",
            "outcome": self.record["outcome"],
        }
        return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}

    def subject(self) -> str:
        """A one-line e-mail subject: printable ASCII, at most the 100 characters SNS allows."""
        name = self.record.get("cardName") or self.record["cardArn"].rsplit("/", 1)[-1]
        return _UNPRINTABLE.sub("?", f"cardshare: {name} {self.record['outcome']}")[:_SUBJECT_LIMIT]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form the workflow uses to record, notify and (maybe) revert."""
        return {
            "record": self.record,
            "notify": self.notify,
            "revert": self.revert,
            "subject": self.subject(),
            "message": json.dumps(self.record, sort_keys=True),
            "attributes": self.attributes(),
        }


def _decided_at(now: datetime, execution: str) -> str:
    # Sort key: time first (the ledger reads in time order), the execution to keep keys unique.
    return f"{now.isoformat()}#{execution.rsplit(':', 1)[-1]}"


@dataclass(frozen=True)
class Converged:
    """Everything a converged execution decides on."""

    card_arn: str
    card: Card | None
    verdict: Verdict
    added: Sequence[str]
    removed: Sequence[str]
    event_id: str
    execution: str
    now: datetime
    config: GateConfig
    defers: int = 0
    first_alert: bool = True
    """False when this very refusal (same change of the card, same reasons) was already alerted."""
    first_change: bool = True
    """False when another execution already reported the same shares changed for the same card state."""


def alert_fingerprint(card: Card, verdict: Verdict) -> str:
    """Identifies one refusal: the same block seen again by another execution is not a new alert."""
    # The modification time tells a new attempt (alerted again) from the same one seen twice.
    text = json.dumps(
        [card.version, card.status.value, card.modified_at, _value(verdict.effective), list(verdict.reasons)]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def change_fingerprint(card: Card, added: Sequence[str], removed: Sequence[str], repair: str | None = None) -> str:
    """Identifies one change of shares for one card state (two executions side by side make it once).

    ``repair``: the reconciler run's event id when the change repairs drift. Putting back what was
    removed by hand is a new change of the same card state, reported on its own.
    """
    parts: list[object] = ["change", card.version, card.status.value, card.modified_at, sorted(added), sorted(removed)]
    if repair is not None:
        parts.append(repair)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _outcome(converged: Converged) -> Outcome:
    # What another execution already reported (the same refusal; the same change of the same card
    # state, made by two executions side by side) is recorded again but reported once.
    if converged.verdict.blocked and converged.first_alert:
        return Outcome.BLOCKED
    if not converged.first_change:
        return Outcome.NO_OP
    if converged.added:
        return Outcome.SHARED
    if converged.removed:
        return Outcome.REVOKED
    return Outcome.NO_OP


def decide(converged: Converged) -> Decision:
    """The decision for a converged execution: one ledger record, and whether to revert."""
    c = converged
    card, verdict = c.card, c.verdict
    outcome = _outcome(c)
    record: dict[str, Any] = {
        "cardArn": card.arn if card else c.card_arn,
        "decidedAt": _decided_at(c.now, c.execution),
        "time": c.now.isoformat(),
        "cardName": card.name if card else c.card_arn.rsplit("/", 1)[-1],
        "exists": card is not None,
        "version": card.version if card else None,
        "status": _value(card.status) if card else None,
        "modifiedAt": card.modified_at if card else None,
        "effectiveStatus": _value(verdict.effective),
        "actor": card.last_modified_by.label if card and card.last_modified_by else None,
        "gates": [result.to_dict() for result in verdict.results],
        "sharesAdded": sorted(set(c.added)),
        "sharesRemoved": sorted(set(c.removed)),
        "outcome": outcome.value,
        "eventId": c.event_id,
        "executionArn": c.execution,
        "evidenceWaits": c.defers,
        "kmsKeyId": card.kms_key_id if card else None,
    }
    revert = (
        verdict.blocked
        and verdict.revert
        and c.config.enforcement is Enforcement.REVERT
        and card is not None
        and card.status is CardStatus.APPROVED
    )
    if revert:
        record["enforcement"] = "reverted to PendingReview"
    return Decision(record, revert)


def _value(status: CardStatus | None) -> str | None:
    return status.value if status else None


def _mapping(container: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = container.get(key)
    return value if isinstance(value, Mapping) else {}


def failure_decision(state: Mapping[str, Any], execution: str, now: datetime) -> Decision:
    """The decision for an execution that failed, built from whatever state it reached.

    ``state`` is the workflow state at the failure: ``event`` (possibly malformed), ``failure``
    ({Error, Cause}) and, when a round completed, ``plan``.
    """
    event = _mapping(state, "event")
    failure = _mapping(state, "failure")
    plan = _mapping(state, "plan")
    summary = _mapping(plan, "summary")
    progress = _mapping(plan, "progress")
    card_arn = _failed_card(event, summary, execution)
    error = str(failure.get("Error", "Unknown"))
    cause = str(failure.get("Cause", ""))
    # A Fail state may not raise a States.* name of its own; keep the original in the cause.
    if error.startswith("States."):
        cause, error = f"{error}: {cause}", "WorkflowError"
    record: dict[str, Any] = {
        "cardArn": card_arn,
        "decidedAt": _decided_at(now, execution),
        "time": now.isoformat(),
        "cardName": card_arn.rsplit("/", 1)[-1],
        "version": summary.get("version"),
        "status": summary.get("status"),
        "sharesAdded": sorted(set(progress.get("added") or ())),
        "sharesRemoved": sorted(set(progress.get("removed") or ())),
        "outcome": Outcome.FAILED.value,
        "error": error,
        "cause": cause[:_MAX_CAUSE],
        "eventId": _event_id(event.get("id")),
        "executionArn": execution,
    }
    return Decision(record)


def _failed_card(event: Mapping[str, Any], summary: Mapping[str, Any], execution: str) -> str:
    """The key of a failed record: the canonical ARN a round read, else the event's if it parses."""
    canonical = summary.get("card")
    resources = event.get("resources")
    for candidate in (canonical, resources[0] if isinstance(resources, list) and resources else None):
        try:
            return parse_card_arn(candidate).arn
        except InvalidEventError:
            continue
    return f"invalid-event/{execution.rsplit(':', 1)[-1]}"


def _event_id(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) <= _MAX_EVENT_ID else None
