"""The plan function as Lambda runs it: deployed from template.yaml, invoked through the Lambda API.

The in-process Lambda extension imports functions/plan_card/app.py with the function's deployed
environment (CARDSHARE_STAGES and the rest, as the template renders them) and calls the handler.
The workflow is kept out of the way (its rule is disabled) so each test drives the rounds itself:
plan, apply the actions with RAM as the Map state would, plan again.

The events SageMaker emits are captured on a queue instead. The approval gate judges a card on the
evidence its events and reads leave, so a test hands the plan function each change's event, as
EventBridge would have, before it converges the card.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emf import Point

from cardshare.evidence_store import EVIDENCE_KEY
from cardshare.policy import ConfigError
from cardshare_local.accounts import DEV_ACCOUNT, MODEL_CARD_ACCOUNT, PROD_ACCOUNT, REGION, TEST_ACCOUNT
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.extensions import ram as ram_ext
from cardshare_local.runtime import PLAN_FUNCTION, LocalAws, local_aws

ROOT = Path(__file__).resolve().parents[2]
CARD_NAME = "Customer-Churn-Model-Card"
CARD_ARN = f"arn:aws:sagemaker:{REGION}:{MODEL_CARD_ACCOUNT}:model-card/{CARD_NAME}"
SAMPLES = {
    "Draft": "card-draft.json",
    "PendingReview": "card-pending-review.json",
    "Approved": "card-approved.json",
    "Archived": "card-archived.json",
}
# The default ladder (README): which stages hold a card in each status, in stage order.
STAGES_FOR = {
    "Draft": ["dev"],
    "PendingReview": ["dev", "test"],
    "Approved": ["dev", "test", "prod"],
    "Archived": ["prod"],
}
CONSUMERS = {
    "dev": (DEV_ACCOUNT, "read-write"),
    "test": (TEST_ACCOUNT, "read-write"),
    "prod": (PROD_ACCOUNT, "read-only"),
}
# Every field the review gate requires by default (ReviewRequiredFields).
CONTENT = {
    "model_overview": {"model_owner": "churn-team", "problem_type": "Binary Classification"},
    "intended_uses": {"intended_uses": "Predict which customers are likely to cancel."},
}
SUMMARY_KEYS = ("card", "exists", "status", "version", "sharesAdded", "sharesRemoved")
CAPTURE_RULE = "capture-card-state-changes"
CAPTURE_QUEUE = "card-state-changes"
# How long an approval waits for late events (the template's minimum): the tests wait it out for real.
STACK_PARAMETERS = {"EvidenceWaitSeconds": "1"}

Invoke = Callable[..., Any]


# ---- one deployment for the tests of the class below; each test starts from no card, no association ----


def capture_events(deployed: LocalAws) -> None:
    """Disable the stack's rule (no workflow runs by itself) and capture the same events on a queue."""
    events = deployed.session().client("events")
    rule = deployed.stack.resources["CardStateChangeRule"]
    events.disable_rule(Name=rule)
    sqs = deployed.session().client("sqs")
    queue = sqs.create_queue(QueueName=CAPTURE_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=CAPTURE_RULE, EventPattern=events.describe_rule(Name=rule)["EventPattern"])
    events.put_targets(Rule=CAPTURE_RULE, Targets=[{"Id": "queue", "Arn": queue_arn}])


@pytest.fixture(scope="class")
def stack(cold_start: Callable[[], None]) -> Iterator[LocalAws]:
    """The stack deployed with the local defaults; its rule disabled so no workflow runs by itself."""
    with local_aws(STACK_PARAMETERS) as deployed:
        capture_events(deployed)
        cold_start()
        yield deployed
    cold_start()


