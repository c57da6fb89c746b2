"""DynamoDB adapter for the decision ledger: read cards' latest decisions, shape records as items.

The workflow writes records with a direct DynamoDB integration (append-only: a conditional put);
this module only reads them, and turns plain records into DynamoDB's typed JSON for that write.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from cardshare.decisions import Outcome
from cardshare.reconciler import LedgerUnavailableError

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
_PAGE = 10
# The card's evidence lives beside its decisions under a sort key starting with '#', which sorts
# before every ISO time: never the newest item of a newest-first query.
_RESERVED = "#"
_MAX_ITEMS = 100
# DynamoDB returns at most 1 MB of items per Scan page.
_SCAN_PAGE_BYTES = 1024 * 1024
# What the reconciler judges a card by (earned_from_record, changed_since_decided).
_VERDICT_ATTRIBUTES = ("cardArn", "decidedAt", "status", "effectiveStatus", "outcome", "modifiedAt")


class DecisionLedger:
    """Reads the ledger table through an injected boto3 session (or client)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    @classmethod
    def from_session(cls, session: Any, table: str, config: Any = None) -> DecisionLedger:
        """Build the adapter from a boto3 session."""
        return cls(session.client("dynamodb", config=config), table)

    def latest(self, card_arn: str, *, include_failed: bool = False) -> dict[str, Any] | None:
        """The card's newest decision that reached a verdict (failed executions skipped unless asked for).

        Reads newest first, a page at a time, and stops at the first usable record. Raises
        :class:`LedgerUnavailableError` when the table cannot be read (after botocore's retries).
        """
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "cardArn = :card",
            "ExpressionAttributeValues": {":card": {"S": card_arn}},
            "ScanIndexForward": False,
            "Limit": _PAGE,
        }
        seen = 0
        for items in self._pages("query", request):
            for record in map(from_item, items):
                if _is_verdict(record) or (include_failed and _is_decision(record)):
                    return record
            seen += len(items)
            if seen >= _MAX_ITEMS:
                break
        return None

    def history(self, card_arn: str, since: str | None = None) -> list[dict[str, Any]]:
        """Every decision about the card in time order, failed ones included; from ``since`` (ISO time) on.

        Raises :class:`LedgerUnavailableError` when the table cannot be read.
        """
        # decidedAt starts with the decision's ISO time, so a lower bound on the sort key is a time.
        condition, values = "cardArn = :card", {":card": {"S": card_arn}}
        if since:
            condition += " AND decidedAt >= :since"
            values[":since"] = {"S": since}
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        return [
            record
            for items in self._pages("query", request)
            for record in map(from_item, items)
            if not str(record.get("decidedAt", "")).startswith(_RESERVED)
        ]

    def latest_of(self, card_arns: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Each card's newest decision that reached a verdict, in as few calls as the table allows.

        One Query per card costs ``len(card_arns)`` calls; one Scan of the whole ledger costs a call
        per MB of table (DynamoDB's page limit), whatever the number of cards. DescribeTable's size
        (refreshed by DynamoDB about every six hours) says which is fewer; a Scan reads only the
        attributes a verdict needs. Raises :class:`LedgerUnavailableError` when the table cannot be
        read.
        """
        wanted = list(dict.fromkeys(card_arns))
        if len(wanted) > 1 and self._scan_pages() < len(wanted):
            return self._scan_latest(wanted)
        return {arn: self.latest(arn) for arn in wanted}

    def _scan_pages(self) -> int:
        try:
            table = self._client.describe_table(TableName=self._table)["Table"]
        except (ClientError, BotoCoreError) as error:
            raise LedgerUnavailableError(f"decision ledger {self._table} unreadable: {error}") from error
        # Full pages and the last partial one (DescribeTable itself is spent whichever way we read).
        return int(table.get("TableSizeBytes", 0)) // _SCAN_PAGE_BYTES + 1

    def _scan_latest(self, card_arns: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        latest: dict[str, dict[str, Any] | None] = dict.fromkeys(card_arns)
        request: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": ", ".join(f"#{name}" for name in _VERDICT_ATTRIBUTES),
            "ExpressionAttributeNames": {f"#{name}": name for name in _VERDICT_ATTRIBUTES},
        }
        for items in self._pages("scan", request):
            for record in map(from_item, items):
                arn = record.get("cardArn")
                if arn not in latest or not _is_verdict(record):
                    continue
                seen = latest[arn]
                if seen is None or str(record["decidedAt"]) > str(seen["decidedAt"]):
                    latest[arn] = record
        return latest

    def _pages(self, operation: str, request: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Each page's items of a Query or Scan, following LastEvaluatedKey; errors as LedgerUnavailableError."""
        while True:
            try:
                response = getattr(self._client, operation)(**request)
            except (ClientError, BotoCoreError) as error:
                raise LedgerUnavailableError(f"decision ledger {self._table} unreadable: {error}") from error
            yield list(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def _is_decision(record: Mapping[str, Any]) -> bool:
    """A decision of any outcome, failed included (not the card's evidence)."""
    return not str(record.get("decidedAt", "")).startswith(_RESERVED) and record.get("outcome") is not None


def _is_verdict(record: Mapping[str, Any]) -> bool:
    """A decision (not the card's evidence) that reached a verdict (not a failed execution)."""
    return not str(record.get("decidedAt", "")).startswith(_RESERVED) and record.get("outcome") not in (
        None,
        Outcome.FAILED.value,
    )


def to_item(record: Mapping[str, Any]) -> dict[str, Any]:
    """A plain record as DynamoDB typed JSON (None values are left out, floats sent as exact decimals)."""
    return {key: _SERIALIZER.serialize(_numbers(value)) for key, value in record.items() if value is not None}


def _numbers(value: Any) -> Any:
    # DynamoDB takes numbers as Decimal; str() keeps a float's shortest exact representation.
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB typed JSON back to plain values (whole numbers as int)."""
    return {key: _plain(_DESERIALIZER.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
