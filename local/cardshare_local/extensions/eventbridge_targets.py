"""EventBridge rule targets moto 5.2.5 lacks: Step Functions state machines and Lambda functions.

moto's ``Rule.send_to_targets`` handles logs, archives, SQS, event buses and API destinations and
raises ``NotImplementedError`` (to the caller of PutEvents!) for any other target. In AWS, delivery is
decoupled from PutEvents: a target that cannot be reached never fails the producer; the event is
retried, then dropped or written to the target's dead-letter queue. This patch delivers to
``arn:aws:states:...:stateMachine:...`` (StartExecution) and ``arn:aws:lambda:...:function:...``
(asynchronous Invoke).

It also takes over SQS targets, because moto sends them an event without ``account`` (its default
input template omits it) and ignores ``Input`` and ``InputPath``; a missing queue raised to the
PutEvents caller instead of going to the DLQ. Every other target type is left to moto.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.events.models import Rule
from moto.events.utils import EventMessageType
from moto.utilities.arns import parse_arn

LOG = logging.getLogger(__name__)

_HANDLED_SERVICES = frozenset({"states", "lambda", "sqs"})
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_ORIGINAL: dict[str, Callable[..., Any]] = {}
_LOCK = threading.Lock()
_DELIVERIES: list[Delivery] = []


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one event to one target.

    ``outcome`` is "delivered", "dead-lettered" (failed, written to the target's DLQ) or "dropped"
    (failed, no DLQ or the DLQ write failed). ``execution_arn`` is set for a started execution.
    """

    event_id: str
    rule_arn: str
    target_arn: str
    outcome: str
    execution_arn: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class DeliveryError(Exception):
    """A target that could not take the event, with EventBridge's DLQ error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def install() -> None:
    """Route Step Functions and Lambda targets through this module (idempotent)."""
    if _ORIGINAL:
        return
    _ORIGINAL["send_to_targets"] = Rule.send_to_targets
    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]


def uninstall() -> None:
    """Give moto back its own target delivery."""
    original = _ORIGINAL.pop("send_to_targets", None)
    if original is not None:
        Rule.send_to_targets = original  # type: ignore[method-assign]


def deliveries() -> list[Delivery]:
    """Every delivery attempt to a state machine or Lambda target since the last ``reset()``."""
    with _LOCK:
        return list(_DELIVERIES)


def reset() -> None:
    """Forget recorded deliveries."""
    with _LOCK:
        _DELIVERIES.clear()


# --- the patched Rule.send_to_targets ------------------------------------------------------------


def _send_to_targets(self: Rule, original_event: EventMessageType, transform_input: bool = True) -> None:
    # A disabled rule matches nothing in AWS; moto delivers through it anyway.
    if self.state != "ENABLED" or self.scheduled_expression:
        # A schedule rule matches no event: EventBridge fires it from its clock only (which the
        # embedded AWS does not run; tests invoke scheduled functions themselves).
        return
    if not self.event_pattern.matches_event(original_event):
        return
    ours = [t for t in self.targets if parse_arn(t["Arn"]).service in _HANDLED_SERVICES]
    others = [t for t in self.targets if parse_arn(t["Arn"]).service not in _HANDLED_SERVICES]
    if others:
        # A shallow copy with only moto's target types: the rule itself is shared with other threads.
        view = copy.copy(self)
        view.targets = others
        _ORIGINAL["send_to_targets"](view, original_event, transform_input)
    event = aws_event(original_event)
    for target in ours:
        _deliver(self, target, event, transform_input)


def aws_event(moto_event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as EventBridge hands it to a target: ISO time, account, no moto-internal fields."""
    event = {k: v for k, v in moto_event.items() if k != "ingestion-time"}
    when = event.get("time")
    if isinstance(when, (int, float)):
        event["time"] = datetime.fromtimestamp(when, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(when, datetime):
        event["time"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _deliver(rule: Rule, target: dict[str, Any], event: dict[str, Any], transform_input: bool) -> None:
    arn = target["Arn"]
    execution_arn = None
    try:
        payload = target_input(target, event, rule) if transform_input else json.dumps(event)
        service = parse_arn(arn).service
        if service == "states":
            execution_arn = _start_execution(arn, payload)
        elif service == "lambda":
            _invoke_function(arn, payload)
        else:
            _send_message(arn, payload, (target.get("SqsParameters") or {}).get("MessageGroupId"))
    except DeliveryError as error:
        _failed(rule, target, event, error.code, error.message)
        return
    except Exception as error:  # a bug or an unexpected moto error: still EventBridge's to absorb
        _failed(rule, target, event, "INTERNAL_ERROR", f"{type(error).__name__}: {error}")
        return
    _record(Delivery(event["id"], rule.arn, arn, "delivered", execution_arn=execution_arn))


def _record(delivery: Delivery) -> None:
    with _LOCK:
        _DELIVERIES.append(delivery)


# --- target input: Input, InputPath, InputTransformer --------------------------------------------


def target_input(target: dict[str, Any], event: dict[str, Any], rule: Rule | None = None) -> str:
    """The text EventBridge sends to ``target`` for ``event``, per Input/InputPath/InputTransformer."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        return json.dumps(_json_path(target["InputPath"], event))
    transformer = target.get("InputTransformer")
    if transformer:
        values: dict[str, Any] = {
            name: _json_path(path, event) for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        values["aws.events.event"] = event
        values["aws.events.event.json"] = event
        values["aws.events.event.ingestion-time"] = event.get("time")
        if rule is not None:
            values["aws.events.rule-arn"] = rule.arn
            values["aws.events.rule-name"] = rule.name
        return render_template(transformer["InputTemplate"], values)
    return json.dumps(event)


def _json_path(path: str, event: dict[str, Any]) -> Any:
    from jsonpath_ng.ext.parser import parse

    matches = parse(path).find(event)
    if not matches:
        return None
    if len(matches) == 1:
        return matches[0].value
    return [m.value for m in matches]


def render_template(template: str, values: dict[str, Any]) -> str:
    """Fill an InputTemplate's ``<name>`` placeholders like EventBridge.

    A placeholder inside a JSON string is inserted as text (escaped); one outside a string is inserted
    as JSON (a string value gets its quotes). A path that matched nothing becomes ``null`` (or nothing
    inside a string).
    """
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        ch = template[i]
        if in_string and ch == "\\":
            out.append(template[i : i + 2])
            i += 2
            continue
        if ch == '"':
            in_string = not in_string
        elif ch == "<":
            match = _PLACEHOLDER.match(template, i)
            if match and match.group(1) in values:
                value = values[match.group(1)]
                out.append(_inside_string(value) if in_string else json.dumps(value))
                i = match.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _inside_string(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(text)[1:-1]


# --- the two target types ------------------------------------------------------------------------


def _start_execution(state_machine_arn: str, payload: str) -> str:
    """StartExecution on the backend the API would use (the parser backend when execution is on)."""
    from moto.stepfunctions.responses import get_backend

    arn = parse_arn(state_machine_arn)
    try:
        json.loads(payload)
    except ValueError as error:
        raise DeliveryError("INVALID_JSON", f"Input is not valid JSON: {error}") from error
    backend = get_backend(arn.account, arn.region)
    try:
        # EventBridge names the executions it starts with a UUID.
        execution = backend.start_execution(state_machine_arn, str(uuid.uuid4()), payload)
    except Exception as error:
        raise _as_delivery_error(error) from error
    return str(execution.execution_arn)


def _invoke_function(function_arn: str, payload: str) -> None:
    """An asynchronous Invoke (InvocationType Event), as EventBridge does for Lambda targets."""
    from moto.awslambda.utils import get_backend

    arn = parse_arn(function_arn)
    # resource_id is "name" or "name:qualifier".
    name, _, qualifier = arn.resource_id.partition(":")
    backend = get_backend(arn.account, arn.region)
    try:
        backend.invoke(name, qualifier or None, payload, {"x-amz-invocation-type": "Event"}, {})
    except Exception as error:
        raise _as_delivery_error(error) from error


def _send_message(queue_arn: str, payload: str, group_id: str | None) -> None:
    from moto.sqs.models import sqs_backends

    arn = parse_arn(queue_arn)
    backend = sqs_backends[arn.account][arn.region]
    try:
        queue = backend.get_queue(arn.resource_id)
        if queue.fifo_queue and queue.attributes.get("ContentBasedDeduplication") != "true":
            # EventBridge sends no deduplication id: a FIFO target needs content-based deduplication.
            raise DeliveryError("INVALID_PARAMETER", "The FIFO queue must have content-based deduplication enabled.")
        backend.send_message(queue_name=arn.resource_id, message_body=payload, group_id=group_id)
    except DeliveryError:
        raise
    except Exception as error:
        raise _as_delivery_error(error) from error


def _as_delivery_error(error: Exception) -> DeliveryError:
    # moto's exception families keep the AWS error code in different attributes (JsonRESTError.code
    # is the HTTP status, hence the str check).
    code = next(
        (v for v in (getattr(error, a, None) for a in ("error_type", "TYPE", "code")) if isinstance(v, str) and v),
        type(error).__name__,
    )
    message = str(getattr(error, "message", "") or error)
    if any(word in code for word in ("NotFound", "DoesNotExist", "NonExistent")):
        return DeliveryError("RESOURCE_NOT_FOUND", message)
    if "Throttl" in code or "TooManyRequests" in code:
        return DeliveryError("THROTTLING", message)
    if "Invalid" in code or "Validation" in code:
        return DeliveryError("INVALID_PARAMETER", message)
    return DeliveryError("SDK_CLIENT_ERROR", f"{code}: {message}")


# --- failure: the target's dead-letter queue -----------------------------------------------------


def _failed(rule: Rule, target: dict[str, Any], event: dict[str, Any], code: str, message: str) -> None:
    """Write a failed event to the target's DLQ like EventBridge, or drop it.

    EventBridge retries retriable failures (up to 24 h / 185 attempts by default) before giving up;
    those retries are not emulated: every failure goes to the DLQ at once, as EventBridge does for
    non-retriable ones (missing target, missing permission).
    """
    arn = target["Arn"]
    LOG.warning("EventBridge could not deliver event %s to %s: %s %s", event.get("id"), arn, code, message)
    dlq_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    outcome = "dropped"
    if dlq_arn:
        try:
            from moto.sqs.models import sqs_backends

            queue = parse_arn(dlq_arn)
            attributes = {
                "RULE_ARN": rule.arn,
                "TARGET_ARN": arn,
                "ERROR_CODE": code,
                "ERROR_MESSAGE": message[:1000],
                "RETRY_ATTEMPTS": "0",
            }
            sqs_backends[queue.account][queue.region].send_message(
                queue_name=queue.resource_id,
                message_body=json.dumps(event),
                message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )
            outcome = "dead-lettered"
        except Exception:
            LOG.exception("could not write event %s to dead-letter queue %s", event.get("id"), dlq_arn)
    _record(Delivery(event["id"], rule.arn, arn, outcome, error_code=code, error_message=message))
