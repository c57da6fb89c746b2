"""The plan function as Lambda runs it: deployed from template.yaml, invoked through the Lambda API.

The in-process Lambda extension imports functions/plan_card/app.py with the function's deployed
environment (CARDSHARE_STAGES and the rest, as the template renders them) and calls the handler.
The workflow is kept out of the way (its rule is disabled) so each test drives the rounds itself:
plan, apply the actions with RAM as the Map state would, plan again.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cardshare.ledger import LEASE_KEY
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

Invoke = Callable[..., Any]
Log = Callable[[], list[dict[str, Any]]]


# ---- one deployment for the tests of the class below; each test starts from no card, no association ----


@pytest.fixture(scope="class")
def stack(cold_start: Callable[[], None]) -> Iterator[LocalAws]:
    """The stack deployed with the local defaults; its rule disabled so no workflow runs by itself."""
    with local_aws() as deployed:
        deployed.session().client("events").disable_rule(Name=deployed.stack.resources["CardStateChangeRule"])
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
        assert error.response["Error"]["Code"] == "ResourceNotFound"
    ram_ext.settle()
    ram = stack.session().client("ram")
    rows = ram.get_resource_share_associations(
        associationType="RESOURCE", resourceShareArns=list(stack.share_arns.values()), resourceArn=CARD_ARN
    )["resourceShareAssociations"]
    for row in rows:
        if row["status"] in ("ASSOCIATED", "FAILED"):
            ram.disassociate_resource_share(resourceShareArn=row["resourceShareArn"], resourceArns=[CARD_ARN])
    ram_ext.settle()
    # Invoked directly, the plan function takes the card's lease but no workflow releases it.
    release_lease(stack, CARD_ARN)
    return stack


@pytest.fixture
def log(system: LocalAws, function_log: Callable[..., list[dict[str, Any]]]) -> Log:
    """The plan function's log lines written during this test, parsed."""
    start = len(lambda_inprocess.logs(str(system.stack.resources[PLAN_FUNCTION])))
    return lambda: function_log(system, start)


def create_card(system: LocalAws, status: str, name: str = CARD_NAME) -> str:
    """A card in ``status`` that has earned it: review content filled, approved by a non-author after review."""
    author = system.session(MODEL_CARD_ACCOUNT, "data-scientist").client("sagemaker")
    first = "PendingReview" if status == "Approved" else status
    arn = author.create_model_card(ModelCardName=name, Content=json.dumps(CONTENT), ModelCardStatus=first)
    if status == "Approved":
        # A second version reviewed as PendingReview, then approved by someone who did not write it.
        author.update_model_card(ModelCardName=name, Content=json.dumps({**CONTENT, "additional_information": {}}))
        approver = system.session(MODEL_CARD_ACCOUNT, "model-approver").client("sagemaker")
        approver.update_model_card(ModelCardName=name, ModelCardStatus="Approved")
    return str(arn["ModelCardArn"])


def apply(system: LocalAws, actions: list[dict[str, str]]) -> None:
    """What the workflow's Apply map does with a plan's actions."""
    ram = system.session().client("ram")
    for action in actions:
        call = ram.associate_resource_share if action["op"] == "associate" else ram.disassociate_resource_share
        call(
            resourceShareArn=action["shareArn"], resourceArns=[action["resourceArn"]], clientToken=action["clientToken"]
        )


