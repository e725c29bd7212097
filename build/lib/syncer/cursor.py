"""Cursor arithmetic: watermarks as text, the inclusive lower bound, advancing, and the limit.

Pure functions, so the policy is easy to see and test: the bound is `watermark - lookback`,
inclusive; records at the boundary come again and the fingerprints drop them. A time cursor's
watermark never passes the run's start plus a tolerance (`limit`): a record stamped beyond it
(a typo such as 2099, a source whose clock ran ahead) is synced, but does not move the
watermark, so that later changes stamped with the right time are not skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncer.steps import Cursor, CursorKind, CursorUnit, CursorValue

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STEPS: dict[CursorUnit, timedelta] = {
    "epoch_s": timedelta(seconds=1),
    "epoch_ms": timedelta(milliseconds=1),
}


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


def limit(start: datetime, cursor: Cursor, tolerance: timedelta) -> CursorValue | None:
    """The highest value a watermark may take in a run that started at `start`, in the
    cursor's own terms; None for a cursor that is not a time (a sequence, a string)."""
    ceiling = _aware(start) + tolerance
    if cursor.kind == "datetime":
        return ceiling
    if cursor.kind == "integer" and cursor.unit is not None:
        # Integer arithmetic: a float would be off by one millisecond now and then.
        return (ceiling - EPOCH) // _STEPS[cursor.unit]
    return None


def beyond(value: CursorValue | None, ceiling: CursorValue | None) -> bool:
    """Whether a cursor value is past the limit (never, without a limit or a value)."""
    if value is None or ceiling is None:
        return False
    if isinstance(value, datetime) and isinstance(ceiling, datetime):
        return _aware(value) > ceiling
    if isinstance(value, int) and not isinstance(value, bool) and isinstance(ceiling, int):
        return value > ceiling
    return False


def shown(value: CursorValue, cursor: Cursor) -> str:
    """A cursor value for a message: an epoch count with the time it stands for."""
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if isinstance(value, int) and cursor.unit is not None:
        try:
            return f"{value} ({(EPOCH + value * _STEPS[cursor.unit]).isoformat()})"
        except OverflowError:
            return str(value)
    return str(value)


def _aware(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC so that comparisons never mix naive and aware values.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
