"""Items produced in a thread of their own and handed over, in order, through a bounded queue.

The engine reads a stream ahead this way while it commits what it has (`read_ahead`), and the
sql source reflects several schemas at once (`connectors.sql.parallel`). At most `bound` items
wait in the queue; an error the producer meets is raised to the reader after the items produced
before it, as if the items were read in the reader's thread.

Items go over in chunks of up to `CHUNK` (fewer for a small bound): a queue's put and get
each take a lock and may wake the other thread, which, item by item, cost more than reading a
catalog row (a third of a no-change run over 20,000 SQLite tables).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

__all__ = ["CHUNK", "Handoff", "read_ahead"]

T = TypeVar("T")
CHUNK = 128


class _Failed:
    """What the producer hands over when reading raised."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _End:
    """What the producer hands over after its last item."""


_END = _End()


class Handoff(Generic[T]):
    """One producer's items on their way to one reader; `stop` tells the producer to give up
    (it is shared by every handoff of one reader)."""

    def __init__(self, bound: int, stop: threading.Event) -> None:
        # A small bound is kept item by item; a large one in chunks, eight of them or more.
        self._chunk = min(CHUNK, max(1, bound // 8))
        self._queue: queue.Queue[list[T] | _Failed | _End] = queue.Queue(
            maxsize=max(1, bound // self._chunk)
        )
        self._stop = stop

    def fill(self, items: Iterable[T]) -> None:
        """The producer's side: every item, then the end or the error met; `items` is closed
        (a generator's cleanup runs in the thread that ran it) whether or not it was read."""
        iterator = iter(items)
        chunk: list[T] = []
        try:
            for item in iterator:
                chunk.append(item)
                if len(chunk) >= self._chunk:
                    if not self._put(chunk):
                        return
                    chunk = []
                elif self._stop.is_set():
                    return
            if not chunk or self._put(chunk):
                self._put(_END)
        except BaseException as err:  # handed over as it is, after the items before it
            if not chunk or self._put(chunk):
                self._put(_Failed(err))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def drain(self) -> Iterator[T]:
        """The reader's side: the items, until the end; raises the error the producer met."""
        while not isinstance(chunk := self._queue.get(), _End):
            if isinstance(chunk, _Failed):
                raise chunk.error
            yield from chunk

    def _put(self, chunk: list[T] | _Failed | _End) -> bool:
        """Hand a chunk over, waiting while the queue is full; False once the reader stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(chunk, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False


def read_ahead(items: Iterable[T], *, bound: int, name: str) -> Iterator[T]:
    """`items`, read by a thread of their own (named `name`) up to `bound` ahead of the caller.

    When the caller stops early (an error, an interruption, `close()`), the producer stops at
    its next item and is waited for, so nothing reads the source once this has returned.
    """
    stop = threading.Event()
    handoff: Handoff[T] = Handoff(bound, stop)
    producer = threading.Thread(target=handoff.fill, args=(items,), name=name, daemon=True)
    producer.start()
    try:
        yield from handoff.drain()
    finally:
        stop.set()
        producer.join()
