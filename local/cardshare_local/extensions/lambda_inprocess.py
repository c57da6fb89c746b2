"""Lambda functions that run their real handler, in this process.

Without Docker, moto 5.2.5's Lambda either echoes the payload (``use_docker: False``) or fails with
"error running docker". AWS runs the function's code: this patch imports the handler of every function
whose source was registered with :func:`register_source` and calls it, with the function's environment
and a context object, and answers like the Lambda Invoke API (``FunctionError: Unhandled`` and the
runtime's error document when the handler raises). Functions nobody registered keep moto's behaviour.

Known differences from AWS, by design:
- The handler runs with this process's AWS credentials, not the function role's (botocore caches the
  credentials of the default session, so swapping them per invocation would not be reliable).
  Exception: a function in another account than moto's default one (a consumer account's stack)
  gets its role's credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, as
  Lambda sets them, so that a session it creates during the invocation acts in its own account.
  The variables are process-wide while it runs: a client another thread creates meanwhile would
  use them too, so invoke such functions when nothing else is running.
- ``Timeout`` is reported by ``get_remaining_time_in_millis`` but not enforced.
- Asynchronous invocations (``Event``) run synchronously before Invoke returns 202; their retries,
  on-failure destinations and dead-letter queues are not emulated (a failure is logged and recorded).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import boto3
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.models import DEFAULT_ACCOUNT_ID

from cardshare_local.fair_lock import FairRLock

LOG = logging.getLogger(__name__)

_ORIGINALS: dict[str, Callable[..., Any]] = {}
# Executions run in threads and os.environ / sys.path are process-wide: one invocation at a time,
# in the order they were requested (see fair_lock). Re-entrant, because a handler may invoke another
# function (or cause an event that does) in-process.
_LOCK = FairRLock()
_SOURCES: dict[str, Source] = {}
_MODULES: dict[str, ModuleType] = {}
_ENVIRONMENTS: dict[str, dict[str, Any]] = {}
_SEEDED: set[str] = set()
_RUNTIME_KEYS = (
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT",
    "_HANDLER",
)
# Set by Lambda from LoggingConfig; emptied for functions whose configuration sets none.
_LOGGING_KEYS = ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL")
# Powertools remembers "this is the container's first invocation" in module globals; in-process
# every function shares those modules. Each function keeps its own flags here, as its own container.
_COLD_START_FLAGS = (
    ("aws_lambda_powertools.metrics.provider.cold_start", "is_cold_start"),
    ("aws_lambda_powertools.logging.logger", "is_cold_start"),
)
_COLD_STATE: dict[str, dict[tuple[str, str], Any]] = {}
_INVOCATIONS: list[Invocation] = []
_LOGS: dict[str, FunctionLog] = {}
# Where function output is echoed as it is written (None: only kept, like CloudWatch Logs). ECHO
# should write to a stream captured before any invocation (sys.stdout is the router during one);
# if it prints anyway, the router sends what it prints to the process's real stdout.
ECHO: Callable[[str, str], None] | None = None
# Set on a thread while it runs ECHO, so that ECHO's own writes never re-enter a function's log.
_ECHOING = threading.local()


class FunctionLog:
    """A function's stdout, as Lambda sends it to CloudWatch Logs: one entry per line."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.lines: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        """Collect complete lines; echo them when ECHO is set."""
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        for line in complete:
            self.lines.append(line)
            if ECHO is not None and not _echoing():
                _ECHOING.active = True
                try:
                    ECHO(self.function_name, line)
                finally:
                    _ECHOING.active = False
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered beyond the current line."""

    def isatty(self) -> bool:
        """Not a terminal."""
        return False


@dataclass(frozen=True)
class Source:
    """Where a function's code and its layers live on disk, and what the runtime sets besides them.

    ``runtime_variables`` are what Lambda derives from the function's configuration rather than
    its Environment (AWS_LAMBDA_LOG_LEVEL from LoggingConfig's ApplicationLogLevel).
    """

    code_dir: Path
    layer_dirs: tuple[Path, ...] = ()
    runtime_variables: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Invocation:
    """One in-process invocation: who, how, and the error type if the handler raised."""

    function_name: str
    request_id: str
    invocation_type: str
    error_type: str | None = None


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: float = 3.0
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's configured timeout (not enforced locally)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def install() -> None:
    """Run registered functions' handlers on Invoke (idempotent)."""
    if _ORIGINALS:
        return
    _ORIGINALS["LambdaFunction.invoke"] = LambdaFunction.invoke
    _ORIGINALS["LambdaSimpleBackend.invoke"] = LambdaSimpleBackend.invoke
    LambdaFunction.invoke = _function_invoke  # type: ignore[method-assign]
    LambdaSimpleBackend.invoke = _simple_backend_invoke  # type: ignore[method-assign]


def uninstall() -> None:
    """Give moto back its own invoke."""
    if _ORIGINALS:
        LambdaFunction.invoke = _ORIGINALS.pop("LambdaFunction.invoke")  # type: ignore[method-assign]
        LambdaSimpleBackend.invoke = _ORIGINALS.pop("LambdaSimpleBackend.invoke")  # type: ignore[method-assign]


def register_source(
    function_name: str,
    code_dir: Path,
    layer_dirs: Sequence[Path] = (),
    environment_keys: Sequence[str] = (),
    runtime_variables: Mapping[str, str] | None = None,
) -> None:
    """Run ``function_name``'s handler from ``code_dir`` (with ``layer_dirs`` importable) on Invoke.

    ``environment_keys`` (the function's variables) are created empty in os.environ now, before
    any execution thread runs, so that invocations only ever change values (see
    ``_function_environment``). ``runtime_variables`` are set for every invocation as Lambda's
    runtime sets them from the function's configuration (the log level of its LoggingConfig).
    """
    runtime = tuple(sorted((runtime_variables or {}).items()))
    for key in (*_RUNTIME_KEYS, *_LOGGING_KEYS, *environment_keys):
        if key not in os.environ:
            os.environ[key] = ""
            _SEEDED.add(key)
    source = Source(Path(code_dir).resolve(), tuple(Path(p).resolve() for p in layer_dirs), runtime)
    with _LOCK:
        if _SOURCES.get(function_name) != source:
            _MODULES.pop(function_name, None)
        _SOURCES[function_name] = source


def registered() -> dict[str, Source]:
    """The registry: function name to its source."""
    with _LOCK:
        return dict(_SOURCES)


def invocations() -> list[Invocation]:
    """Every in-process invocation since the last ``reset()``."""
    with _LOCK:
        return list(_INVOCATIONS)


class _StdoutRouter:
    """sys.stdout while a handler is imported or runs: writes go to the running function's log.

    Handlers bind sys.stdout when their logger is created (at import), and in-process every
    function shares the process's logging tree (a logger named after the service is shared), so
    one router is bound once and sends each write to whichever function is running, as separate
    Lambda processes would. Only the thread running the function writes to its log: another
    thread of the process (a test, the CLI, the demo printing) keeps the stdout it had, as a
    program beside real Lambda would.
    """

    def __init__(self) -> None:
        self.running: list[tuple[FunctionLog, int]] = []
        self.outer: Any = None

    def write(self, text: str) -> int:
        """Send to the function this thread runs; anything else to the stdout in place before it ran."""
        if self.running and not _echoing():
            log, thread = self.running[-1]
            if thread == threading.get_ident():
                return log.write(text)
        # Between invocations sys.stdout is whatever the program set (a test's capture); during one
        # it is this router, and the stdout in place before it stands in.
        target = sys.stdout if sys.stdout is not self else (self.outer or sys.__stdout__)
        if target is None or target is self:
            return len(text)
        return int(target.write(text))

    def flush(self) -> None:
        """Lines are complete as written."""

    def isatty(self) -> bool:
        """Not a terminal."""
        return False


_STDOUT = _StdoutRouter()


def _echoing() -> bool:
    return bool(getattr(_ECHOING, "active", False))


@contextmanager
def _captured(function_name: str) -> Iterator[None]:
    if sys.stdout is not _STDOUT:
        _STDOUT.outer = sys.stdout
    _STDOUT.running.append((_log_of(function_name), threading.get_ident()))
    try:
        with redirect_stdout(_STDOUT):
            yield
    finally:
        _STDOUT.running.pop()


def clear_environment() -> None:
    """Remove the variables ``register_source`` created and invocations left empty.

    Call it when no execution runs any more (the embedded AWS is being torn down).
    """
    with _LOCK:
        for key in _SEEDED:
            if os.environ.get(key) == "":
                del os.environ[key]
        _SEEDED.clear()


def logs(function_name: str) -> list[str]:
    """Lines the function wrote to stdout since the last ``reset()``."""
    with _LOCK:
        log = _LOGS.get(function_name)
        return list(log.lines) if log else []


def reset(*, sources: bool = False) -> None:
    """Drop loaded handler modules (the next invoke is a cold start) and the invocation record.

    With ``sources=True`` the registry is emptied too.
    """
    with _LOCK:
        for module in _MODULES.values():
            sys.modules.pop(module.__name__, None)
        _MODULES.clear()
        _COLD_STATE.clear()
        _INVOCATIONS.clear()
        _LOGS.clear()
        if sources:
            _SOURCES.clear()


# --- the patched entry points --------------------------------------------------------------------


def _simple_backend_invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    # The docker-free backend never looks at the function; for registered code use the full path.
    fn = self.get_function(function_name, qualifier)
    if fn.function_name in _SOURCES:
        return LambdaBackend.invoke(self, function_name, qualifier, body, headers, response_headers)
    original = _ORIGINALS["LambdaSimpleBackend.invoke"]
    return cast("str | bytes | None", original(self, function_name, qualifier, body, headers, response_headers))


def _function_invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
    source = _SOURCES.get(self.function_name)
    if source is None:
        return cast("str | bytes", _ORIGINALS["LambdaFunction.invoke"](self, body, request_headers, response_headers))
    invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
    event = _parse_event(body)
    if invocation_type == "DryRun":
        return b""
    request_id = str(uuid.uuid4())
    response_headers["x-amz-executed-version"] = str(self.version)
    error, payload = invoke_handler(self, source, event, request_id, invocation_type)
    if invocation_type == "Event":
        # The caller got 202 as soon as Lambda queued the event; the outcome is only logged.
        if error:
            LOG.warning("asynchronous invocation %s of %s failed: %s", request_id, self.function_name, payload)
        return b""
    if error:
        response_headers["x-amz-function-error"] = "Unhandled"
    return payload


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def _parse_event(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if body is None or body == "":
        return {}
    if not isinstance(body, str):
        return body
    try:
        return json.loads(body)
    except ValueError as error:
        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {error}"
        ) from error


# --- running a handler ---------------------------------------------------------------------------


def invoke_handler(
    fn: LambdaFunction, source: Source, event: Any, request_id: str, invocation_type: str = "RequestResponse"
) -> tuple[bool, bytes]:
    """Call the function's handler; return (failed, payload) where payload is the Invoke response body."""
    module_part, _, attribute = str(fn.handler or "app.handler").rpartition(".")
    context = LambdaContext(
        function_name=fn.function_name,
        function_version=str(fn.version),
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size),
        aws_request_id=request_id,
        log_group_name=fn.logs_group_name,
        log_stream_name=f"{time.strftime('%Y/%m/%d')}/[{fn.version}]{uuid.uuid4().hex}",
        timeout_seconds=float(fn.timeout or 3),
    )
    error_type: str | None = None
    with _LOCK, _function_environment(fn, source, context), _captured(fn.function_name):
        try:
            module = _load(fn.function_name, source, module_part or "app", dict(fn.environment_vars or {}))
            handler = getattr(module, attribute)
            with _container_flags(fn.function_name):
                result = handler(event, context)
            try:
                payload = json.dumps(result).encode("utf-8")
            except (TypeError, ValueError) as error:
                # The runtime cannot serialize the return value: Lambda reports Runtime.MarshalError.
                error_type = "Runtime.MarshalError"
                payload = _error_document(error_type, f"Unable to marshal response: {error}", request_id, [])
        except Exception as error:
            error_type = type(error).__name__
            frames = traceback.extract_tb(error.__traceback__)
            # Keep the function's own frames, as the runtime shows them (not this module's).
            frames = traceback.StackSummary.from_list([f for f in frames if f.filename != __file__])
            payload = _error_document(error_type, str(error), request_id, traceback.format_list(frames))
        finally:
            _INVOCATIONS.append(Invocation(fn.function_name, request_id, invocation_type, error_type))
    return error_type is not None, payload


