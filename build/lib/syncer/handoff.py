"""Items produced in a thread of their own and handed over, in order, through a bounded queue.

The engine reads a stream ahead this way while it commits what it has (`read_ahead`), and the
sql source reflects several schemas at once (`connectors.sql.parallel`). At most `bound` items
wait in the queue; an error the producer meets is raised to the reader after the items produced
before it, as if the items were read in the reader's thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

__all__ = ["Handoff", "read_ahead"]

T = TypeVar("T")


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
        self._queue: queue.Queue[T | _Failed | _End] = queue.Queue(maxsize=bound)
        self._stop = stop

    def fill(self, items: Iterable[T]) -> None:
        """The producer's side: every item, then the end or the error met; `items` is closed
        (a generator's cleanup runs in the thread that ran it) whether or not it was read."""
        iterator = iter(items)
        try:
            for item in iterator:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as err:  # handed over as it is: the reader decides
            self._put(_Failed(err))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def drain(self) -> Iterator[T]:
        """The reader's side: the items, until the end; raises the error the producer met."""
        while not isinstance(item := self._queue.get(), _End):
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def _put(self, item: T | _Failed | _End) -> bool:
        """Hand an item over, waiting while the queue is full; False once the reader stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
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
