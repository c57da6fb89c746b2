"""Parsing "SageMaker Model Card State Change" events strictly.

The event only says which card changed; the workflow reads the card as it is now. Parsing still
checks every field it relies on, so a malformed or foreign event is rejected with a reason
instead of being acted on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cardshare.identity import Actor
from cardshare.status import CardStatus
from cardshare.timestamps import epoch

DETAIL_TYPE = "SageMaker Model Card State Change"
SOURCE = "aws.sagemaker"
# The reconciler starts the workflow directly with events of its own source; they may omit the
# status (a card that no longer exists has none).
RECONCILER_SOURCE = "cardshare.reconciler"
_CARD_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-card/(?P<name>[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})$"
)
# The pattern alone lets hyphens stretch a name past SageMaker's limit of 63 characters.
_MAX_CARD_NAME = 63
# A SageMaker state-change event is about 1 kB. The workflow carries the event in its state (256 kB
# at most), so anything far larger is refused before it can reach a state limit.
MAX_EVENT_BYTES = 16_384
_MAX_ID = 128
_SHOWN = 80


def shown(value: object) -> str:
    """``repr(value)`` cut short, so an error message never echoes an oversized field."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + f"... ({len(text)} characters)"


class InvalidEventError(ValueError):
    """The event cannot be acted on; the message says which field and why."""


@dataclass(frozen=True)
class CardArn:
    """The parts of a model card ARN."""

    arn: str
    region: str
    account: str
    name: str


@dataclass(frozen=True)
class CardEvent:
    """The fields of a state-change event that cardshare uses."""

    event_id: str
    time: str
    card: CardArn
    status: CardStatus | None
    version: int | None
    source: str = SOURCE
    modified_at: float | None = None
    modified_by: Actor | None = None
    created_by: Actor | None = None
    created_at: float | None = None


def parse_card_arn(value: object, field: str = "card ARN") -> CardArn:
    """Split a model card ARN; raise :class:`InvalidEventError` naming ``field`` if it is not one."""
    match = _CARD_ARN.match(value) if isinstance(value, str) else None
    if match is None or len(match["name"]) > _MAX_CARD_NAME:
        raise InvalidEventError(f"{field}: {shown(value)} is not a SageMaker model card ARN")
    return CardArn(value, match["region"], match["account"], match["name"])  # type: ignore[arg-type]


def _text(event: Mapping[str, object], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"{key}: missing or not a string")
    return value


def _envelope(event: Mapping[str, object], account: str, region: str) -> tuple[str, str]:
    """The event's source and id, once its size, source, detail-type, account and region check out."""
    size = len(json.dumps(event, default=str))
    if size > MAX_EVENT_BYTES:
        raise InvalidEventError(f"event: {size} bytes, more than the {MAX_EVENT_BYTES} a state-change event can be")
    source = event.get("source")
    if source not in (SOURCE, RECONCILER_SOURCE):
        raise InvalidEventError(f"source: {shown(source)} is not {SOURCE!r}")
    if event.get("detail-type") != DETAIL_TYPE:
        raise InvalidEventError(f"detail-type: {shown(event.get('detail-type'))} is not {DETAIL_TYPE!r}")
    event_id = _text(event, "id")
    if len(event_id) > _MAX_ID:
        raise InvalidEventError(f"id: {len(event_id)} characters, more than {_MAX_ID}")
    if _text(event, "account") != account:
        raise InvalidEventError(f"account: event from {shown(event.get('account'))}, this stack serves {account}")
    if _text(event, "region") != region:
        raise InvalidEventError(f"region: event from {shown(event.get('region'))}, this stack serves {region}")
    return str(source), event_id


def _card(event: Mapping[str, object], account: str, region: str) -> CardArn:
    """The one model card of this account and region the event names."""
    resources = event.get("resources")
    if not isinstance(resources, list) or len(resources) != 1:
        raise InvalidEventError("resources: expected exactly one model card ARN")
    card = parse_card_arn(resources[0], "resources[0]")
    if (card.account, card.region) != (account, region):
        raise InvalidEventError(f"resources[0]: {card.arn} is not in {account}/{region}")
    return card


def _status(detail: Mapping[str, object]) -> CardStatus:
    try:
        return CardStatus.parse(detail.get("ModelCardStatus"), "detail.ModelCardStatus")
    except ValueError:
        allowed = ", ".join(s.value for s in CardStatus)
        raise InvalidEventError(
            f"detail.ModelCardStatus: unknown model card status {shown(detail.get('ModelCardStatus'))} "
            f"(expected one of {allowed})"
        ) from None


def parse_event(event: object, account: str, region: str) -> CardEvent:
    """Validate a state-change event from ``account``/``region`` and return what it names.

    Raises :class:`InvalidEventError` for another source, detail-type, account or region, a
    missing or malformed field, an unknown status, or a card name that disagrees with the ARN.
    """
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"event: expected an object, got {type(event).__name__}")
    source, event_id = _envelope(event, account, region)
    card = _card(event, account, region)
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEventError("detail: missing or not an object")
    name = detail.get("ModelCardName")
    # SageMaker may lower-case names in ARNs; compare without case.
    if not isinstance(name, str) or name.lower() != card.name.lower():
        raise InvalidEventError(f"detail.ModelCardName: {shown(name)} does not match resources[0] ({card.name})")
    status = _status(detail) if source == SOURCE or detail.get("ModelCardStatus") is not None else None
    version = detail.get("ModelCardVersion")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise InvalidEventError(f"detail.ModelCardVersion: {shown(version)} is not a positive integer")
    # When the change happened: the detail's precise time, else the event's (whole seconds).
    modified_at = epoch(detail.get("LastModifiedTime")) or epoch(event.get("time"))
    return CardEvent(
        event_id,
        str(event.get("time", "")),
        card,
        status,
        version,
        source,
        modified_at,
        modified_by=Actor.from_user_context(detail.get("LastModifiedBy")),
        created_by=Actor.from_user_context(detail.get("CreatedBy")),
        created_at=epoch(detail.get("CreationTime")),
    )


def reconciler_event(card: CardArn, status: CardStatus | None, event_id: str, time: str, reason: str) -> dict[str, Any]:
    """The workflow input the reconciler starts a repair with (the shape of a state-change event)."""
    detail: dict[str, Any] = {"ModelCardName": card.name, "AccountId": card.account, "Reason": reason}
    if status is not None:
        detail["ModelCardStatus"] = status.value
    return {
        "version": "0",
        "id": event_id,
        "detail-type": DETAIL_TYPE,
        "source": RECONCILER_SOURCE,
        "account": card.account,
        "time": time,
        "region": card.region,
        "resources": [card.arn],
        "detail": detail,
    }
