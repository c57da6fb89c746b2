"""Decisions: what cardshare did about a card and why, as one ledger record and one notification.

Every execution ends in exactly one decision, failures included, so an auditor can replay a
card's sharing history from the ledger alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cardshare.cards import Card
from cardshare.gates import Enforcement, GateConfig, History, Verdict
from cardshare.status import CardStatus

_MAX_CAUSE = 4000
_SUBJECT_LIMIT = 100


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
class Decision:
    """A ledger record (plain JSON values) and what to do with it."""

    record: dict[str, Any]
    revert: bool = False

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
        """A one-line e-mail subject (SNS allows 100 characters)."""
        name = self.record.get("cardName") or self.record["cardArn"].rsplit("/", 1)[-1]
        return f"cardshare: {name} {self.record['outcome']}"[:_SUBJECT_LIMIT]

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


def decide(
    card_arn: str,
    card: Card | None,
    verdict: Verdict,
    history: History,
    added: Sequence[str],
    removed: Sequence[str],
    *,
    event_id: str,
    execution: str,
    now: datetime,
    config: GateConfig,
) -> Decision:
    """The decision for a converged execution."""
    status = card.status if card else None
    # The same refusal again (same status, version and reasons; the last record was that block or
    # the no-op that repeated it) is recorded without a second alert.
    repeat_of_block = (
        history.last_outcome in (Outcome.BLOCKED.value, Outcome.NO_OP.value)
        and history.last_reasons == verdict.reasons
        and history.last_status == status
        and card is not None
        and history.version == card.version
    )
    if verdict.blocked and not (repeat_of_block and not added and not removed):
        outcome = Outcome.BLOCKED
    elif added:
        outcome = Outcome.SHARED
    elif removed:
        outcome = Outcome.REVOKED
    else:
        outcome = Outcome.NO_OP
    actor = card.last_modified_by.principal if card and card.last_modified_by else None
    authors = set(history.authors_of(card)) if card else set()
    if card and actor and status is not CardStatus.APPROVED:
        authors.add(actor)
    record: dict[str, Any] = {
        "cardArn": card.arn if card else card_arn,
        "decidedAt": _decided_at(now, execution),
        "time": now.isoformat(),
        "cardName": card.name if card else card_arn.rsplit("/", 1)[-1],
        "exists": card is not None,
        "version": card.version if card else None,
        "status": status.value if status else None,
        "previousStatus": _value(
            history.status_before(card.modified_at, status) if card and status else history.last_status
        ),
        "effectiveStatus": _value(verdict.effective),
        "actor": actor,
        "versionAuthors": sorted(authors),
        "gates": [result.to_dict() for result in verdict.results],
        "sharesAdded": sorted(set(added)),
        "sharesRemoved": sorted(set(removed)),
        "outcome": outcome.value,
        "eventId": event_id,
        "executionArn": execution,
        "trail": [
            [when, seen.value] for when, seen in history.observed(card.modified_at if card else None, status).trail
        ],
    }
    revert = outcome is Outcome.BLOCKED and verdict.approval_blocked and config.enforcement is Enforcement.REVERT
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
    resources = event.get("resources")
    first = resources[0] if isinstance(resources, list) and resources else None
    name = execution.rsplit(":", 1)[-1]
    card_arn = first if isinstance(first, str) and ":model-card/" in first else f"invalid-event/{name}"
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
        "eventId": event.get("id") if isinstance(event.get("id"), str) else None,
        "executionArn": execution,
    }
    return Decision(record)
