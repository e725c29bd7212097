"""Time values as JSON APIs write them: ISO 8601, epoch seconds or milliseconds, or a strftime
format. Pure functions: a record's value becomes an aware UTC datetime (the engine's cursor
kind), and a watermark becomes what a request parameter expects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

# `iso`, `epoch_s`, `epoch_ms`, or a strftime format such as "%Y-%m-%d %H:%M:%S".
TimeFormat = str
NAMED_FORMATS: tuple[Literal["iso", "epoch_s", "epoch_ms"], ...] = ("iso", "epoch_s", "epoch_ms")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimeValueError(ValueError):
    """A value that does not read as a time in the configured format."""


def check_format(fmt: str) -> str:
    """`fmt` if it is a named format or a strftime format (it has a % directive)."""
    if fmt in NAMED_FORMATS or "%" in fmt:
        return fmt
    raise ValueError(
        f"{fmt!r} is not a time format; use iso, epoch_s, epoch_ms or a strftime format "
        "such as '%Y-%m-%d'"
    )


def parse(value: object, fmt: TimeFormat) -> datetime:
    """The aware UTC datetime a record's `value` stands for; naive times are taken as UTC."""
    if fmt in ("epoch_s", "epoch_ms"):
        number = _number(value)
        delta = timedelta(milliseconds=number) if fmt == "epoch_ms" else timedelta(seconds=number)
        return _EPOCH + delta
    if not isinstance(value, str):
        raise TimeValueError(f"{value!r} is not a {fmt} time (expected text)")
    try:
        parsed = datetime.fromisoformat(value) if fmt == "iso" else datetime.strptime(value, fmt)
    except ValueError:
        raise TimeValueError(f"{value!r} is not a {fmt} time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def render(moment: datetime, fmt: TimeFormat) -> str | int:
    """`moment` as a request parameter in `fmt`; epochs round down, so a bound stays inclusive."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if fmt == "epoch_ms":
        return (moment - _EPOCH) // timedelta(milliseconds=1)
    if fmt == "epoch_s":
        return (moment - _EPOCH) // timedelta(seconds=1)
    if fmt == "iso":
        return moment.isoformat().replace("+00:00", "Z")
    return moment.strftime(fmt)


def _number(value: object) -> int | float:
    if isinstance(value, bool):
        raise TimeValueError(f"{value!r} is not an epoch time")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        # Integers stay exact: a float cannot hold every millisecond timestamp's digits.
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    raise TimeValueError(f"{value!r} is not an epoch time (expected a number)")
