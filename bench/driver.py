"""The benchmark's hands: people acting on SageMaker, and waiting for the workflow, left out of the count."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from bench.calls import as_driver
from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION, session_for
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import LocalAws

#: Content that fills every field the review gate requires by default (ReviewRequiredFields).
CONTENT = json.dumps(
    {
        "model_overview": {"model_id": "churn-xgboost", "model_owner": "lead", "problem_type": "Binary Classification"},
        "intended_uses": {"intended_uses": "Weekly retention campaign.", "risk_rating": "Low"},
    }
)


def card_arn(name: str) -> str:
    """The ARN of a card in the model-card account."""
    return f"arn:aws:sagemaker:{REGION}:{MODEL_CARD_ACCOUNT}:model-card/{name}"


def person(role: str, session_name: str) -> Any:
    """A SageMaker client of someone acting through ``role``; their calls are the driver's."""
    return as_driver(session_for(MODEL_CARD_ACCOUNT, role, session_name=session_name)).client("sagemaker")


@dataclass
class Driver:
    """Drives one deployed system: its Step Functions client and the executions seen so far."""

    system: LocalAws
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.session = as_driver(session_for(MODEL_CARD_ACCOUNT))
        self.sfn = self.session.client("stepfunctions")

    def client(self, service: str) -> Any:
        """A client of the model-card account's admin; its calls are the driver's."""
        # boto3-stubs types client() per literal service name; the name here is a runtime value.
        return cast(Any, self.session).client(service)

    def listed(self) -> list[dict[str, Any]]:
        """Every execution of the workflow (summaries)."""
        pages = self.sfn.get_paginator("list_executions").paginate(stateMachineArn=self.system.state_machine_arn)
        return [execution for page in pages for execution in page["executions"]]

    def new(self, expected: int = 1, timeout: float = 600.0) -> list[dict[str, Any]]:
        """Wait until at least ``expected`` new executions exist and none runs; return them described."""
        deadline = time.monotonic() + timeout
        while True:
            listed = self.listed()
            fresh = [e for e in listed if e["executionArn"] not in self.seen]
            if len(fresh) >= expected and all(e["status"] != "RUNNING" for e in listed):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"executions still running after {timeout}s")
            time.sleep(0.02)
        described = [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in fresh]
        self.seen.update(e["executionArn"] for e in fresh)
        return sorted(described, key=lambda e: e["startDate"])

    def skip_existing(self) -> None:
        """Hand out only executions started from now on."""
        self.seen.update(e["executionArn"] for e in self.listed())

    def transitions(self, execution_arn: str) -> int:
        """State transitions of an execution: the states it entered, from its history."""
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
        return sum(1 for page in pages for event in page["events"] if event["type"].endswith("StateEntered"))

    def start_again(self, execution: dict[str, Any]) -> None:
        """Start the workflow with an execution's input again (a duplicate event, as EventBridge may send)."""
        self.sfn.start_execution(
            stateMachineArn=self.system.state_machine_arn, name=str(uuid.uuid4()), input=execution["input"]
        )


def lambda_invocations() -> Counter[str]:
    """In-process Lambda invocations so far, by function name."""
    return Counter(invocation.function_name for invocation in lambda_inprocess.invocations())
