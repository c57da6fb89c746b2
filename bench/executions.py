"""AWS calls per workflow execution, by kind of execution, in one RAM settling mode.

Each kind is one action by a person (or a replayed event) on a fresh deployment, then a wait for
the executions it started; everything the system called meanwhile is that kind's cost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.calls import LOG, by_service
from bench.driver import CONTENT, Driver, card_arn, lambda_invocations, person
from cardshare_local.extensions import ram
from cardshare_local.runtime import local_aws

#: Approvals settle after 2 s instead of the local 8 s: the wait is one Wait state either way. The
#: quiet period is the template's default (2 s): an event reaches the workflow well within it, so
#: the first plan round waits and reads the card again, as it does on AWS.
PARAMETERS = {"EvidenceWaitSeconds": "2", "QuietSeconds": "2"}

#: RAM settling modes: a new association settles on the first read, or needs one more poll.
MODES = {"first read": 0, "one more poll": 1}

#: The budget's setting (tests/e2e/test_call_budget.py) and the performance issue's: no quiet period,
#: so that no round depends on timing and the count is the workflow's own.
BUDGET_PARAMETERS = {"QuietSeconds": "0"}


@dataclass(frozen=True)
class KindCost:
    """What the executions of one kind cost, per execution."""

    kind: str
    executions: int
    calls: dict[str, dict[str, int]]
    transitions: float
    lambda_invocations: float
    outcomes: list[str]

    @property
    def total(self) -> float:
        """AWS calls per execution."""
        return sum(n for ops in self.calls.values() for n in ops.values()) / max(self.executions, 1)

    @property
    def without_invoke(self) -> float:
        """AWS calls per execution other than Step Functions invoking the Lambda functions.

        The performance issue counted this way: the services' calls, not the workflow's own Invokes.
        """
        invokes = self.calls.get("lambda", {}).get("Invoke", 0)
        return self.total - invokes / max(self.executions, 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (calls are totals over the kind's executions)."""
        return {
            "kind": self.kind,
            "executions": self.executions,
            "callsPerExecution": round(self.total, 2),
            "callsWithoutInvokePerExecution": round(self.without_invoke, 2),
            "calls": self.calls,
            "transitionsPerExecution": self.transitions,
            "lambdaInvocationsPerExecution": self.lambda_invocations,
            "outcomes": self.outcomes,
        }


@contextmanager
def settling(reads: int) -> Iterator[None]:
    """Run with RAM settling an association after ``reads`` reads."""
    previous = ram.SETTLE_AFTER_READS
    ram.SETTLE_AFTER_READS = reads
    try:
        yield
    finally:
        ram.SETTLE_AFTER_READS = previous


def measure(driver: Driver, kind: str, action: Callable[[], None], expected: int = 1) -> KindCost:
    """Count what the system calls while it reacts to ``action``."""
    driver.skip_existing()
    invoked = lambda_invocations()
    LOG.reset()
    action()
    finished = driver.new(expected)
    calls = LOG.snapshot()
    count = len(finished)
    invocations = sum((lambda_invocations() - invoked).values())
    return KindCost(
        kind,
        count,
        by_service(calls),
        sum(driver.transitions(e["executionArn"]) for e in finished) / count,
        invocations / count,
        [_outcome(e) for e in finished],
    )


def _outcome(execution: dict[str, Any]) -> str:
    if execution["status"] != "SUCCEEDED":
        return str(execution["status"])
    return str(json.loads(execution.get("output") or "{}").get("outcome", "?"))


def promotion_and_duplicate(driver: Driver, name: str) -> tuple[KindCost, KindCost]:
    """Create card ``name`` in Draft (a promotion to dev), then deliver its event again (a no-op)."""
    lead = person("DataScientist", "lead")
    promotion = measure(
        driver,
        "promotion (create → dev)",
        lambda: lead.create_model_card(ModelCardName=name, Content=CONTENT, ModelCardStatus="Draft"),
    )
    created = driver.sfn.describe_execution(executionArn=sorted(driver.seen)[0])
    return promotion, measure(driver, "no-op (duplicate event)", lambda: driver.start_again(created))


def run_budget(reads: int) -> list[KindCost]:
    """A promotion and its duplicate event, without a quiet period (the budget test's scenario)."""
    with settling(reads), local_aws(BUDGET_PARAMETERS) as system:
        return list(promotion_and_duplicate(Driver(system), "Budget-A"))


def run_kinds(reads: int) -> list[KindCost]:
    """Every kind of execution on a fresh deployment whose RAM settles after ``reads`` reads."""
    with settling(reads), local_aws(PARAMETERS) as system:
        driver = Driver(system)
        lead = person("DataScientist", "lead")
        approver = person("ModelApprover", "jane")
        setup = Driver(system)  # drives the steps that only set a kind up
        costs: list[KindCost] = []

        def step(sm: Any, name: str, status: str) -> Callable[[], None]:
            return lambda: sm.update_model_card(ModelCardName=name, ModelCardStatus=status)

        costs.append(
            measure(
                driver,
                "promotion (create → dev)",
                lambda: lead.create_model_card(ModelCardName="Bench-A", Content=CONTENT, ModelCardStatus="Draft"),
            )
        )
        last = driver.sfn.describe_execution(executionArn=sorted(driver.seen)[0])
        costs.append(measure(driver, "no-op (duplicate event)", lambda: driver.start_again(last)))
        costs.append(measure(driver, "submit (+ test)", step(lead, "Bench-A", "PendingReview")))
        costs.append(measure(driver, "approval (+ prod)", step(approver, "Bench-A", "Approved")))
        costs.append(measure(driver, "archive (- dev, test)", step(approver, "Bench-A", "Archived")))

        setup.skip_existing()
        lead.create_model_card(ModelCardName="Bench-B", Content=CONTENT, ModelCardStatus="Draft")
        lead.update_model_card(ModelCardName="Bench-B", ModelCardStatus="PendingReview")
        setup.new(2)
        costs.append(measure(driver, "demotion (- test)", step(lead, "Bench-B", "Draft")))
        replay = driver.sfn.describe_execution(executionArn=_last_of(driver, card_arn("Bench-B")))
        lead.delete_model_card(ModelCardName="Bench-B")
        costs.append(measure(driver, "deleted card (revoke)", lambda: driver.start_again(replay)))

        setup.skip_existing()
        lead.create_model_card(ModelCardName="Bench-C", Content=CONTENT, ModelCardStatus="Draft")
        lead.update_model_card(ModelCardName="Bench-C", ModelCardStatus="PendingReview")
        setup.new(2)
        costs.append(measure(driver, "blocked approval (self)", step(lead, "Bench-C", "Approved")))
        return costs


def _last_of(driver: Driver, arn: str) -> str:
    """The newest execution about card ``arn``."""
    about = [
        e
        for e in (driver.sfn.describe_execution(executionArn=x) for x in driver.seen)
        if arn in json.loads(e["input"]).get("resources", [])
    ]
    return str(max(about, key=lambda e: e["startDate"])["executionArn"])