@contextmanager
def _container_flags(function_name: str) -> Iterator[None]:
    """Powertools' cold-start flags as this function's container left them (True after a fresh import)."""
    saved = _COLD_STATE.get(function_name, {})
    present = [(name, flag) for name, flag in _COLD_START_FLAGS if name in sys.modules]
    for name, flag in present:
        setattr(sys.modules[name], flag, saved.get((name, flag), True))
    try:
        yield
    finally:
        _COLD_STATE[function_name] = {(name, flag): getattr(sys.modules[name], flag) for name, flag in present}


def _log_of(function_name: str) -> FunctionLog:
    if function_name not in _LOGS:
        _LOGS[function_name] = FunctionLog(function_name)
    return _LOGS[function_name]


def _error_document(error_type: str, message: str, request_id: str, stack: list[str]) -> bytes:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}
    ).encode("utf-8")


def _load(function_name: str, source: Source, module_part: str, environment: dict[str, Any]) -> ModuleType:
    """The function's handler module, imported once per function (a warm container).

    A configuration change (new environment) starts a new container, as UpdateFunctionConfiguration does.
    """
    cached = _MODULES.get(function_name)
    if cached is not None and _ENVIRONMENTS.get(function_name) == environment:
        return cached
    if cached is not None:
        sys.modules.pop(cached.__name__, None)
    path = source.code_dir / (module_part.replace(".", "/") + ".py")
    unique = "cardshare_lambda_" + re.sub(r"\W", "_", function_name) + "_" + re.sub(r"\W", "_", module_part)
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Unable to import module '{module_part}': no {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(unique, None)
        raise
    _MODULES[function_name] = module
    _ENVIRONMENTS[function_name] = environment
    _COLD_STATE.pop(function_name, None)  # a new container starts cold
    _configure_log_levels(module)
    return module


def _configure_log_levels(module: ModuleType) -> None:
    """Give the module's Powertools loggers the level this container's environment sets.

    In Lambda every container configures its loggers afresh. In-process, the logging logger named
    after the service outlives the container that configured it, and Powertools does not configure
    a logger it finds configured: it would keep the level of whichever deploy imported it first.
    """
    powertools = sys.modules.get("aws_lambda_powertools.logging.logger")
    if powertools is None:
        return
    for value in vars(module).values():
        if isinstance(value, powertools.Logger):
            value.setLevel(None)  # None: the level Powertools reads from the environment


def _role_credentials(fn: LambdaFunction) -> dict[str, str]:
    """The credential variables of a function outside moto's default account (see the module notes)."""
    if fn.account_id == DEFAULT_ACCOUNT_ID:
        return {}
    # moto maps an assumed role's keys to the role's account: the function then acts as itself.
    credentials = boto3.client("sts", region_name=fn.region).assume_role(
        RoleArn=fn.role, RoleSessionName=fn.function_name[:64]
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


@contextmanager
def _function_environment(fn: LambdaFunction, source: Source, context: LambdaContext) -> Iterator[None]:
    """os.environ and sys.path as the Lambda runtime sets them, restored afterwards."""
    variables: Mapping[str, str] = {
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time or 'python3.12'}",
        "LAMBDA_TASK_ROOT": str(source.code_dir),
        "_HANDLER": str(fn.handler),
        **dict.fromkeys(_LOGGING_KEYS, ""),
        **dict(source.runtime_variables),
        **_role_credentials(fn),
        # The function's own variables win, as in AWS (except reserved names, which AWS rejects).
        **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
    }
    saved_env = {k: os.environ.get(k) for k in variables}
    saved_path = list(sys.path)
    os.environ.update(variables)
    sys.path[:0] = [str(source.code_dir), *(str(p) for p in source.layer_dirs)]
    try:
        yield
    finally:
        # Keys are emptied, never removed: Step Functions threads create boto3 clients meanwhile,
        # and botocore iterates os.environ, which fails if a key disappears under it.
        for key, value in saved_env.items():
            os.environ[key] = "" if value is None else value
        sys.path[:] = saved_path
