"""Time values read from records and written into request parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from syncer.connectors.rest import timefmt

MOMENT = datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("2024-05-01T10:00:00.123Z", "iso"),
        ("2024-05-01T12:00:00.123+02:00", "iso"),
        (1714557600.123, "epoch_s"),
        (1714557600123, "epoch_ms"),
        ("1714557600123", "epoch_ms"),
        ("01/05/2024 10:00:00.123000", "%d/%m/%Y %H:%M:%S.%f"),
    ],
)
def test_each_format_reads_as_the_same_aware_utc_moment(value: object, fmt: str) -> None:
    parsed = timefmt.parse(value, fmt)
    assert abs(parsed - MOMENT) < timedelta(microseconds=1000)
    assert parsed.tzinfo == UTC


def test_a_naive_time_is_taken_as_utc() -> None:
    assert timefmt.parse("2024-05-01T10:00:00", "iso") == MOMENT.replace(microsecond=0)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("iso", "2024-05-01T10:00:00.123000Z"),
        ("epoch_s", 1714557600),
        ("epoch_ms", 1714557600123),
        ("%Y-%m-%d", "2024-05-01"),
    ],
)
def test_a_watermark_renders_in_each_format_rounding_down(fmt: str, expected: object) -> None:
    assert timefmt.render(MOMENT, fmt) == expected


def test_a_watermark_in_another_zone_renders_in_utc() -> None:
    paris = MOMENT.astimezone(timezone(timedelta(hours=2)))
    assert timefmt.render(paris, "iso") == "2024-05-01T10:00:00.123000Z"


def test_millisecond_epochs_stay_exact_where_a_float_would_not() -> None:
    assert timefmt.render(timefmt.parse(1795495413102, "epoch_ms"), "epoch_ms") == 1795495413102


@pytest.mark.parametrize(
    ("value", "fmt"),
    [(True, "epoch_ms"), ("soon", "epoch_s"), (17, "iso"), ("2024/05/01", "%Y-%m-%d")],
)
def test_a_value_that_is_not_a_time_in_its_format_says_so(value: object, fmt: str) -> None:
    with pytest.raises(timefmt.TimeValueError, match="is not a"):
        timefmt.parse(value, fmt)


def test_a_format_that_is_neither_named_nor_strftime_is_refused() -> None:
    with pytest.raises(ValueError, match="use iso, epoch_s, epoch_ms or a strftime format"):
        timefmt.check_format("millis")
