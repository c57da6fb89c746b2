"""Fault injection: every scenario injects one fault and checks the end state the README promises.

Each scenario has an id (the README's fault table uses them), the fault it injects and the end
state it expects: the RAM associations of the card's *final* status, the executions' outcomes, the
ledger records and, for the rule's target, the dead-letter queue.

Interleavings are forced, not hoped for: the RAM extension's ``before_next`` runs a callback just
before the next call of a RAM operation is served, while the execution that made the call waits.
The race scenarios change the card (or start a duplicate) inside that callback, so the plan step
has read one status and the associate call is made after the status changed, every time.
Executions of one card run side by side (there is no lock): every round re-reads the card and RAM,
so each of them converges on the newer status, and RAM keeps one association per share whoever
asks for it.

The card-level scenarios and the bad inputs share one stack (a fresh stack and its Lambda cold
starts cost ~2.5 s) and run as subtests named by their id; each uses its own card, injected faults
are cleared before each, and every assertion is about the scenario's own card and executions. The
stack's approvals settle after 2 s (EvidenceWaitSeconds): no scenario here is about settling.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from e2e_support import (
    LEAD,
    RAM_TASKS,
    Executions,
    all_rows,
    assert_associations,
    assert_failed,
    assert_shared_per_ladder,
    assert_succeeded,
    card_arn,
    card_content,
    client,
    describe,
    ladder_stages,
    load_event,
    output,
    ram_rows,
    reach_all,
    sagemaker,
    set_status,
    stack,
    state_change_event,
)
from governance_support import ledger, out_of_flight, outcomes, received, reconcile, rule_switch, subscribe

from cardshare_cli.main import main as redrive_main
from cardshare_local.accounts import REGION
from cardshare_local.extensions import eventbridge_targets, ram
from cardshare_local.runtime import LocalAws, local_aws

CARD = "Customer-Churn-Model-Card"


# ---- driving and reading executions --------------------------------------------------------------


def start_named(system: LocalAws, event: Any) -> str:
    """StartExecution with ``event`` as input and a unique name (what EventBridge's target does).

    Unlike e2e_support.start(): the local Step Functions names an execution started without a name
    "None", so a second unnamed start in one stack collides with the first.
    """
    sfn = client(system, "stepfunctions")
    response = sfn.start_execution(
        stateMachineArn=system.state_machine_arn, name=uuid.uuid4().hex, input=json.dumps(event)
    )
    return str(response["executionArn"])


@dataclass(frozen=True)
class History:
    """One execution's history, read once."""

    events: list[dict[str, Any]]

    @classmethod
    def of(cls, system: LocalAws, execution: Mapping[str, Any]) -> History:
        sfn = client(system, "stepfunctions")
        return cls(sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"])

    @property
    def entered(self) -> list[str]:
        """The states entered, in order (Map iterations included)."""
        return [e["stateEnteredEventDetails"]["name"] for e in self.events if "stateEnteredEventDetails" in e]

    @property
    def ram_tasks(self) -> list[str]:
        """The RAM task states entered (Associate / Disassociate), as e2e_support.ram_tasks reads them."""
        return [name for name in self.entered if name in RAM_TASKS]

    @property
    def apply_rounds(self) -> int:
        """How many times the execution applied RAM changes."""
        return self.entered.count("Apply")

    @property
    def plans(self) -> list[dict[str, Any]]:
        """What each Plan round decided (next, actions, summary)."""
        return [
            json.loads(e["stateExitedEventDetails"]["output"])["plan"]
            for e in self.events
            if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "Plan"
        ]

    @property
    def actions(self) -> list[tuple[str, str]]:
        """Every RAM change the execution's plan rounds asked for: (associate | disassociate, stage)."""
        return [(a["op"], a["stage"]) for plan in self.plans if plan["next"] == "apply" for a in plan["actions"]]

    def attempts(self, state: str) -> int:
        """How many times a task state's work was scheduled (retries count, re-entries too)."""
        count, current = 0, None
        for event in self.events:
            if "stateEnteredEventDetails" in event:
                current = event["stateEnteredEventDetails"]["name"]
            elif event["type"] in ("TaskScheduled", "LambdaFunctionScheduled") and current == state:
                count += 1
        return count

    @property
    def task_errors(self) -> list[str]:
        """The error of every failed task attempt (retried attempts included)."""
        return [e["taskFailedEventDetails"]["error"] for e in self.events if e["type"] == "TaskFailed"]


def status_of(execution: Mapping[str, Any]) -> str:
    """The card status in the event an execution started with."""
    return str(json.loads(execution["input"])["detail"]["ModelCardStatus"])


def before_associate(action: Callable[[], None]) -> threading.Event:
    """Run ``action`` just before the next AssociateResourceShare is served; the event is set after it."""
    done = threading.Event()

    def hook() -> None:
        action()
        done.set()

    ram.before_next("AssociateResourceShare", hook)
    return done


def wait_for_first_plan(system: LocalAws, execution_arn: str, timeout: float = 20.0) -> dict[str, Any]:
    """Block (inside a hook) until the execution's first plan round has read the card and RAM; that plan."""
    deadline = time.monotonic() + timeout
    while not (plans := History.of(system, {"executionArn": execution_arn}).plans):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} never finished a plan round")
        time.sleep(0.02)
    return plans[0]


def ledger_item(system: LocalAws, execution_arn: str) -> dict[str, Any]:
    """The one ledger record an execution wrote (found by executionArn, whatever card it names)."""
    from cardshare.ledger import from_item

    items = client(system, "dynamodb").scan(
        TableName=system.stack.outputs["DecisionLedgerTableName"],
        FilterExpression="executionArn = :e",
        ExpressionAttributeValues={":e": {"S": execution_arn}},
    )["Items"]
    assert len(items) == 1, items
    return from_item(items[0])


def create(system: LocalAws, name: str, status: str = "Draft", content: str | None = None) -> str:
    """The lead creates a card; returns its ARN (callers wait for the executions)."""
    lead = sagemaker(system, role=LEAD)
    response = lead.create_model_card(ModelCardName=name, Content=content or card_content(), ModelCardStatus=status)
    return str(response["ModelCardArn"])


def create_quietly(system: LocalAws, name: str, content: str | None = None) -> str:
    """Create a Draft card with the rule disabled: no event, no execution, no association."""
    switch_off, switch_on = rule_switch(system)
    switch_off()
    try:
        return create(system, name, content=content)
    finally:
        switch_on()


def records_of(system: LocalAws, arn: str, executions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The card's ledger records written by ``executions``, in time order."""
    arns = {e["executionArn"] for e in executions}
    return [r for r in ledger(system, arn) if r["executionArn"] in arns]


# ---- card-level scenarios ---------------------------------------------------------------------------


def race_status_change(system: LocalAws, name: str) -> None:
    arn = card_arn(name)
    watch = Executions(system, skip_existing=True)
    # The approval's execution has read "Approved" (settled) and is about to associate prod: the
    # lead moves the card back to Draft (that emits a Draft event and starts a second execution).
    moved = before_associate(lambda: set_status(system, arn, "Draft"))

    set_status(system, arn, "Approved")

    executions = watch.new()
    assert moved.is_set()
    assert [status_of(e) for e in executions] == ["Approved", "Draft"], [describe(e) for e in executions]
    assert all(e["status"] == "SUCCEEDED" for e in executions), [describe(e) for e in executions]
    approval, draft = (History.of(system, e) for e in executions)
    # The approval's run associated prod on what it read, then re-read the card and ended on Draft.
    first_apply = next(plan for plan in approval.plans if plan["next"] == "apply")
    assert (first_apply["summary"]["status"], [a["stage"] for a in first_apply["actions"]]) == ("Approved", ["prod"])
    assert (approval.plans[-1]["next"], approval.plans[-1]["summary"]["status"]) == ("done", "Draft")
    # Side by side, the two runs took test and prod away between them (either may make each call);
    # neither added anything but that one prod association.
    changes = approval.actions + draft.actions
    assert [change for change in changes if change[0] == "associate"] == [("associate", "prod")], changes
    assert {stage for op, stage in changes if op == "disassociate"} == {"test", "prod"}, changes
    assert all(output(e)["status"] == "Draft" for e in executions)
    assert [r["outcome"] for r in records_of(system, arn, executions) if r["outcome"] in ("blocked", "failed")] == []
    assert_shared_per_ladder(system, arn, "Draft")  # RAM and every consumer account agree


def race_with_duplicate(system: LocalAws, name: str) -> None:
    arn = card_arn(name)
    watch = Executions(system, skip_existing=True)
    duplicate: list[str] = []
    duplicate_plan: list[dict[str, Any]] = []

    def duplicate_then_move_back() -> None:
        # Holding the approval run at its associate call: EventBridge delivers the approval again.
        # The duplicate runs side by side (nothing makes it wait) and reads the card as Approved
        # too; then the lead moves the card back.
        duplicate.append(start_named(system, watch.last_input()))
        duplicate_plan.append(wait_for_first_plan(system, duplicate[0]))
        set_status(system, arn, "Draft")

    held = before_associate(duplicate_then_move_back)

    set_status(system, arn, "Approved")

    executions = watch.new()
    assert held.is_set()
    assert sorted(status_of(e) for e in executions) == ["Approved", "Approved", "Draft"]
    assert all(e["status"] == "SUCCEEDED" for e in executions), [describe(e) for e in executions]
    [plan] = duplicate_plan
    assert (plan["summary"]["status"], plan["next"], [a["stage"] for a in plan["actions"]]) == (
        "Approved",
        "apply",
        ["prod"],
    )
    histories = {e["executionArn"]: History.of(system, e) for e in executions}
    first = histories[executions[0]["executionArn"]]
    assert (first.plans[-1]["next"], first.plans[-1]["summary"]["status"]) == ("done", "Draft")
    # Both approval runs associated prod; RAM kept one association, and every run ended on Draft.
    associated = [change for h in histories.values() for change in h.actions if change[0] == "associate"]
    assert associated == [("associate", "prod")] * 2, associated
    assert [row[:2] for row in ram_rows(system, arn) if row[0].endswith("-prod-1")] == [
        (f"{system.stack.name}-prod-1", "DISASSOCIATED")
    ]
    assert {output(e)["status"] for e in executions} == {"Draft"}
    assert [r["outcome"] for r in records_of(system, arn, executions) if r["outcome"] in ("blocked", "failed")] == []
    assert_associations(system, arn, ladder_stages(system, "Draft"))


def stale_event(system: LocalAws, name: str) -> None:
    arn = card_arn(name)
    watch = Executions(system, skip_existing=True)
    rows = ram_rows(system, arn)

    start_named(system, state_change_event(name, "Draft"))

    [execution] = watch.new()
    assert_succeeded([execution], status="Approved")
    assert History.of(system, execution).ram_tasks == []
    assert ram_rows(system, arn) == rows
    assert ledger(system, arn)[-1]["outcome"] == "no-op"
    assert_associations(system, arn, ladder_stages(system, "Approved"))


def duplicate_event(system: LocalAws, name: str) -> None:
    watch = Executions(system, skip_existing=True)
    arn = create(system, name)
    [first] = watch.new()
    event = json.loads(first["input"])
    rows = ram_rows(system, arn)

    # EventBridge delivers the very same event (same id) twice more.
    start_named(system, event)
    start_named(system, event)

    executions = [first, *watch.new()]
    assert len(executions) == 3, [describe(e) for e in executions]
    assert all(e["status"] == "SUCCEEDED" for e in executions), [describe(e) for e in executions]
    assert [task for e in executions for task in History.of(system, e).ram_tasks] == ["Associate"]
    assert ram_rows(system, arn) == rows
    records = ledger(system, arn)
    assert [r["outcome"] for r in records] == ["shared", "no-op", "no-op"]
    assert {r["eventId"] for r in records} == {event["id"]}
    assert_associations(system, arn, ladder_stages(system, "Draft"))


def concurrent_duplicate(system: LocalAws, name: str) -> None:
    arn = create_quietly(system, name)
    watch = Executions(system, skip_existing=True)
    event = state_change_event(name, "Draft")
    duplicate: list[str] = []
    duplicate_plan: list[dict[str, Any]] = []

    def duplicate_arrives() -> None:
        # The first run is about to associate; the duplicate starts and plans side by side with it.
        duplicate.append(start_named(system, event))
        duplicate_plan.append(wait_for_first_plan(system, duplicate[0]))

    before_associate(duplicate_arrives)
    start_named(system, event)

    executions = watch.new()
    assert len(executions) == 2, [describe(e) for e in executions]
    assert all(e["status"] == "SUCCEEDED" for e in executions), [describe(e) for e in executions]
    # Nothing held the duplicate back: it read RAM before the first run's call was served and
    # asked for dev too. RAM answered both with the one association.
    [plan] = duplicate_plan
    assert (plan["next"], [a["stage"] for a in plan["actions"]]) == ("apply", ["dev"])
    assert [task for e in executions for task in History.of(system, e).ram_tasks] == ["Associate", "Associate"]
    [(share, status, _, _)] = ram_rows(system, arn)
    assert (share, status) == (f"{system.stack.name}-dev-1", "ASSOCIATED")
    assert_associations(system, arn, {"dev"})
    # Each execution recorded what it did; the one change of the card is reported once.
    records = ledger(system, arn)
    assert sorted(r["executionArn"] for r in records) == sorted(e["executionArn"] for e in executions)
    assert sorted((r["outcome"], r["sharesAdded"]) for r in records) == [("no-op", ["dev"]), ("shared", ["dev"])]


def ram_throttling(system: LocalAws, name: str) -> None:
    # The one scenario with real retry sleeps: Step Functions waits U(0, 1 s), then U(0, 2 s).
    ram.inject_error("AssociateResourceShare", "ThrottlingException", times=2)
    watch = Executions(system, skip_existing=True)
    arn = create(system, name)

    [execution] = watch.new()
    assert_succeeded([execution], added={"dev"}, status="Draft")
    history = History.of(system, execution)
    assert history.task_errors == ["Ram.ThrottlingException", "Ram.ThrottlingException"]
    assert history.ram_tasks == ["Associate"]  # one task state, three attempts
    assert ledger(system, arn)[-1]["outcome"] == "shared"
    assert_associations(system, arn, {"dev"})


def association_failed(system: LocalAws, name: str) -> None:
    messages = subscribe(system, {"outcome": ["failed"]})
    ram.fail_next_association("The resource policy could not be attached")
    watch = Executions(system, skip_existing=True)
    arn = create(system, name)

    [failed] = watch.new()
    cause = assert_failed(failed, "AssociationFailedError")
    assert "dev: The resource policy could not be attached" in cause["errorMessage"]
    assert system.associations(arn) == {"dev": "FAILED"}
    [record] = ledger(system, arn)
    assert (record["outcome"], record["error"]) == ("failed", "AssociationFailedError")
    [message] = received(system, messages)
    assert message["record"]["executionArn"] == failed["executionArn"]
    assert message["attributes"]["card"]["StringValue"] == arn

    # The scheduled reconciler sees the FAILED association as missing and repairs it, once the
    # card's change is no longer in flight.
    created = sagemaker(system, role=LEAD).describe_model_card(ModelCardName=arn)["LastModifiedTime"]
    out_of_flight(system, created.timestamp())
    report = reconcile(system)
    [(drift, repair_arn)] = [
        (d, execution) for d, execution in zip(report["drift"], report["repairs"], strict=True) if d["card"] == arn
    ]
    assert (drift["missing"], drift["extra"]) == (["dev"], [])
    [repair] = [e for e in watch.new() if e["executionArn"] == repair_arn]
    assert_succeeded([repair], added={"dev"}, status="Draft")
    assert_associations(system, arn, {"dev"})
    assert outcomes(system, arn) == ["failed", "shared"]


def card_deleted_mid_run(system: LocalAws, name: str) -> None:
    watch = Executions(system, skip_existing=True)
    before_associate(lambda: sagemaker(system, role=LEAD).delete_model_card(ModelCardName=name))
    arn = create(system, name)

    [execution] = watch.new()
    assert execution["status"] == "SUCCEEDED", describe(execution)
    result = output(execution)
    assert (result["exists"], result["status"], result["sharesRemoved"]) == (False, None, ["dev"])
    assert system.associations(arn) == {}
    [record] = ledger(system, arn)
    assert (record["exists"], record["sharesRemoved"], record["executionArn"]) == (
        False,
        ["dev"],
        execution["executionArn"],
    )
    # Net of the run: dev was associated, then taken away again when the card vanished.
    assert record["outcome"] == "revoked"


def ledger_unavailable(system: LocalAws, name: str) -> None:
    dynamodb = client(system, "dynamodb")
    table = system.stack.outputs["DecisionLedgerTableName"]
    schema = dynamodb.describe_table(TableName=table)["Table"]
    dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=table)
    messages = subscribe(system)
    watch = Executions(system, skip_existing=True)
    arn = create(system, name)

    [execution] = watch.new()
    # The shares converged first; the lost record fails the execution (FailedExecutionsAlarm).
    assert_associations(system, arn, {"dev"})
    assert execution["error"] == "DynamoDB.ResourceNotFoundException", describe(execution)
    history = History.of(system, execution)
    assert history.ram_tasks == ["Associate"]
    assert history.entered[-2:] == ["Delivered?", "LedgerUnavailable"]
    # Nothing silently dropped: subscribers still hear about the decision.
    assert [m["record"]["outcome"] for m in received(system, messages)] == ["shared"]

    # Once the table is back, the failed execution's input is redriven and recorded (as a no-op).
    dynamodb.create_table(
        TableName=table,
        KeySchema=schema["KeySchema"],
        AttributeDefinitions=schema["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )
    start_named(system, json.loads(execution["input"]))
    assert_succeeded(watch.new(), status="Draft")
    assert [r["outcome"] for r in ledger(system, arn)] == ["no-op"]


def topic_unavailable(system: LocalAws, name: str) -> None:
    client(system, "sns").delete_topic(TopicArn=system.stack.outputs["DecisionsTopicArn"])
    watch = Executions(system, skip_existing=True)
    arn = create(system, name)

    [execution] = watch.new()
    assert_associations(system, arn, {"dev"})
    assert execution["status"] == "FAILED", describe(execution)
    assert execution["error"].startswith("SNS."), describe(execution)
    history = History.of(system, execution)
    assert history.ram_tasks == ["Associate"]
    assert history.entered[-2:] == ["Delivered?", "TopicUnavailable"]
    assert [r["outcome"] for r in ledger(system, arn)] == ["shared"]


@dataclass(frozen=True)
class Scenario:
    """One row of the fault table."""

    id: str
    fault: str
    expected: str
    run: Callable[[LocalAws, str], None]
    start: tuple[str, ...] = ()
    """Statuses the scenario's card (named by the id) reaches before the fault; empty: it makes its own."""


#: In the order they run: the last two take the ledger and then the topic away for good.
SCENARIOS = [
    Scenario(
        "race-status-change",
        "card PendingReview, the approver approves; the lead sets it back to Draft after the plan read "
        "Approved and before the associate call (before_next AssociateResourceShare)",
        "dev only (Draft's); both executions SUCCEEDED; the approval's run associated prod, re-read the card "
        "and ended on Draft; the two runs, side by side, removed test and prod and added nothing else",
        race_status_change,
        ("Draft", "PendingReview"),
    ),
    Scenario(
        "race-duplicate-event",
        "as race-status-change, and the approval event is delivered again while the first run is held "
        "at its associate call",
        "dev only; all three SUCCEEDED; the duplicate read Approved and associated prod too (RAM kept one "
        "association); every run ended on Draft; nothing blocked",
        race_with_duplicate,
        ("Draft", "PendingReview"),
    ),
    Scenario(
        "stale-event",
        "a Draft event arrives after the card is Approved",
        "dev, test, prod (Approved's); SUCCEEDED; no RAM call; ledger no-op",
        stale_event,
        ("Draft", "PendingReview", "Approved"),
    ),
    Scenario(
        "duplicate-event",
        "the same event (same id) delivered 3 times",
        "dev; one Associate across the three histories; ledger shared, no-op, no-op",
        duplicate_event,
    ),
    Scenario(
        "duplicate-concurrent",
        "the same event twice, the second arriving while the first is at its associate call",
        "dev; both SUCCEEDED side by side; each made an Associate call, RAM kept one association; "
        "ledger: one record per execution, one shared and one no-op (the change is reported once)",
        concurrent_duplicate,
    ),
    Scenario(
        "ram-throttling",
        "RAM AssociateResourceShare answers ThrottlingException twice",
        "dev; retried with jittered backoff; SUCCEEDED; ledger shared",
        ram_throttling,
    ),
    Scenario(
        "association-failed",
        "RAM ends the association FAILED; then the reconciler runs",
        "FAILED AssociationFailedError, ledger failed, notification; once the change is out of flight, "
        "the reconciler's repair SUCCEEDED, dev ASSOCIATED",
        association_failed,
    ),
    Scenario(
        "card-deleted-mid-run",
        "the card is deleted after the plan read and before the associate call",
        "no association; SUCCEEDED with exists false; one ledger record, revoked",
        card_deleted_mid_run,
    ),
    Scenario(
        "ledger-unavailable",
        "the ledger table is deleted; later recreated",
        "dev; FAILED DynamoDB.ResourceNotFoundException after converging; notification sent; "
        "redriven once the table is back: SUCCEEDED, recorded",
        ledger_unavailable,
    ),
    Scenario(
        "topic-unavailable",
        "the decisions topic is deleted",
        "dev; FAILED SNS.NotFoundException after converging; ledger shared",
        topic_unavailable,
    ),
]


# ---- bad input: rejected once, with the field named, nothing changed -----------------------------

_DROP = object()
BAD_CARD = "Bad-Input-Card"


def _event(name: str = BAD_CARD, **changes: Any) -> dict[str, Any]:
    event = state_change_event(name, "PendingReview")
    for key, value in changes.items():
        if value is _DROP:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def _detail(**changes: Any) -> dict[str, Any]:
    event = _event()
    for key, value in changes.items():
        if value is _DROP:
            event["detail"].pop(key, None)
        else:
            event["detail"][key] = value
    return event


#: id → (workflow input, the field the rejection must name). Every field rule: tests/unit/test_events.py.
BAD_INPUT: dict[str, tuple[Any, str]] = {
    "missing-detail": (load_event("malformed-missing-detail.json", BAD_CARD), "detail"),
    "missing-resources": (_event(resources=_DROP), "resources"),
    "missing-status": (_detail(ModelCardStatus=_DROP), "detail.ModelCardStatus"),
    "unknown-status": (load_event("malformed-unknown-status.json", BAD_CARD), "detail.ModelCardStatus"),
    "other-account": (_event(account="999999999999"), "account"),
    "other-account-card": (
        _event(resources=[f"arn:aws:sagemaker:{REGION}:999999999999:model-card/{BAD_CARD}"]),
        "resources[0]",
    ),
    "other-region": (_event(region="eu-west-1"), "region"),
    "other-detail-type": (load_event("other-model-package-state-change.json", BAD_CARD), "detail-type"),
    "name-64-characters": (_event("a" * 64), "resources[0]"),
    "name-is-an-arn": (_detail(ModelCardName=card_arn(BAD_CARD)), "detail.ModelCardName"),
    "not-an-object": (["not", "an", "event"], "event"),
}


def rejected(system: LocalAws, execution: Mapping[str, Any], field: str, rows: list[Any]) -> None:
    cause = assert_failed(execution, "InvalidEventError")
    assert cause["errorMessage"].startswith(f"{field}:"), cause["errorMessage"]
    history = History.of(system, execution)
    # Rejected once, never retried: one Plan attempt, then the failure is recorded and published.
    assert history.entered[:5] == ["Start", "Plan", "DescribeFailure", "RecordFailure", "PublishFailure"]
    assert (history.entered.count("Plan"), history.attempts("Plan"), history.entered[-1]) == (1, 1, "Failed")
    assert history.task_errors.count("InvalidEventError") == 1
    assert all_rows(system) == rows  # no RAM change anywhere
    record = ledger_item(system, execution["executionArn"])
    assert (record["outcome"], record["error"]) == ("failed", "InvalidEventError")
    assert f"{field}:" in record["cause"]


#: id → (card name, content): unusual input that is valid and must converge.
ACCEPTED: dict[str, tuple[str, str]] = {
    "name-63-characters": ("a" * 63, card_content()),
    "unicode-content": (
        "Unicode-Content-Card",
        json.dumps({**json.loads(card_content()), "business_details": {"business_problem": "Prévision — 预测 🚀"}}),
    ),
}


def accepted(system: LocalAws, arn: str, execution: Mapping[str, Any]) -> None:
    assert_succeeded([dict(execution)], added={"dev"}, status="Draft")
    assert_associations(system, arn, {"dev"})
    assert [r["outcome"] for r in ledger(system, arn)] == ["shared"]


@stack()
def test_faults_on_one_stack(system: LocalAws, subtests: pytest.Subtests) -> None:
    """Every bad input and card-level scenario, one subtest each (named by its id).

    What can run at once does, with one wait: the bad inputs together, then the valid edge cases
    together with the starting points of the scenarios; each scenario then injects its fault alone.
    """
    rows = all_rows(system)
    watch = Executions(system)
    rejections = {case_id: start_named(system, case) for case_id, (case, _) in BAD_INPUT.items()}
    finished = {e["executionArn"]: e for e in watch.new()}
    for case_id, (_, field) in BAD_INPUT.items():
        with subtests.test(msg=case_id):
            rejected(system, finished[rejections[case_id]], field, rows)

    edge_cases = {
        case_id: (create_quietly(system, name, content), start_named(system, state_change_event(name, "Draft")))
        for case_id, (name, content) in ACCEPTED.items()
    }
    reach_all(system, {scenario.id: scenario.start for scenario in SCENARIOS if scenario.start})
    finished = {e["executionArn"]: e for e in watch.new()}
    for case_id, (arn, execution_arn) in edge_cases.items():
        with subtests.test(msg=case_id):
            accepted(system, arn, finished[execution_arn])

    for scenario in SCENARIOS:
        with subtests.test(msg=scenario.id):
            ram.reset_faults()
            scenario.run(system, scenario.id)


# ---- the rule's target failing: the dead-letter queue and the README's redrive ------------------


def test_target_failing_lands_in_the_dlq_and_redrives() -> None:
    """Id target-failing-dlq: the state machine is gone, the event waits in the DLQ; the redrive converges it."""
    with local_aws() as broken:
        client(broken, "stepfunctions").delete_state_machine(stateMachineArn=broken.state_machine_arn)
        arn = create(broken, CARD)
        sqs = client(broken, "sqs")
        dlq = broken.stack.outputs["CardEventsDeadLetterQueueUrl"]
        [message] = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
        attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
        assert attributes["ERROR_CODE"] == "RESOURCE_NOT_FOUND"
        assert "State Machine Does Not Exist" in attributes["ERROR_MESSAGE"]
        assert attributes["TARGET_ARN"] == broken.state_machine_arn
        body = message["Body"]
        event = json.loads(body)
        assert (event["detail-type"], event["resources"], event["detail"]["ModelCardStatus"]) == (
            "SageMaker Model Card State Change",
            [arn],
            "Draft",
        )
        assert [d.outcome for d in eventbridge_targets.deliveries()] == ["dead-lettered"]
        assert broken.associations(arn) == {}

    # A fresh stack holding the same card and the same dead letter; then the README's procedure.
    with local_aws() as system:
        create_quietly(system, CARD)
        dlq = system.stack.outputs["CardEventsDeadLetterQueueUrl"]
        sqs = client(system, "sqs")
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
        watch = Executions(system)

        # The README's procedure: `cardshare redrive` (the CLI in this process, on this embedded AWS).
        assert redrive_main(["redrive"]) == 0

        assert_succeeded(watch.new(), added={"dev"}, status="Draft")
        assert_associations(system, arn, {"dev"})
        assert ledger(system, arn)[-1]["eventId"] == event["id"]
        assert sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []) == []
