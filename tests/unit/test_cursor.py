"""Cursor arithmetic: the inclusive lower bound, lookback, advancing, and watermarks as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from syncer.cursor import CursorValueError, from_text, later, lower_bound, to_text
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
