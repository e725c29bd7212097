"""How the templates show values: times, durations, JSON cells, page links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request

_CELL = 200  # characters of a value shown in a table cell; the entity page shows it whole


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def value(item: Any, whole: bool = False) -> str:
    """A field's value as JSON text (a string as it is), cut to a cell unless `whole`."""
    if item is None:
        return ""
    text = item if isinstance(item, str) else orjson.dumps(item, default=str).decode()
    return text if whole or len(text) <= _CELL else text[: _CELL - 1] + "…"


def pretty(item: Any) -> str:
    return orjson.dumps(item, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def with_query(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, item in changes.items():
        if item is None:
            params.pop(key, None)
        else:
            params[key] = str(item)
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


def link(path: str, **params: Any) -> str:
    """`path` with the given query parameters (None ones left out)."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when,
    "duration": duration,
    "value": value,
    "pretty": pretty,
}
