"""Smoke tests of cardshare_local.extensions.lambda_inprocess: stock moto echoes or needs Docker."""

from __future__ import annotations

import io
import json
import os
import textwrap
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.extensions import lambda_inprocess

HANDLER = """
import os

import greeting  # from the layer

COLD_STARTS = 0
COLD_STARTS += 1


class CardNotReady(Exception):
    pass


def handler(event, context):
    if event.get("say"):
        print(event["say"])
    if event.get("linger"):
        import pathlib, threading
        pathlib.Path(event["marker"]).touch()
        threading.Event().wait(event["linger"])
        print("done lingering")
    if event.get("fail"):
        raise CardNotReady("card " + event["fail"] + " is not ready")
    if event.get("unserializable"):
        return {1, 2}
    return {
        "echo": event,
        "greeting": greeting.GREETING,
        "stage": os.environ["STAGE"],
        "region": os.environ["AWS_REGION"],
        "name_env": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "function_name": context.function_name,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "cold_starts": COLD_STARTS,
    }
"""


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def function_dirs(tmp_path: Path) -> tuple[Path, Path]:
    code, layer = tmp_path / "fn", tmp_path / "layer"
    code.mkdir()
    layer.mkdir()
    (code / "app.py").write_text(textwrap.dedent(HANDLER))
    (layer / "greeting.py").write_text('GREETING = "hello"\n')
    return code, layer


@pytest.fixture(params=[{}, {"lambda": {"use_docker": False}}], ids=["docker-backend", "simple-backend"])
def aws(request: pytest.FixtureRequest, function_dirs: tuple[Path, Path]) -> Iterator[Any]:
    lambda_inprocess.install()
    code, layer = function_dirs
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, **request.param}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client = boto3.client("lambda", region_name=REGION)
        client.create_function(
            FunctionName="plan-card",
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": _zip()},
            Environment={"Variables": {"STAGE": "local"}},
            MemorySize=256,
            Timeout=30,
        )
        lambda_inprocess.register_source("plan-card", code, [layer])
        yield client
    lambda_inprocess.reset(sources=True)


