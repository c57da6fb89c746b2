"""Counting the AWS calls the system makes, from botocore's own event hooks.

Every botocore session created after :func:`install` carries a ``before-call`` handler (botocore
registers ``BUILTIN_HANDLERS`` on each new session, the way moto hooks ``before-send``). So the
count sees every client of the process: the Lambda handlers' module-level sessions (imported fresh
on each deploy by the in-process Lambda extension) and the clients Step Functions' interpreter
builds from boto3's default session for each Lambda, aws-sdk and DynamoDB task. AWS-internal
deliveries (EventBridge starting an execution) go to moto's backends directly and are not calls.

``before-call`` fires once per API call; botocore's retries of that call are not counted.

The benchmark's own calls (creating cards, waiting, reading history) are marked by
:func:`as_driver` with a ``provide-client-params`` handler, which runs before ``before-call`` in
the same request context, and are left out.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
from botocore.handlers import BUILTIN_HANDLERS

_DRIVER_KEY = "cardshare_bench_driver"
_HOOK_ID = "cardshare-bench-calls"


class CallLog:
    """Calls seen since the last :meth:`reset`, by (service, operation). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()

    def record(self, model: Any, context: dict[str, Any] | None = None, **_: Any) -> None:
        """Count a call (a ``before-call`` handler) unless the driver made it."""
        if context and context.get(_DRIVER_KEY):
            return
        key = (str(model.service_model.service_name), str(model.name))
        with self._lock:
            self._calls[key] += 1

    def reset(self) -> None:
        """Forget every call counted so far."""
        with self._lock:
            self._calls.clear()

    def snapshot(self) -> Counter[tuple[str, str]]:
        """The calls counted since the last reset."""
        with self._lock:
            return Counter(self._calls)


LOG = CallLog()


def _hook(**kwargs: Any) -> None:
    LOG.record(**kwargs)


def install() -> CallLog:
    """Count the calls of every botocore session from now on, and of boto3's default session (idempotent)."""
    if ("before-call", _hook) not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append(("before-call", _hook))
    if boto3.DEFAULT_SESSION is not None:
        # Created before install (the interpreter's clients come from it): hook it too.
        boto3.DEFAULT_SESSION.events.register("before-call", _hook, unique_id=_HOOK_ID)
    return LOG


def _mark_driver(context: dict[str, Any] | None = None, **_: Any) -> None:
    if context is not None:
        context[_DRIVER_KEY] = True


def as_driver(session: boto3.Session) -> boto3.Session:
    """Leave the calls of clients created from ``session`` from now on out of the count; return it."""
    session.events.register("provide-client-params", _mark_driver, unique_id=f"{_HOOK_ID}-driver")
    return session


def by_service(calls: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Calls as ``{service: {operation: count}}``, sorted, for reports."""
    grouped: dict[str, dict[str, int]] = {}
    for (service, operation), count in sorted(calls.items()):
        grouped.setdefault(service, {})[operation] = count
    return grouped
