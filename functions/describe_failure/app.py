"""Failure step of the promote-card workflow: turn a failed execution's state into a decision.

It reads no AWS service: the workflow records and publishes what this returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from cardshare.decisions import Outcome, failure_decision
from cardshare.ledger import to_item
from cardshare.telemetry import count_by

logger = Logger()
metrics = Metrics()


# The workflow passes its execution ARN: every log line carries it as the correlation id.
@logger.inject_lambda_context(clear_state=True, correlation_id_path="execution")
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``event`` is ``{"state": <workflow state with failure>, "execution": <ARN>}``."""
    given = event.get("state") if isinstance(event, dict) else None
    state: Mapping[str, Any] = given if isinstance(given, dict) else {}
    execution = str(event.get("execution", "unknown")) if isinstance(event, dict) else "unknown"
    decision = failure_decision(state, execution, datetime.now(UTC)).to_dict()
    record = decision.pop("record")
    logger.error(
        "execution failed",
        extra={"card": record["cardArn"], "error": record["error"], "cause": record["cause"], "execution": execution},
    )
    count_by("Decisions", outcome=Outcome.FAILED.value)
    decision["item"] = to_item(record)
    decision["error"], decision["cause"] = record["error"], record["cause"]
    return decision
