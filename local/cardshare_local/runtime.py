"""The embedded AWS as a context manager: moto, the extensions, and the stack from template.yaml."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from cardshare.policy import Access, StageLadder
from cardshare.settings import load_settings
from cardshare_local import extensions
from cardshare_local.accounts import (
    MODEL_CARD_ACCOUNT,
    ORGANIZATION_ID,
    ORGANIZATION_MEMBERS,
    REGION,
    session_for,
    stage_account,
)
from cardshare_local.deploy import Stack, deploy_stack
from cardshare_local.extensions import eventbridge_targets, lambda_inprocess, ram
from cardshare_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "cardshare"
PLAN_FUNCTION = "PlanCardFunction"

# The seed setup, and no real sleeping: RAM settles on the next read locally. Each stage's
# <stage>AccountIds is its local consumer account (stage_parameters), unless given.
LOCAL_PARAMETERS: dict[str, str] = {
    "PollIntervalSeconds": "0",
    # Locally events are delivered at once; these keep the governance waits short but real.
    "EvidenceWaitSeconds": "8",
    "QuietSeconds": "1",
    "ReconcileGraceSeconds": "0",
}

_FULL = {"sagemaker:DescribeModelCard", "sagemaker:UpdateModelCard"}
# The interpreter logs at ERROR the exceptions it handles itself (an IsPresent test on a missing
# path raises and is caught). Real execution failures are read from execution history instead.
logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(logging.CRITICAL)


class LocalAws:
    """A deployed cardshare stack on the embedded AWS, with helpers to drive and inspect it."""

    def __init__(self, stack: Stack, root: Path = ROOT) -> None:
        self.stack = stack
        self.root = root
        self.region = stack.region
        self._sessions: dict[tuple[str, str], boto3.Session] = {}

    @property
    def state_machine_arn(self) -> str:
        """The promote-card workflow."""
        return str(self.stack.outputs["PromoteCardStateMachineArn"])

    @property
    def share_arns(self) -> dict[str, str]:
        """Stage name → the stage's first RAM share ARN, as deployed (the template deploys one per stage)."""
        return {stage.name: stage.share_arns[0] for stage in self.settings().ladder.stages}

    def share_for(self, stage: str, card_arn: str) -> str:
        """The share of ``stage`` that ``card_arn`` belongs in (its slot), as the deployed ladder says."""
        ladder: StageLadder = self.settings().ladder
        return next(s for s in ladder.stages if s.name == stage).share_for(card_arn)

    def settings(self) -> Any:
        """The plan function's settings, read from its deployed environment."""
        return load_settings({**self.stack.environment[PLAN_FUNCTION], "AWS_REGION": self.region})

    def session(self, account: str = MODEL_CARD_ACCOUNT, role: str = "cardshare-local") -> boto3.Session:
        """A session acting as ``role`` in ``account`` (cached)."""
        key = (account, role)
        if key not in self._sessions:
            self._sessions[key] = session_for(account, role)
        return self._sessions[key]

    def executions(self) -> list[dict[str, Any]]:
        """Every execution of the workflow, oldest first, described."""
        sfn = self.session().client("stepfunctions")
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=self.state_machine_arn)
        listed = [execution for page in pages for execution in page["executions"]]
        return sorted(
            (sfn.describe_execution(executionArn=e["executionArn"]) for e in listed),
            key=lambda e: e["startDate"],
        )

    def wait_idle(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Block until no execution is RUNNING; return all executions."""
        deadline = time.monotonic() + timeout
        while True:
            executions = self.executions()
            if all(e["status"] != "RUNNING" for e in executions):
                return executions
            if time.monotonic() > deadline:
                running = [e["executionArn"] for e in executions if e["status"] == "RUNNING"]
                raise TimeoutError(f"executions still running after {timeout}s: {running}")
            time.sleep(0.05)

    def access(self, card_arn: str, account: str) -> str:
        """What ``account`` may do with the card through RAM: read-write, read-only or none."""
        actions = ram.shared_actions(MODEL_CARD_ACCOUNT, self.region, card_arn, account)
        if actions >= _FULL:
            return Access.READ_WRITE.value
        if "sagemaker:DescribeModelCard" in actions:
            return Access.READ_ONLY.value
        return "none"

    def associations(self, card_arn: str) -> dict[str, str]:
        """Stage name → the card's association status with that stage's shares (absent stages omitted)."""
        client = self.session().client("ram")
        by_share = {arn: stage.name for stage in self.settings().ladder.stages for arn in stage.share_arns}
        rows = client.get_resource_share_associations(
            associationType="RESOURCE", resourceShareArns=list(by_share), resourceArn=card_arn
        )["resourceShareAssociations"]
        return {by_share[row["resourceShareArn"]]: row["status"] for row in rows if row["status"] != "DISASSOCIATED"}


def stage_parameters(parameters: Mapping[str, str], root: Path = ROOT) -> dict[str, str]:
    """``<stage>AccountIds`` of every stage the deploy will have, each its local consumer account.

    The stages are the ``Stages`` given, or the template's default; accounts come from
    :func:`stage_account`.
    """
    stages = parameters.get("Stages") or _default_stages(root / "template.yaml")
    return {f"{stage}AccountIds": stage_account(stage) for stage in stages.split(",")}


@functools.cache
def _default_stages(template: Path) -> str:
    # Read once per template: a test session deploys hundreds of times, and parsing is not free.
    return str(load_template(template)["Parameters"]["Stages"]["Default"])


def deploy_local(
    parameters: Mapping[str, str] | None = None, root: Path = ROOT, stack_name: str = STACK_NAME
) -> LocalAws:
    """Install the extensions on a fresh embedded AWS and deploy template.yaml into it as ``stack_name``.

    The caller has started moto (``mock_aws`` in-process, or a server with AWS_ENDPOINT_URL set).
    """
    extensions.install()
    ram.reset()
    eventbridge_targets.reset()
    lambda_inprocess.reset()
    given = {**LOCAL_PARAMETERS, **(parameters or {})}
    stage_accounts = stage_parameters(given, root)
    # Every stage's consumer account is a member, as in an organization with RAM sharing enabled.
    members = ORGANIZATION_MEMBERS | set(stage_accounts.values())
    ram.configure_organization(MODEL_CARD_ACCOUNT, ORGANIZATION_ID, members)
    stack = deploy_stack(
        root,
        boto3.Session(region_name=REGION),
        {**stage_accounts, **given},
        stack_name=stack_name,
        account=MODEL_CARD_ACCOUNT,
        region=REGION,
    )
    system = LocalAws(stack, root)
    system.settings()  # an invalid stage ladder fails here, naming the field
    return system


@contextmanager
def local_aws(
    parameters: Mapping[str, str] | None = None, root: Path = ROOT, stack_name: str = STACK_NAME
) -> Iterator[LocalAws]:
    """Start the embedded AWS, deploy template.yaml, yield the running system, tear it all down."""
    previous = {key: os.environ.get(key) for key in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    os.environ.update({"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION})
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            yield deploy_local(parameters, root, stack_name)
    finally:
        lambda_inprocess.clear_environment()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
