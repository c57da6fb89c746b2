"""Plan step of the promote-card workflow: one convergence round for the card in the event."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from cardshare.events import InvalidEventError
from cardshare.policy import ConfigError
from cardshare.promotion import promote_round
from cardshare.ram import ResourceShares
from cardshare.sagemaker import ModelCards
from cardshare.settings import Settings, load_settings

logger = Logger()
metrics = Metrics()

# Clients live for the container; adaptive retries absorb SageMaker/RAM throttling.
_session = boto3.Session()
_config = Config(retries={"mode": "adaptive", "max_attempts": 8})
cards = ModelCards.from_session(_session, _config)
shares = ResourceShares.from_session(_session, _config)
_OUTCOME_METRICS = {"apply": "ApplyRounds", "wait": "WaitRounds", "done": "Converged"}


@functools.cache
def settings() -> Settings:
    """The container's settings, validated once; a ConfigError is not cached, so every call reports it."""
    return load_settings()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the next move (apply | wait | done) with the actions to apply."""
    try:
        card_event, step = promote_round(event, settings(), cards, shares)
    except (InvalidEventError, ConfigError) as error:
        logger.error("rejected: not retried", extra={"reason": str(error), "error": type(error).__name__})
        metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=1)
        raise
    result = step.to_dict()
    logger.info(
        f"card {step.next}",
        extra={
            "event_id": card_event.event_id,
            "event_status": card_event.status.value,
            **result["summary"],
            "actions": result["actions"],
            "progress": result["progress"],
        },
    )
    metrics.add_metric(name=_OUTCOME_METRICS[step.next], unit=MetricUnit.Count, value=1)
    for action in step.actions:
        metrics.add_metric(
            name="SharesAdded" if action["op"] == "associate" else "SharesRemoved", unit=MetricUnit.Count, value=1
        )
    return result
