"""Static checks of what operators get from template.yaml: alarms, the dashboard, saved queries, logs.

The metrics the dashboard and the alarms name are checked against what the handlers emit, read
from functions/*/app.py (every ``metrics.add_metric`` and ``count_by`` call and the cold-start
metric of ``log_metrics``), so a renamed metric or dimension fails here before it leaves an empty
graph or an alarm that can never fire.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from template_loader import ROOT, load_template

from cardshare.decisions import Outcome
from cardshare_local.deploy import merge_globals

TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
PARAMETERS: dict[str, dict[str, Any]] = TEMPLATE["Parameters"]
FUNCTIONS = ROOT / "functions"
EFFECTIVE_TOPIC = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}
LAMBDA_LOG_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
SERVICE = {"Ref": "AWS::StackName"}


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in RESOURCES.items() if resource["Type"] == kind}


def alarms() -> dict[str, dict[str, Any]]:
    found = of_type("AWS::CloudWatch::Alarm")
    assert len(found) >= 7
    return found


# ---- what the handlers emit, read from their source -------------------------------------------------


def _literal(node: ast.AST) -> str:
    assert isinstance(node, ast.Constant), ast.dump(node)
    assert isinstance(node.value, str), ast.dump(node)
    return node.value


def emitted_metrics() -> dict[str, set[tuple[str, frozenset[str]]]]:
    """Per function folder: (metric name, dimension names) of everything its handler publishes."""
    found: dict[str, set[tuple[str, frozenset[str]]]] = {}
    for path in sorted(FUNCTIONS.glob("*/app.py")):
        metrics: set[tuple[str, frozenset[str]]] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            if called == "add_metric":
                metrics.add((_literal(keywords["name"]), frozenset({"service"})))
            elif called == "count_by":
                dimensions = frozenset({"service", *(k for k in keywords if k != "value")})
                metrics.add((_literal(node.args[0]), dimensions))
            elif called == "log_metrics":
                cold = keywords.get("capture_cold_start_metric")
                if isinstance(cold, ast.Constant) and cold.value is True:
                    metrics.add(("ColdStart", frozenset({"function_name", "service"})))
        found[path.parent.name] = metrics
    return found


def all_emitted() -> set[tuple[str, frozenset[str]]]:
    return set().union(*emitted_metrics().values())


def test_the_source_reader_finds_the_handlers_metrics() -> None:
    emitted = emitted_metrics()
    assert set(emitted) == {"plan_card", "describe_failure", "reconcile"}
    assert ("Decisions", frozenset({"service", "outcome"})) in emitted["plan_card"]
    assert ("Decisions", frozenset({"service", "outcome"})) in emitted["describe_failure"]
    assert ("SharesAdded", frozenset({"service", "stage"})) in emitted["plan_card"]
    assert ("CardsChecked", frozenset({"service"})) in emitted["reconcile"]


@pytest.mark.parametrize("folder", ["plan_card", "describe_failure", "reconcile"])
def test_every_handler_publishes_its_cold_starts(folder: str) -> None:
    assert ("ColdStart", frozenset({"function_name", "service"})) in emitted_metrics()[folder]


def test_no_metric_name_carries_an_outcome_stage_or_operation() -> None:
    names = {name for name, _ in all_emitted()}
    assert not {name for name in names if "-" in name}, "dimension values baked into metric names"
    assert not names & {"ApplyRounds", "WaitRounds", "Converged"}


# ---- alarms -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(of_type("AWS::CloudWatch::Alarm")))
def test_every_alarm_notifies_the_alarm_topic_on_alarm_and_on_ok(name: str) -> None:
    properties = RESOURCES[name]["Properties"]
    assert properties.get("AlarmActions") == [EFFECTIVE_TOPIC], name
    assert properties.get("OKActions") == [EFFECTIVE_TOPIC], name
    assert properties.get("ActionsEnabled", True) is True


def test_the_alarm_topic_is_created_only_without_a_topic_of_yours_and_is_an_output() -> None:
    assert PARAMETERS["AlarmTopicArn"]["Default"] == ""
    assert TEMPLATE["Conditions"]["CreateAlarmTopic"] == {"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}
    topic = RESOURCES["AlarmTopic"]
    assert (topic["Type"], topic["Condition"]) == ("AWS::SNS::Topic", "CreateAlarmTopic")
    assert TEMPLATE["Outputs"]["AlarmTopicArn"]["Value"] == EFFECTIVE_TOPIC


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    """CloudWatch cannot publish to a topic under alias/aws/sns: the stack's own key lets it."""
    key_id = RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    assert key_id == {"Ref": "AlarmTopicKey"}
    key = RESOURCES["AlarmTopicKey"]
    assert (key["Type"], key["Condition"]) == ("AWS::KMS::Key", "CreateAlarmTopic")
    assert key["Properties"]["EnableKeyRotation"] is True
    (cloudwatch,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch["Effect"] == "Allow"
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def alarm_on(namespace: str, metric: str) -> list[dict[str, Any]]:
    return [
        a["Properties"]
        for a in alarms().values()
        if (a["Properties"]["Namespace"], a["Properties"]["MetricName"]) == (namespace, metric)
    ]


def test_custom_metric_alarms_watch_metrics_the_handlers_emit_with_this_stacks_service() -> None:
    custom = [a["Properties"] for a in alarms().values() if a["Properties"]["Namespace"] == "Cardshare"]
    assert {a["MetricName"] for a in custom} == {"Drift", "RepairFailures", "CardsChecked"}
    for alarm in custom:
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions == {"service": SERVICE}, alarm["MetricName"]
        assert (alarm["MetricName"], frozenset(dimensions)) in all_emitted()


@pytest.mark.parametrize("metric", ["RepairFailures", "Drift"])
def test_reconciler_problems_alarm_above_zero(metric: str) -> None:
    (alarm,) = alarm_on("Cardshare", metric)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_the_reconcilers_own_errors_alarm() -> None:
    (alarm,) = alarm_on("AWS/Lambda", "Errors")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ReconcileFunction"}}]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == ("Sum", "GreaterThanThreshold", 0)


def schedule_event() -> dict[str, Any]:
    (event,) = RESOURCES["ReconcileFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "ScheduleV2"
    return dict(event["Properties"])


def test_the_silent_reconciler_alarm_covers_exactly_two_schedule_periods() -> None:
    """No CardsChecked datapoint for two runs in a row, whatever ReconcileIntervalMinutes is."""
    (alarm,) = alarm_on("Cardshare", "CardsChecked")
    interval = {"Ref": "ReconcileIntervalMinutes"}
    # The schedule runs every N minutes; the alarm looks at N periods of two minutes: 2N minutes.
    assert schedule_event()["ScheduleExpression"] == {"Fn::Sub": "rate(${ReconcileIntervalMinutes} minutes)"}
    assert alarm["Period"] == 120
    assert alarm["EvaluationPeriods"] == interval
    assert alarm["DatapointsToAlarm"] == interval
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "SampleCount",
        "LessThanThreshold",
        1,
    )
    assert alarm["TreatMissingData"] == "breaching"
    parameter = PARAMETERS["ReconcileIntervalMinutes"]
    # rate(1 minutes) is not an expression AWS accepts; CloudWatch looks back one day at most.
    assert parameter["MinValue"] >= 2
    assert parameter["MaxValue"] * alarm["Period"] <= 86400
    assert parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"]
    assert "ReconcileSchedule" not in PARAMETERS


def test_the_schedule_retries_then_dead_letters_and_is_named_after_the_stack() -> None:
    event = schedule_event()
    assert event["Name"] == {"Fn::Sub": "${AWS::StackName}-reconcile"}
    assert event["FlexibleTimeWindow"] == {"Mode": "OFF"}
    retry = event["RetryPolicy"]
    assert 0 < retry["MaximumRetryAttempts"] <= 185
    assert 60 <= retry["MaximumEventAgeInSeconds"] <= 86400
    queue, attribute = event["DeadLetterConfig"]["Arn"]["Fn::GetAtt"]
    assert (RESOURCES[queue]["Type"], attribute) == ("AWS::SQS::Queue", "Arn")


@pytest.mark.parametrize("queue", sorted(of_type("AWS::SQS::Queue")))
def test_every_dead_letter_queue_has_a_depth_alarm(queue: str) -> None:
    watching = [
        a
        for a in alarm_on("AWS/SQS", "ApproximateNumberOfMessagesVisible")
        if a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]
    assert len(watching) == 1
    assert (watching[0]["ComparisonOperator"], watching[0]["Threshold"]) == ("GreaterThanThreshold", 0)


# ---- the dashboard -------------------------------------------------------------------------------------


def dashboard_body() -> tuple[str, dict[str, Any]]:
    """The body with every ${...} replaced the way CloudFormation would (by recognisable stand-ins)."""
    (dashboard,) = of_type("AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(text, str), "one string, so every variable is a resource or a pseudo parameter"

    def stand_in(match: re.Match[str]) -> str:
        name = match.group(1)
        logical_id = name.split(".", 1)[0]
        assert name in {"AWS::Region", "AWS::StackName"} or logical_id in RESOURCES, name
        return f"<{name}>"

    substituted = re.sub(r"\$\{([^}]+)\}", stand_in, text)
    return substituted, json.loads(substituted)


SEARCH = re.compile(
    r"""^SEARCH\('\{(?P<namespace>[^,}]+),(?P<schema>[^}]+)\} """
    r"""MetricName="(?P<name>[^"]+)" (?P<filters>.*)', '(?P<stat>\w+)', \d+\)$"""
)


def search_lines() -> Iterator[tuple[str, str, frozenset[str], dict[str, str]]]:
    """Each SEARCH expression line: namespace, metric name, dimension schema and dimension filters."""
    for widget in dashboard_body()[1]["widgets"]:
        for line in widget["properties"].get("metrics", []):
            if isinstance(line[0], dict) and "expression" in line[0]:
                match = SEARCH.match(line[0]["expression"])
                assert match, line
                filters = dict(re.findall(r'(\w+)="([^"]*)"', match["filters"]))
                yield match["namespace"], match["name"], frozenset(match["schema"].split(",")), filters


def metric_lines() -> Iterator[tuple[str, str, dict[str, str], dict[str, Any]]]:
    for widget in dashboard_body()[1]["widgets"]:
        for line in widget["properties"].get("metrics", []):
            if isinstance(line[0], dict):
                continue  # an expression (search_lines)
            options = line[-1] if isinstance(line[-1], dict) else {}
            fields = line[:-1] if options else line
            assert len(fields) % 2 == 0, f"namespace, name, then name/value pairs: {line}"
            namespace, name, *pairs = fields
            yield namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)), options


