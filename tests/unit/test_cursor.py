"""Cursor arithmetic: the inclusive lower bound, lookback, advancing, watermarks as text, and
the limit a time cursor's watermark never passes (the run's start plus a tolerance)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from syncer.cursor import (
    CursorValueError,
    beyond,
    from_text,
    later,
    limit,
    lower_bound,
    shown,
    to_text,
)
from syncer.steps import Cursor, CursorKind, CursorValue

NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_without_lookback_the_lower_bound_is_the_watermark_itself() -> None:
    assert lower_bound(NOON, Cursor("updated_at")) == NOON
    assert lower_bound(42, Cursor("id", kind="integer")) == 42


def test_a_first_read_has_no_lower_bound() -> None:
    assert lower_bound(None, Cursor("updated_at", lookback=timedelta(hours=1))) is None


def test_a_datetime_lookback_moves_the_bound_back() -> None:
    cursor = Cursor("updated_at", lookback=timedelta(minutes=5))
    assert lower_bound(NOON, cursor) == datetime(2024, 5, 1, 11, 55, tzinfo=UTC)


def test_an_integer_lookback_on_a_datetime_cursor_counts_seconds() -> None:
    assert lower_bound(NOON, Cursor("updated_at", lookback=90)) == NOON - timedelta(seconds=90)


def test_an_integer_lookback_moves_an_integer_bound_back() -> None:
    assert lower_bound(1000, Cursor("id", kind="integer", lookback=10)) == 990


def test_a_string_cursor_ignores_lookback() -> None:
    assert lower_bound("2024-05", Cursor("month", kind="string", lookback=3)) == "2024-05"


def test_later_picks_the_higher_value_and_treats_none_as_lowest() -> None:
    assert later(None, None) is None
    assert later(None, 5) == 5
    assert later(5, None) == 5
    assert later(3, 7) == 7
    assert later("b", "a") == "b"
    assert later(NOON, NOON - timedelta(days=1)) == NOON


def test_later_compares_naive_datetimes_as_utc() -> None:
    naive = datetime(2024, 5, 1, 13, 0)
    assert later(NOON, naive) == naive.replace(tzinfo=UTC)
    plus_two = datetime(2024, 5, 1, 13, 0, tzinfo=timezone(timedelta(hours=2)))  # 11:00 UTC
    assert later(NOON, plus_two) == NOON


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (NOON, "datetime"),
        (datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-3))), "datetime"),
        (0, "integer"),
        (-5, "integer"),
        (2**62, "integer"),
        ("2024-05-01/abc", "string"),
    ],
)
def test_a_watermark_survives_a_text_round_trip(value: CursorValue, kind: CursorKind) -> None:
    assert from_text(to_text(value, kind), kind) == value


def test_a_naive_datetime_is_stored_as_utc() -> None:
    text = to_text(datetime(2024, 5, 1, 12, 0), "datetime")
    assert text == "2024-05-01T12:00:00+00:00"
    assert from_text(text, "datetime") == NOON


@pytest.mark.parametrize(
    ("value", "kind"), [("2024-05-01", "datetime"), ("7", "integer"), (True, "integer")]
)
def test_a_value_of_the_wrong_kind_is_refused(value: CursorValue, kind: CursorKind) -> None:
    with pytest.raises(CursorValueError, match=r"expected an? "):
        to_text(value, kind)


# --- the limit: a watermark never passes the run's start plus the tolerance -------------------

FIVE_MINUTES = timedelta(minutes=5)
NOON_MS = 1714564800000  # NOON in milliseconds since the epoch
EPOCH_MS = Cursor("timestamp", kind="integer", unit="epoch_ms")
EPOCH_S = Cursor("at", kind="integer", unit="epoch_s")


def test_a_datetime_cursor_is_limited_to_the_start_plus_the_tolerance() -> None:
    assert limit(NOON, Cursor("updated_at"), FIVE_MINUTES) == NOON + FIVE_MINUTES
    assert limit(NOON, Cursor("updated_at"), timedelta(0)) == NOON


def test_a_naive_start_is_taken_as_utc() -> None:
    assert limit(datetime(2024, 5, 1, 12, 0), Cursor("updated_at"), timedelta(0)) == NOON


def test_an_epoch_cursor_is_limited_in_its_own_unit_exactly() -> None:
    assert limit(NOON, EPOCH_MS, FIVE_MINUTES) == NOON_MS + 300_000
    assert limit(NOON, EPOCH_S, FIVE_MINUTES) == NOON_MS // 1000 + 300
    # integer arithmetic: no millisecond lost to a float
    odd = NOON + timedelta(microseconds=999_999)
    assert limit(odd, EPOCH_MS, timedelta(0)) == NOON_MS + 999


@pytest.mark.parametrize(
    "cursor", [Cursor("seq", kind="integer"), Cursor("month", kind="string")], ids=str
)
def test_a_cursor_that_is_not_a_time_has_no_limit(cursor: Cursor) -> None:
    assert limit(NOON, cursor, FIVE_MINUTES) is None
    assert not beyond(10**18, None) and not beyond("9999-12", None)


def test_a_value_is_beyond_only_when_strictly_past_the_limit() -> None:
    ceiling = NOON + FIVE_MINUTES
    assert beyond(datetime(2099, 1, 1, tzinfo=UTC), ceiling)
    assert beyond(ceiling + timedelta(microseconds=1), ceiling)
    assert not beyond(ceiling, ceiling)
    assert not beyond(NOON - timedelta(days=365), ceiling)
    assert not beyond(None, ceiling)
    assert beyond(NOON_MS + 1, NOON_MS) and not beyond(NOON_MS, NOON_MS)


def test_a_naive_value_is_compared_as_utc() -> None:
    assert beyond(datetime(2024, 5, 1, 12, 0, 1), NOON)
    assert not beyond(datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))), NOON)


def test_values_of_another_kind_than_the_limit_are_never_beyond_it() -> None:
    assert not beyond(10**18, NOON)
    assert not beyond(datetime(2099, 1, 1, tzinfo=UTC), NOON_MS)
    assert not beyond(True, 0)


def test_only_an_integer_cursor_takes_a_unit() -> None:
    with pytest.raises(TypeError, match="only an integer cursor takes a unit"):
        Cursor("updated_at", kind="datetime", unit="epoch_ms")


def test_an_epoch_value_is_shown_with_the_time_it_stands_for() -> None:
    assert shown(NOON_MS, EPOCH_MS) == f"{NOON_MS} (2024-05-01T12:00:00+00:00)"
    assert shown(NOON_MS // 1000, EPOCH_S) == f"{NOON_MS // 1000} (2024-05-01T12:00:00+00:00)"
    assert shown(10**30, EPOCH_MS) == str(10**30)  # past any date: just the number
    assert shown(7, Cursor("seq", kind="integer")) == "7"
    assert shown(datetime(2024, 5, 1, 12, 0), Cursor("updated_at")) == NOON.isoformat()