def _invoke(client: Any, payload: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = client.invoke(FunctionName="plan-card", Payload=json.dumps(payload).encode(), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def test_request_response_runs_the_real_handler(aws: Any) -> None:
    response, result = _invoke(aws, {"card": "churn"})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert result["echo"] == {"card": "churn"}
    assert result["greeting"] == "hello"
    assert (result["stage"], result["region"], result["name_env"]) == ("local", REGION, "plan-card")
    assert result["function_name"] == "plan-card"
    assert result["arn"] == f"arn:aws:lambda:{REGION}:{MODEL_CARD_ACCOUNT}:function:plan-card"
    assert result["memory"] == 256
    assert 0 < result["remaining"] <= 30_000
    assert len(result["request_id"]) == 36
    # The function's environment is the function's only while it runs (emptied after, never
    # removed: other threads may be iterating os.environ meanwhile).
    assert os.environ.get("STAGE", "") == ""
    assert os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "") == ""


def test_module_stays_warm_until_reset(aws: Any) -> None:
    assert _invoke(aws, {})[1]["cold_starts"] == 1
    assert _invoke(aws, {})[1]["cold_starts"] == 1  # the same module: a warm container
    lambda_inprocess.reset()
    assert _invoke(aws, {})[1]["cold_starts"] == 1  # re-imported from scratch
    assert len(lambda_inprocess.invocations()) == 1


def test_handler_exception_is_an_unhandled_function_error(aws: Any) -> None:
    response, error = _invoke(aws, {"fail": "churn"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "CardNotReady"
    assert error["errorMessage"] == "card churn is not ready"
    assert len(error["requestId"]) == 36
    assert any("in handler" in line for line in error["stackTrace"])
    assert lambda_inprocess.invocations()[-1].error_type == "CardNotReady"


def test_unserializable_result_is_a_marshal_error(aws: Any) -> None:
    response, error = _invoke(aws, {"unserializable": True})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.MarshalError"


def test_event_invocation_runs_the_handler_and_returns_202(aws: Any) -> None:
    response = aws.invoke(FunctionName="plan-card", InvocationType="Event", Payload=b'{"fail": "x"}')
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    [invocation] = lambda_inprocess.invocations()
    assert (invocation.invocation_type, invocation.error_type) == ("Event", "CardNotReady")


def test_an_echo_that_prints_reaches_the_real_stdout_not_the_function_log(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    echoed: list[str] = []

    def echo(function: str, line: str) -> None:
        echoed.append(line)
        print(f"[{function}] {line}")  # sys.stdout is the runtime's log router while the handler runs

    monkeypatch.setattr(lambda_inprocess, "ECHO", echo)
    response, _ = _invoke(aws, {"say": "hello from the handler"})

    assert "FunctionError" not in response
    assert echoed == ["hello from the handler"]
    assert lambda_inprocess.logs("plan-card") == ["hello from the handler"]
    assert "[plan-card] hello from the handler\n" in capfd.readouterr().out


def test_another_thread_printing_while_a_function_runs_keeps_its_own_stdout(
    aws: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # In-process, sys.stdout is the log router while a handler runs; a program beside Lambda (the
    # operator CLI, a test) printing meanwhile must not end up in the function's log.
    running = tmp_path / "running"
    payload = {"say": "from the handler", "linger": 1.0, "marker": str(running)}
    worker = threading.Thread(target=_invoke, args=(aws, payload))
    worker.start()
    deadline = time.monotonic() + 10
    while not running.exists():
        assert time.monotonic() < deadline, "the handler never ran"
        time.sleep(0.01)
    print("from the operator's thread")
    worker.join(timeout=10)

    assert lambda_inprocess.logs("plan-card") == ["from the handler", "done lingering"]
    assert "from the operator's thread\n" in capsys.readouterr().out


# ---- per-container state Powertools keeps in shared modules, and LoggingConfig's variables ----------------

POWERTOOLS_HANDLER = """
import os

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics(namespace="Smoke", service="smoke")


@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    metrics.add_metric(name="Calls", unit=MetricUnit.Count, value=1)
    if event.get("fail"):
        raise RuntimeError("failed before the cold-start metric")
    environ = os.environ
    level, fmt = environ.get("AWS_LAMBDA_LOG_LEVEL", ""), environ.get("AWS_LAMBDA_LOG_FORMAT", "")
    return {"log_level": level, "log_format": fmt}
"""


@pytest.fixture
def powertools_functions(tmp_path: Path) -> Iterator[Any]:
    lambda_inprocess.install()
    with mock_aws():
        client = boto3.client("lambda", region_name=REGION)
        role = boto3.client("iam", region_name=REGION).create_role(RoleName="r", AssumeRolePolicyDocument="{}")
        for name, variables in (
            ("first", {"AWS_LAMBDA_LOG_LEVEL": "WARN", "AWS_LAMBDA_LOG_FORMAT": "JSON"}),
            ("second", None),
        ):
            code = tmp_path / name
            code.mkdir()
            (code / "app.py").write_text(textwrap.dedent(POWERTOOLS_HANDLER))
            client.create_function(
                FunctionName=name,
                Runtime="python3.11",
                Role=role["Role"]["Arn"],
                Handler="app.handler",
                Code={"ZipFile": _zip()},
            )
            lambda_inprocess.register_source(name, code, runtime_variables=variables)
        lambda_inprocess.reset()
        yield client
    lambda_inprocess.reset(sources=True)


def _cold_starts(function: str) -> int:
    documents = [json.loads(line) for line in lambda_inprocess.logs(function) if line.startswith("{")]
    return sum(1 for d in documents if "ColdStart" in d)


def test_each_function_has_its_own_cold_start(powertools_functions: Any) -> None:
    """Powertools' flag is a module global; in-process each function keeps its own, like a container."""
    for _ in range(2):
        for name in ("first", "second"):
            response = powertools_functions.invoke(FunctionName=name, Payload=b"{}")
            assert "FunctionError" not in response

    assert (_cold_starts("first"), _cold_starts("second")) == (1, 1)
    lambda_inprocess.reset()  # new containers
    powertools_functions.invoke(FunctionName="second", Payload=b"{}")
    assert _cold_starts("second") == 1


def test_a_failed_first_invocation_leaves_only_its_own_container_cold(powertools_functions: Any) -> None:
    # Powertools counts a cold start once the handler returned: a failure leaves the flag set.
    failed = powertools_functions.invoke(FunctionName="first", Payload=b'{"fail": true}')
    assert failed.get("FunctionError") == "Unhandled"
    powertools_functions.invoke(FunctionName="second", Payload=b"{}")
    powertools_functions.invoke(FunctionName="second", Payload=b"{}")
    powertools_functions.invoke(FunctionName="first", Payload=b"{}")

    assert (_cold_starts("first"), _cold_starts("second")) == (1, 1)


def test_logging_config_variables_reach_only_their_function(powertools_functions: Any) -> None:
    first = json.loads(powertools_functions.invoke(FunctionName="first", Payload=b"{}")["Payload"].read())
    second = json.loads(powertools_functions.invoke(FunctionName="second", Payload=b"{}")["Payload"].read())

    assert (first["log_level"], first["log_format"]) == ("WARN", "JSON")
    assert (second["log_level"], second["log_format"]) == ("", "")
    assert os.environ.get("AWS_LAMBDA_LOG_LEVEL", "") == ""


LOGGER_HANDLER = """
from aws_lambda_powertools import Logger

logger = Logger(service="shared-service")


def handler(event, context):
    return {"level": logger.log_level}
"""


def test_a_new_container_configures_its_logger_level_afresh(tmp_path: Path) -> None:
    """The logging logger named after the service outlives a container in-process; its level must not."""
    lambda_inprocess.install()
    (tmp_path / "app.py").write_text(textwrap.dedent(LOGGER_HANDLER))
    levels = []
    with mock_aws():
        client = boto3.client("lambda", region_name=REGION)
        role = boto3.client("iam", region_name=REGION).create_role(RoleName="r", AssumeRolePolicyDocument="{}")
        client.create_function(
            FunctionName="logs",
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler="app.handler",
            Code={"ZipFile": _zip()},
        )
        for level in ("DEBUG", "INFO", "TRACE"):
            lambda_inprocess.register_source("logs", tmp_path, runtime_variables={"AWS_LAMBDA_LOG_LEVEL": level})
            lambda_inprocess.reset()  # a new container
            levels.append(json.loads(client.invoke(FunctionName="logs", Payload=b"{}")["Payload"].read())["level"])
    lambda_inprocess.reset(sources=True)

    assert levels == [10, 20, 0]  # DEBUG, INFO, and TRACE (everything)
