"""SageMaker adapter: read a model card as it is now."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from cardshare.cards import Card
from cardshare.status import CardStatus


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
        )