@pytest.fixture
def system(stack: LocalAws) -> LocalAws:
    """The shared stack with the sample card deleted and every association of it removed."""
    ram_ext.reset_faults()
    try:
        stack.session().client("sagemaker").delete_model_card(ModelCardName=CARD_NAME)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFound":  # already gone is fine
            raise
    ram_ext.settle()
    ram = stack.session().client("ram")
    rows = ram.get_resource_share_associations(
        associationType="RESOURCE", resourceShareArns=list(stack.share_arns.values()), resourceArn=CARD_ARN
    )["resourceShareAssociations"]
    for row in rows:
        if row["status"] in ("ASSOCIATED", "FAILED"):
            ram.disassociate_resource_share(resourceShareArn=row["resourceShareArn"], resourceArns=[CARD_ARN])
    ram_ext.settle()
    # Evidence only grows: a card created again under the same name starts from none.
    stack.session().client("dynamodb").delete_item(
        TableName=stack.stack.outputs["DecisionLedgerTableName"],
        Key={"cardArn": {"S": CARD_ARN}, "decidedAt": {"S": EVIDENCE_KEY}},
    )
    emitted(stack)  # drop the events of earlier tests
    return stack


class Log:
    """The plan function's log lines written during this test (or since ``mark()``), parsed."""

    def __init__(self, system: LocalAws, read: Callable[..., list[dict[str, Any]]]) -> None:
        self.system, self.read = system, read
        self.mark()

    def mark(self) -> None:
        """Forget the lines written so far (evidence handed over before the rounds under test)."""
        self.start = len(lambda_inprocess.logs(str(self.system.stack.resources[PLAN_FUNCTION])))

    def __call__(self) -> list[dict[str, Any]]:
        return self.read(self.system, self.start)


@pytest.fixture
def log(system: LocalAws, function_log: Callable[..., list[dict[str, Any]]]) -> Log:
    """The plan function's log lines written during this test, parsed."""
    return Log(system, function_log)


def create_card(system: LocalAws, status: str, name: str = CARD_NAME, approver: str = "model-approver") -> str:
    """A card in ``status`` that has earned it: review content filled, approved by a non-author after review.

    An Approved card is written and submitted by "data-scientist" (version 1), edited by them while
    in review (version 2), then approved by ``approver``; an Archived one is that card, archived.
    """
    author = system.session(MODEL_CARD_ACCOUNT, "data-scientist").client("sagemaker")
    approved = status in ("Approved", "Archived")
    first = "PendingReview" if approved else status
    arn = author.create_model_card(ModelCardName=name, Content=json.dumps(CONTENT), ModelCardStatus=first)
    if approved:
        # A second version reviewed as PendingReview, then approved by someone who did not write it.
        author.update_model_card(ModelCardName=name, Content=json.dumps({**CONTENT, "additional_information": {}}))
        system.session(MODEL_CARD_ACCOUNT, approver).client("sagemaker").update_model_card(
            ModelCardName=name, ModelCardStatus="Approved"
        )
    if status == "Archived":
        author.update_model_card(ModelCardName=name, ModelCardStatus="Archived")
    return str(arn["ModelCardArn"])


def emitted(system: LocalAws) -> list[dict[str, Any]]:
    """The "SageMaker Model Card State Change" events emitted since the last call, oldest first."""
    sqs = system.session().client("sqs")
    queue = sqs.get_queue_url(QueueName=CAPTURE_QUEUE)["QueueUrl"]
    events: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        events += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return events


