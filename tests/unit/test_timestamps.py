"""timestamps.epoch: AWS times (events, DescribeModelCard) as comparable epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cardshare.timestamps import epoch

BASE = datetime(2022, 12, 3, 0, 9, 44, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2022-12-03T00:09:44Z", BASE, id="z"),
        pytest.param("2022-12-03T00:09:44+00:00", BASE, id="utc-offset"),
        pytest.param("2022-12-03T01:09:44+01:00", BASE, id="positive-offset"),
        pytest.param("2022-12-02T19:09:44-05:00", BASE, id="negative-offset"),
        pytest.param("2022-12-03T00:09:44", BASE, id="naive-is-utc"),
        pytest.param("2022-12-03T00:09:44.5Z", BASE + 0.5, id="one-digit-fraction"),
        pytest.param("2022-12-03T00:09:44.084Z", BASE + 0.084, id="milliseconds"),
        pytest.param("2022-12-03T00:09:44.893854Z", BASE + 0.893854, id="microseconds"),
        pytest.param("2022-12-03T00:09:44.893854735Z", BASE + 0.893854, id="nanoseconds-cut"),
        pytest.param("2022-12-03T00:09:44.893854999Z", BASE + 0.893854, id="nanoseconds-not-rounded"),
        pytest.param("2022-12-03T02:09:44.893854735+02:00", BASE + 0.893854, id="nanoseconds-and-offset"),
        pytest.param("  2022-12-03T00:09:44Z ", BASE, id="padded"),
    ],
)
def test_iso_strings(text: str, expected: float) -> None:
    assert epoch(text) == pytest.approx(expected, abs=1e-6)


def test_nanoseconds_keep_the_order_of_close_events() -> None:
    earlier = epoch("2022-12-03T00:09:44.000001999Z")
    later = epoch("2022-12-03T00:09:44.000002000Z")
    assert earlier is not None
    assert later is not None
    assert earlier < later


def test_the_same_instant_in_two_spellings_is_equal() -> None:
    assert epoch("2026-11-28T09:00:00Z") == epoch("2026-11-28T10:00:00+01:00") == epoch("2026-11-28T09:00:00.000Z")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(datetime(2022, 12, 3, 0, 9, 44, tzinfo=UTC), BASE, id="aware-utc"),
        pytest.param(datetime(2022, 12, 3, 3, 9, 44, tzinfo=timezone(timedelta(hours=3))), BASE, id="aware-offset"),
        pytest.param(datetime(2022, 12, 3, 0, 9, 44), BASE, id="naive-is-utc"),
        pytest.param(datetime(2022, 12, 3, 0, 9, 44, 893854, tzinfo=UTC), BASE + 0.893854, id="microseconds"),
    ],
)
def test_datetimes(value: datetime, expected: float) -> None:
    # boto3 hands DescribeModelCard's LastModifiedTime over as an aware datetime.
    assert epoch(value) == pytest.approx(expected, abs=1e-6)


def test_an_event_string_and_the_cards_datetime_compare() -> None:
    from_event = epoch("2022-12-03T00:09:44.893854735Z")
    from_card = epoch(datetime(2022, 12, 3, 0, 9, 44, 893854, tzinfo=UTC))
    assert from_event == from_card


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "yesterday",
        "2022-13-03T00:09:44Z",
        "2022-12-03T25:09:44Z",
        "2022-12-03T00:09:44+25:00",
        "03/12/2022 00:09",
        "1670026184",
        1670026184,
        1670026184.5,
        True,
        b"2022-12-03T00:09:44Z",
        ["2022-12-03T00:09:44Z"],
        {"time": "2022-12-03T00:09:44Z"},
    ],
)
def test_anything_else_is_none(value: object) -> None:
    assert epoch(value) is None