def test_the_dashboard_body_is_json_after_substitution() -> None:
    text, body = dashboard_body()
    assert body["widgets"]
    assert "${" not in text
    for widget in body["widgets"]:
        assert widget["properties"]["region"] == "<AWS::Region>"


def test_the_dashboard_shows_only_metrics_the_handlers_emit_for_this_stack() -> None:
    emitted = all_emitted()
    allowed_values = {
        "outcome": {o.value for o in Outcome},
        "operation": {"apply", "wait", "done"},
        "service": {"<AWS::StackName>"},
    }
    custom = [(name, dims) for namespace, name, dims, _ in metric_lines() if namespace == "Cardshare"]
    assert custom
    for name, dims in custom:
        assert (name, frozenset(dims)) in emitted, (name, dims)
        for key, value in dims.items():
            if key in allowed_values:
                assert value in allowed_values[key], (name, key, value)
    # Every outcome has its line: nothing a decision can be is missing.
    assert {d["outcome"] for n, d in custom if n == "Decisions"} == allowed_values["outcome"]


def test_shares_by_stage_are_searched_so_that_every_stage_of_any_ladder_shows() -> None:
    """Stages come from a parameter: the dashboard searches the stage dimension instead of listing stages."""
    emitted = all_emitted()
    searched = {
        name: (schema, filters) for namespace, name, schema, filters in search_lines() if namespace == "Cardshare"
    }
    assert set(searched) == {"SharesAdded", "SharesRemoved"}
    for name, (schema, filters) in searched.items():
        assert (name, schema) in emitted, name
        assert filters == {"service": "<AWS::StackName>"}, "another stack's shares would be drawn too"


