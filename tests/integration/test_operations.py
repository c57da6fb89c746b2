"""What an operator gets from a deployed stack: alarms that notify, the dashboard, the reconciler's
schedule, saved Logs Insights queries, metrics and log lines that belong to the stack.

The stack is deployed under a name other than "cardshare" (the name the tests' own environment
uses for Powertools), so a metric or log line that still says "cardshare" is caught.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emf import emf_points
from operations_support import (
    PARAMETERS,
    STACK,
    execution_arn,
    invoke,
    log_of,
    resource_names,
    sample,
    stack_alarms,
)
from template_loader import load_template

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.extensions import ram as ram_ext
from cardshare_local.runtime import LocalAws, local_aws

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
CARD_NAME = "Customer-Churn-Model-Card"  # the card the events/ samples name
CONTENT = {
    "model_overview": {"model_owner": "churn-team", "problem_type": "Binary Classification"},
    "intended_uses": {"intended_uses": "Predict which customers are likely to cancel."},
}
FUNCTIONS = ("PlanCardFunction", "DescribeFailureFunction", "ReconcileFunction")
INSIGHTS_WORDS = {"fields", "filter", "sort", "desc", "asc", "and", "or", "not", "in", "like", "stats", "by", "limit"}


@pytest.fixture(scope="module")
def system() -> Iterator[LocalAws]:
    with local_aws(PARAMETERS, stack_name=STACK) as deployed:
        # No workflow runs by itself: each test invokes the functions it looks at.
        deployed.session().client("events").disable_rule(Name=deployed.stack.resources["CardStateChangeRule"])
        lambda_inprocess.reset()
        yield deployed
        deployed.wait_idle()
    lambda_inprocess.reset()


# ---- alarms ---------------------------------------------------------------------------------------------


def test_every_alarm_notifies_the_stacks_encrypted_topic_on_alarm_and_on_ok(system: LocalAws) -> None:
    topic = system.stack.outputs["AlarmTopicArn"]
    session = system.session()

    for alarm in stack_alarms(system):
        assert alarm["AlarmActions"] == [topic], alarm["AlarmName"]
        assert alarm["OKActions"] == [topic], alarm["AlarmName"]
        assert alarm["ActionsEnabled"] is True

    assert topic == system.stack.resources["AlarmTopic"]
    key = session.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"]
    assert key == system.stack.resources["AlarmTopicKey"]
    kms = session.client("kms")
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    principals = [s["Principal"] for s in policy["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals


def test_custom_metric_alarms_watch_this_stacks_service(system: LocalAws) -> None:
    custom = [a for a in stack_alarms(system) if a["Namespace"] == "Cardshare"]
    assert {a["MetricName"] for a in custom} == {"Drift", "RepairFailures", "CardsChecked"}
    for alarm in custom:
        assert alarm["Dimensions"] == [{"Name": "service", "Value": STACK}], alarm["MetricName"]


# ---- the reconciler's schedule -------------------------------------------------------------------------


def test_the_reconciler_runs_on_a_schedule_that_retries_and_keeps_dead_letters(system: LocalAws) -> None:
    session = system.session()
    spec = next(iter(RESOURCES["ReconcileFunction"]["Properties"]["Events"].values()))["Properties"]
    function_arn = session.client("lambda").get_function(FunctionName=system.stack.resources["ReconcileFunction"])[
        "Configuration"
    ]["FunctionArn"]
    queue_arn = session.client("sqs").get_queue_attributes(
        QueueUrl=system.stack.outputs["ReconcileScheduleDeadLetterQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]

    schedule = session.client("scheduler").get_schedule(Name=f"{STACK}-reconcile")

    assert schedule["ScheduleExpression"] == "rate(60 minutes)"
    assert schedule["State"] == "ENABLED"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == function_arn
    assert target["RetryPolicy"] == spec["RetryPolicy"]
    assert target["DeadLetterConfig"] == {"Arn": queue_arn}
    iam = session.client("iam")
    role_name = target["RoleArn"].rsplit("/", 1)[-1]
    role = iam.get_role(RoleName=role_name)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    (policy,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
    allowed = {(s["Action"], s["Resource"]) for s in document["Statement"]}
    assert allowed == {("lambda:InvokeFunction", function_arn), ("sqs:SendMessage", queue_arn)}
    # The schedule replaced the EventBridge rule SAM's Schedule event made: only the card rule is left.
    rules = session.client("events").list_rules()["Rules"]
    assert [r["Name"] for r in rules] == [system.stack.resources["CardStateChangeRule"]]


# ---- the dashboard -------------------------------------------------------------------------------------


def test_the_dashboard_shows_this_stacks_resources(system: LocalAws) -> None:
    session = system.session()
    name = system.stack.outputs["DashboardName"]

    body = json.loads(session.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])

    assert name == f"{STACK}-operations"
    lines = [line for widget in body["widgets"] for line in widget["properties"]["metrics"]]
    text = json.dumps(lines)
    assert "${" not in text
    for function in FUNCTIONS:
        assert ["AWS/Lambda", "Errors", "FunctionName", system.stack.resources[function]] in [x[:4] for x in lines]
    assert system.state_machine_arn in text
    for queue in ("CardEventsDeadLetterQueue", "ReconcileScheduleDeadLetterQueue"):
        queue_name = system.stack.resources[queue].rsplit("/", 1)[-1]
        assert ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name] in [x[:4] for x in lines]
    services = {line[line.index("service") + 1] for line in lines if "service" in line}
    assert services == {STACK}


# ---- metrics and log lines of the functions ------------------------------------------------------------


def test_the_plan_function_publishes_for_this_stack_with_dimensions_and_one_cold_start(system: LocalAws) -> None:
    lambda_inprocess.reset()  # the next invocation is a cold start
    execution = execution_arn()
    event = sample("card-approved.json")  # a card that does not exist: one round, done, no-op

    answers = [invoke(system, "PlanCardFunction", {"event": event, "progress": None, "execution": execution})]
    answers.append(invoke(system, "PlanCardFunction", {"event": event, "progress": None, "execution": execution}))

    assert [a["error"] for a in answers] == [None, None]
    lines = log_of(system, "PlanCardFunction")
    points = emf_points(lines)
    assert {p.dimensions["service"] for p in points} == {STACK}
    assert {p.namespace for p in points} == {"Cardshare"}
    decisions = [p for p in points if p.name == "Decisions"]
    assert [p.dimensions for p in decisions] == [{"service": STACK, "outcome": "no-op"}] * 2
    cold = [p for p in points if p.name == "ColdStart"]
    assert [(p.dimensions, p.value) for p in cold] == [
        ({"function_name": system.stack.resources["PlanCardFunction"], "service": STACK}, 1.0)
    ]
    logged = [line for line in lines if "_aws" not in line]
    assert len(logged) == 2
    for line in logged:
        assert line["correlation_id"] == execution
        assert line["service"] == STACK


def test_the_failure_step_correlates_its_lines_and_counts_a_failed_decision(system: LocalAws) -> None:
    lambda_inprocess.reset()
    execution = execution_arn()
    state = {"event": sample("card-draft.json"), "failure": {"Error": "AssociationFailedError", "Cause": "FAILED"}}

    answer = invoke(system, "DescribeFailureFunction", {"state": state, "execution": execution})

    assert answer["error"] is None
    lines = log_of(system, "DescribeFailureFunction")
    (logged,) = [line for line in lines if "_aws" not in line]
    assert (logged["message"], logged["correlation_id"]) == ("execution failed", execution)
    points = emf_points(lines)
    assert sorted((p.name, tuple(sorted(p.dimensions.items()))) for p in points) == [
        ("ColdStart", (("function_name", system.stack.resources["DescribeFailureFunction"]), ("service", STACK))),
        ("Decisions", (("outcome", "failed"), ("service", STACK))),
    ]


# ---- the saved Logs Insights queries -------------------------------------------------------------------


def query_fields(query: str) -> set[str]:
    """The log fields a query names (not @-fields, strings, regular expressions or keywords)."""
    text = re.sub(r'"[^"]*"|/[^/]*/', " ", query)
    words = set(re.findall(r"[A-Za-z_@][\w.@]*", text))
    return {word for word in words if not word.startswith("@") and word not in INSIGHTS_WORDS}


def query_messages(query: str) -> set[str]:
    return set(re.findall(r'"([^"]+)"', query))


def flattened(line: dict[str, Any], prefix: str = "") -> set[str]:
    """Field names as Logs Insights discovers them in a JSON log line (nested keys joined by dots)."""
    keys = set()
    for key, value in line.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= flattened(value, f"{prefix}{key}.")
    return keys


def converge_a_draft_card(system: LocalAws) -> None:
    author = system.session(MODEL_CARD_ACCOUNT, "data-scientist").client("sagemaker")
    author.create_model_card(ModelCardName=CARD_NAME, Content=json.dumps(CONTENT), ModelCardStatus="Draft")
    execution, progress = execution_arn(), None
    for _ in range(10):
        payload = {"event": sample("card-draft.json"), "progress": progress, "execution": execution}
        answer = invoke(system, "PlanCardFunction", payload)["payload"]
        for action in answer["actions"]:
            system.session().client("ram").associate_resource_share(
                resourceShareArn=action["shareArn"], resourceArns=[action["resourceArn"]]
            )
        if answer["next"] == "done":
            assert answer["summary"]["outcome"] == "shared"
            return
        progress = answer["progress"]
    raise AssertionError("the draft card did not converge")


@pytest.fixture(scope="module")
def logged(system: LocalAws) -> dict[str, list[dict[str, Any]]]:
    """Each function's log lines after a shared card, a rejected event, a failure and a drift repair."""
    lambda_inprocess.reset()
    converge_a_draft_card(system)
    invoke(
        system,
        "PlanCardFunction",
        {"event": sample("malformed-missing-detail.json"), "progress": None, "execution": execution_arn()},
    )
    failure = {"event": sample("card-draft.json"), "failure": {"Error": "ConvergenceTimeoutError", "Cause": "x"}}
    invoke(system, "DescribeFailureFunction", {"state": failure, "execution": execution_arn()})
    # The card loses its dev share by hand; once its change is out of flight, the reconciler repairs it.
    card = f"arn:aws:sagemaker:{REGION}:{MODEL_CARD_ACCOUNT}:model-card/{CARD_NAME}"
    system.session().client("ram").disassociate_resource_share(
        resourceShareArn=system.share_arns["dev"], resourceArns=[card]
    )
    ram_ext.settle()
    time.sleep(1.5)
    dry = invoke(system, "ReconcileFunction", {"dryRun": True})["payload"]
    assert dry["drifted"] == 1, dry
    assert dry["repairs"] == [], dry
    report = invoke(system, "ReconcileFunction", {})["payload"]
    assert report["drifted"] == 1, report
    assert len(report["repairs"]) == 1, report
    system.wait_idle()
    return {function: log_of(system, function) for function in FUNCTIONS}


