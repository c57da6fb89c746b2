"""`make serve` as a person uses it: the real entry point in a subprocess, the README's commands, the AWS CLI.

The commands are read from README.md ("Driving it by hand", its second bash block) and run with bash
as written, the port aside, so the README and this test cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from cardshare_local.accounts import REGION
from cardshare_local.runtime import STACK_NAME

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the project's virtual environment: python, aws
README_URL = "http://127.0.0.1:5000"
READY = "Ctrl-C stops the server."
ACCESS_LINE = re.compile(r'"(GET|POST|PUT|DELETE|HEAD|PATCH) \S+ HTTP/1\.[01]" \d{3}')
FUNCTION_LINE = re.compile(r"^\[(?!cardshare\])[\w.-]+\] (\{.*\})$", re.MULTILINE)
EXECUTION_LINE = re.compile(r"^\[cardshare\] execution (\S+) (\w+): ", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def readme_blocks() -> list[str]:
    """The bash blocks of the README's "Driving it by hand" section: serve, the AWS CLI, cardshare."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Driving it by hand\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```bash\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 3, "the README's 'Driving it by hand' section lost a command block"
    return [str(block) for block in blocks]


def readme_commands() -> str:
    """The second bash block of the README's "Driving it by hand" section (the AWS CLI)."""
    return readme_blocks()[1]


def run_block(commands: list[str], environment: dict[str, str], tmp_path: Path, name: str) -> str:
    """Run ``commands`` as written in one bash; each must exit 0. Returns what they printed."""
    statuses = tmp_path / f"{name}.statuses"
    script = "".join(f'{command}echo "$?" >> "{statuses}"\n' for command in commands)
    run = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=180
    )
    codes = statuses.read_text(encoding="utf-8").split() if statuses.exists() else []
    assert codes == ["0"] * len(commands), f"{list(zip(commands, codes, strict=False))}\n{run.stdout}\n{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
    return run.stdout


def split_commands(block: str) -> list[str]:
    """The block's shell commands, each with its continuation lines (comments kept, blank lines dropped)."""
    commands, current = [], ""
    for line in block.splitlines():
        if not current and not line.strip():
            continue
        current += line + "\n"
        try:
            shlex.split(current, comments=True)  # an open quote: the command goes on
        except ValueError:
            continue
        if not line.endswith("\\"):
            commands.append(current)
            current = ""
    assert not current, f"unterminated command in the README: {current!r}"
    return commands


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout}s")
        time.sleep(0.2)
    return result


@dataclass
class Server:
    """The `python -m cardshare_local serve` subprocess and what it printed."""

    process: subprocess.Popen[bytes]
    url: str
    stdout: Path
    stderr: Path

    def out(self) -> str:
        return self.stdout.read_text(encoding="utf-8", errors="replace")

    def err(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.out()}\n{self.err()}")
        return READY in self.out()