def test_the_dashboard_shows_executions_and_dead_letters() -> None:
    lines = {(namespace, name, tuple(sorted(dims.items()))) for namespace, name, dims, _ in metric_lines()}
    machine = (("StateMachineArn", "<PromoteCardStateMachine>"),)
    for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed"):
        assert ("AWS/States", metric, machine) in lines
    for queue in of_type("AWS::SQS::Queue"):
        dims = (("QueueName", f"<{queue}.QueueName>"),)
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims) in lines


@pytest.mark.parametrize("function", sorted(of_type("AWS::Serverless::Function")))
def test_the_dashboard_shows_each_functions_errors_throttles_and_duration(function: str) -> None:
    lines = {(namespace, name, tuple(dims.items())) for namespace, name, dims, _ in metric_lines()}
    for metric in ("Errors", "Throttles", "Duration"):
        assert ("AWS/Lambda", metric, (("FunctionName", f"<{function}>"),)) in lines


def test_the_reconcilers_duration_is_drawn_against_its_timeout() -> None:
    timeout_ms = RESOURCES["ReconcileFunction"]["Properties"]["Timeout"] * 1000
    widgets = [
        w["properties"]
        for w in dashboard_body()[1]["widgets"]
        if ["AWS/Lambda", "Duration", "FunctionName", "<ReconcileFunction>"]
        in [line[:4] for line in w["properties"]["metrics"]]
        and "annotations" in w["properties"]
    ]
    assert len(widgets) == 1
    assert [a["value"] for a in widgets[0]["annotations"]["horizontal"]] == [timeout_ms]