def deliver(system: LocalAws, invoke_plan: Invoke, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first round of each event's own execution, as the workflow would run it; nothing applied."""
    results = []
    for event in events:
        answer = invoke_plan(system, event)
        assert answer.function_error is None, answer.payload
        results.append(answer.payload)
    return results


def statuses(events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(e["detail"]["ModelCardVersion"], e["detail"]["ModelCardStatus"]) for e in events]


def apply(system: LocalAws, actions: list[dict[str, str]]) -> None:
    """What the workflow's Apply map does with a plan's actions."""
    ram = system.session().client("ram")
    for action in actions:
        call = ram.associate_resource_share if action["op"] == "associate" else ram.disassociate_resource_share
        call(
            resourceShareArn=action["shareArn"], resourceArns=[action["resourceArn"]], clientToken=action["clientToken"]
        )


def converge(system: LocalAws, invoke_plan: Invoke, event: dict[str, Any], rounds: int = 8) -> list[dict[str, Any]]:
    """Plan and apply round after round until the plan says done; every plan result, in order."""
    results: list[dict[str, Any]] = []
    progress = None
    execution = f"arn:aws:states:{REGION}:{MODEL_CARD_ACCOUNT}:execution:cardshare-promote-card:{uuid.uuid4()}"
    for _ in range(rounds):
        answer = invoke_plan(system, event, progress, execution)
        assert answer.function_error is None, answer.payload
        results.append(answer.payload)
        if answer.payload["next"] == "done":
            return results
        apply(system, answer.payload["actions"])
        evidence_wait(answer.payload)
        progress = answer.payload["progress"]
    raise AssertionError(f"not done after {rounds} rounds: {[r['next'] for r in results]}")


def evidence_wait(result: dict[str, Any]) -> None:
    """The workflow's Wait state, for real when the round waits for evidence (it settles with time).

    RAM's waits need none: the local RAM settles on the next read.
    """
    if result["next"] == "wait" and result["summary"]["pending"]:
        assert 1 <= result["waitSeconds"] <= 5, result["waitSeconds"]
        time.sleep(result["waitSeconds"])


def stand_still(system: LocalAws) -> None:
    """Wait (really) until the card has stood still for QuietSeconds, so a round acts on it at once."""
    threading.Event().wait(system.settings().limits.quiet_seconds + 0.1)


def applied(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rounds that asked for RAM changes."""
    return [result for result in results if result["actions"]]


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The summary fields the workflow's output promises (card, status, version, shares added/removed)."""
    return {key: result["summary"][key] for key in SUMMARY_KEYS}


def moves(results: list[dict[str, Any]]) -> list[str]:
    """The sequence of moves, with consecutive waits collapsed into one."""
    collapsed: list[str] = []
    for result in results:
        if not (collapsed and collapsed[-1] == result["next"] == "wait"):
            collapsed.append(result["next"])
    return collapsed


def rejected_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("message") == "rejected: not retried"]


class TestOnTheDeployedStack:
    # ---- each status ---------------------------------------------------------------------------------

    @pytest.mark.parametrize("status", list(SAMPLES))
    def test_a_card_in_each_status_is_shared_with_its_stages(
        self,
        system: LocalAws,
        log: Log,
        invoke_plan: Invoke,
        load_event: Callable[[str], dict[str, Any]],
        emf_points: Callable[[list[dict[str, Any]]], list[Point]],
        status: str,
    ) -> None:
        arn = create_card(system, status)
        *earlier, event = emitted(system)
        sample = load_event(SAMPLES[status])
        # The sample in events/ has the shape of what SageMaker emits for this status.
        assert (set(event), set(event["detail"])) == (set(sample), set(sample["detail"]))
        assert event["account"] == MODEL_CARD_ACCOUNT
        assert event["detail"]["ModelCardStatus"] == status
        deliver(system, invoke_plan, earlier)
        log.mark()
        expected = STAGES_FOR[status]

        results = converge(system, invoke_plan, event)

        (first,) = applied(results)
        last = results[-1]
        # An approval waits until late events would have arrived (EvidenceWaitSeconds) before prod.
        # A fresh change waits out QuietSeconds, an approval EvidenceWaitSeconds, RAM a poll: one wait each at most.
        assert moves(results) in (
            ["apply", "done"],
            ["apply", "wait", "done"],
            ["wait", "apply", "done"],
            ["wait", "apply", "wait", "done"],
        )
        assert first["next"] == "apply"
        assert [a["stage"] for a in first["actions"]] == expected
        assert {a["op"] for a in first["actions"]} == {"associate"}
        assert all(a["shareArn"] == system.share_arns[a["stage"]] and a["resourceArn"] == arn for a in first["actions"])
        assert len({a["clientToken"] for a in first["actions"]}) == len(expected)
        assert summary(last) == {
            "card": arn,
            "exists": True,
            "status": status,
            "version": 2 if status in ("Approved", "Archived") else 1,
            "sharesAdded": sorted(expected),
            "sharesRemoved": [],
        }
        assert (last["summary"]["blocked"], last["summary"]["pending"]) == ([], [])
        assert last["summary"]["outcome"] == "shared"
        assert system.associations(arn) == dict.fromkeys(expected, "ASSOCIATED")
        for stage, (account, access) in CONSUMERS.items():
            assert system.access(arn, account) == (access if stage in expected else "none"), stage

        # Every round counts its operation (a dimension, not a metric name); the deciding round
        # counts the decision by outcome and the shares RAM confirmed, one point per stage, after
        # every earlier round: shares are counted when confirmed, not when asked for.
        points = [p for p in emf_points(log()) if p.name != "ColdStart"]
        service = system.stack.name
        rounds = [p for p in points if p.name == "Rounds"]
        assert [(p.dimensions, p.value) for p in rounds] == [
            ({"service": service, "operation": r["next"]}, 1.0) for r in results
        ]
        before_last_round = [i for i, p in enumerate(points) if p.name == "Rounds"][-2]
        counted = points[before_last_round + 1 :]
        assert [(p.name, p.dimensions) for p in counted] == [
            ("Decisions", {"service": service, "outcome": "shared"}),
            *(("SharesAdded", {"service": service, "stage": stage}) for stage in sorted(expected)),
            ("Rounds", {"service": service, "operation": "done"}),
        ]
        assert {p.namespace for p in points} == {"Cardshare"}
        assert not [p for p in points if p.name in ("SharesRemoved", "Rejected")]
        assert [line["message"] for line in log() if "message" in line] == [f"card {r['next']}" for r in results]

    def test_a_duplicate_event_after_convergence_changes_nothing(self, system: LocalAws, invoke_plan: Invoke) -> None:
        arn = create_card(system, "Approved")
        *earlier, event = emitted(system)
        deliver(system, invoke_plan, earlier)
        converge(system, invoke_plan, event)

        again = invoke_plan(system, event)

        assert again.function_error is None
        assert again.payload["next"] == "done"
        assert again.payload["actions"] == []
        assert again.payload["summary"]["sharesAdded"] == []
        assert again.payload["summary"]["exists"] is True
        assert again.payload["summary"]["outcome"] == "no-op"
        assert system.associations(arn) == dict.fromkeys(["dev", "test", "prod"], "ASSOCIATED")

    def test_an_archived_card_leaves_dev_and_test(self, system: LocalAws, invoke_plan: Invoke) -> None:
        arn = create_card(system, "Approved")
        *earlier, approved = emitted(system)
        deliver(system, invoke_plan, earlier)
        converge(system, invoke_plan, approved)
        system.session().client("sagemaker").update_model_card(ModelCardName=arn, ModelCardStatus="Archived")
        (archived,) = emitted(system)

        results = converge(system, invoke_plan, archived)

        assert [[(a["op"], a["stage"]) for a in r["actions"]] for r in applied(results)] == [
            [("disassociate", "dev"), ("disassociate", "test")]
        ]
        assert results[-1]["summary"]["sharesRemoved"] == ["dev", "test"]
        assert results[-1]["summary"]["sharesAdded"] == []
        assert system.associations(arn) == {"prod": "ASSOCIATED"}
        assert system.access(arn, DEV_ACCOUNT) == "none"
        assert system.access(arn, PROD_ACCOUNT) == "read-only"

    def test_the_plan_follows_the_card_not_the_event(self, system: LocalAws, invoke_plan: Invoke) -> None:
        """A late PendingReview event for a card that is Approved now shares it as Approved.

        (The event is also what tells cardshare the card was in review before its approval: the
        approval's own event is never handed over, the card as read now stands for it.)
        """
        arn = create_card(system, "Approved")
        created, edited, _approved = emitted(system)
        assert statuses([created, edited]) == [(1, "PendingReview"), (2, "PendingReview")]
        deliver(system, invoke_plan, [created])

        results = converge(system, invoke_plan, edited)

        assert [[a["stage"] for a in r["actions"]] for r in applied(results)] == [["dev", "test", "prod"]]
        assert results[-1]["summary"]["status"] == "Approved"
        assert system.associations(arn) == dict.fromkeys(["dev", "test", "prod"], "ASSOCIATED")

    # ---- the approval gate on the evidence --------------------------------------------------------------

    def test_a_self_approval_is_blocked_and_kept_out_of_prod(
        self,
        system: LocalAws,
        log: Log,
        invoke_plan: Invoke,
        emf_points: Callable[[list[dict[str, Any]]], list[Point]],
    ) -> None:
        arn = create_card(system, "Approved", approver="data-scientist")  # the author approves her own version
        *earlier, event = emitted(system)
        deliver(system, invoke_plan, earlier)
        log.mark()

        results = converge(system, invoke_plan, event)

        # A rule already broken stays broken whatever else arrives: refused without waiting for evidence.
        assert all(
            not r["summary"]["pending"] or r["summary"]["pending"][0].startswith("the card changed") for r in results
        )
        assert [[a["stage"] for a in r["actions"]] for r in applied(results)] == [["dev", "test"]]
        last = results[-1]
        assert last["summary"]["status"] == "Approved"
        assert last["summary"]["effectiveStatus"] == "PendingReview"
        assert last["summary"]["outcome"] == "blocked"
        assert any("separation of duties" in reason for reason in last["summary"]["blocked"])
        decision = last["decision"]
        assert (decision["notify"], decision["revert"]) == (True, False)  # ApprovalEnforcement: alert
        assert decision["item"]["outcome"] == {"S": "blocked"}
        assert decision["item"]["cardArn"] == {"S": arn}
        # The record counts the execution's waits for the card to settle.
        assert decision["item"]["evidenceWaits"] == {"N": str(sum(1 for r in results if r["summary"]["pending"]))}
        assert decision["subject"] == f"cardshare: {CARD_NAME} blocked"
        assert system.associations(arn) == dict.fromkeys(["dev", "test"], "ASSOCIATED")
        assert system.access(arn, PROD_ACCOUNT) == "none"
        decisions = [p.dimensions["outcome"] for p in emf_points(log()) if p.name == "Decisions"]
        assert decisions == ["blocked"]
        # The blocked approval confirmed dev and test: counted, by stage, once.
        added = [p.dimensions["stage"] for p in emf_points(log()) if p.name == "SharesAdded"]
        assert added == ["dev", "test"]

    def test_an_approval_whose_review_was_not_seen_yet_waits_for_the_late_events(
        self, system: LocalAws, invoke_plan: Invoke
    ) -> None:
        arn = create_card(system, "Approved")
        *earlier, approved = emitted(system)
        execution = f"arn:aws:states:{REGION}:{MODEL_CARD_ACCOUNT}:execution:cardshare-promote-card:{uuid.uuid4()}"

        # Only the approval's event has arrived: who wrote version 2, and its review, are unknown.
        waiting = invoke_plan(system, approved, None, execution)

        assert waiting.function_error is None, waiting.payload
        assert waiting.payload["next"] == "wait"
        assert waiting.payload["actions"] == []
        assert waiting.payload["waitSeconds"] == 1  # PollIntervalSeconds 0: Step Functions waits whole seconds
        assert waiting.payload["progress"]["defers"] == 1
        assert waiting.payload["summary"]["pending"]
        assert waiting.payload["decision"] is None
        assert system.associations(arn) == {}

        # The earlier events arrive (their own executions merge what they saw); the waiting one resumes
        # and, once the approval has stood for the evidence wait, shares the card with prod.
        deliver(system, invoke_plan, earlier)
        progress, rounds = waiting.payload["progress"], [waiting.payload]
        while rounds[-1]["next"] == "wait" and len(rounds) < 5:
            evidence_wait(rounds[-1])
            answer = invoke_plan(system, approved, progress, execution)
            assert answer.function_error is None, answer.payload
            rounds.append(answer.payload)
            progress = answer.payload["progress"]

        resumed = rounds[-1]
        assert resumed["next"] == "apply"
        assert [a["stage"] for a in resumed["actions"]] == ["dev", "test", "prod"]
        assert resumed["summary"]["pending"] == []
        assert resumed["progress"]["defers"] == len(rounds) - 1

    # ---- cards that do not exist --------------------------------------------------------------------

    def test_a_card_that_does_not_exist_is_done_at_once(
        self,
        system: LocalAws,
        log: Log,
        invoke_plan: Invoke,
        load_event: Callable[[str], dict[str, Any]],
        emf_points: Callable[[list[dict[str, Any]]], list[Point]],
    ) -> None:
        answer = invoke_plan(system, load_event(SAMPLES["Approved"]))

        assert answer.function_error is None
        assert answer.payload["next"] == "done"
        assert answer.payload["actions"] == []
        assert summary(answer.payload) == {
            "card": CARD_ARN,
            "exists": False,
            "status": None,
            "version": None,
            "sharesAdded": [],
            "sharesRemoved": [],
        }
        assert system.associations(CARD_ARN) == {}
        points = [(p.name, p.dimensions.get("outcome") or p.dimensions.get("operation")) for p in emf_points(log())]
        assert [p for p in points if p[0] != "ColdStart"] == [("Decisions", "no-op"), ("Rounds", "done")]

    def test_a_deleted_card_is_removed_from_every_share(self, system: LocalAws, invoke_plan: Invoke) -> None:
        arn = create_card(system, "Approved")
        *earlier, event = emitted(system)
        deliver(system, invoke_plan, earlier)
        converge(system, invoke_plan, event)
        system.session().client("sagemaker").delete_model_card(ModelCardName=arn)

        results = converge(system, invoke_plan, event)

        assert [(a["op"], a["stage"]) for a in results[0]["actions"]] == [
            ("disassociate", "dev"),
            ("disassociate", "test"),
            ("disassociate", "prod"),
        ]
        assert results[-1]["summary"]["exists"] is False
        assert results[-1]["summary"]["sharesRemoved"] == ["dev", "prod", "test"]
        assert system.associations(arn) == {}

    # ---- events that are rejected -------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("sample", "field"),
        [
            ("malformed-missing-detail.json", "detail"),
            ("malformed-unknown-status.json", "detail.ModelCardStatus"),
            ("reference-model-card-state-change.json", "account"),
        ],
    )
    def test_a_malformed_or_foreign_event_is_an_invalid_event_error(
        self,
        system: LocalAws,
        log: Log,
        invoke_plan: Invoke,
        load_event: Callable[[str], dict[str, Any]],
        emf_metrics: Callable[[list[dict[str, Any]]], list[dict[str, float]]],
        sample: str,
        field: str,
    ) -> None:
        arn = create_card(system, "Approved")  # the card the (local) events name: it must not be touched

        answer = invoke_plan(system, load_event(sample))

        assert answer.function_error == "Unhandled"
        assert answer.payload["errorType"] == "InvalidEventError"
        message = answer.payload["errorMessage"]
        assert message.startswith(f"{field}: ")
        (line,) = rejected_lines(log())
        assert line["level"] == "ERROR"
        assert line["reason"] == message
        assert line["error"] == "InvalidEventError"
        assert emf_metrics(log()) == [{"Rejected": 1.0}]
        assert system.associations(arn) == {}

    def test_a_payload_without_the_execution_is_rejected(
        self, system: LocalAws, load_event: Callable[[str], dict[str, Any]]
    ) -> None:
        payload = {"event": load_event(SAMPLES["Draft"]), "progress": None}
        response = (
            system.session()
            .client("lambda")
            .invoke(FunctionName=system.stack.resources[PLAN_FUNCTION], Payload=json.dumps(payload))
        )
        error = json.loads(response["Payload"].read())

        assert response.get("FunctionError") == "Unhandled"
        assert error["errorType"] == "InvalidEventError"
        assert error["errorMessage"].startswith("execution: ")

    # ---- throttling ---------------------------------------------------------------------------------

    def test_ram_throttling_is_absorbed_by_the_functions_clients(
        self,
        virtual_clock: Any,
        cold_start: Callable[[], None],
        system: LocalAws,
        invoke_plan: Invoke,
        load_event: Callable[[str], dict[str, Any]],
    ) -> None:
        cold_start()  # the function's clients are created now, with retry delays made virtual
        create_card(system, "PendingReview")
        stand_still(system)  # time.sleep is virtual in this test
        ram_ext.inject_error("GetResourceShareAssociations", "ThrottlingException", times=3)
        try:
            answer = invoke_plan(system, load_event(SAMPLES["PendingReview"]))
        finally:
            cold_start()  # later tests get clients with real retry delays

        assert answer.function_error is None, answer.payload
        assert [a["stage"] for a in answer.payload["actions"]] == ["dev", "test"]
        assert len(virtual_clock.backoffs) == 3

    # ---- a broken stage ladder in the function's environment ------------------------------------------

    def test_a_broken_ladder_in_the_functions_environment_is_a_config_error(
        self,
        system: LocalAws,
        cold_start: Callable[[], None],
        invoke_plan: Invoke,
        load_event: Callable[[str], dict[str, Any]],
        function_log: Callable[..., list[dict[str, Any]]],
    ) -> None:
        """The ladder reaches the function broken (e.g. edited in the console): every invocation says so."""
        lam = system.session().client("lambda")
        name = system.stack.resources[PLAN_FUNCTION]
        variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        test_stage = json.loads(variables["CARDSHARE_STAGE_test"])
        test_stage["statuses"] = "PendingReview,Published"
        broken = {**variables, "CARDSHARE_STAGE_test": json.dumps(test_stage)}
        create_card(system, "Approved")
        # AWS runs a function in new execution environments after a configuration update; the
        # in-process Lambda keeps the imported module, so the cold start is explicit here.
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": broken})
        cold_start()
        try:
            answers = [invoke_plan(system, load_event(SAMPLES["Approved"])) for _ in range(2)]
            lines = rejected_lines(function_log(system))
        finally:
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
            cold_start()

        for answer in answers:  # a ConfigError is not cached: the second invocation reports it too
            assert answer.function_error == "Unhandled"
            assert answer.payload["errorType"] == "ConfigError"
            assert answer.payload["errorMessage"].startswith("stages[1] (test).statuses: ")
            assert "'Published'" in answer.payload["errorMessage"]
        assert [(line["error"], line["reason"]) for line in lines] == [
            ("ConfigError", answer.payload["errorMessage"]) for answer in answers
        ]
        assert system.associations(CARD_ARN) == {}


