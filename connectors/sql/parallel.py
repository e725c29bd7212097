"""Reading several keys' items at once, handing them over in key order.

The sql source reflects up to `concurrency` schemas at once: each in a worker thread (on its
own pooled connection), handing its tables over through a bounded queue, so that at most
`workers` keys, and `bound` items each, are in memory. The caller gets the keys in their given
order, so what it makes of the items is the same whatever the number of workers.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

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
    in_flight: deque[tuple[K, queue.Queue[T | _Failed | _End], Future[None]]] = deque()

    def start(key: K) -> None:
        # A worker's items, then `_END`, or the error it met.
        handoff: queue.Queue[T | _Failed | _End] = queue.Queue(maxsize=bound)
        in_flight.append((key, handoff, executor.submit(_fill, produce, key, handoff, stop)))

    try:
        for key in islice(upcoming, workers):
            start(key)
        while in_flight:
            key, handoff, future = in_flight.popleft()
            items = _drain(handoff)
            yield key, items
            for _ in items:  # whatever the caller left unread, so the worker can end
                pass
            future.result()  # the worker has ended: its connection is back in the pool
            for key in islice(upcoming, 1):
                start(key)
    finally:
        stop.set()  # a worker blocked on a full queue gives up, closing its producer
        executor.shutdown(wait=True, cancel_futures=True)


class _Failed:
    """What a worker hands over when its producer raised."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class _End:
    """What a worker hands over after its last item."""


_END = _End()


def _fill(
    produce: Produce[K, T], key: K, handoff: queue.Queue[T | _Failed | _End], stop: threading.Event
) -> None:
    """A worker: produces one key's items into `handoff`, then `_END`, or the error it met."""
    items = produce(key)
    try:
        for item in items:
            if not _put(handoff, item, stop):
                return
        _put(handoff, _END, stop)
    except Exception as err:
        _put(handoff, _Failed(err), stop)
    finally:
        items.close()


def _put(
    handoff: queue.Queue[T | _Failed | _End], item: T | _Failed | _End, stop: threading.Event
) -> bool:
    """Hand an item over, waiting while the queue is full; False once the reader stopped."""
    while not stop.is_set():
        try:
            handoff.put(item, timeout=0.1)
        except queue.Full:
            continue
        return True
    return False


def _drain(handoff: queue.Queue[T | _Failed | _End]) -> Iterator[T]:
    """The items a worker hands over, until its end; raises the error it met."""
    while not isinstance(item := handoff.get(), _End):
        if isinstance(item, _Failed):
            raise item.error
        yield item