# ---- Logs Insights queries -----------------------------------------------------------------------------


def queries() -> dict[str, dict[str, Any]]:
    found = {name: r["Properties"] for name, r in of_type("AWS::Logs::QueryDefinition").items()}
    assert set(found) == {"CardDecisionsQuery", "RejectedEventsQuery", "DriftRepairsQuery"}
    return found


def function_of_log_group(group: str) -> str:
    (function,) = [
        name
        for name, f in of_type("AWS::Serverless::Function").items()
        if f["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group}
    ]
    return function


LOGGER_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


def logged_messages(function: str) -> list[re.Pattern[str]]:
    """The messages a function's handler logs, as patterns (an f-string's values match anything)."""
    code = RESOURCES[function]["Properties"]["CodeUri"]
    tree = ast.parse((ROOT / code / "app.py").read_text(encoding="utf-8"))
    patterns = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        if node.func.attr not in LOGGER_METHODS or getattr(node.func.value, "id", "") != "logger":
            continue
        first = node.args[0]
        if isinstance(first, ast.Name):
            # message = "a" if x else "b"; logger.warning(message): each constant it may be.
            assigned = [
                a.value for a in ast.walk(tree) if isinstance(a, ast.Assign) and ast.unparse(a.targets[0]) == first.id
            ]
            for value in assigned:
                patterns += [
                    re.compile(re.escape(c.value))
                    for c in ast.walk(value)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                ]
        elif isinstance(first, ast.Constant) and isinstance(first.value, str):
            patterns.append(re.compile(re.escape(first.value)))
        elif isinstance(first, ast.JoinedStr):
            parts = [
                re.escape(p.value) if isinstance(p, ast.Constant) and isinstance(p.value, str) else ".+"
                for p in first.values
            ]
            patterns.append(re.compile("".join(parts)))
    return patterns


def test_the_message_reader_finds_the_plan_functions_round_messages() -> None:
    plan = logged_messages("PlanCardFunction")
    assert [p.pattern for p in plan if p.fullmatch("card done")] == [re.escape("card ") + ".+"]
    assert not any(p.fullmatch("card") for p in plan)
    reconciler = logged_messages("ReconcileFunction")
    for message in ("repairing drift", "drift found (dry run: not repaired)", "reconciled"):
        assert any(p.fullmatch(message) for p in reconciler), message


@pytest.mark.parametrize("query", ["CardDecisionsQuery", "RejectedEventsQuery", "DriftRepairsQuery"])
def test_each_query_runs_on_function_log_groups_and_matches_messages_they_log(query: str) -> None:
    properties = queries()[query]
    assert properties["Name"]["Fn::Sub"].startswith("${AWS::StackName}/")
    groups = [g["Ref"] for g in properties["LogGroupNames"]]
    patterns = [p for group in groups for p in logged_messages(function_of_log_group(group))]
    messages = re.findall(r'"([^"]+)"', properties["QueryString"].split("| filter", 1)[1].split("|")[0])
    assert messages, "a query filters on the messages it is about"
    for message in messages:
        assert any(p.fullmatch(message) for p in patterns), f"{query}: no handler logs {message!r}"


# ---- service name and log levels -----------------------------------------------------------------------


def merged_function(name: str) -> dict[str, Any]:
    """A function's properties as SAM merges them with Globals: the local deployer's merge, which the SAM
    translator tests in tests/integration/test_sam.py hold to SAM's own."""
    return merge_globals(TEMPLATE, "Function", RESOURCES[name]["Properties"])


@pytest.mark.parametrize("function", sorted(of_type("AWS::Serverless::Function")))
def test_the_powertools_service_is_the_stack_name(function: str) -> None:
    variables = merged_function(function)["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == SERVICE
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Cardshare"


@pytest.mark.parametrize("function", sorted(of_type("AWS::Serverless::Function")))
def test_the_application_log_level_derives_from_log_level(function: str) -> None:
    merged = merged_function(function)
    logging = merged["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == {"Ref": "LogLevel"}
    assert logging["SystemLogLevel"] == {"Ref": "SystemLogLevel"}
    assert logging["LogGroup"]["Ref"].startswith(function)
    # One source of truth: a Powertools level next to it could disagree with Lambda's (and TRACE
    # or FATAL would not even parse there).
    assert "POWERTOOLS_LOG_LEVEL" not in merged["Environment"]["Variables"]
    assert "LOG_LEVEL" not in merged["Environment"]["Variables"]


def test_log_level_parameters_take_lambdas_names_only() -> None:
    # Lambda files a line without "level" as INFO: above INFO it would drop every EMF metric document.
    assert set(PARAMETERS["LogLevel"]["AllowedValues"]) == {"TRACE", "DEBUG", "INFO"}
    assert set(PARAMETERS["LogLevel"]["AllowedValues"]) <= LAMBDA_LOG_LEVELS
    assert PARAMETERS["LogLevel"]["Default"] == "INFO"
    assert set(PARAMETERS["SystemLogLevel"]["AllowedValues"]) <= {"DEBUG", "INFO", "WARN"}
    assert PARAMETERS["SystemLogLevel"]["Default"] == "INFO"  # keeps REPORT lines (memory, init duration)


def test_samconfig_log_levels_are_allowed() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    for env, commands in config.items():
        if not isinstance(commands, dict):
            continue
        overrides = commands.get("deploy", {}).get("parameters", {}).get("parameter_overrides", [])
        for item in overrides:
            key, value = item.split("=", 1)
            allowed = PARAMETERS[key].get("AllowedValues")
            assert allowed is None or value in [str(a) for a in allowed], (env, key, value)


def test_functions_folder_names_match_the_template() -> None:
    code = {Path(f["Properties"]["CodeUri"]).name for f in of_type("AWS::Serverless::Function").values()}
    assert code == set(emitted_metrics())
