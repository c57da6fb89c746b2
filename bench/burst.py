"""A burst of legitimate approvals: cards created, submitted and approved with no waits in between."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.calls import LOG
from bench.driver import CONTENT, Driver, person
from cardshare_local.runtime import local_aws

#: Approvals settle after 20 s: hundreds of executions at once on a busy machine take longer than
#: the local default for events to reach the workflow (the same setting as tests/e2e/test_burst.py).
PARAMETERS = {"EvidenceWaitSeconds": "20"}


@dataclass(frozen=True)
class Burst:
    """What a burst cost and how it went."""

    cards: int
    executions: int
    seconds: float
    p50: float
    p99: float
    failures: int
    blocked: int
    shares_removed: int
    calls: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "cards": self.cards,
            "executions": self.executions,
            "seconds": round(self.seconds, 1),
            "executionsPerSecond": round(self.executions / self.seconds, 2),
            "p50Seconds": round(self.p50, 2),
            "p99Seconds": round(self.p99, 2),
            "failures": self.failures,
            "blocked": self.blocked,
            "sharesRemoved": self.shares_removed,
            "calls": self.calls,
            "callsPerExecution": round(self.calls / max(self.executions, 1), 2),
        }


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, round(fraction * len(ranked) + 0.5) - 1))]


def run_burst(cards: int) -> Burst:
    """Create, submit and approve ``cards`` cards as fast as the API takes them; wait for every execution."""
    with local_aws(PARAMETERS) as system:
        driver = Driver(system)
        author = person("DataScientist", "ds-1")
        approver = person("ModelApprover", "jane")
        LOG.reset()
        started = time.perf_counter()
        for index in range(cards):
            name = f"Burst-{index:04d}"
            author.create_model_card(ModelCardName=name, Content=CONTENT, ModelCardStatus="Draft")
            author.update_model_card(ModelCardName=name, ModelCardStatus="PendingReview")
            approver.update_model_card(ModelCardName=name, ModelCardStatus="Approved")
        finished = driver.new(3 * cards, timeout=3600)
        seconds = time.perf_counter() - started
        calls = LOG.snapshot()
        durations = [(e["stopDate"] - e["startDate"]).total_seconds() for e in finished if e.get("stopDate")]
        outcomes = Counter(
            json.loads(e.get("output") or "{}").get("outcome") if e["status"] == "SUCCEEDED" else e["status"]
            for e in finished
        )
        return Burst(
            cards,
            len(finished),
            seconds,
            percentile(durations, 0.50),
            percentile(durations, 0.99),
            sum(1 for e in finished if e["status"] != "SUCCEEDED"),
            outcomes["blocked"],
            calls[("ram", "DisassociateResourceShare")],
            sum(calls.values()),
        )
