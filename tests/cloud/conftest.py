"""The cloud suite's fixture: the real stack and the people who act on it, or a skip naming what is missing.

It runs only when asked for (``pytest -m cloud``, as ``make test-cloud`` does) and configured; otherwise
every test skips before anything touches the network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cloud_support import read_config, selects_cloud, skip_reason
from cloud_walk import CloudTarget

from cardshare_cli.stack import Connection, open_stack

#: The fake credentials tests/conftest.py sets for every other test; the cloud suite must not use them.
_FAKES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION")


@pytest.fixture(scope="session")
def cloud_target(request: pytest.FixtureRequest, real_aws_environment: dict[str, str]) -> Iterator[CloudTarget]:
    """The deployed stack (AWS_SAM_STACK_NAME) with the model-card, approver and consumer sessions."""
    environ = {**os.environ, **real_aws_environment}
    for key in _FAKES:
        if key not in real_aws_environment:
            environ.pop(key, None)
    reason = skip_reason(environ, selects_cloud(str(request.config.getoption("markexpr") or "")))
    if reason:
        pytest.skip(reason)
    config = read_config(environ)
    # The real credentials chain for the rest of the run (only the cloud suite runs under -m cloud).
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        connection = Connection(stack_name=config.stack_name, profile=config.model_card_profile)
        stack = open_stack(connection)
        region = stack.region
        yield CloudTarget(
            stack=stack,
            owner=stack.session,
            consumers={
                stage: boto3.Session(profile_name=profile, region_name=region)
                for stage, profile in config.consumer_profiles.items()
            },
            approver=boto3.Session(profile_name=config.approver_profile, region_name=region)
            if config.approver_profile
            else None,
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List what the cloud suite found out about the account, whatever the outcome of each test."""
    findings = [
        f"{report.nodeid.rsplit('::', 1)[-1]}: {value}"
        for outcome in ("passed", "xfailed", "failed", "skipped")
        for report in terminalreporter.stats.get(outcome, [])
        for key, value in getattr(report, "user_properties", [])
        if key == "content edit events"
    ]
    if findings:
        terminalreporter.write_sep("-", "cardshare cloud findings")
        for line in findings:
            terminalreporter.write_line(line)
