"""RAM adapter: one card's associations across the stack's shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cardshare.planner import Association, AssociationStatus
from cardshare.reconciliation import ResourceAssociation


class ResourceShares:
    """Reads resource associations through an injected boto3 session (or client)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def from_session(cls, session: Any, config: Any = None) -> ResourceShares:
        """Build the adapter from a boto3 session."""
        return cls(session.client("ram", config=config))

    def associations(self, card_arn: str, share_arns: Sequence[str]) -> list[Association]:
        """The card's association with each share, from one paginated read across all shares.

        RAM keeps DISASSOCIATED rows for a while; when a share has several rows for the card,
        the most recently updated one is its current state.
        """
        paginator = self._client.get_paginator("get_resource_share_associations")
        latest: dict[str, dict[str, Any]] = {}
        for page in paginator.paginate(
            associationType="RESOURCE", resourceShareArns=list(share_arns), resourceArn=card_arn
        ):
            for row in page.get("resourceShareAssociations", []):
                if row.get("associatedEntity") != card_arn:
                    continue
                share = row["resourceShareArn"]
                seen = latest.get(share)
                if seen is None or _updated(row) >= _updated(seen):
                    latest[share] = row
        return [
            Association(share, AssociationStatus(row["status"]), row.get("statusMessage", ""))
            for share, row in latest.items()
        ]

    def all_associations(self, share_arns: Sequence[str]) -> list[ResourceAssociation]:
        """Every resource association of the shares, from one paginated read across them."""
        paginator = self._client.get_paginator("get_resource_share_associations")
        return [
            ResourceAssociation(
                row["associatedEntity"], row["resourceShareArn"], AssociationStatus(row["status"]), _updated(row)
            )
            for page in paginator.paginate(associationType="RESOURCE", resourceShareArns=list(share_arns))
            for row in page.get("resourceShareAssociations", [])
        ]


def _updated(row: dict[str, Any]) -> float:
    stamp = row.get("lastUpdatedTime") or row.get("creationTime")
    return stamp.timestamp() if stamp is not None else 0.0
