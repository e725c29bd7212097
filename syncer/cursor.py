"""Cursor arithmetic: watermarks as text, the inclusive lower bound, and advancing.

Pure functions, so the policy is easy to see and test: the bound is `watermark - lookback`,
inclusive; records at the boundary come again and the fingerprints drop them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncer.steps import Cursor, CursorKind, CursorValue


class CursorValueError(ValueError):
    pass


def to_text(value: CursorValue, kind: CursorKind) -> str:
    if kind == "datetime":
        if not isinstance(value, datetime):
            raise CursorValueError(f"expected a datetime cursor value, got {value!r}")
        return _aware(value).isoformat()
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise CursorValueError(f"expected an integer cursor value, got {value!r}")
        return str(value)
    return str(value)


def from_text(text: str, kind: CursorKind) -> CursorValue:
    if kind == "datetime":
        return _aware(datetime.fromisoformat(text))
    if kind == "integer":
        return int(text)
    return text


def lower_bound(watermark: CursorValue | None, cursor: Cursor) -> CursorValue | None:
    """Where an incremental read starts: the watermark minus the lookback, inclusive."""
    if watermark is None or cursor.lookback is None:
        return watermark
    if isinstance(watermark, datetime):
        lookback = cursor.lookback
        if not isinstance(lookback, timedelta):
            lookback = timedelta(seconds=lookback)
        return watermark - lookback
    if isinstance(watermark, int) and isinstance(cursor.lookback, int):
        return watermark - cursor.lookback
    return watermark  # string cursors have no arithmetic; lookback does not apply


def later(a: CursorValue | None, b: CursorValue | None) -> CursorValue | None:
    """The higher of two cursor values (None is lower than anything)."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, datetime) and isinstance(b, datetime):
        return max(_aware(a), _aware(b))
    return max(a, b)  # type: ignore[type-var,unused-ignore]


def _aware(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC so that comparisons never mix naive and aware values.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
