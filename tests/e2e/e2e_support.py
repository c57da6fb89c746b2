"""Helpers for the end-to-end tests: act like the people in the scenario, then check what cardshare did.

Every check looks at the system from the outside, the way an operator or a consumer account would:
RAM's associations (the model-card account's view), SageMaker by ARN from each consumer account,
and the Step Functions executions (status, error, cause, output).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from template_loader import stage_names

from cardshare.status import CardStatus
from cardshare_local.accounts import DEV_ACCOUNT, MODEL_CARD_ACCOUNT, PROD_ACCOUNT, REGION, TEST_ACCOUNT, stage_account
from cardshare_local.extensions import ram
from cardshare_local.runtime import LocalAws

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

#: The consumer account of each of the template's stages in the local setup.
CONSUMERS: dict[str, str] = {stage: stage_account(stage) for stage in stage_names()}

#: The README's sharing table, written out by hand: guards the ladder the template builds.
README_TABLE: dict[str, dict[str, str]] = {
    "Draft": {DEV_ACCOUNT: "read-write", TEST_ACCOUNT: "none", PROD_ACCOUNT: "none"},
    "PendingReview": {DEV_ACCOUNT: "read-write", TEST_ACCOUNT: "read-write", PROD_ACCOUNT: "none"},
    "Approved": {DEV_ACCOUNT: "read-write", TEST_ACCOUNT: "read-write", PROD_ACCOUNT: "read-only"},
    "Archived": {DEV_ACCOUNT: "none", TEST_ACCOUNT: "none", PROD_ACCOUNT: "read-only"},
}

#: Template parameters for a test about something other than settling: approvals settle after 2 s
#: instead of the local 5 s (EvidenceWaitSeconds; the quiet period stays as deployed).
SHORT_EVIDENCE_WAIT: dict[str, str] = {"EvidenceWaitSeconds": "2"}


def stack(**parameters: str) -> pytest.MarkDecorator:
    """Deploy the test's stack with :data:`SHORT_EVIDENCE_WAIT` and ``parameters`` (indirect "system")."""
    merged = {**SHORT_EVIDENCE_WAIT, **parameters}
    label = ",".join(f"{key}={value}" for key, value in merged.items())
    return pytest.mark.parametrize("system", [merged], indirect=True, ids=[label])


# People in the model-card account.
LEAD = "lead-data-scientist"
SCIENTIST = "data-scientist"
APPROVER = "model-approver"
RAM_TASKS = ("Associate", "Disassociate")


def card_arn(name: str) -> str:
    """The ARN of a card in the model-card account."""
    return f"arn:aws:sagemaker:{REGION}:{MODEL_CARD_ACCOUNT}:model-card/{name}"


def card_content(owner: str = LEAD, with_uses: bool = True) -> str:
    """Model card content as a data scientist sends it (always whole, per UpdateModelCard).

    With the intended uses the card fills every field the review gate requires by default.
    """
    content: dict[str, Any] = {
        "model_overview": {"model_id": "churn-xgboost", "model_owner": owner, "problem_type": "Binary Classification"}
    }
    if with_uses:
        content["intended_uses"] = {"intended_uses": "Weekly retention campaign.", "risk_rating": "Low"}
    return json.dumps(content)


# One botocore loader for every client the tests make: a fresh session parses each service's JSON
# model again (~50 ms for SageMaker). Credentials still come from the role's own session.
_SHARED = boto3.Session(region_name=REGION)