def release_lease(system: LocalAws, card_arn: str) -> None:
    """What the workflow's ReleaseLease state does once the decision is recorded."""
    system.session().client("dynamodb").delete_item(
        TableName=system.stack.outputs["DecisionLedgerTableName"],
        Key={"cardArn": {"S": card_arn}, "decidedAt": {"S": LEASE_KEY}},
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
            release_lease(system, event["resources"][0])
            return results
        apply(system, answer.payload["actions"])
        progress = answer.payload["progress"]
    raise AssertionError(f"not done after {rounds} rounds: {[r['next'] for r in results]}")


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
    # ---- each status sample -------------------------------------------------------------------------

    @pytest.mark.parametrize("status", list(SAMPLES))
    def test_a_card_in_each_status_is_shared_with_its_stages(
        self,
        system: LocalAws,
        log: Log,
        invoke_plan: Invoke,
        load_event: Callable[[str], dict[str, Any]],
        emf_metrics: Callable[[list[dict[str, Any]]], list[dict[str, float]]],
        status: str,
    ) -> None:
        event = load_event(SAMPLES[status])
        assert event["account"] == MODEL_CARD_ACCOUNT and event["detail"]["ModelCardStatus"] == status
        arn = create_card(system, status)
        expected = STAGES_FOR[status]

        results = converge(system, invoke_plan, event)

        first, last = results[0], results[-1]
        assert first["next"] == "apply"
        assert [a["stage"] for a in first["actions"]] == expected
        assert {a["op"] for a in first["actions"]} == {"associate"}
        assert all(a["shareArn"] == system.share_arns[a["stage"]] and a["resourceArn"] == arn for a in first["actions"])
        assert len({a["clientToken"] for a in first["actions"]}) == len(expected)
        assert moves(results) in (["apply", "done"], ["apply", "wait", "done"])
        assert all(r["actions"] == [] for r in results[1:])
        assert summary(last) == {
            "card": arn,
            "exists": True,
            "status": status,
            "version": 2 if status == "Approved" else 1,
            "sharesAdded": sorted(expected),
            "sharesRemoved": [],
        }
        assert system.associations(arn) == dict.fromkeys(expected, "ASSOCIATED")
        for stage, (account, access) in CONSUMERS.items():
            assert system.access(arn, account) == (access if stage in expected else "none"), stage

        # Every successful round leaves one EMF document: ApplyRounds (+ one SharesAdded per share),
        # WaitRounds, then Converged (with the decision's outcome).
        metrics = emf_metrics(log())
        assert len(metrics) == len(results)
        assert metrics[0] == {"ApplyRounds": 1.0, "SharesAdded": float(len(expected))}
        assert all(m == {"WaitRounds": 1.0} for m in metrics[1:-1])
        assert metrics[-1]["Converged"] == 1.0
        assert not {"ApplyRounds", "WaitRounds", "SharesAdded", "Rejected"} & set(metrics[-1])
        assert [line["message"] for line in log() if "message" in line] == [f"card {r['next']}" for r in results]

    def test_a_duplicate_event_after_convergence_changes_nothing(
        self, system: LocalAws, invoke_plan: Invoke, load_event: Callable[[str], dict[str, Any]]
    ) -> None:
        event = load_event(SAMPLES["Approved"])
        arn = create_card(system, "Approved")
        converge(system, invoke_plan, event)

        again = invoke_plan(system, event)

        assert again.function_error is None
        assert again.payload["next"] == "done" and again.payload["actions"] == []
        assert again.payload["summary"]["sharesAdded"] == [] and again.payload["summary"]["exists"] is True
        assert system.associations(arn) == dict.fromkeys(["dev", "test", "prod"], "ASSOCIATED")

    def test_an_archived_card_leaves_dev_and_test(
        self, system: LocalAws, invoke_plan: Invoke, load_event: Callable[[str], dict[str, Any]]
    ) -> None:
        arn = create_card(system, "Approved")
        converge(system, invoke_plan, load_event(SAMPLES["Approved"]))
        system.session().client("sagemaker").update_model_card(ModelCardName=arn, ModelCardStatus="Archived")

        results = converge(system, invoke_plan, load_event(SAMPLES["Archived"]))

        assert [(a["op"], a["stage"]) for a in results[0]["actions"]] == [
            ("disassociate", "dev"),
            ("disassociate", "test"),
        ]
        assert results[-1]["summary"]["sharesRemoved"] == ["dev", "test"]
        assert results[-1]["summary"]["sharesAdded"] == []
        assert system.associations(arn) == {"prod": "ASSOCIATED"}
        assert system.access(arn, DEV_ACCOUNT) == "none" and system.access(arn, PROD_ACCOUNT) == "read-only"

    def test_the_plan_follows_the_card_not_the_event(
        self, system: LocalAws, invoke_plan: Invoke, load_event: Callable[[str], dict[str, Any]]
    ) -> None:
        """A late PendingReview event for a card that is Approved now shares it as Approved.

        (The event is also what tells cardshare the card was in review before its approval: with
        the workflow's rule off, no other sighting exists. A late Draft event alone would leave
        the approval unexplained, and the approval gate fails closed.)
        """
        arn = create_card(system, "Approved")

        results = converge(system, invoke_plan, load_event(SAMPLES["PendingReview"]))

        assert [a["stage"] for a in results[0]["actions"]] == ["dev", "test", "prod"]
        assert results[-1]["summary"]["status"] == "Approved"
        assert system.associations(arn) == dict.fromkeys(["dev", "test", "prod"], "ASSOCIATED")

    # ---- cards that do not exist --------------------------------------------------------------------

    def test_a_card_that_does_not_exist_is_done_at_once(
        self,
        system: LocalAws,
        log: Log,
        invoke_plan: Invoke,
        load_event: Callable[[str], dict[str, Any]],
        emf_metrics: Callable[[list[dict[str, Any]]], list[dict[str, float]]],
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
        (metrics,) = emf_metrics(log())
        assert metrics["Converged"] == 1.0 and "ApplyRounds" not in metrics

    def test_a_deleted_card_is_removed_from_every_share(
        self, system: LocalAws, invoke_plan: Invoke, load_event: Callable[[str], dict[str, Any]]
    ) -> None:
        arn = create_card(system, "Approved")
        event = load_event(SAMPLES["Approved"])
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
        assert line["reason"] == message and line["error"] == "InvalidEventError"
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
        assert error["errorType"] == "InvalidEventError" and error["errorMessage"].startswith("execution: ")

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
        stages = json.loads(variables["CARDSHARE_STAGES"])
        stages[1]["statuses"] = "PendingReview,Published"
        broken = {**variables, "CARDSHARE_STAGES": json.dumps(stages)}
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
    with pytest.raises(ConfigError) as raised, local_aws({"DevAccountIds": MODEL_CARD_ACCOUNT}):
        pass
    assert str(raised.value).startswith(f"stages[0] (dev).principals: {MODEL_CARD_ACCOUNT} is the model-card account")


# ---- the handler module called directly -------------------------------------------------------------


@pytest.fixture
def plan_module(cold_start: Callable[[], None]) -> Iterator[Callable[[], Any]]:
    """Import functions/plan_card/app.py from its file, as the Lambda runtime does (a fresh module per call)."""
    names: list[str] = []

    def load() -> Any:
        name = f"plan_card_app_under_test_{len(names)}"
        spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / "plan_card" / "app.py")
        assert spec is not None and spec.loader is not None
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
    assert line["error"] == "ConfigError" and line["reason"] == str(raised.value)

    # Settings are validated once per container, but a failure is not remembered.
    monkeypatch.delenv("CARDSHARE_STAGES")
    with pytest.raises(ConfigError, match=r"^CARDSHARE_STAGES: not set"):
        app.handler(payload, context)
