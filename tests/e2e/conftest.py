"""The end-to-end fixture: a fresh embedded AWS with cardshare deployed from template.yaml, per test."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cardshare_local.runtime import LocalAws, local_aws

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# What lambda_inprocess adds to os.environ for the length of an invocation (besides the function's
# own variables), then removes again.
_LAMBDA_RUNTIME_VARIABLES = (
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT",
    "_HANDLER",
)


def pin_lambda_environment(system: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Give every variable the in-process Lambdas set a value, so invocations only change values.

    Works around a race in the runtime: lambda_inprocess adds and removes os.environ keys while other
    threads (concurrent executions, the test) create boto3 clients, and botocore's proxy lookup
    iterates os.environ; a key removed mid-iteration raises KeyError (the execution fails with
    States.Runtime "'_HANDLER'"). With every key present, nothing is added or removed.

    A function's variable is pinned to the value the stack's functions give it, so a function that
    lacks it still reads a valid setting; the runtime's own variables (always set while a handler
    runs) are pinned to "".
    """
    for name in _LAMBDA_RUNTIME_VARIABLES:
        if name not in os.environ:
            monkeypatch.setenv(name, "")
    for environment in system.stack.environment.values():
        for name, value in environment.items():
            if name not in os.environ:
                monkeypatch.setenv(name, str(value))


@pytest.fixture
def system(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    """cardshare on a fresh embedded AWS (~1 s to deploy).

    Template parameters beyond LOCAL_PARAMETERS come from indirect parametrization:
    ``@pytest.mark.parametrize("system", [{"AllowExternalPrincipals": "true"}], indirect=True)``.
    """
    with local_aws(getattr(request, "param", None)) as deployed:
        pin_lambda_environment(deployed, monkeypatch)
        yield deployed
