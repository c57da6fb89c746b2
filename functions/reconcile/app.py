"""Scheduled reconciler: find cards whose shares drifted from what they earned, and repair them."""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from cardshare.ledger import DecisionLedger
from cardshare.policy import ConfigError
from cardshare.ram import ResourceShares
from cardshare.reconciler import Fleet, reconcile
from cardshare.sagemaker import ModelCards
from cardshare.settings import Settings, load_settings
from cardshare.stepfunctions import Workflow

logger = Logger()
metrics = Metrics()

_config = Config(retries={"mode": "adaptive", "max_attempts": 8})


@functools.cache
def settings() -> Settings:
    """The container's settings, validated once."""
    return load_settings()


@functools.cache
def fleet(table: str, state_machine: str) -> Fleet:
    """The reconciler's AWS adapters, built once per container on the first run, not at import.

    Loading the service models (SageMaker's is large) would otherwise be most of the import.
    """
    session = boto3.Session()
    return Fleet(
        ModelCards.from_session(session, _config),
        ResourceShares.from_session(session, _config),
        DecisionLedger.from_session(session, table, _config),
        Workflow.from_session(session, state_machine, _config),
    )


def _dry_run(event: Any) -> bool:
    # A manual invoke may ask for a dry run: {"dryRun": true}; the schedule uses the stack's setting.
    if isinstance(event, dict) and isinstance(event.get("dryRun"), bool):
        return bool(event["dryRun"])
    return os.environ.get("CARDSHARE_DRY_RUN", "false").lower() == "true"


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run one reconciliation and report it."""
    state_machine = os.environ.get("CARDSHARE_STATE_MACHINE_ARN", "")
    try:
        config = settings()
        if not state_machine:
            raise ConfigError("CARDSHARE_STATE_MACHINE_ARN: not set")
    except ConfigError as error:
        logger.error("reconciler misconfigured", extra={"reason": str(error)})
        raise
    report = reconcile(
        config.ladder,
        fleet(config.ledger_table, state_machine),
        dry_run=_dry_run(event),
        now=datetime.now(UTC),
        in_flight_seconds=config.in_flight_seconds,
    )
    for drift in report.drift:
        execution = report.started.get(drift.card_arn)
        message = "drift found (dry run: not repaired)" if report.dry_run else "repairing drift"
        logger.warning(message, extra={**drift.to_dict(), "execution": execution})
    for failure in report.failures:
        logger.error("repair could not start", extra={"reason": failure})
    metrics.add_metric(name="CardsChecked", unit=MetricUnit.Count, value=report.cards)
    metrics.add_metric(name="Drift", unit=MetricUnit.Count, value=len(report.drift))
    metrics.add_metric(name="Repairs", unit=MetricUnit.Count, value=len(report.repairs))
    metrics.add_metric(name="RepairFailures", unit=MetricUnit.Count, value=len(report.failures))
    logger.info("reconciled", extra={"cards": report.cards, "drifted": len(report.drift), "dry_run": report.dry_run})
    return report.to_dict()
