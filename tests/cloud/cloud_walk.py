"""The cloud walk: drive one card through the ladder on a deployed stack and check what consumers get.

Works with any boto3 sessions: real profiles (tests/cloud) or the embedded AWS's roles
(tests/e2e/test_cloud_walk_local.py), so the same steps are exercised offline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from cloud_support import (
    card_content,
    consumer_fits,
    content_edit_message,
    current_shares,
    edited,
    expected_access,
    expected_shares,
    names_card,
    new_executions,
    permission_problems,
    poll,
    settle_timeout,
)

from cardshare.ram import ResourceShares
from cardshare_cli.repairs import Repairs
from cardshare_cli.stack import Stack

# Throttled reads and writes are retried like the functions' and the CLI's (adaptive mode): a poll
# every few seconds for minutes must not fail on one ThrottlingException.
_RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8})


def error_code(error: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(error.response.get("Error", {}).get("Code", ""))


@dataclass
class CloudTarget:
    """A deployed stack and the people who act on it.

    ``owner`` creates, submits and archives (model-card account); ``approver`` is another person there
    who may approve (None: approvals are not tested); ``consumers``: stage name → a consumer account's session.
    ``interval``: seconds between polls (real AWS: seconds; the embedded AWS: a few milliseconds).
    """

    stack: Stack
    owner: boto3.Session
    consumers: Mapping[str, boto3.Session]
    approver: boto3.Session | None = None
    interval: float = 5.0
    event_timeout: float = 120.0
    """How long a content-only edit's event may take to start an execution before it counts as missing."""
    _clients: dict[tuple[int, str], Any] = field(default_factory=dict)

    def client(self, session: boto3.Session, service: str) -> Any:
        """A client of ``service`` for ``session`` in the stack's region (cached), retrying like the CLI's."""
        key = (id(session), service)
        if key not in self._clients:
            factory: Any = session.client
            self._clients[key] = factory(
                service,
                region_name=self.stack.region,
                endpoint_url=self.stack.connection.endpoint_url,
                config=_RETRIES,
            )
        return self._clients[key]

    @property
    def timeout(self) -> float:
        """How long one step may take to show in RAM, from the stack's own settings."""
        return settle_timeout(self.stack.settings)

    @property
    def share_arns(self) -> list[str]:
        """The stack's shares, in ladder order."""
        return list(self.stack.settings.ladder.share_arns)

    # ---- acting ------------------------------------------------------------------------------------

    def create(self, name: str, status: str = "Draft") -> str:
        """Create the card with content that passes the review gate; its ARN."""
        sagemaker = self.client(self.owner, "sagemaker")
        created = sagemaker.create_model_card(
            ModelCardName=name,
            Content=card_content(self.stack.settings.gates.required_fields),
            ModelCardStatus=status,
        )
        return str(created["ModelCardArn"])

    def set_status(self, arn: str, status: str) -> None:
        """Move the card to ``status``: the approver approves, the owner does everything else."""
        person = self.approver if status == "Approved" else self.owner
        if person is None:
            raise AssertionError("no approver configured")
        self.client(person, "sagemaker").update_model_card(ModelCardName=arn, ModelCardStatus=status)

    def edit_content(self, arn: str) -> None:
        """A content-only UpdateModelCard by the owner (no status)."""
        sagemaker = self.client(self.owner, "sagemaker")
        content = sagemaker.describe_model_card(ModelCardName=arn)["Content"]
        sagemaker.update_model_card(ModelCardName=arn, Content=edited(content, f"Edited at {time.time():.0f}."))

    def delete(self, arn: str) -> None:
        """Delete the card (already gone is fine) and wait until no share has it.

        SageMaker emits no event for a deletion, so the card's workflow is started the way
        ``cardshare reconcile --card`` does (the operator's repair), which removes every association.
        """
        try:
            self.client(self.owner, "sagemaker").delete_model_card(ModelCardName=arn)
        except ClientError as error:
            if error_code(error) not in {"ResourceNotFound", "ResourceNotFoundException"}:
                raise
        if self.shares(arn):
            Repairs(self.stack).card(arn, dry_run=False)
        self.wait_shared(arn, None)

    # ---- observing ---------------------------------------------------------------------------------

    def shares(self, arn: str) -> dict[str, str]:
        """Share ARN → the card's association status (DISASSOCIATED left out)."""
        ram = self.client(self.owner, "ram")
        pages = ram.get_paginator("get_resource_share_associations").paginate(
            associationType="RESOURCE", resourceShareArns=self.share_arns, resourceArn=arn
        )
        return current_shares(row for page in pages for row in page.get("resourceShareAssociations", []))

    def wait_shared(self, arn: str, status: str | None) -> dict[str, str]:
        """Wait until RAM associates the card with exactly the shares the ladder gives ``status``."""
        expected = expected_shares(self.stack.settings.ladder, status, arn)
        return poll(
            lambda: self.shares(arn),
            lambda seen: seen == expected,
            timeout=self.timeout,
            interval=self.interval,
            what=f"{arn.rsplit('/', 1)[-1]} shared as {status or 'deleted'} ({sorted(expected)}; "
            "`cardshare why CARD` tells why not)",
        )

    def consumer_outcomes(self, arn: str, content: str, writes: bool) -> dict[str, tuple[str, str]]:
        """Stage → (describe outcome, update outcome), each "ok" or the error code, as each consumer sees it.

        An update (``content`` with the stage's name in the description, so it is a real edit: SageMaker
        might refuse an update that changes nothing) is attempted by every stage that can read the card, except
        read-write stages when ``writes`` is false: an edit of an approved card is a new version
        nobody approved, which would take the card back from prod.
        """
        ladder = {stage.name: stage.access.value for stage in self.stack.settings.ladder.stages}
        outcomes = {}
        for stage, session in self.consumers.items():
            sagemaker = self.client(session, "sagemaker")
            try:
                sagemaker.describe_model_card(ModelCardName=arn)
                read = "ok"
            except ClientError as error:
                read = error_code(error)
            write = "skipped"
            if read == "ok" and (writes or ladder.get(stage) != "read-write"):
                try:
                    sagemaker.update_model_card(ModelCardName=arn, Content=edited(content, f"Edited from {stage}."))
                    write = "ok"
                except ClientError as error:
                    write = error_code(error)
            outcomes[stage] = (read, write)
        return outcomes

    def check_consumers(self, arn: str, status: str) -> None:
        """Each consumer reads and writes as the ladder says for ``status``; retried while RAM propagates.

        A read-write stage reads and writes (writes only before approval), a read-only one reads and
        is refused the write with AccessDeniedException, a stage without access cannot read.
        """
        expected = expected_access(self.stack.settings.ladder, status)
        writes = status not in {"Approved", "Archived"}
        content = self.client(self.owner, "sagemaker").describe_model_card(ModelCardName=arn)["Content"]

        def fits(outcomes: dict[str, tuple[str, str]]) -> bool:
            return all(consumer_fits(expected[stage], outcome, writes) for stage, outcome in outcomes.items())

        poll(
            lambda: self.consumer_outcomes(arn, content, writes),
            fits,
            timeout=60.0,
            interval=self.interval,
            what=f"consumers of {arn.rsplit('/', 1)[-1]} in {status}: expected {expected} (stage: (read, write))",
        )

    def step(self, arn: str, status: str) -> None:
        """Set ``status``, wait until RAM matches the ladder, then check every consumer."""
        self.set_status(arn, status)
        self.settled(arn, status)

    def settled(self, arn: str, status: str) -> None:
        """Wait until RAM matches the ladder for ``status``, then check every consumer."""
        self.wait_shared(arn, status)
        self.check_consumers(arn, status)

    def walk(self, arn: str, statuses: list[str]) -> None:
        """The card was created in ``statuses[0]``: check it there, then move it through the rest."""
        self.settled(arn, statuses[0])
        for status in statuses[1:]:
            self.step(arn, status)

    # ---- the two unconfirmed behaviours ------------------------------------------------------------

    def prod_permission_problems(self) -> list[str]:
        """What is wrong with the read-only stages' permission (empty: RAM accepted and attached it).

        Every share of every read-only stage (prod with the default ladder), each problem prefixed
        with its share's stage and slot.
        """
        ram = self.client(self.owner, "ram")
        problems: list[str] = []
        for stage in self.stack.settings.ladder.stages:
            if stage.access.value != "read-only":
                continue
            for slot, share in enumerate(stage.share_arns, start=1):
                found = self._permission_problems(ram, share)
                problems += [f"{stage.name} share {slot}: {problem}" for problem in found]
        return problems

    def _permission_problems(self, ram: Any, share: str) -> list[str]:
        permissions: list[dict[str, Any]] = []
        request: dict[str, Any] = {"resourceShareArn": share}
        while True:  # botocore has no paginator for this operation
            page = ram.list_resource_share_permissions(**request)
            permissions += page.get("permissions", [])
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
        return permission_problems(
            permissions,
            self.stack.outputs["ReadOnlyPermission"],
            created_by_stack=_stack_made_permission(self.stack),
            grants_update=ResourceShares(ram).grants_update(share),
        )

    def content_edit_emits_event(self, arn: str) -> tuple[bool, str]:
        """Make a content-only edit of the card and watch for an execution about it; (seen, verdict)."""
        sfn = self.client(self.owner, "stepfunctions")
        machine = self.stack.outputs["PromoteCardStateMachineArn"]

        def listed() -> list[dict[str, Any]]:
            pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
            return [row for page in pages for row in page["executions"]]

        seen = {row["executionArn"] for row in listed()}
        self.edit_content(arn)

        def about_card() -> bool:
            for execution in new_executions(listed(), seen):
                seen.add(execution)
                if names_card(sfn.describe_execution(executionArn=execution).get("input", ""), arn):
                    return True
            return False

        try:
            poll(about_card, bool, timeout=self.event_timeout, interval=self.interval, what="content edit event")
            found = True
        except AssertionError:
            found = False
        return found, content_edit_message(found, self.event_timeout)


def _stack_made_permission(stack: Stack) -> bool:
    # With ReadOnlyPermissionArn empty the stack creates "<stack>-model-card-read-only"; a permission
    # passed in is someone else's and may be AWS managed, so its type is not checked.
    return stack.outputs.get("ReadOnlyPermission", "").rsplit("/", 1)[-1] == f"{stack.name}-model-card-read-only"
