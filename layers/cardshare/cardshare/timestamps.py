"""AWS timestamps as epoch seconds, so events and card reads can be ordered against each other."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FRACTION = re.compile(r"\.(\d+)")


def epoch(value: object) -> float | None:
    """Seconds since the epoch of an ISO 8601 string (any fraction length, ``Z`` or offset) or datetime.

    None for anything else: ordering then falls back to the ledger's own order.
    """
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if not isinstance(value, str) or not value:
        return None
    # EventBridge detail times carry nanoseconds; Python parses at most microseconds.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), value.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
