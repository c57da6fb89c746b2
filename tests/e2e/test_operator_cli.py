"""`cardshare`, the operator CLI, against the embedded AWS: every command, and what it must refuse.

The CLI runs in this process (its boto3 calls reach the same embedded AWS the stack was deployed
into); its answers are checked against what the consumer accounts can really do (RAM's view of
each account) and against the ledger. tests/e2e/test_serve_cli.py runs it through `make serve`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    CONSUMERS,
    LEAD,
    Executions,
    associations,
    card_arn,
    card_content,
    client,
    describe,
    reach_all,
    sagemaker,
    stack,
    state_change_event,
)
from governance_support import out_of_flight, rule_switch

from cardshare_cli.main import EXIT_DRIFT, EXIT_ERROR, EXIT_USAGE, main
from cardshare_local.runtime import LocalAws

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Run:
    """One CLI invocation: exit code and what it printed."""

    code: int
    out: str
    err: str

    def json(self, code: int = 0) -> Any:
        assert self.code == code, (self.code, self.err)
        return json.loads(self.out)


@pytest.fixture
def cardshare(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run the CLI in-process, as the console script would (``main``), and capture its output."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def assert_one_line_error(run: Run, code: int, *fragments: str) -> None:
    """Bad input: one line on stderr naming the problem, nothing on stdout, no traceback."""
    assert run.code == code, run
    assert run.out == "", run
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("cardshare: error: "), run.err
    assert "Traceback" not in run.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@stack()
def test_status_and_cards_show_what_each_consumer_account_can_do(system: LocalAws, cardshare: Any) -> None:
    arns = reach_all(
        system,
        {
            "Approved-Card": ["Draft", "PendingReview", "Approved"],
            "Review-Card": ["Draft", "PendingReview"],
            "Draft-Card": ["Draft"],
        },
    )
    # RAM's own view of each consumer account is the truth the CLI must match.
    truth = {
        name: {stage: system.access(arn, account) for stage, account in CONSUMERS.items()} for name, arn in arns.items()
    }
    assert truth["Approved-Card"] == {"dev": "read-write", "test": "read-write", "prod": "read-only"}

    status = cardshare("--output", "json", "status", "Approved-Card").json()
    assert (status["name"], status["status"], status["version"]) == ("Approved-Card", "Approved", 1)
    assert {row["stage"]: row["access"] for row in status["stages"]} == truth["Approved-Card"]
    for row in status["stages"]:
        assert row["shareArn"] == system.share_arns[row["stage"]]
        assert row["principals"] == {CONSUMERS[row["stage"]]: "ASSOCIATED"}
        assert row["association"] == "ASSOCIATED"
    by_arn = cardshare("--output", "json", "status", arns["Review-Card"]).json()
    assert {row["stage"]: row["access"] for row in by_arn["stages"]} == truth["Review-Card"]
    assert {row["stage"]: row["statusGrants"] for row in by_arn["stages"]} == {"dev": True, "test": True, "prod": False}

    matrix = cardshare("--output", "json", "cards").json()
    assert {row["name"]: row["stages"] for row in matrix} == truth
    assert {row["name"]: row["status"] for row in matrix} == {
        "Approved-Card": "Approved",
        "Draft-Card": "Draft",
        "Review-Card": "PendingReview",
    }

    table = cardshare("cards")
    assert table.code == 0
    assert table.err == ""
    approved_line = next(line for line in table.out.splitlines() if "Approved-Card" in line)
    assert approved_line.count("read-write") == 2
    assert "read-only" in approved_line
    shown = cardshare("status", "Draft-Card")
    assert shown.code == 0
    assert system.share_arns["dev"] in shown.out
    # Global options go before or after the command, as with the AWS CLI.
    assert (
        cardshare("status", "Draft-Card", "--output", "json", "--stack-name", system.stack.name).json()["status"]
        == "Draft"
    )

    # Deleted without an event (the rule was off): still shared until the reconciler acts, and shown so.
    disable, enable = rule_switch(system)
    disable()
    sagemaker(system, role=LEAD).delete_model_card(ModelCardName="Draft-Card")
    enable()
    gone = cardshare("--output", "json", "status", "Draft-Card").json()
    assert (gone["status"], gone["version"]) == ("(deleted)", None)
    assert {row["stage"]: row["access"] for row in gone["stages"]} == truth["Draft-Card"]
    assert {row["name"]: row["status"] for row in cardshare("--output", "json", "cards").json()}[
        "Draft-Card"
    ] == "(deleted)"

    # Nobody on dev's share any more (an account removed by hand): the card is associated, but no
    # account can read it through that share.
    ram = client(system, "ram")
    ram.disassociate_resource_share(resourceShareArn=system.share_arns["dev"], principals=[CONSUMERS["dev"]])
    for _ in range(2):  # RAM settles the change on a later read
        after = cardshare("--output", "json", "status", "Review-Card").json()
    dev = next(row for row in after["stages"] if row["stage"] == "dev")
    assert (dev["association"], dev["principals"], dev["access"]) == (
        "ASSOCIATED",
        {CONSUMERS["dev"]: "DISASSOCIATED"},
        system.access(arns["Review-Card"], CONSUMERS["dev"]),
    )
    assert dev["access"] == "none"


@stack()
def test_status_names_the_key_of_an_encrypted_card(system: LocalAws, cardshare: Any) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    watch = Executions(system, skip_existing=True)
    sagemaker(system, role=LEAD).create_model_card(
        ModelCardName="Secret-Card", Content=card_content(), ModelCardStatus="Draft", SecurityConfig={"KmsKeyId": key}
    )
    watch.new()
    assert cardshare("--output", "json", "status", "Secret-Card").json()["kmsKeyId"] == key
    table = cardshare("status", "Secret-Card").out.replace("\n", " ")
    assert key in table
    assert "kms:Decrypt" in table


@stack()
def test_why_explains_a_self_approval_and_the_ledger_lists_every_decision_in_time_order(
    system: LocalAws, cardshare: Any
) -> None:
    watch = Executions(system, skip_existing=True)
    lead = sagemaker(system, role=LEAD)
    arn = lead.create_model_card(ModelCardName="Own-Card", Content=card_content(), ModelCardStatus="Draft")[
        "ModelCardArn"
    ]
    watch.new()
    lead.update_model_card(ModelCardName=arn, ModelCardStatus="PendingReview")
    watch.new()
    lead.update_model_card(ModelCardName=arn, ModelCardStatus="Approved")  # by its own author
    watch.new()

    explained = cardshare("--output", "json", "why", "Own-Card").json()
    decision = explained["decision"]
    assert decision["outcome"] == "blocked"
    assert decision["status"] == "Approved"
    approval = next(gate for gate in decision["gates"] if gate["gate"] == "approval")
    assert approval["passed"] is False, approval
    assert approval["reasons"], approval
    assert f"role/{LEAD}/" in approval["details"]["approver"]
    assert any(f"role/{LEAD}/" in author for author in approval["details"]["authors"])
    history = [(row["kind"], row["status"]) for row in explained["evidence"]]
    assert history == [("create", "Draft"), ("status", "PendingReview"), ("status", "Approved")]
    assert all(f"role/{LEAD}/" in row["actor"] for row in explained["evidence"])
    table = cardshare("why", "Own-Card")
    assert table.code == 0
    assert "blocked" in table.out
    assert "FAILED" in table.out
    # The authors list is shown as written (brackets are text, not markup).
    assert f"authors=[arn:aws:sts::123456789012:assumed-role/{LEAD}/" in table.out.replace("\n", ""), table.out

    records = cardshare("--output", "json", "ledger", arn).json()
    assert [r["outcome"] for r in records] == ["shared", "shared", "blocked"]
    assert [r["status"] for r in records] == ["Draft", "PendingReview", "Approved"]
    times = [r["time"] for r in records]
    assert times == sorted(times)
    later = cardshare("--output", "json", "ledger", "Own-Card", "--since", times[1]).json()
    assert [r["time"] for r in later] == times[1:]
    assert cardshare("--output", "json", "ledger", "Own-Card", "--since", "2999-01-01").json() == []
    # A time with an offset means that moment, whatever the ledger's UTC keys look like as text.
    second = datetime.fromisoformat(times[1])
    for zone in (timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))):
        local = second.astimezone(zone).isoformat()
        assert [
            r["time"] for r in cardshare("ledger", "Own-Card", "--since", local, "--output", "json").json()
        ] == times[1:]
    assert len(cardshare("ledger", "Own-Card", "--output", "json", "--since", times[0][:10]).json()) == 3
    assert "blocked" in cardshare("ledger", "Own-Card").out


@stack()
def test_audit_finds_manual_drift_and_reconcile_repairs_it_through_the_workflow(
    system: LocalAws, cardshare: Any
) -> None:
    arns = reach_all(system, {"Kept-Card": ["Draft"], "Drifted-Card": ["Draft"]})
    changed = time.time()
    ram = client(system, "ram")
    # Someone removes the card from dev's share by hand.
    ram.disassociate_resource_share(resourceShareArn=system.share_arns["dev"], resourceArns=[arns["Drifted-Card"]])
    associations(system, arns["Drifted-Card"])  # RAM settles the change on the next read
    assert associations(system, arns["Drifted-Card"]) == {}
    out_of_flight(system, changed)
    watch = Executions(system, skip_existing=True)

    audit = cardshare("--output", "json", "audit")
    assert audit.code == EXIT_DRIFT
    report = audit.json(EXIT_DRIFT)
    assert report["cards"] == 2
    assert report["dryRun"] is True
    assert [(d["card"], d["missing"], d["extra"]) for d in report["drift"]] == [(arns["Drifted-Card"], ["dev"], [])]
    table = cardshare("audit")
    assert table.code == EXIT_DRIFT
    assert "Drifted-Card" in table.out
    assert "Kept-Card" not in table.out

    one = cardshare("--output", "json", "reconcile", "--card", "Drifted-Card", "--dry-run").json()
    assert [d["missing"] for d in one["drift"]] == [["dev"]]
    assert one["repairs"] == []
    assert cardshare("--output", "json", "reconcile", "--card", "Kept-Card", "--dry-run").json()["drift"] == []
    time.sleep(0.5)
    assert watch.new() == [], "a dry run started an execution"

    repaired = cardshare("--output", "json", "reconcile").json()
    assert repaired["dryRun"] is False
    assert len(repaired["repairs"]) == 1
    (execution,) = watch.new()
    assert execution["executionArn"] == repaired["repairs"][0], describe(execution)
    assert execution["status"] == "SUCCEEDED", describe(execution)
    assert associations(system, arns["Drifted-Card"]) == {"dev": "ASSOCIATED"}
    # The repair is a change of its own: recorded (and notified) as shared, not swallowed as a no-op.
    repair = cardshare("--output", "json", "ledger", "Drifted-Card").json()[-1]
    assert (repair["outcome"], repair["sharesAdded"]) == ("shared", ["dev"])
    clean = cardshare("audit")
    assert clean.code == 0
    assert "0 drifted" in clean.out

    # One card on request starts its workflow whatever its drift (it records a no-op).
    forced = cardshare("reconcile", "--card", "Kept-Card")
    assert forced.code == 0
    assert "started arn:aws:states:" in forced.out
    (again,) = watch.new()
    assert again["status"] == "SUCCEEDED", describe(again)
    assert cardshare("--output", "json", "ledger", "Kept-Card").json()[-1]["outcome"] == "no-op"


@stack()
def test_redrive_moves_every_dead_lettered_event_back_until_the_queue_is_empty(
    system: LocalAws, cardshare: Any
) -> None:
    # The events of 12 new cards never reached the workflow: they wait in the dead-letter queue,
    # more than one receive's worth (10), beside a message that is not an event at all.
    disable, enable = rule_switch(system)
    disable()
    names = [f"Lost-Card-{index:02d}" for index in range(12)]
    lead = sagemaker(system, role=LEAD)
    for name in names:
        lead.create_model_card(ModelCardName=name, Content=card_content(), ModelCardStatus="Draft")
    enable()
    sqs = client(system, "sqs")
    queue = system.stack.outputs["CardEventsDeadLetterQueueUrl"]
    ids = [
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(state_change_event(name, "Draft")))["MessageId"]
        for name in names
    ]
    garbage = sorted(
        sqs.send_message(QueueUrl=queue, MessageBody=body)["MessageId"]
        for body in ("not an event", json.dumps({"detail-type": "not ours", "detail": {}}))
    )
    watch = Executions(system, skip_existing=True)
    # An earlier redrive started the first event's execution, then was cut short before deleting it.
    sfn = client(system, "stepfunctions")
    first = json.dumps(state_change_event(names[0], "Draft"))
    sfn.start_execution(stateMachineArn=system.state_machine_arn, name=f"redrive-{ids[0]}", input=first)
    watch.new()

    def depth() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    looked = cardshare("--output", "json", "redrive", "--dry-run").json()
    assert (looked["found"], looked["redriven"], sorted(looked["leftInQueue"])) == (14, 0, garbage)
    visible = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert visible["Attributes"]["ApproximateNumberOfMessages"] == "14", "a dry run kept messages hidden"
    assert watch.new() == []

    done = cardshare("--output", "json", "redrive").json()
    assert (done["redriven"], done["alreadyStarted"], sorted(done["leftInQueue"])) == (11, 1, garbage)
    executions = watch.new()
    assert sorted(e["name"] for e in executions) == sorted(f"redrive-{i}" for i in ids[1:])
    assert all(e["status"] == "SUCCEEDED" for e in executions), [describe(e) for e in executions]
    for name in names:
        assert associations(system, card_arn(name)) == {"dev": "ASSOCIATED"}, name
    assert depth() == 2

    assert "redrove 0 event(s)" in cardshare("redrive").out
    assert watch.new() == []

    # The workflow is gone: the redrive stops at the first event it cannot start, says so in one
    # line, and leaves every event in the queue, visible at once for the next try.
    for name in ("After-1", "After-2", "After-3"):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(state_change_event(name, "Draft")))
    sfn.delete_state_machine(stateMachineArn=system.state_machine_arn)
    assert_one_line_error(cardshare("redrive"), EXIT_ERROR, "redrove 0 event(s), then could not start the next")
    assert depth() == 5
    assert cardshare("--output", "json", "redrive", "--dry-run").json()["found"] == 5


@pytest.mark.parametrize(
    ("args", "code", "fragments"),
    [
        (["status", "No-Such-Card"], EXIT_ERROR, ["no model card 'No-Such-Card' in 123456789012"]),
        (["why", "No-Such-Card"], EXIT_ERROR, ["no decisions recorded for card 'No-Such-Card'"]),
        (["ledger", "No-Such-Card"], EXIT_ERROR, ["no decisions recorded"]),
        (["reconcile", "--card", "No-Such-Card"], EXIT_ERROR, ["no model card 'No-Such-Card'"]),
        (
            ["status", "arn:aws:sagemaker:us-east-1:111111111111:model-card/Theirs"],
            EXIT_ERROR,
            ["lives in account 111111111111", "123456789012"],
        ),
        (["status", "arn:aws:s3:::bucket"], EXIT_ERROR, ["is not a model card ARN"]),
        (["status", "bad name!"], EXIT_ERROR, ["is not a model card name or ARN"]),
        (["--stack-name", "not-deployed", "cards"], EXIT_ERROR, ["stack 'not-deployed' not found in us-east-1"]),
        (["ledger", "X", "--since", "yesterday"], EXIT_USAGE, ["'yesterday' is not an ISO 8601 time"]),
        (["--output", "yaml", "cards"], EXIT_USAGE, ["'yaml' is not one of"]),
        (["status"], EXIT_USAGE, ["Missing argument 'CARD'", "cardshare status --help"]),
        (["statuss", "X"], EXIT_USAGE, ["No such command 'statuss'"]),
        (["cards", "--all"], EXIT_USAGE, ["No such option '--all'"]),
        (["--endpoint-url", "notaurl", "cards"], EXIT_USAGE, ["'notaurl' is not an http(s) URL"]),
        (["cards", "--endpoint-url", "ftp://x"], EXIT_USAGE, ["'ftp://x' is not an http(s) URL"]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_bad_input_is_one_line_and_a_nonzero_exit(
    system: LocalAws, cardshare: Any, args: list[str], code: int, fragments: list[str]
) -> None:
    assert_one_line_error(cardshare(*args), code, *fragments)


def console_script(tmp_path: Path, *args: str, **environment: str) -> Run:
    """The installed `cardshare` in a shell with no AWS settings of its own, plus ``environment``."""
    script = BIN / "cardshare"
    assert script.exists(), "the console script is missing: make installs it (pip install -e .)"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_")) and k != "PYTHONPATH"}
    clean |= {
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        # Nothing listens here: any call that got past the check under test would fail differently.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        **environment,
    }
    done = subprocess.run([str(script), *args], env=clean, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.mark.parametrize(
    ("environment", "args", "fragment"),
    [
        ({"AWS_REGION": "us-east-1"}, ["cards"], "no AWS credentials"),
        ({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}, ["cards"], "no AWS region"),
        ({"AWS_REGION": "us-east-1"}, ["--profile", "nobody", "cards"], "profile (nobody) could not be found"),
        (
            {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_REGION": "us-east-1"},
            ["cards"],
            "cannot reach AWS",
        ),
    ],
    ids=["no credentials", "no region", "unknown profile", "nothing listening"],
)
def test_the_console_script_reports_an_unusable_environment_in_one_line(
    tmp_path: Path, environment: dict[str, str], args: list[str], fragment: str
) -> None:
    run = console_script(tmp_path, *args, **environment)
    assert run.code == EXIT_ERROR, run
    assert run.out == "", run
    assert "Traceback" not in run.err, run
    assert run.err.count("\n") == 1, run.err
    assert fragment in run.err, run.err