# ---- a broken stage ladder at deploy time ---------------------------------------------------------------


def test_the_owner_account_as_a_principal_fails_the_local_deploy() -> None:
    """The stage ladder is validated when the stack is deployed locally, naming the field."""
    with pytest.raises(ConfigError) as raised, local_aws({"devAccountIds": MODEL_CARD_ACCOUNT}):
        pass
    assert str(raised.value).startswith(f"stages[0] (dev).principals: {MODEL_CARD_ACCOUNT} is the model-card account")


# ---- a read-only stage whose share lets principals update the card --------------------------------------


def test_a_prod_share_that_allows_updates_is_refused_before_anything_is_shared(
    cold_start: Callable[[], None],
    invoke_plan: Invoke,
    function_log: Callable[..., list[dict[str, Any]]],
    emf_metrics: Callable[[list[dict[str, Any]]], list[dict[str, float]]],
) -> None:
    """ReadOnlyPermissionArn pointed at the AWS managed permission (read-write) for the read-only prod stage."""
    # Long enough that the approval is still settling when the earlier events' rounds run, however
    # busy the machine is (tests run side by side).
    parameters = {
        **STACK_PARAMETERS,
        "EvidenceWaitSeconds": "5",
        "ReadOnlyPermissionArn": ram_ext.MODEL_CARD_PERMISSION_ARN,
    }
    with local_aws(parameters) as system:
        capture_events(system)
        cold_start()
        try:
            prod_share = system.share_arns["prod"]
            permissions = system.session().client("ram").list_resource_share_permissions(resourceShareArn=prod_share)
            assert [p["arn"] for p in permissions["permissions"]] == [ram_ext.MODEL_CARD_PERMISSION_ARN]
            arn = create_card(system, "Approved")
            *earlier, event = emitted(system)
            deliver(system, invoke_plan, earlier)
            execution = f"arn:aws:states:{REGION}:{MODEL_CARD_ACCOUNT}:execution:cardshare-promote-card:{uuid.uuid4()}"
            start = len(lambda_inprocess.logs(str(system.stack.resources[PLAN_FUNCTION])))

            progress, answer = None, invoke_plan(system, event, None, execution)
            for _ in range(5):  # evidence waits until the approval may reach prod
                if answer.function_error is not None:
                    break
                assert answer.payload["next"] == "wait", answer.payload
                assert answer.payload["actions"] == [], answer.payload
                evidence_wait(answer.payload)
                progress = answer.payload["progress"]
                answer = invoke_plan(system, event, progress, execution)

            assert answer.function_error == "Unhandled"
            assert answer.payload["errorType"] == "PermissionMismatchError"
            assert answer.payload["errorMessage"].startswith(f"stage prod is read-only but its share {prod_share}")
            lines = function_log(system, start)
            (line,) = [line for line in lines if line.get("message") == "did not converge"]
            assert (line["level"], line["error"]) == ("ERROR", "PermissionMismatchError")
            assert emf_metrics(lines)[-1] == {"NotConverged": 1.0}
            # Refused before any action: not even dev and test were shared.
            assert system.associations(arn) == {}
        finally:
            cold_start()


