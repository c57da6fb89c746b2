"""Stacks deployed with other operations parameters: a topic of yours, another interval, a log level.

Each test deploys its own stack (the embedded AWS holds one stack at a time, so these live apart from
test_operations.py's module-wide stack).
"""

from __future__ import annotations

from emf import Point, emf_points
from operations_support import PARAMETERS, execution_arn, invoke, log_of, sample, stack_alarms

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import local_aws


def test_a_topic_of_yours_replaces_the_stacks_and_the_silent_window_follows_the_interval() -> None:
    mine = f"arn:aws:sns:{REGION}:{MODEL_CARD_ACCOUNT}:on-call"
    with local_aws({**PARAMETERS, "AlarmTopicArn": mine, "ReconcileIntervalMinutes": "15"}) as system:
        alarms = stack_alarms(system)
        topics = system.session().client("sns").list_topics()["Topics"]
        schedule = system.session().client("scheduler").get_schedule(Name="cardshare-reconcile")

    assert "AlarmTopic" not in system.stack.resources and "AlarmTopicKey" not in system.stack.resources
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


def test_the_application_log_level_reaches_the_functions() -> None:
    """LogLevel=WARN: Lambda's ApplicationLogLevel, read by Powertools, drops the INFO round lines."""
    with local_aws({**PARAMETERS, "LogLevel": "WARN"}) as system:
        lambda_inprocess.reset()
        event = sample("card-approved.json")
        done = invoke(system, "PlanCardFunction", {"event": event, "progress": None, "execution": execution_arn()})
        rejected = invoke(
            system,
            "PlanCardFunction",
            {"event": sample("malformed-missing-detail.json"), "progress": None, "execution": execution_arn()},
        )
        lines = log_of(system, "PlanCardFunction")
    lambda_inprocess.reset()

    assert (done["error"], rejected["error"]) == (None, "Unhandled")
    assert [line["message"] for line in lines if "message" in line] == ["rejected: not retried"]
    assert any(p.name == "Decisions" for p in emf_points(lines)), "metrics do not depend on the log level"


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
