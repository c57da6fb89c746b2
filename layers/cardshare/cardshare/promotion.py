"""The plan step of the promote-card workflow: validate its input, then converge one round."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cardshare.cards import AssociationReader, CardReader
from cardshare.convergence import Progress, Step, converge_round
from cardshare.events import CardEvent, InvalidEventError, parse_event
from cardshare.settings import Settings


def promote_round(
    payload: Mapping[str, Any], settings: Settings, cards: CardReader, shares: AssociationReader
) -> tuple[CardEvent, Step]:
    """Handle one workflow round.

    ``payload`` is ``{"event": <EventBridge event>, "progress": <previous round or null>,
    "execution": <execution ARN>}``. Raises :class:`InvalidEventError` for a malformed payload.
    """
    if not isinstance(payload, Mapping):
        raise InvalidEventError(f"payload: expected an object, got {type(payload).__name__}")
    event = parse_event(payload.get("event"), settings.account, settings.region)
    execution = payload.get("execution")
    if not isinstance(execution, str) or not execution:
        raise InvalidEventError("execution: missing (the workflow passes $$.Execution.Id)")
    progress_raw = payload.get("progress")
    if progress_raw is not None and not isinstance(progress_raw, Mapping):
        raise InvalidEventError("progress: expected an object or null")
    step = converge_round(
        event.card.arn,
        settings.ladder,
        cards,
        shares,
        Progress.from_dict(progress_raw),
        settings.limits,
        execution,
    )
    return event, step