def client(system: LocalAws, service: str, account: str = MODEL_CARD_ACCOUNT, role: str = "cardshare-local") -> Any:
    """A boto3 client acting as ``role`` in ``account`` (assumed like session_for does), cached per system."""
    cache: dict[Any, Any] = system.__dict__.setdefault("_e2e_clients", {})
    key = (service, account, role)
    if key not in cache:
        if "sts" not in cache:
            cache["sts"] = _SHARED.client("sts")
        credentials = cache["sts"].assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=role[:64]
        )["Credentials"]
        cache[key] = _SHARED.client(
            service,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
    return cache[key]


def sagemaker(system: LocalAws, account: str = MODEL_CARD_ACCOUNT, role: str = LEAD) -> Any:
    """A SageMaker client acting as ``role`` in ``account``."""
    return client(system, "sagemaker", account, role)


def consumer(system: LocalAws, account: str) -> Any:
    """A SageMaker client of an ML engineer in a consumer account."""
    return sagemaker(system, account, "ml-engineer")


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    """The AWS error code of a ClientError."""
    return str(excinfo.value.response["Error"]["Code"])


# ---- expectations from the deployed ladder ---------------------------------------------------------


def ladder_stages(system: LocalAws, status: str | None) -> set[str]:
    """The stages the deployed ladder shares a card in ``status`` with (None: the card is gone)."""
    ladder = system.settings().ladder
    return {stage.name for stage in ladder.stages_for(CardStatus(status) if status else None)}


def ladder_access(system: LocalAws, status: str | None) -> dict[str, str]:
    """Account → access the deployed ladder gives for a card in ``status``, for every account it names."""
    ladder = system.settings().ladder
    access = {principal: "none" for stage in ladder.stages for principal in stage.principals}
    for stage in ladder.stages_for(CardStatus(status) if status else None):
        for principal in stage.principals:
            access[principal] = stage.access.value
    return access


# ---- executions ------------------------------------------------------------------------------------


class Executions:
    """Hands out the executions that ended since the previous call (the reaction to one step).

    Like ``LocalAws.wait_idle`` but with one cached client and only the new executions described:
    wait_idle builds a client per poll, which made each step ~0.3 s slower.
    """

    def __init__(self, system: LocalAws, *, skip_existing: bool = False) -> None:
        self.system = system
        self.seen: set[str] = set()
        if skip_existing:
            self.seen.update(e["executionArn"] for e in self._listed())

    def _listed(self) -> list[dict[str, Any]]:
        sfn = client(self.system, "stepfunctions")
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=self.system.state_machine_arn)
        return [execution for page in pages for execution in page["executions"]]

    def new(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Wait until nothing runs; return the executions not handed out before, oldest first."""
        deadline = time.monotonic() + timeout
        while True:
            listed = self._listed()
            if all(e["status"] != "RUNNING" for e in listed):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"executions still running after {timeout}s")
            time.sleep(0.02)
        sfn = client(self.system, "stepfunctions")
        fresh = [
            sfn.describe_execution(executionArn=e["executionArn"]) for e in listed if e["executionArn"] not in self.seen
        ]
        self.seen.update(e["executionArn"] for e in fresh)
        return sorted(fresh, key=lambda e: e["startDate"])

    def inputs(self) -> list[dict[str, Any]]:
        """The input (the EventBridge event) of every execution so far, oldest first."""
        sfn = client(self.system, "stepfunctions")
        listed = sorted(self._listed(), key=lambda e: e["startDate"])
        return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in listed]

    def last_input(self) -> dict[str, Any]:
        """The input (the EventBridge event) of the most recent execution."""
        return self.inputs()[-1]


def output(execution: Mapping[str, Any]) -> dict[str, Any]:
    """An execution's output document."""
    return dict(json.loads(execution["output"]))


def describe(execution: Mapping[str, Any]) -> str:
    """One line for an assertion message."""
    return f"{execution['name']} {execution['status']} {execution.get('error')} {execution.get('cause')}"


def assert_succeeded(
    executions: list[dict[str, Any]],
    *,
    added: Iterable[str] = (),
    removed: Iterable[str] = (),
    status: str | None = None,
    exists: bool = True,
    count: int = 1,
    blocked_as: str | None = None,
) -> dict[str, Any]:
    """Exactly ``count`` executions, all SUCCEEDED; the last one's output as given. Returns that output.

    The card is shared as its own status with no gate blocking it, unless ``blocked_as`` names the
    status a gate held it back to.
    """
    assert len(executions) == count, [describe(e) for e in executions]
    assert all(e["status"] == "SUCCEEDED" for e in executions), [describe(e) for e in executions]
    result = output(executions[-1])
    assert result["sharesAdded"] == sorted(added), result
    assert result["sharesRemoved"] == sorted(removed), result
    assert result["exists"] is exists, result
    assert result["status"] == status, result
    if blocked_as is None:
        assert (result["effectiveStatus"], result["blocked"]) == (status, []), result
    else:
        assert result["effectiveStatus"] == blocked_as, result
        assert result["blocked"], result
    return result


def assert_failed(execution: Mapping[str, Any], error: str) -> dict[str, Any]:
    """The execution FAILED with ``error``; returns its cause (the Lambda error document)."""
    assert execution["status"] == "FAILED", describe(execution)
    assert execution.get("error") == error, describe(execution)
    return dict(json.loads(execution["cause"]))


def ram_tasks(system: LocalAws, execution: Mapping[str, Any]) -> list[str]:
    """The RAM tasks (Associate / Disassociate) an execution entered, from its history."""
    sfn = client(system, "stepfunctions")
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] in RAM_TASKS
    ]


