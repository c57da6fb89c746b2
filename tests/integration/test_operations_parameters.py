"""Stacks deployed with other operations parameters: a topic of yours, another interval, a log level.

Each test deploys its own stack (the embedded AWS holds one stack at a time, so these live apart from
test_operations.py's module-wide stack).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import pytest
from emf import Point, emf_points
from operations_support import PARAMETERS, execution_arn, invoke, log_of, sample, stack_alarms

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import LocalAws, local_aws
from cardshare_local.template import TemplateError


def test_a_topic_of_yours_replaces_the_stacks_and_the_silent_window_follows_the_interval() -> None:
    mine = f"arn:aws:sns:{REGION}:{MODEL_CARD_ACCOUNT}:on-call"
    with local_aws({**PARAMETERS, "AlarmTopicArn": mine, "ReconcileIntervalMinutes": "15"}) as system:
        alarms = stack_alarms(system)
        topics = system.session().client("sns").list_topics()["Topics"]
        schedule = system.session().client("scheduler").get_schedule(Name="cardshare-reconcile")

    assert "AlarmTopic" not in system.stack.resources
    assert "AlarmTopicKey" not in system.stack.resources
    assert system.stack.outputs["AlarmTopicArn"] == mine
    assert [t["TopicArn"] for t in topics] == [system.stack.outputs["DecisionsTopicArn"]]
    for alarm in alarms:
        assert (alarm["AlarmActions"], alarm["OKActions"]) == ([mine], [mine]), alarm["AlarmName"]
    (silent,) = [a for a in alarms if a["MetricName"] == "CardsChecked"]
    # Two runs of 15 minutes: 15 periods of two minutes, all without a datapoint.
    assert schedule["ScheduleExpression"] == "rate(15 minutes)"
    assert (silent["Period"], silent["EvaluationPeriods"], silent["DatapointsToAlarm"]) == (120, 15, 15)
    assert silent["Period"] * silent["EvaluationPeriods"] == 2 * 15 * 60
    assert silent["TreatMissingData"] == "breaching"


def test_the_application_log_level_reaches_every_functions_logger() -> None:
    """LogLevel=DEBUG: Lambda's ApplicationLogLevel (AWS_LAMBDA_LOG_LEVEL) sets Powertools' level."""
    with local_aws({**PARAMETERS, "LogLevel": "DEBUG"}) as system:
        lambda_inprocess.reset()
        execution = execution_arn()
        plan = invoke(system, "PlanCardFunction", {"event": sample("card-approved.json"), "execution": execution})
        failure = invoke(system, "DescribeFailureFunction", {"state": {}, "execution": execution})
        reconcile = invoke(system, "ReconcileFunction", {"dryRun": True})
        levels = {
            function: handler_module(system, function).logger.log_level
            for function in ("PlanCardFunction", "DescribeFailureFunction", "ReconcileFunction")
        }
        lines = log_of(system, "PlanCardFunction")
    lambda_inprocess.reset()

    assert (plan["error"], failure["error"], reconcile["error"]) == (None, None, None)
    assert levels == dict.fromkeys(levels, logging.DEBUG)
    assert [line["message"] for line in lines if "message" in line] == ["card done"]
    assert any(p.name == "Decisions" for p in emf_points(lines))


def test_the_default_log_level_is_info() -> None:
    with local_aws(PARAMETERS) as system:
        lambda_inprocess.reset()
        invoke(system, "PlanCardFunction", {"event": sample("card-approved.json"), "execution": execution_arn()})
        level = handler_module(system, "PlanCardFunction").logger.log_level
    lambda_inprocess.reset()

    assert level == logging.INFO


@pytest.mark.parametrize("level", ["WARN", "ERROR", "FATAL", "WARNING"])
def test_a_log_level_that_would_drop_the_metrics_is_refused(level: str) -> None:
    """Lambda files a line without "level" (every EMF document) as INFO: above INFO no metric is left."""
    with pytest.raises(TemplateError, match=r"^parameter LogLevel: "), local_aws({**PARAMETERS, "LogLevel": level}):
        pass


def handler_module(system: LocalAws, function: str) -> Any:
    """The function's imported app.py, as the in-process Lambda loaded it (its warm container)."""
    name = "cardshare_lambda_" + re.sub(r"\W", "_", str(system.stack.resources[function])) + "_app"
    return sys.modules[name]


def test_points_are_parsed_with_their_dimensions() -> None:
    line = {
        "_aws": {
            "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [["service", "stage"]], "Metrics": [{"Name": "M"}]}]
        },
        "service": "s",
        "stage": "dev",
        "M": [1.0, 2.0],
    }
    assert emf_points([line]) == [
        Point("N", "M", {"service": "s", "stage": "dev"}, 1.0),
        Point("N", "M", {"service": "s", "stage": "dev"}, 2.0),
    ]
