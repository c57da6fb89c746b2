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
from cardshare.decisions import Decision
from cardshare.events import InvalidEventError
from cardshare.evidence_store import EvidenceStore
from cardshare.ledger import to_item
from cardshare.policy import ConfigError
from cardshare.promotion import PermissionMismatchError, Ports, promote_round
from cardshare.ram import ResourceShares
from cardshare.sagemaker import ModelCards
from cardshare.settings import Settings, load_settings
from cardshare.telemetry import count_by

logger = Logger()
metrics = Metrics()

# Adaptive retries absorb SageMaker/RAM/DynamoDB throttling.
_config = Config(retries={"mode": "adaptive", "max_attempts": 8})


@functools.cache
def settings() -> Settings:
    """The container's settings, validated once; a ConfigError is not cached, so every call reports it."""
    return load_settings()


@functools.cache
def ports(table: str) -> Ports:
    """The round's AWS adapters for the configured table, built once per container.

    Built on the first round rather than at import: loading the service models (SageMaker's is
    large) is most of the import otherwise, and a container whose events are rejected never needs them.
    """
    session = boto3.Session()
    shares = ResourceShares.from_session(session, _config)
    return Ports(
        ModelCards.from_session(session, _config), shares, EvidenceStore.from_session(session, table, _config), shares
    )


# The workflow passes its execution ARN: every log line carries it as the correlation id.
@logger.inject_lambda_context(clear_state=True, correlation_id_path="execution")
@metrics.log_metrics(capture_cold_start_metric=True)
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
        _count_decision(result.decision)
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
    count_by("Rounds", operation=result.step.next)
    return output


def _count_decision(decision: Decision) -> None:
    # Shares are counted when RAM confirmed them (the deciding round), not when a round asked for them.
    count_by("Decisions", outcome=decision.outcome.value)
    confirmed = decision.confirmed_shares()
    for stage in confirmed.added:
        count_by("SharesAdded", stage=stage)
    for stage in confirmed.removed:
        count_by("SharesRemoved", stage=stage)