def start(system: LocalAws, event: Mapping[str, Any]) -> str:
    """Start the workflow directly with ``event`` as input, named like EventBridge names its executions.

    The name matters locally: moto names an unnamed execution "None", so a second unnamed start in
    one stack would collide with the first.
    """
    sfn = client(system, "stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=system.state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(event)
    )
    return str(started["executionArn"])


def put_again(system: LocalAws, event: Mapping[str, Any]) -> None:
    """Put a state-change event on the model-card account's default bus again (EventBridge redelivery)."""
    events = client(system, "events")
    result = events.put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
                "EventBusName": "default",
            }
        ]
    )
    assert result["FailedEntryCount"] == 0, result


def load_event(file: str, name: str) -> dict[str, Any]:
    """An event from ``events/``, adjusted to card ``name`` of the model-card account (fields it lacks stay absent)."""
    event = dict(json.loads((EVENTS / file).read_text(encoding="utf-8")))
    event["account"] = MODEL_CARD_ACCOUNT
    event["region"] = REGION
    event["resources"] = [card_arn(name)]
    if isinstance(event.get("detail"), dict):
        event["detail"].update({"ModelCardName": name, "AccountId": MODEL_CARD_ACCOUNT})
    return event


def state_change_event(name: str, status: str, version: int = 1) -> dict[str, Any]:
    """A well-formed "SageMaker Model Card State Change" event for card ``name`` in ``status``."""
    event = load_event("card-draft.json", name)
    event["detail"].update({"ModelCardStatus": status, "ModelCardVersion": version})
    return event


# ---- RAM and consumers -----------------------------------------------------------------------------


def associations(system: LocalAws, arn: str) -> dict[str, str]:
    """Stage → status of the card's association with that stage's shares (DISASSOCIATED left out).

    LocalAws.associations with a cached client (it builds a new one on every call).
    """
    by_share = {share: stage.name for stage in system.settings().ladder.stages for share in stage.share_arns}
    rows = client(system, "ram").get_resource_share_associations(
        associationType="RESOURCE", resourceShareArns=list(by_share), resourceArn=arn
    )["resourceShareAssociations"]
    return {by_share[r["resourceShareArn"]]: r["status"] for r in rows if r["status"] != "DISASSOCIATED"}


def assert_associations(system: LocalAws, arn: str, stages: Iterable[str]) -> None:
    """RAM associates the card with exactly ``stages`` (every other association is DISASSOCIATED)."""
    assert associations(system, arn) == dict.fromkeys(sorted(stages), "ASSOCIATED")


def ram_rows(system: LocalAws, arn: str) -> list[tuple[str, str, Any, Any]]:
    """Every association row RAM keeps for the card: (share, status, created, last updated)."""
    rows = client(system, "ram").get_resource_share_associations(
        associationType="RESOURCE", resourceShareArns=list(system.settings().ladder.share_arns), resourceArn=arn
    )["resourceShareAssociations"]
    return sorted((r["resourceShareName"], r["status"], r["creationTime"], r["lastUpdatedTime"]) for r in rows)


def all_rows(system: LocalAws) -> list[tuple[str, str, str, Any]]:
    """Every resource association of the stack's shares, settled (entity, share, status, updated)."""
    ram.settle()
    rows = (
        client(system, "ram")
        .get_resource_share_associations(
            associationType="RESOURCE", resourceShareArns=list(system.settings().ladder.share_arns)
        )
        .get("resourceShareAssociations", [])
    )
    return sorted((r["associatedEntity"], r["resourceShareName"], r["status"], r["lastUpdatedTime"]) for r in rows)


def assert_consumers(system: LocalAws, arn: str, expected: Mapping[str, str]) -> None:
    """Each account has the ``expected`` access (read-write | read-only | none), as it sees it.

    Describe by ARN succeeds with access and is denied without; an account without read-write
    access (prod above all) is refused UpdateModelCard. Read-write writes are exercised by the
    scenarios themselves (they change the card).
    """
    for account, access in expected.items():
        assert system.access(arn, account) == access, f"{account}: RAM grants {system.access(arn, account)}"
        engineer = consumer(system, account)
        if access == "none":
            with pytest.raises(ClientError) as denied:
                engineer.describe_model_card(ModelCardName=arn)
            assert error_code(denied) == "AccessDeniedException", account
        else:
            card = engineer.describe_model_card(ModelCardName=arn)
            assert card["ModelCardArn"] == arn
        if access != "read-write":
            with pytest.raises(ClientError) as refused:
                engineer.update_model_card(ModelCardName=arn, Content=card_content(f"{account}-intruder"))
            assert error_code(refused) == "AccessDeniedException", account


