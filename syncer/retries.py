"""HTTP retries since the process started, by what caused them: counted by `syncer.http`,
reported by `syncer.metrics` after every run. Apart from `syncer.http` so that reading them
does not import an HTTP client into a run that used none."""

from __future__ import annotations

import threading
from collections import Counter

# The statuses a request is retried on; every one is reported, zero included.
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})

_retries: Counter[str] = Counter()
_lock = threading.Lock()


def count(status: int | None) -> None:
    """One retry, caused by `status` (None: no answer came)."""
    with _lock:
        _retries[str(status) if status is not None else "connection"] += 1


def by_status() -> dict[str, int]:
    """How many requests were retried since the process started, by the status that caused
    the retry (`"503"`), or `"connection"` when no answer came."""
    with _lock:
        return dict(_retries)
