"""A card's decisions from the ledger, and the evidence the latest one rests on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cardshare.evidence import changes
from cardshare.evidence_store import EvidenceStore
from cardshare.gates import of_this_card
from cardshare.ledger import DecisionLedger
from cardshare.sagemaker import ModelCards
from cardshare_cli.errors import OperatorError
from cardshare_cli.stack import Stack, resolve_card


@dataclass(frozen=True)
class HistoryRow:
    """One step of the card's history as cardshare saw it."""

    at: str
    kind: str
    version: int
    status: str
    actor: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"at": self.at, "kind": self.kind, "version": self.version, "status": self.status, "actor": self.actor}


@dataclass(frozen=True)
class Explanation:
    """``cardshare why``: the latest decision and the card's history behind it."""

    decision: dict[str, Any]
    history: tuple[HistoryRow, ...]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"decision": self.decision, "evidence": [row.to_dict() for row in self.history], "note": self.note}


class Ledger:
    """Reads one stack's decision ledger and card evidence."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        table = stack.outputs["DecisionLedgerTableName"]
        dynamodb = stack.client("dynamodb")
        self._ledger = DecisionLedger(dynamodb, table)
        self._evidence = EvidenceStore(dynamodb, table)
        self._cards = ModelCards(stack.client("sagemaker"))

    def decisions(self, card: str, since: str | None = None) -> list[dict[str, Any]]:
        """``cardshare ledger``: the card's decisions in time order; a card never seen is an error."""
        arn, described = resolve_card(self._stack, self._cards, card)
        records = self._ledger.history(arn, since)
        if (
            not records
            and described is None
            and (since is None or self._ledger.latest(arn, include_failed=True) is None)
        ):
            raise OperatorError(
                f"no decisions recorded for card {arn.rsplit('/', 1)[-1]!r} in stack {self._stack.name!r}"
            )
        return records

    def explain(self, card: str) -> Explanation:
        """The newest decision, failed ones included, and the evidence of the card as it exists now."""
        arn, described = resolve_card(self._stack, self._cards, card)
        latest = self._ledger.latest(arn, include_failed=True)
        if latest is None:
            raise OperatorError(
                f"no decisions recorded for card {arn.rsplit('/', 1)[-1]!r} in stack {self._stack.name!r}"
            )
        evidence = self._evidence.read(arn)
        note = ""
        if described is not None:
            scoped = of_this_card(described, evidence)
            evidence = scoped if scoped is not None else evidence
            decided_on = latest.get("modifiedAt")
            if (
                described.created_at is not None
                and isinstance(decided_on, int | float)
                and decided_on < described.created_at
            ):
                # Same name, same ARN: the newest decision was about a card deleted before this one was created.
                note = "this decision is about an earlier card of the same name; none yet for the current one"
        rows = tuple(
            HistoryRow(_iso(change.at), change.kind.value, change.version, change.status.value, _actor(change.actor))
            for change in changes(evidence)
        )
        return Explanation(latest, rows, note)


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds")


def _actor(actor: Any) -> str:
    return str(actor.label) if actor is not None else "unknown"
