"""RAM adapter: one card's associations across the stack's shares."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence
from typing import Any

from cardshare.planner import Association, AssociationStatus
from cardshare.reconciliation import ResourceAssociation

#: RAM's largest page (maxResults 1-500). Asked for explicitly: an omitted maxResults gets "a value
#: specific to the operation", which may be far smaller and multiply the reconciler's calls.
MAX_PAGE = 500


class ResourceShares:
    """Reads resource associations through an injected boto3 session (or client)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._grants_update: dict[str, bool] = {}

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
        """Every resource association of the shares, from one paginated read across them (full pages)."""
        paginator = self._client.get_paginator("get_resource_share_associations")
        return [
            ResourceAssociation(
                row["associatedEntity"], row["resourceShareArn"], AssociationStatus(row["status"]), _updated(row)
            )
            for page in paginator.paginate(
                associationType="RESOURCE", resourceShareArns=list(share_arns), PaginationConfig={"PageSize": MAX_PAGE}
            )
            for row in page.get("resourceShareAssociations", [])
        ]

    def principals(self, share_arns: Sequence[str]) -> dict[str, dict[str, AssociationStatus]]:
        """Share ARN → principal → the newest status of its association with the share."""
        paginator = self._client.get_paginator("get_resource_share_associations")
        newest: dict[tuple[str, str], dict[str, Any]] = {}
        for page in paginator.paginate(associationType="PRINCIPAL", resourceShareArns=list(share_arns)):
            for row in page.get("resourceShareAssociations", []):
                key = (row["resourceShareArn"], row["associatedEntity"])
                if key not in newest or _updated(row) >= _updated(newest[key]):
                    newest[key] = row
        by_share: dict[str, dict[str, AssociationStatus]] = {share: {} for share in share_arns}
        for (share, principal), row in newest.items():
            by_share.setdefault(share, {})[principal] = AssociationStatus(row["status"])
        return by_share

    def grants_update(self, share_arn: str) -> bool:
        """Whether any permission attached to the share allows ``sagemaker:UpdateModelCard``.

        Read once per container and share (ListResourceSharePermissions, then GetPermission for
        each): a stack is not re-pointed at another permission while a container lives.
        """
        if share_arn not in self._grants_update:
            # botocore has no paginator for this operation: follow nextToken by hand.
            attached: list[dict[str, Any]] = []
            request: dict[str, Any] = {"resourceShareArn": share_arn}
            while True:
                page = self._client.list_resource_share_permissions(**request)
                attached += page.get("permissions", [])
                if not page.get("nextToken"):
                    break
                request["nextToken"] = page["nextToken"]
            self._grants_update[share_arn] = any(_allows(self._template(row), _UPDATE) for row in attached)
        return self._grants_update[share_arn]

    def _template(self, attached: dict[str, Any]) -> str:
        # The version the share uses, not the permission's default: a share may stay on an older one.
        request: dict[str, Any] = {"permissionArn": attached["arn"]}
        if str(attached.get("version") or "").isdigit():
            request["permissionVersion"] = int(attached["version"])
        return str(self._client.get_permission(**request)["permission"].get("permission", ""))


_UPDATE = "sagemaker:UpdateModelCard"


def _allows(template: str, action: str) -> bool:
    """Whether a RAM permission's policy template allows ``action`` (wildcards included)."""
    try:
        document = json.loads(template) if template else {}
    except ValueError:
        return True  # unreadable: assume the worst for a read-only stage
    statements = document.get("Statement", [document]) if isinstance(document, dict) else document
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        for pattern in [actions] if isinstance(actions, str) else actions:
            if isinstance(pattern, str) and fnmatch.fnmatchcase(action.lower(), pattern.lower()):
                return True
    return False


def _updated(row: dict[str, Any]) -> float:
    stamp = row.get("lastUpdatedTime") or row.get("creationTime")
    return stamp.timestamp() if stamp is not None else 0.0
