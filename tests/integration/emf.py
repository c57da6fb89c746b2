"""CloudWatch embedded metric format (EMF) documents read back from a function's log lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Point:
    """One metric value as CloudWatch would file it: namespace, name, its dimensions, the value."""

    namespace: str
    name: str
    dimensions: dict[str, str]
    value: float


def emf_points(lines: list[dict[str, Any]]) -> list[Point]:
    """Every metric value in the EMF documents of ``lines``, in order, with its dimensions."""
    points = []
    for line in lines:
        if "_aws" not in line:
            continue
        for directive in line["_aws"]["CloudWatchMetrics"]:
            (keys,) = directive["Dimensions"]  # one dimension set per document, as Powertools writes them
            dimensions = {key: line[key] for key in keys}
            for metric in directive["Metrics"]:
                values = line[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    points.append(Point(directive["Namespace"], metric["Name"], dimensions, float(value)))
    return points
