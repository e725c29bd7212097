"""Reading ahead in a thread of its own: the same items, in the same order, the same errors,
and nothing read once the reader stopped."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from syncer.handoff import read_ahead

# Small bounds go item by item, large ones in chunks (`syncer.handoff.CHUNK`).
BOUNDS = [7, 10, 5000]


@pytest.mark.parametrize("bound", BOUNDS)
def test_items_come_in_order_from_another_thread(bound: int) -> None:
    threads: set[str] = set()

    def produce() -> Iterator[int]:
        for i in range(1000):
            threads.add(threading.current_thread().name)
            yield i

    assert list(read_ahead(produce(), bound=bound, name="read-test")) == list(range(1000))
    assert threads == {"read-test"}


@pytest.mark.parametrize("bound", BOUNDS)
def test_an_error_is_raised_after_the_items_read_before_it(bound: int) -> None:
    def produce() -> Iterator[int]:
        yield from range(300)
        raise ValueError("the catalog went away")

    got: list[int] = []
    with pytest.raises(ValueError, match="went away"):
        for item in read_ahead(produce(), bound=bound, name="read-test"):
            got.append(item)
    assert got == list(range(300))


def test_a_reader_that_stops_early_stops_and_closes_the_producer() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def produce() -> Iterator[int]:
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    items = read_ahead(produce(), bound=5, name="read-test")
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()  # as the engine does when a stream stops

    assert closed.is_set()
    assert len(produced) <= 3 + 5 + 1  # what was read, what the queue held, one in hand
    assert not any(t.name == "read-test" for t in threading.enumerate())
