"""SIGINT and SIGTERM stop a run alike, and a stop whose exception was lost still stops it."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest

from syncer import interrupts


def _signal_self(number: int) -> None:
    os.kill(os.getpid(), number)
    time.sleep(1)  # the handler runs at the next bytecode; this is not reached


@pytest.mark.parametrize(
    ("number", "code", "reason"),
    [
        (signal.SIGINT, 130, "interrupted by the user"),
        (signal.SIGTERM, 143, "stopped by SIGTERM"),
    ],
)
def test_a_stop_signal_raises_keyboard_interrupt_and_is_remembered(
    number: int, code: int, reason: str
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with interrupts.stopping():
        with pytest.raises(KeyboardInterrupt):
            _signal_self(number)
        assert interrupts.received() == number
        assert interrupts.exit_code() == code
        assert interrupts.reason() == reason
    assert signal.getsignal(signal.SIGTERM) == before
    assert interrupts.received() is None


def test_a_stop_whose_exception_was_swallowed_stops_at_the_next_check() -> None:
    with interrupts.stopping():
        interrupts.check()  # nothing received: nothing happens
        # lost, as in a finalizer or in a cleanup that suppresses errors
        with contextlib.suppress(KeyboardInterrupt):
            _signal_self(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    interrupts.check()  # outside `stopping()`, nothing is remembered
