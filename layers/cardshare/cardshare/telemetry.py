"""Metrics that carry a dimension of their own (an outcome, a stage, an operation).

Powertools' ``Metrics`` flushes an invocation's metrics as one EMF document, and a dimension added
there applies to every metric in it: a per-outcome count would tag the round's other metrics with
that outcome. Each count here is its own EMF document instead (``single_metric``), with the same
``service`` dimension ``Metrics`` adds (POWERTOOLS_SERVICE_NAME: the stack's name), so the alarms
and the dashboard of one stack never see another stack's numbers.
"""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools.metrics import MetricUnit, single_metric

# A handler whose every metric has a dimension of its own leaves Metrics nothing to flush at the
# end of an invocation; Powertools warns about that as a likely mistake. Here it is the design.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def service() -> str:
    """The ``service`` dimension, read where Powertools' Metrics reads it."""
    return os.environ.get("POWERTOOLS_SERVICE_NAME") or "service_undefined"


def count_by(name: str, value: float = 1, **dimensions: str) -> None:
    """Publish ``value`` of the Count metric ``name`` with ``service`` and the given dimensions."""
    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, default_dimensions={"service": service(), **dimensions}
    ):
        pass