def clean_environment() -> dict[str, str]:
    """This process's environment without anything that would point the server or the CLI elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_")) and k != "PYTHONPATH"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    environment = clean_environment()
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "cardshare"), str(ROOT / "local")])
    stdout, stderr = tmp_path / "serve.out", tmp_path / "serve.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(BIN / "python"), "-m", "cardshare_local", "serve", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    served = Server(process, f"http://127.0.0.1:{port}", stdout, stderr)
    try:
        wait_for(served.ready, 120, "the server's ready line")
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def shell(tmp_path: Path) -> dict[str, str]:
    """A person's shell: the project's venv first on PATH, no AWS settings or config files of its own."""
    environment = clean_environment()
    environment["PATH"] = os.pathsep.join([str(BIN), environment.get("PATH", "")])
    environment["AWS_CONFIG_FILE"] = str(tmp_path / "no-aws-config")
    environment["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-aws-credentials")
    # The AWS CLI caches assumed-role credentials under ~/.aws/cli/cache: none from another run.
    environment["HOME"] = str(tmp_path)
    return environment


def test_the_readme_commands_share_the_card_through_the_real_entry_point(server: Server, tmp_path: Path) -> None:
    assert (BIN / "aws").exists(), "the AWS CLI is missing: pip install -r requirements/dev.txt"
    block = readme_commands()
    assert block.count(README_URL) == 1, "the README's block no longer sets the endpoint URL to the default port"
    commands = split_commands(block.replace(README_URL, server.url))
    card = re.findall(r"--model-card-name (\S+)", block)[0]
    environment = shell(tmp_path)

    # Run as written, one bash: the exports carry over; each command's exit status is recorded.
    run_block(commands, environment, tmp_path, "aws")

    # The stack is registered: describe-stacks, as the README's redrive uses it, names the resources.
    described = subprocess.run(
        ["aws", "cloudformation", "describe-stacks", "--stack-name", STACK_NAME, "--output", "json"],
        env={**environment, **exports(commands)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (stack,) = json.loads(described.stdout)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert {"PromoteCardStateMachineArn", "CardEventsDeadLetterQueueUrl", "DecisionLedgerTableName"} <= set(outputs)

    aws = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    sfn = aws.client("stepfunctions", endpoint_url=server.url)
    sagemaker = aws.client("sagemaker", endpoint_url=server.url)
    card_arn = sagemaker.describe_model_card(ModelCardName=card)["ModelCardArn"]
    # One execution per card change (create, review, approval), each reported by the server.
    updates = sum(1 for c in commands if re.search(r"(^|\s)aws sagemaker (create|update)-model-card ", c))

    def settled() -> list[dict[str, Any]] | None:
        listed = sfn.list_executions(stateMachineArn=outputs["PromoteCardStateMachineArn"])["executions"]
        done = [e for e in listed if e["status"] != "RUNNING"]
        reported = set(EXECUTION_LINE.findall(server.out()))
        return done if len(listed) == len(done) == updates and len(reported) == updates else None

    executions = wait_for(settled, 120, "the workflow's executions")
    failed = [sfn.describe_execution(executionArn=e["executionArn"]) for e in executions if e["status"] != "SUCCEEDED"]
    assert not failed, [(e["status"], e.get("error"), e.get("cause")) for e in failed]

    # Dev, test and prod have the card: another person (the approver's profile) approved it.
    stages = {outputs["devShare1Arn"]: "dev", outputs["testShare1Arn"]: "test", outputs["prodShare1Arn"]: "prod"}
    rows = aws.client("ram", endpoint_url=server.url).get_resource_share_associations(
        associationType="RESOURCE", resourceArn=card_arn
    )["resourceShareAssociations"]
    associated = {stages[r["resourceShareArn"]]: r["status"] for r in rows if r["status"] != "DISASSOCIATED"}
    ledger_items = aws.client("dynamodb", endpoint_url=server.url).query(
        TableName=outputs["DecisionLedgerTableName"],
        KeyConditionExpression="cardArn = :card",
        ExpressionAttributeValues={":card": {"S": card_arn}},
    )["Items"]
    assert associated == {"dev": "ASSOCIATED", "test": "ASSOCIATED", "prod": "ASSOCIATED"}, json.dumps(ledger_items)

    # The ledger holds one decision per execution beside the card's one evidence item. Executions run
    # side by side: the one that shares a stage reports it, another that finds it done records a no-op.
    items = aws.client("dynamodb", endpoint_url=server.url).query(
        TableName=outputs["DecisionLedgerTableName"],
        KeyConditionExpression="cardArn = :card",
        ExpressionAttributeValues={":card": {"S": card_arn}},
    )["Items"]
    assert [item["decidedAt"]["S"] for item in items if item["decidedAt"]["S"].startswith("#")] == ["#evidence"]
    decisions = [item["outcome"]["S"] for item in items if "outcome" in item]
    assert len(decisions) == updates, items
    assert set(decisions) <= {"shared", "no-op"}, decisions
    assert "shared" in decisions, decisions  # which execution shares first depends on timing
    added = [stage for item in items if "sharesAdded" in item for stage in item["sharesAdded"]["L"]]
    # Two executions side by side may both add test (each for the card state it saw): a set.
    assert {stage["S"] for stage in added} == {"dev", "prod", "test"}, items

    # Then the README's cardshare block, as written, with the same shell's exports.
    shell_with_exports = {**environment, **exports(commands)}
    cli_commands = split_commands(readme_blocks()[2])
    assert all(command.startswith("cardshare ") for command in cli_commands), cli_commands
    printed = run_block(cli_commands, shell_with_exports, tmp_path, "cardshare")
    assert card in printed, printed
    assert "read-only" in printed, printed
    assert "model-approver" in printed, printed

    def cardshare(*args: str) -> Any:
        done = subprocess.run(
            ["cardshare", "--output", "json", *args],
            env=shell_with_exports,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(done.stdout)

    status = cardshare("status", card)
    assert {row["stage"]: row["access"] for row in status["stages"]} == {
        "dev": "read-write",
        "test": "read-write",
        "prod": "read-only",
    }
    assert {row["stage"]: row["shareArn"] for row in status["stages"]} == {v: k for k, v in stages.items()}
    latest = cardshare("why", card)
    assert latest["decision"]["status"] == "Approved", latest
    assert latest["decision"]["outcome"] in ("shared", "no-op"), latest
    approval = next(gate for gate in latest["decision"]["gates"] if gate["gate"] == "approval")
    assert approval["passed"] is True, approval
    assert "assumed-role/model-approver/" in approval["details"]["approver"], approval
    assert [row["kind"] for row in latest["evidence"]] == ["create", "status", "status"], latest["evidence"]
    assert [row["outcome"] for row in cardshare("ledger", card)] == decisions
    assert cardshare("audit")["drift"] == []
    assert cardshare("reconcile", "--card", card, "--dry-run")["drift"] == []
    assert cardshare("redrive", "--dry-run")["found"] == 0

    # The server's own log: function lines echoed, no access log, nothing crashed.
    out, err = server.out(), server.err()
    function_lines = [json.loads(line) for line in FUNCTION_LINE.findall(out)]
    assert any("level" in line for line in function_lines), out
    for text in (out, err):
        assert not ACCESS_LINE.search(text), text
        assert "Traceback" not in text, text
        assert "RecursionError" not in text, text
    assert server.process.poll() is None, "the server stopped"

    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=15) == 0


def exports(commands: list[str]) -> dict[str, str]:
    """The variables the block's ``export A=x B=y`` commands set."""
    found: dict[str, str] = {}
    for command in commands:
        words = shlex.split(command, comments=True)
        if words[:1] == ["export"]:
            for word in words[1:]:
                name, _, value = word.partition("=")
                found[name] = value
    return found


def test_a_port_in_use_is_one_line_and_exit_1_not_a_hang(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = clean_environment()
        environment["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "cardshare"), str(ROOT / "local")])
        done = subprocess.run(
            [str(BIN / "python"), "-m", "cardshare_local", "serve", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1, done
    assert done.stderr.strip().splitlines() == [
        f"cardshare serve: port {port} is in use (Address already in use): serve on another one, "
        f"e.g. make serve PORT={port + 1}"
    ], done.stderr
    assert "Traceback" not in done.stderr
