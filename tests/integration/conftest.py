"""Integration fixtures: event samples, invoking the deployed plan function, reading its log."""

from __future__ import annotations

import json
import threading
import time
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.retries import bucket
from emf import Point, emf_points

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import PLAN_FUNCTION, LocalAws

ROOT = Path(__file__).resolve().parents[2]


def new_execution() -> str:
    """A fresh execution ARN of the promote-card workflow."""
    return f"arn:aws:states:{REGION}:{MODEL_CARD_ACCOUNT}:execution:cardshare-promote-card:{uuid.uuid4()}"


def cold_start() -> None:
    """Make the next invocation of every in-process function import its handler afresh."""
    lambda_inprocess.reset()


@pytest.fixture(name="cold_start", scope="session")
def _cold_start() -> Callable[[], None]:
    """``cold_start()``: the next invocation imports app.py afresh and logs into a fresh function log."""
    return cold_start


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """Parse one of the events/ samples."""

    def load(name: str) -> dict[str, Any]:
        return json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))

    return load


@dataclass
class Invocation:
    """What Lambda's Invoke API answered."""

    function_error: str | None
    payload: dict[str, Any]


@pytest.fixture
def invoke_plan() -> Callable[..., Invocation]:
    """``invoke_plan(system, event, progress=None, execution=None)``: invoke the deployed plan function
    through the Lambda API as the workflow's Plan state does (a new execution ARN unless given)."""

    def invoke(
        system: LocalAws, event: Any, progress: dict[str, Any] | None = None, execution: str | None = None
    ) -> Invocation:
        # Each execution has its own ARN; the plan's RAM client tokens derive from it.
        payload = {"event": event, "progress": progress, "execution": execution or new_execution()}
        response = (
            system.session()
            .client("lambda")
            .invoke(FunctionName=system.stack.resources[PLAN_FUNCTION], Payload=json.dumps(payload))
        )
        return Invocation(response.get("FunctionError"), json.loads(response["Payload"].read()))

    return invoke


@pytest.fixture
def function_log() -> Callable[..., list[dict[str, Any]]]:
    """``function_log(system, since=0)``: the plan function's log lines from ``since`` on, parsed."""

    def read(system: LocalAws, since: int = 0) -> list[dict[str, Any]]:
        lines = lambda_inprocess.logs(str(system.stack.resources[PLAN_FUNCTION]))[since:]
        return [json.loads(line) for line in lines if line.startswith("{")]

    return read


def emf_metrics(lines: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Per EMF document in ``lines``: metric name → the sum of its values."""
    documents = []
    for line in lines:
        if "_aws" in line:
            names = [m["Name"] for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
            documents.append({name: float(sum(line[name])) for name in names})
    return documents


@pytest.fixture(name="emf_metrics")
def _emf_metrics() -> Callable[[list[dict[str, Any]]], list[dict[str, float]]]:
    """Parse the EMF documents (CloudWatch embedded metrics) out of log lines."""
    return emf_metrics


@pytest.fixture(name="emf_points")
def _emf_points() -> Callable[[list[dict[str, Any]]], list[Point]]:
    """Parse EMF documents into metric points with their dimensions."""
    return emf_points


@dataclass
class VirtualClock:
    """Time as botocore's retries see it: backoff sleeps and rate-limiter waits advance it, instantly."""

    now: float = 1_000_000.0
    backoffs: list[float] = field(default_factory=list)
    rate_limited: list[float] = field(default_factory=list)

    def backoff(self, seconds: float) -> None:
        self.backoffs.append(seconds)
        self.now += seconds

    def rate_limit(self, seconds: float) -> None:
        # The token bucket waits until its refill (read from this clock) covers the request. A zero
        # or missing timeout would stall virtual time and spin forever: always move it forward, and
        # fail fast rather than exhaust memory if the bucket never fills.
        if len(self.rate_limited) > 10_000:
            raise RuntimeError("the adaptive rate limiter never refilled")
        self.rate_limited.append(seconds)
        self.now += max(seconds, 0.01)


@pytest.fixture
def virtual_clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """Make botocore's retry delays virtual, for clients created after this fixture.

    Standard/adaptive retries sleep with time.sleep between attempts; adaptive mode's token bucket
    waits on a threading.Condition and reads bucket.Clock. All three are recorded, none waits.
    """
    clock = VirtualClock()

    class Condition(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            clock.rate_limit(timeout or 0.0)
            return False

    # time.sleep is process-wide: only this test's thread gets virtual sleeps. Threads left by
    # earlier tests (Step Functions executions) keep real ones, or they would spin and fill memory.
    real_sleep, test_thread = time.sleep, threading.current_thread()

    def sleep(seconds: float) -> None:
        if threading.current_thread() is test_thread:
            clock.backoff(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setattr(bucket.Clock, "current_time", lambda _self: clock.now)
    monkeypatch.setattr(bucket, "threading", types.SimpleNamespace(Lock=threading.Lock, Condition=Condition))
    return clock
