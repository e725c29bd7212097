"""Stopping a run: Ctrl-C (SIGINT), and SIGTERM, which `timeout`, systemd, cron and Kubernetes
send to stop a job.

`syncer run` handles both alike inside `stopping()`: the signal raises `KeyboardInterrupt`
where the program is (mid-query DuckDB turns it into its own error, which
`state.interrupted` recognises), the batch in flight is rolled back, and the run is recorded as
`interrupted`. The exit code tells the signals apart: 130 for SIGINT, 143 for SIGTERM.

An exception raised by a signal handler can be lost: Python drops one raised inside a finalizer
(`__del__`, a generator being closed), and cleanup code that suppresses an error (DuckDB's
unregister, a rollback) may suppress it too. So the signal is also remembered, and the engine
calls `check()` between batches and between a sink's requests: a stop that was requested but
did not stop the run raises there again.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: int | None = None  # the first stop signal received inside `stopping()`


@contextmanager
def stopping() -> Iterator[None]:
    """SIGINT and SIGTERM stop the program as Ctrl-C does, and are remembered until the block
    ends (`received`, `exit_code`). Outside the main thread (where no handler can be set) the
    block runs as it is."""
    global _received
    _received = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        _received = None


def _stop(number: int, frame: FrameType | None) -> None:
    global _received
    if _received is None:
        _received = number
    raise KeyboardInterrupt


def received() -> int | None:
    """The stop signal received inside `stopping()`, if any."""
    return _received


def check() -> None:
    """Raise `KeyboardInterrupt` if a stop signal was received: for the points between batches
    and requests where a run can stop cleanly even if the signal's own exception was lost."""
    if _received is not None:
        raise KeyboardInterrupt


def reason() -> str:
    """Why the run stopped, as recorded with it."""
    if _received is None or _received == signal.SIGINT:
        return "interrupted by the user"
    return f"stopped by {signal.Signals(_received).name}"


def exit_code() -> int:
    """The shell's convention, 128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + (_received or signal.SIGINT)
