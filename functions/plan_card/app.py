"""Plan step of the promote-card workflow: one convergence round for the card in the event."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from cardshare.convergence import AssociationFailedError, ConvergenceTimeoutError
from cardshare.events import InvalidEventError
from cardshare.evidence_store import EvidenceStore
from cardshare.ledger import to_item
from cardshare.policy import ConfigError
from cardshare.promotion import PermissionMismatchError, Ports, promote_round
from cardshare.ram import ResourceShares
from cardshare.sagemaker import ModelCards
from cardshare.settings import Settings, load_settings

logger = Logger()
metrics = Metrics()

# Clients live for the container; adaptive retries absorb SageMaker/RAM/DynamoDB throttling.
_session = boto3.Session()
_config = Config(retries={"mode": "adaptive", "max_attempts": 8})
cards = ModelCards.from_session(_session, _config)
shares = ResourceShares.from_session(_session, _config)
_OUTCOME_METRICS = {"apply": "ApplyRounds", "wait": "WaitRounds", "done": "Converged"}


@functools.cache
def settings() -> Settings:
    """The container's settings, validated once; a ConfigError is not cached, so every call reports it."""
    return load_settings()


@functools.cache
def ports(table: str) -> Ports:
    """The round's AWS adapters for the configured table."""
    return Ports(cards, shares, EvidenceStore.from_session(_session, table, _config), shares)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the next move (apply | wait | done), the actions to apply, and the decision when done."""
    try:
        config = settings()
        result = promote_round(event, config, ports(config.ledger_table), datetime.now(UTC))
    except (InvalidEventError, ConfigError) as error:
        logger.error("rejected: not retried", extra={"reason": str(error), "error": type(error).__name__})
        metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=1)
        raise
    except (AssociationFailedError, ConvergenceTimeoutError, PermissionMismatchError) as error:
        logger.error("did not converge", extra={"reason": str(error), "error": type(error).__name__})
        metrics.add_metric(name="NotConverged", unit=MetricUnit.Count, value=1)
        raise
    output = result.step.to_dict()
    output["decision"] = None
    if result.decision is not None:
        decision = result.decision.to_dict()
        decision["item"] = to_item(decision.pop("record"))
        output["decision"] = decision
        output["summary"]["outcome"] = result.decision.outcome.value
        metrics.add_metric(name=f"Decision-{result.decision.outcome.value}", unit=MetricUnit.Count, value=1)
    logger.info(
        f"card {result.step.next}",
        extra={
            "event_id": result.event.event_id,
            "event_source": result.event.source,
            "event_status": result.event.status.value if result.event.status else None,
            **output["summary"],
            "actions": output["actions"],
            "outcome": result.decision.outcome.value if result.decision else None,
        },
    )
    metrics.add_metric(name=_OUTCOME_METRICS[result.step.next], unit=MetricUnit.Count, value=1)
    for action in result.step.actions:
        metrics.add_metric(
            name="SharesAdded" if action["op"] == "associate" else "SharesRemoved", unit=MetricUnit.Count, value=1
        )
    return output
