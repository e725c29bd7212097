"""The state the web view shows: a private copy of the state file, taken while no run holds it.

Why a copy rather than opening the file per request: DuckDB lets one process write a file or
many read it, never both, so a reader that holds the file while a page renders would make a
`syncer run` starting at that moment fail. The copy is taken only when the file changed since
the last one, after `syncer.fleet.read_file` found it free (it holds the file read-only for
as long as its few queries take); every page then reads the copy, and the state file itself is
never held while pages render. While a run holds the file, pages show the last copy (the last
finished state) and say so; with no copy yet, the summary the last run left beside the file.

The copy is checked after it is taken: if the file (or its write-ahead log) changed while it
was copied, a run started meanwhile, and the copy is thrown away.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from syncer import fleet
from syncer.errors import StateError
from syncer.state import StateStore
from syncer.statefile import open_state

Signature = tuple[tuple[int, int] | None, tuple[int, int] | None]  # (mtime_ns, size) of each


@dataclass(frozen=True, slots=True)
class Copy:
    """A copy of the state file, open read-only."""

    store: StateStore
    taken_at: datetime
    # Requests run in a thread pool; each takes a cursor of its own, made one at a time.
    guard: threading.Lock = field(default_factory=threading.Lock, compare=False)


@dataclass(frozen=True, slots=True)
class View:
    """What a request reads: the copy (None until one could be taken), and why it may be
    behind the file (a run holds it, or it cannot be read)."""

    copy: Copy | None
    busy: str | None = None  # a run holds the file: the pages show the last finished state
    problem: str | None = None  # the file cannot be read: why, and what to do
    summary: fleet.FileStatus | None = None  # the last run's summary, while busy

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own on the copy, for one request's thread."""
        if self.copy is None:
            raise StateError(self.problem or self.busy or "no state to show yet")
        with self.copy.guard:
            cursor = self.copy.store.connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


class Snapshots:
    """Keeps a copy of the state file at `source` in a private folder, refreshed when the file
    changed and no run holds it; at most one refresh every `interval` seconds."""

    def __init__(self, source: Path, *, interval: float = 2.0) -> None:
        self.source = source
        self.interval = interval
        self._folder = Path(tempfile.mkdtemp(prefix="syncer-ui-"))
        self._lock = threading.Lock()
        self._view = View(None)
        self._signature: Signature | None = None
        self._checked = -float("inf")
        self._retired: list[StateStore] = []
        self._taken = 0

    def view(self) -> View:
        """The state to show now, refreshed first if the file changed and the time has come."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.interval or self._view.copy is None:
                self._checked = now
                if signature(self.source) != self._signature or self._view.copy is None:
                    self._refresh()
            return self._view

    def close(self) -> None:
        with self._lock:
            for store in [*self._retired, *([self._view.copy.store] if self._view.copy else [])]:
                store.close()
            self._retired.clear()
            self._view = View(None)
            shutil.rmtree(self._folder, ignore_errors=True)

    def _refresh(self) -> None:
        before = signature(self.source)
        if before[0] is None:
            self._view = View(
                self._view.copy,
                problem=f"no state file at {self.source}: run `syncer run CONFIG` first, "
                "or pass --state",
            )
            return
        status = fleet.read_file(self.source)
        if status.access == "busy":
            self._view = View(self._view.copy, busy=status.reason, summary=status)
            return
        if status.access == "unreadable":
            self._view = View(self._view.copy, problem=status.reason)
            return
        taken = self._copy()
        if signature(self.source) != before:  # a run began while it was copied
            shutil.rmtree(taken.parent, ignore_errors=True)
            self._view = View(self._view.copy, busy=f"a run began writing {self.source}")
            return
        try:
            store = open_state(taken, read_only=True)
        except StateError as exc:  # a schema this syncer does not read: said of the file itself
            shutil.rmtree(taken.parent, ignore_errors=True)
            problem = str(exc).replace(str(taken), str(self.source))
            self._view = View(self._view.copy, problem=problem)
            return
        self._retire()
        self._view = View(Copy(store, datetime.now(UTC)))
        self._signature = before

    def _copy(self) -> Path:
        self._taken += 1
        folder = self._folder / str(self._taken)
        folder.mkdir()
        target = folder / self.source.name
        shutil.copyfile(self.source, target)
        wal = _wal(self.source)
        if wal.exists():  # left by a run that crashed: DuckDB replays it on opening the copy
            shutil.copyfile(wal, _wal(target))
        return target

    def _retire(self) -> None:
        """Close the copy before last: a request may still be reading the last one."""
        for store in self._retired:
            store.close()
            shutil.rmtree(Path(store.path).parent, ignore_errors=True)
        self._retired = [self._view.copy.store] if self._view.copy else []


def signature(path: Path) -> Signature:
    """What changes when a run writes the file: its and its write-ahead log's time and size."""
    return _stat(path), _stat(_wal(path))


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_mtime_ns, found.st_size


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")