def assert_shared_per_ladder(system: LocalAws, arn: str, status: str | None) -> None:
    """RAM and the consumers agree with the deployed ladder for a card in ``status``."""
    assert_associations(system, arn, ladder_stages(system, status))
    assert_consumers(system, arn, ladder_access(system, status))


#: Who changes a card to each status in the scenarios: an approver who authored nothing approves.
ACTOR = {"Draft": LEAD, "PendingReview": SCIENTIST, "Approved": APPROVER, "Archived": LEAD}


def set_status(system: LocalAws, arn: str, status: str) -> None:
    """The person whose job it is moves the card to ``status`` (SageMaker console or API)."""
    sagemaker(system, role=ACTOR[status]).update_model_card(ModelCardName=arn, ModelCardStatus=status)


def walk(system: LocalAws, name: str, *statuses: str) -> str:
    """Create the card (complete content) in the first status, then move it through the others.

    Waits after each step; every step must end in one SUCCEEDED execution that shares the card as
    its status says. Returns the card's ARN.
    """
    watch = Executions(system, skip_existing=True)
    lead = sagemaker(system, role=LEAD)
    arn = str(
        lead.create_model_card(ModelCardName=name, Content=card_content(), ModelCardStatus=statuses[0])["ModelCardArn"]
    )
    assert_succeeded(watch.new(), added=ladder_stages(system, statuses[0]), status=statuses[0])
    for before, status in itertools.pairwise(statuses):
        set_status(system, arn, status)
        old, new = ladder_stages(system, before), ladder_stages(system, status)
        assert_succeeded(watch.new(), added=new - old, removed=old - new, status=status)
    assert_shared_per_ladder(system, arn, statuses[-1])
    return arn


def reach(system: LocalAws, name: str, *statuses: str) -> str:
    """Create the card (complete content) in the first status and move it through the others quickly.

    Each status is set by the person whose job it is (:data:`ACTOR`), without waiting in between,
    except that an approval waits until the moves before it were processed (see :func:`reach_all`).
    Every execution must succeed, and the card must end shared as its last status says. A
    scenario's starting point; :func:`walk` checks each step. Returns the card's ARN.
    """
    return reach_all(system, {name: statuses})[name]


def reach_all(system: LocalAws, cards: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """:func:`reach` for several cards at once (card name → statuses); name → ARN.

    At most two waits for all the cards: the moves up to the first approval, then the rest. An
    approval is judged on the events of the moves before it, and an execution that starts late on
    a busy machine must not turn a legitimate approval into "never seen in review" (a test about
    quick approvals sets them without waiting, and says so).
    """
    watch = Executions(system, skip_existing=True)
    lead = sagemaker(system, role=LEAD)
    arns = {
        name: str(
            lead.create_model_card(ModelCardName=name, Content=card_content(), ModelCardStatus=statuses[0])[
                "ModelCardArn"
            ]
        )
        for name, statuses in cards.items()
    }
    # Every move before a card's first approval, one wait; then the approval and what follows it.
    phases = {name: _split_at_approval(list(statuses)) for name, statuses in cards.items()}
    executions: list[dict[str, Any]] = []
    for phase in (0, 1):
        moves = [(name, status) for name, parts in phases.items() for status in parts[phase]]
        if phase and not moves:
            break
        for name, status in moves:
            set_status(system, arns[name], status)
        executions += watch.new()
    assert len(executions) == sum(len(statuses) for statuses in cards.values()), [describe(e) for e in executions]
    assert all(e["status"] == "SUCCEEDED" for e in executions), [describe(e) for e in executions]
    for name, statuses in cards.items():
        assert_associations(system, arns[name], ladder_stages(system, statuses[-1]))
    return arns


def _split_at_approval(statuses: list[str]) -> tuple[list[str], list[str]]:
    """The moves after creation: those before the first approval, and the approval with the rest."""
    first = statuses.index("Approved", 1) if "Approved" in statuses[1:] else len(statuses)
    return statuses[1:first], statuses[first:]