@pytest.mark.parametrize("query", sorted(resource_names("AWS::Logs::QueryDefinition")))
def test_each_saved_query_names_fields_the_lines_it_selects_carry(
    system: LocalAws, logged: dict[str, list[dict[str, Any]]], query: str
) -> None:
    properties = RESOURCES[query]["Properties"]
    groups = [group["Ref"] for group in properties["LogGroupNames"]]
    functions = [f for f in FUNCTIONS if RESOURCES[f]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in groups]
    messages = query_messages(properties["QueryString"]) - {"CARD_NAME"}
    selected = [line for f in functions for line in logged[f] if line.get("message") in messages]
    found = {line["message"] for line in selected}

    # Every message the query filters on was logged, except a repair that could not start.
    assert messages - found <= {"repair could not start"}, messages - found
    carried = set().union(*(flattened(line) for line in selected))
    assert query_fields(properties["QueryString"]) <= carried, query_fields(properties["QueryString"]) - carried


def test_the_saved_queries_are_deployed_on_the_functions_log_groups(system: LocalAws) -> None:
    logs = system.session().client("logs")
    groups = {system.stack.resources[f"{f}LogGroup"] for f in FUNCTIONS}

    definitions = logs.describe_query_definitions(queryDefinitionNamePrefix=f"{STACK}/")["queryDefinitions"]

    assert sorted(d["name"] for d in definitions) == [
        f"{STACK}/card-decisions",
        f"{STACK}/drift-repairs",
        f"{STACK}/rejected-events",
    ]
    for definition in definitions:
        assert definition["logGroupNames"]
        assert set(definition["logGroupNames"]) <= groups
        assert definition["queryString"] == next(
            RESOURCES[name]["Properties"]["QueryString"]
            for name in resource_names("AWS::Logs::QueryDefinition")
            if RESOURCES[name]["Properties"]["Name"]["Fn::Sub"].endswith(definition["name"].split("/", 1)[1])
        )
