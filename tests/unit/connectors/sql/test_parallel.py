"""`parallel.in_order`: keys produced at once, handed over in key order, errors in place."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import pytest

from syncer.connectors.sql.parallel import in_order


class _Producer:
    """Three items per key, slower for earlier keys; `fail` raises after a key's first item."""

    def __init__(self, fail: int | None = None) -> None:
        self.fail = fail
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.closed: list[int] = []

    def __call__(self, key: int) -> Generator[str, None, None]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            for i in range(3):
                time.sleep(0.002 * (5 - key))
                if key == self.fail and i == 1:
                    raise OSError(f"key {key} failed")
                yield f"{key}.{i}"
        finally:
            with self.lock:
                self.running -= 1
                self.closed.append(key)


def _collect(workers: int, producer: _Producer) -> list[str]:
    out = []
    for key, items in in_order(list(range(5)), producer, workers=workers, bound=1, name="t"):
        try:
            out.extend(items)
        except OSError as err:
            out.append(f"{key}: {err}")
    return out


@pytest.mark.parametrize("workers", [2, 3, 8])
def test_items_come_in_key_order_with_an_error_after_the_items_before_it(workers: int) -> None:
    producer = _Producer(fail=2)
    assert _collect(workers, producer) == _collect(1, _Producer(fail=2))
    assert _collect(1, _Producer(fail=2))[6:8] == ["2.0", "2: key 2 failed"]
    assert 1 < producer.most <= workers


def test_one_worker_reads_every_key_in_this_thread() -> None:
    producer = _Producer()
    threads = set()
    for _, items in in_order([0, 1], producer, workers=1, bound=1, name="t"):
        for _ in items:
            threads.add(threading.current_thread().name)
    assert producer.most == 1
    assert threads == {threading.current_thread().name}


def test_items_left_unread_and_a_reader_that_stops_end_every_worker() -> None:
    producer = _Producer()
    reader = in_order(list(range(5)), producer, workers=3, bound=1, name="t")
    next(reader)  # the first key's items are left unread
    key, items = next(reader)
    assert key == 1 and next(items) == "1.0"
    reader.close()  # must not hang on workers blocked on a full queue
    assert producer.running == 0
