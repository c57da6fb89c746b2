"""DynamoDB adapter for a card's evidence: merge facts with ``ADD`` and read the union back.

The evidence of a card is one item of the ledger table (sort key ``#evidence``) holding a string
set. ``ADD`` to a set is commutative and idempotent, so concurrent executions of one card merge
their facts without a lock, and the same call returns everything merged so far (``ALL_NEW``): one
write per round, no read-modify-write race.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cardshare.evidence import Evidence

EVIDENCE_KEY = "#evidence"


class EvidenceUnavailableError(RuntimeError):
    """The evidence item could not be written or read."""


class EvidenceStore:
    """Merges and reads card evidence through an injected boto3 session (or client)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    @classmethod
    def from_session(cls, session: Any, table: str, config: Any = None) -> EvidenceStore:
        """Build the adapter from a boto3 session."""
        return cls(session.client("dynamodb", config=config), table)

    def _key(self, card_arn: str) -> dict[str, Any]:
        return {"cardArn": {"S": card_arn}, "decidedAt": {"S": EVIDENCE_KEY}}

    def merge(self, card_arn: str, facts: Evidence) -> Evidence:
        """Add ``facts`` to the card's evidence and return all of it.

        Raises :class:`EvidenceUnavailableError` when the table cannot be written (after botocore's
        retries).
        """
        encoded = sorted(facts.encode())
        try:
            if not encoded:
                item = self._client.get_item(TableName=self._table, Key=self._key(card_arn), ConsistentRead=True)
                return Evidence.decode(item.get("Item", {}).get("facts", {}).get("SS", []))
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(card_arn),
                UpdateExpression="ADD facts :facts",
                ExpressionAttributeValues={":facts": {"SS": encoded}},
                ReturnValues="ALL_NEW",
            )
        except (ClientError, BotoCoreError) as error:
            raise EvidenceUnavailableError(f"evidence of {card_arn} in {self._table}: {error}") from error
        return Evidence.decode(response.get("Attributes", {}).get("facts", {}).get("SS", []))

    def read(self, card_arn: str) -> Evidence:
        """All the card's evidence, read consistently (no fact added)."""
        return self.merge(card_arn, Evidence())

    def record(self, card_arn: str, facts: Evidence, claim: str | None) -> bool:
        """Add ``facts`` and, with ``claim``, claim that change, in one ``UpdateItem``.

        Returns True when ``claim`` is the first of its kind for the card (or when there is no
        claim). ``ADD`` to a set is atomic, so the item as it was before this very write
        (``ALL_OLD``) tells whether another execution claimed it first. Raises
        :class:`EvidenceUnavailableError` when the table cannot be written.
        """
        additions, values = [], {}
        if encoded := sorted(facts.encode()):
            additions.append("facts :facts")
            values[":facts"] = {"SS": encoded}
        if claim is not None:
            additions.append("alerts :alert")
            values[":alert"] = {"SS": [claim]}
        if not additions:
            raise ValueError("nothing to record")
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(card_arn),
                UpdateExpression="ADD " + ", ".join(additions),
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD" if claim is not None else "NONE",
            )
        except (ClientError, BotoCoreError) as error:
            raise EvidenceUnavailableError(f"evidence of {card_arn} in {self._table}: {error}") from error
        before = response.get("Attributes", {}).get("alerts", {}).get("SS", [])
        return claim is None or claim not in before

    def claim_alert(self, card_arn: str, fingerprint: str) -> bool:
        """True the first time ``fingerprint`` is claimed for the card: one alert per distinct block.

        Fails open (True) when the table cannot be written: a duplicate alert beats a lost one.
        """
        try:
            # A condition, not ReturnValues: whether UPDATED_OLD reports a set that did not change
            # is not something to rely on.
            self._client.update_item(
                TableName=self._table,
                Key=self._key(card_arn),
                UpdateExpression="ADD alerts :alert",
                ConditionExpression="attribute_not_exists(alerts) OR NOT contains(alerts, :fingerprint)",
                ExpressionAttributeValues={":alert": {"SS": [fingerprint]}, ":fingerprint": {"S": fingerprint}},
            )
        except ClientError as error:
            return error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException"
        except BotoCoreError:
            return True
        return True