# ---- the handler module called directly -------------------------------------------------------------


@pytest.fixture
def plan_module(cold_start: Callable[[], None]) -> Iterator[Callable[[], Any]]:
    """Import functions/plan_card/app.py from its file, as the Lambda runtime does (a fresh module per call)."""
    names: list[str] = []

    def load() -> Any:
        name = f"plan_card_app_under_test_{len(names)}"
        spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / "plan_card" / "app.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        names.append(name)
        spec.loader.exec_module(module)
        return module

    cold_start()  # the module's logger binds to this test's stdout
    yield load
    for name in names:
        sys.modules.pop(name, None)
    cold_start()


def test_the_handler_reports_a_broken_ladder_as_config_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    plan_module: Callable[[], Any],
    load_event: Callable[[str], dict[str, Any]],
) -> None:
    """Called directly with a CARDSHARE_STAGES that does not parse: ConfigError, logged, not cached."""
    monkeypatch.setenv("CARDSHARE_ACCOUNT_ID", MODEL_CARD_ACCOUNT)
    monkeypatch.setenv("CARDSHARE_STAGES", '[{"name": "dev"')
    app = plan_module()
    context = lambda_inprocess.LambdaContext(
        function_name="cardshare-plan-card",
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{MODEL_CARD_ACCOUNT}:function:cardshare-plan-card",
        memory_limit_in_mb=256,
        aws_request_id="req-1",
        log_group_name="/aws/lambda/cardshare-plan-card",
        log_stream_name="stream",
    )
    payload = {"event": load_event(SAMPLES["Draft"]), "progress": None, "execution": "arn:execution"}

    with pytest.raises(ConfigError) as raised:
        app.handler(payload, context)

    assert type(raised.value).__name__ == "ConfigError"  # what Lambda reports as errorType
    assert str(raised.value).startswith("stages: not valid JSON")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (line,) = rejected_lines(lines)
    assert line["error"] == "ConfigError"
    assert line["reason"] == str(raised.value)

    # Settings are validated once per container, but a failure is not remembered.
    monkeypatch.delenv("CARDSHARE_STAGES")
    with pytest.raises(ConfigError, match=r"^CARDSHARE_STAGE_ORDER: not set"):
        app.handler(payload, context)
