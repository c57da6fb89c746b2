"""SageMaker adapter: read a model card as it is now."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from cardshare.cards import Card
from cardshare.identity import Actor
from cardshare.reconciliation import CardSummary
from cardshare.status import CardStatus
from cardshare.timestamps import epoch

#: ListModelCards' largest page (MaxResults 1-100), asked for explicitly: the default is not documented.
MAX_PAGE = 100


class ModelCards:
    """Reads model cards through an injected boto3 session (or client)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def from_session(cls, session: Any, config: Any = None) -> ModelCards:
        """Build the adapter from a boto3 session."""
        return cls(session.client("sagemaker", config=config))

    def describe(self, card_arn: str) -> Card | None:
        """DescribeModelCard by ARN; None when SageMaker says the card does not exist."""
        try:
            response = self._client.describe_model_card(ModelCardName=card_arn)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFound":
                return None
            raise
        return Card(
            arn=response["ModelCardArn"],
            name=response["ModelCardName"],
            status=CardStatus.parse(response["ModelCardStatus"]),
            version=int(response["ModelCardVersion"]),
            content=_content(response.get("Content")),
            created_by=Actor.from_user_context(response.get("CreatedBy")),
            last_modified_by=Actor.from_user_context(response.get("LastModifiedBy")),
            modified_at=epoch(response.get("LastModifiedTime")),
            created_at=epoch(response.get("CreationTime")),
            kms_key_id=(response.get("SecurityConfig") or {}).get("KmsKeyId") or None,
        )

    def list_cards(self) -> list[CardSummary]:
        """Every model card of the account (ListModelCards, every page, 100 cards a page)."""
        paginator = self._client.get_paginator("list_model_cards")
        return [
            CardSummary(
                summary["ModelCardArn"],
                summary["ModelCardName"],
                CardStatus.parse(summary["ModelCardStatus"]),
                epoch(summary.get("LastModifiedTime")),
            )
            for page in paginator.paginate(PaginationConfig={"PageSize": MAX_PAGE})
            for summary in page.get("ModelCardSummaries", [])
        ]


def _content(raw: object) -> dict[str, Any]:
    # Content is a JSON document; anything else reads as empty so that content gates fail closed.
    if not isinstance(raw, str):
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
