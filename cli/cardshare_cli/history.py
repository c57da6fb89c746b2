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
from cardshare_cli.stack import Stack


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

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"decision": self.decision, "evidence": [row.to_dict() for row in self.history]}


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
        """``cardshare ledger``: the card's decisions in time order; an unknown card is an error."""
        arn = self._stack.card_arn(card)
        records = self._ledger.history(arn, since)
        if not records and since is None:
            raise OperatorError(
                f"no decisions recorded for card {arn.rsplit('/', 1)[-1]!r} in stack {self._stack.name!r}"
            )
        return records

    def explain(self, card: str) -> Explanation:
        """The latest decision, failed ones included, and the evidence of the card as it exists now."""
        arn = self._stack.card_arn(card)
        latest = self.decisions(arn)[-1]
        described = self._cards.describe(arn)
        evidence = self._evidence.read(arn)
        if described is not None:
            evidence = of_this_card(described, evidence) or evidence
        rows = tuple(
            HistoryRow(_iso(change.at), change.kind.value, change.version, change.status.value, _actor(change.actor))
            for change in changes(evidence)
        )
        return Explanation(latest, rows)


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds")


def _actor(actor: Any) -> str:
    return str(actor.label) if actor is not None else "unknown"
