"""Every Lambda payload sample in events/lambda/ through its real handler, and env.json beside the deployed stack.

The stack is deployed from template.yaml on the embedded AWS; each sample is sent through the
Lambda Invoke API to the function of its directory, whose handler runs in-process with the
environment the template gave it (the in-process Lambda extension). The stack's rule is disabled
so that creating the sample card starts no workflow behind the test's back.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cardshare.settings import load_settings
from cardshare_local.accounts import MODEL_CARD_ACCOUNT
from cardshare_local.runtime import LocalAws, local_aws

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = ROOT / "events" / "lambda"
# The review gate's required fields, so the card is shared as PendingReview (dev and test).
CONTENT = {
    "model_overview": {"model_owner": "churn-team", "problem_type": "Binary Classification"},
    "intended_uses": {"intended_uses": "Predict which customers are likely to cancel."},
}
SHARE_ARN = re.compile(r"arn:aws:ram:[a-z0-9-]+:\d{12}:resource-share/[A-Za-z0-9-]+")


def samples(function_id: str) -> list[Path]:
    return sorted((PAYLOADS / function_id).glob("*.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def invoke(system: LocalAws, function_id: str, payload: Any) -> tuple[str | None, Any]:
    """Invoke the deployed function by logical ID through the Lambda API: (FunctionError, payload)."""
    response = (
        system.session()
        .client("lambda")
        .invoke(FunctionName=system.stack.resources[function_id], Payload=json.dumps(payload))
    )
    return response.get("FunctionError"), json.loads(response["Payload"].read())


@pytest.fixture(scope="module")
def stack(cold_start: Callable[[], None]) -> Iterator[LocalAws]:
    """The stack with the local defaults, its rule disabled."""
    with local_aws() as deployed:
        events = deployed.session().client("events")
        events.disable_rule(Name=deployed.stack.resources["CardStateChangeRule"])
        cold_start()
        yield deployed
    cold_start()


@pytest.fixture
def card(stack: LocalAws) -> Iterator[str]:
    """The card the plan samples are about, in PendingReview with its review fields filled; deleted after."""
    (name,) = {load(path)["event"]["detail"]["ModelCardName"] for path in samples("PlanCardFunction")}
    sagemaker = stack.session(MODEL_CARD_ACCOUNT, "data-scientist").client("sagemaker")
    arn = sagemaker.create_model_card(ModelCardName=name, ModelCardStatus="PendingReview", Content=json.dumps(CONTENT))
    # A card changed less than QuietSeconds ago is not acted on yet: let it stand still first.
    threading.Event().wait(stack.settings().limits.quiet_seconds + 0.1)
    yield str(arn["ModelCardArn"])
    try:
        sagemaker.delete_model_card(ModelCardName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFound":  # already gone is fine
            raise


def test_the_samples_are_for_the_functions_tested_here() -> None:
    # A sample for another function would otherwise be checked by nobody.
    assert {path.parent.name for path in PAYLOADS.glob("*/*.json")} == {
        "PlanCardFunction",
        "DescribeFailureFunction",
        "ReconcileFunction",
    }


@pytest.mark.parametrize("path", samples("PlanCardFunction"), ids=lambda p: p.name)
def test_plan_samples_are_accepted_and_plan_a_round_for_their_card(stack: LocalAws, card: str, path: Path) -> None:
    payload = load(path)

    error, result = invoke(stack, "PlanCardFunction", payload)

    assert error is None, result
    assert (result["summary"]["card"], result["summary"]["exists"]) == (card, True)
    # The card stands still in PendingReview and no share holds it: every round applies.
    assert result["next"] == "apply"
    assert sorted(action["stage"] for action in result["actions"]) == ["dev", "test"]
    # The round builds on the progress it was given: an apply round counts one more round, and
    # what earlier rounds added stays recorded ahead of what this one adds.
    given = payload["progress"] or {"rounds": 0, "added": []}
    applying = result["next"] == "apply"
    assert result["progress"]["rounds"] == given["rounds"] + (1 if applying else 0)
    added = [action["stage"] for action in result["actions"] if action["op"] == "associate"]
    assert result["progress"]["added"] == given["added"] + added


def test_a_workflow_input_is_not_a_plan_payload(stack: LocalAws, card: str) -> None:
    # Why events/lambda/ exists: the plan function takes {event, progress, execution}, not the event.
    (event,) = {json.dumps(load(path)["event"]) for path in samples("PlanCardFunction")}

    error, result = invoke(stack, "PlanCardFunction", json.loads(event))

    assert error == "Unhandled"
    assert result["errorType"] == "InvalidEventError"
    assert "event: expected an object" in result["errorMessage"]


@pytest.mark.parametrize("path", samples("DescribeFailureFunction"), ids=lambda p: p.name)
def test_describe_failure_samples_become_a_failed_decision(stack: LocalAws, path: Path) -> None:
    payload = load(path)
    failed = payload["state"]

    error, result = invoke(stack, "DescribeFailureFunction", payload)

    assert error is None, result
    # A Fail state may not raise a States.* name, so those end as WorkflowError (see the ASL).
    raised = failed["failure"]["Error"]
    assert result["error"] == ("WorkflowError" if raised.startswith("States.") else raised)
    item = result["item"]
    assert item["outcome"] == {"S": "failed"}
    assert item["cardArn"] == {"S": failed["plan"]["summary"]["card"]}
    assert item["executionArn"] == {"S": payload["execution"]}
    # What the rounds before the failure did is kept in the record.
    assert sorted(v["S"] for v in item["sharesAdded"]["L"]) == sorted(set(failed["plan"]["progress"]["added"]))


@pytest.mark.parametrize("path", samples("ReconcileFunction"), ids=lambda p: p.name)
def test_reconcile_samples_are_accepted_and_dry_run_only_when_asked(stack: LocalAws, path: Path) -> None:
    payload = load(path)
    stack_setting = stack.stack.environment["ReconcileFunction"]["CARDSHARE_DRY_RUN"] == "true"

    error, result = invoke(stack, "ReconcileFunction", payload)

    assert error is None, result
    assert result["dryRun"] is payload.get("dryRun", stack_setting)
    assert isinstance(result["cards"], int)
    assert result["repairFailures"] == []


# ---- env.json beside what the template renders --------------------------------------------------


LADDER_VARIABLE = re.compile(r"^CARDSHARE_(STAGES$|(STAGE|SHARE)_[a-z])")


def comparable(variables: dict[str, str]) -> dict[str, Any]:
    """The variables besides the stage ladder (env.json gives it as one CARDSHARE_STAGES document)."""
    return {name: value for name, value in variables.items() if not LADDER_VARIABLE.match(name)}


def ladder_shape(variables: dict[str, str]) -> list[tuple[str, str, tuple[str, ...], frozenset[str]]]:
    """The ladder a function loads from its variables, without the share ARNs (they differ per deploy)."""
    ladder = load_settings({**variables, "AWS_REGION": "us-east-1"}).ladder
    return [(stage.name, stage.access.value, stage.principals, stage.statuses) for stage in ladder.stages]


def test_env_json_holds_the_values_the_local_stack_gives_each_function(stack: LocalAws) -> None:
    # env.json is the embedded AWS's configuration: a parameter default or local setting that
    # changes must change it too, or sam local invoke runs with a configuration nobody deploys.
    env_file = load(ROOT / "env.json")
    for function_id, deployed in stack.stack.environment.items():
        assert comparable(env_file[function_id]) == comparable(deployed), function_id
        if "CARDSHARE_STAGE_ORDER" in deployed:
            assert ladder_shape(env_file[function_id]) == ladder_shape(deployed), function_id
    # The ladder in env.json names distinct shares of the stack's account, one per stage, as a deploy does.
    stages = json.loads(env_file["PlanCardFunction"]["CARDSHARE_STAGES"])
    arns = [arn for stage in stages for arn in stage["shareArns"]]
    assert len(set(arns)) == len(arns) == len(stack.settings().ladder.stages)
    assert all(f":{MODEL_CARD_ACCOUNT}:" in arn for arn in arns)
