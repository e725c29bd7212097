"""Reading several keys' items at once, handing them over in key order.

The sql source reflects up to `concurrency` schemas at once: each in a worker thread (on its
own pooled connection), handing its tables over through a bounded queue, so that at most
`workers` keys, and `bound` items each, are in memory. The caller gets the keys in their given
order, so what it makes of the items is the same whatever the number of workers.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

from syncer.handoff import Handoff

__all__ = ["in_order"]

K = TypeVar("K")
T = TypeVar("T")
# What produces one key's items: a generator, so that a worker that stops early can close it.
Produce = Callable[[K], Generator[T, None, None]]


def in_order(
    keys: list[K], produce: Produce[K, T], *, workers: int, bound: int, name: str
) -> Iterator[tuple[K, Iterator[T]]]:
    """Each key with its items, in key order, up to `workers` keys produced at once (threads
    named after `name`). An error a key's producer raises is raised while its items are read,
    after the items produced before it, as if it were read in this thread.

    With one worker or fewer than two keys, every key is read in this thread, one after
    another. A key's items must be read (or left) before the next key is asked for."""
    if workers == 1 or len(keys) < 2:
        for key in keys:
            yield key, produce(key)
        return
    stop = threading.Event()
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    upcoming = iter(keys)
    in_flight: deque[tuple[K, Handoff[T], Future[None]]] = deque()

    def start(key: K) -> None:
        handoff: Handoff[T] = Handoff(bound, stop)
        in_flight.append((key, handoff, executor.submit(lambda: handoff.fill(produce(key)))))

    try:
        for key in islice(upcoming, workers):
            start(key)
        while in_flight:
            key, handoff, future = in_flight.popleft()
            items = handoff.drain()
            yield key, items
            for _ in items:  # whatever the caller left unread, so the worker can end
                pass
            future.result()  # the worker has ended: its connection is back in the pool
            for key in islice(upcoming, 1):
                start(key)
    finally:
        stop.set()  # a worker blocked on a full queue gives up, closing its producer
        executor.shutdown(wait=True, cancel_futures=True)
