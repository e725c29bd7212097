"""The state store: one object over one state file, as the engine uses it.

A thin facade. Each concern lives in its own module of functions over the connection
(`runs`, `entities`, `changelog`, `deliveries`, `maintenance`); this class holds what they
share (the connection, the next seq, the open transaction) and decides which calls commit
together. Sinks never get it: they get `changelog` (read-only) or `state_file`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from syncer.state import changelog, deliveries, entities, identity, maintenance, runs, spool
from syncer.state.changelog import LogReader, StagingArea
from syncer.state.connection import connect, state_error, translating
from syncer.state.records import ChangeBatch, Counters
from syncer.state.rows import (
    Batch,
    DependencyRow,
    Known,
    Missing,
    StoredWatermark,
    ViolationRow,
    Watermark,
)


class StateStore:
    def __init__(
        self, connection: duckdb.DuckDBPyConnection, path: str, read_only: bool, *, version: str
    ) -> None:
        self.connection = connection
        self.path = path
        self.read_only = read_only
        self.version = version  # of the program writing: recorded on each run
        self._next_seq = 1 if read_only else maintenance.next_seq(connection)
        self._in_transaction = False
        self._changelog = LogReader(connection)
        self._state_file = StagingArea(connection)

    # --- opening --------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        version: str,
        read_only: bool = False,
        memory_limit: str | None = None,
    ) -> StateStore:
        """Open (and create, or migrate) the state file at `path`, or `:memory:`.

        `version` is the opening program's: written on each run and schema migration, and
        named when a file written by a newer one is refused.
        """
        where = str(path)
        connection = connect(where, version=version, read_only=read_only, memory_limit=memory_limit)
        try:
            return cls(connection, where, read_only, version=version)
        except BaseException:
            with suppress(duckdb.Error):
                connection.close()
            raise

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.connection.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
            self.connection.execute("COMMIT")
        except BaseException as exc:
            # Also when COMMIT itself failed or was interrupted: leave no transaction open.
            with suppress(duckdb.Error):
                self.connection.execute("ROLLBACK")
            translated = state_error(self.path, exc)  # a full disk, a damaged file
            if translated is not None and translated is not exc:
                raise translated from None
            raise
        finally:
            self._in_transaction = False

    @property
    def in_transaction(self) -> bool:
        """Whether a `transaction()` is open: none may be while a sink waits on the network."""
        return self._in_transaction

    @property
    def changelog(self) -> LogReader:
        """The change log, read-only: what every sink is handed."""
        return self._changelog

    @property
    def state_file(self) -> StagingArea:
        """The connection and staged change rows: only for a sink that writes into this file."""
        return self._state_file

    @property
    def state_id(self) -> str:
        """This file's id: a random uuid made with the file (schema v5), never changed. Sinks
        that keep their own record of what they wrote key it by this id and the workflow."""
        return identity.state_id(self.connection)

    # --- runs -----------------------------------------------------------------------------

    def start_run(self, workflow: str, mode: str, config_fingerprint: str, pid: int) -> int:
        with self.transaction():
            return runs.start(
                self.connection, workflow, mode, config_fingerprint, pid, self.version
            )

    def mark_crashed(self, workflow: str) -> list[int]:
        """Runs left `running` by a process that died; we hold the lock, so none is alive."""
        return runs.mark_crashed(self.connection, workflow)

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> None:
        runs.finish(self.connection, run_id, status, error)

    def record_streams(
        self, run_id: int, streams: Sequence[tuple[str, Counters, str | None]]
    ) -> None:
        runs.record_streams(self.connection, run_id, streams)

    def record_violations(
        self, run_id: int, workflow: str, violations: Sequence[ViolationRow]
    ) -> None:
        runs.record_violations(self.connection, run_id, workflow, violations)

    def run_counters(self, run_id: int) -> Counters:
        return runs.counters(self.connection, run_id)

    def watermark(self, workflow: str, stream: str) -> Watermark | None:
        return runs.watermark(self.connection, workflow, stream)

    def watermarks(self, workflow: str | None = None) -> list[StoredWatermark]:
        """Each stream's watermark (of one workflow, or of all) and the run that set it."""
        return runs.watermarks(self.connection, workflow)

    def reset_watermark(self, workflow: str, stream: str, value: str | None = None) -> bool:
        """Forget one stream's watermark, or with `value` set it (as set by hand); nothing else
        changes. False if the stream has none."""
        with self.transaction():
            if value is None:
                return runs.forget_watermark(self.connection, workflow, stream)
            return runs.set_watermark(self.connection, workflow, stream, value)

    # --- diff and commit ------------------------------------------------------------------

    def changed(
        self, workflow: str, stream: str, keys: list[str], fingerprints: list[str]
    ) -> dict[int, Known]:
        """What the state knows of the keys whose fingerprint differs from it, by position."""
        return entities.changed(self.connection, workflow, stream, keys, fingerprints)

    def same_digests(
        self, workflow: str, stream: str, keys: list[str], digests: list[str]
    ) -> set[int]:
        """The positions of the keys whose live entity holds this raw digest: records that
        need not be mapped again."""
        return entities.same_digests(self.connection, workflow, stream, keys, digests)

    def carry_over(self, workflow: str, origins: Sequence[str]) -> dict[str, int]:
        """Mark seen what `origins` gave last time (see `entities.carry_over`); how many, by
        stream."""
        return entities.carry_over(self.connection, workflow, origins)

    def forget_seen(self) -> None:
        """Start a run's record of keys read (a temp table: it never reaches the file)."""
        entities.forget_seen(self.connection)

    def mark_seen(self, stream: str, keys: Sequence[str]) -> None:
        entities.mark_seen(self.connection, stream, keys)

    def live_counts(self, workflow: str) -> dict[str, int]:
        """How many live entities each stream of a workflow holds."""
        return entities.live_counts(self.connection, workflow)

    def unseen(
        self, workflow: str, stream: str, under: Collection[str] | None = None
    ) -> list[Missing]:
        """The live entities of a stream that this run did not read; with `under`, only those
        that depend on one of these keys (a cascade reads no more)."""
        return entities.unseen(self.connection, workflow, stream, under)

    def commit(self, batch: Batch) -> list[int]:
        """Write a batch's entities, change rows, watermark and counters atomically; the seqs."""
        with self.transaction():
            seqs = entities.write(self.connection, batch, self._next_seq)
        self._next_seq += len(seqs)  # only once committed: a failed batch leaves no gap
        return seqs

    def orphans(self, workflow: str) -> list[tuple[str, str, str]]:
        """Live entities that depend on a key no workflow of the state holds: (type, key,
        missing key)."""
        return entities.orphans(self.connection, workflow)

    def entities_without_dependencies(self, limit: int) -> list[DependencyRow]:
        """Entities stored before their dependencies were (schema v4), for the engine to
        compute them; none once `set_dependencies` has stored them all."""
        return entities.without_dependencies(self.connection, limit)

    def set_dependencies(self, rows: Sequence[tuple[str, str, str, list[str]]]) -> None:
        """Store computed dependencies: (workflow, stream, key, depends_on) rows."""
        entities.set_dependencies(self.connection, rows)

    # --- scratch space --------------------------------------------------------------------

    def spool(
        self, name: str, rows: Mapping[str, Sequence[Any]], types: Mapping[str, str] | None = None
    ) -> None:
        """Park rows (columns by name, one of them `key`; VARCHAR unless `types` says
        otherwise) in a temp table until `spooled` takes them."""
        spool.put(self.connection, name, rows, types)

    def spooled(self, name: str, size: int) -> Iterator[list[tuple[Any, ...]]]:
        """The parked rows in pages of `size`, the last of each key only, each a tuple in the
        order its columns were put; then they are gone."""
        return spool.take(self.connection, name, size)

    # --- delivery -------------------------------------------------------------------------

    def offset(self, workflow: str, sink: str) -> int:
        return deliveries.offset(self.connection, workflow, sink)

    def ensure_sink(self, workflow: str, sink: str) -> None:
        """Give a sink its offset row before its first delivery, so its backlog shows."""
        deliveries.ensure_sink(self.connection, workflow, sink)

    def last_seq(self, workflow: str) -> int:
        return changelog.last_seq(self.connection, workflow)

    def changes_after(self, workflow: str, offset: int, upto: int, limit: int) -> ChangeBatch:
        return changelog.changes_after(self.connection, workflow, offset, upto, limit)

    def pending(self, workflow: str, sink: str) -> ChangeBatch:
        """The changes a sink refused and will be offered again (dead letters are not)."""
        return changelog.pending(self.connection, workflow, sink)

    def dead_letters(self, workflow: str, sink: str) -> list[int]:
        """The seqs of the changes a sink gave up on, in order."""
        return changelog.dead_letters(self.connection, workflow, sink)

    def dependencies(self, workflow: str, seqs: Sequence[int]) -> dict[int, tuple[str, list[str]]]:
        """Each change's key and its entity's dependencies, by seq (one query)."""
        return changelog.dependencies(self.connection, workflow, seqs)

    def record_delivery(
        self,
        workflow: str,
        sink: str,
        offset: int,
        delivered: Sequence[int],
        refused: dict[int, str],
        *,
        final: Sequence[int] = (),
        dead_letter_after: int | None = None,
    ) -> None:
        """Advance a sink's offset; clear what it took, remember what it refused.

        A refusal that is `final`, or one that reached `dead_letter_after` attempts, becomes a
        dead letter: kept and shown, but not offered again until `revive` is called. Call it
        inside `transaction()` so that all of it commits at once.
        """
        deliveries.record_delivery(
            self.connection,
            workflow,
            sink,
            offset,
            delivered,
            refused,
            final=final,
            dead_letter_after=dead_letter_after,
        )

    def revive(self, workflow: str, sink: str | None = None, seqs: Sequence[int] = ()) -> int:
        """Offer dead letters again on the next delivery; how many were revived."""
        with self.transaction():
            return deliveries.revive(self.connection, workflow, sink, seqs)

    def view_changes(self, name: str, seqs: Sequence[int]) -> None:
        """A temp view `name` over the change rows with these seqs (payload as JSON), for a
        sink in this file."""
        changelog.view_changes(self.connection, name, seqs)

    # --- maintenance ----------------------------------------------------------------------

    def workflows(self) -> list[str]:
        return maintenance.workflows(self.connection)

    def prune(self, workflow: str, before: datetime) -> tuple[int, int]:
        """Forget a workflow's history from runs that started before `before`: (changes, runs).

        Kept whatever its age: anything a sink has not yet taken or refused, the workflow's
        latest run, and of each key its latest change and the latest that every sink has taken.
        """
        with self.transaction():
            maintenance.remember_high_water(self.connection, self._next_seq - 1)
            return maintenance.prune(self.connection, workflow, before)

    def reset(self, workflow: str, along: Callable[[], object] | None = None) -> None:
        """Forget a workflow: its entities, changes, watermarks, deliveries and runs. `along`
        runs in the same transaction: sinks that keep rows of their own in this file (the
        embedded catalog) forget theirs there, so that both go or neither does."""
        with self.transaction():
            maintenance.remember_high_water(self.connection, self._next_seq - 1)
            maintenance.reset(self.connection, workflow)
            if along is not None:
                along()


# Every call meets DuckDB's errors about the file itself (a damaged block, a full disk) as the
# `StateError` that says what to do, wherever in a run they surface; other errors pass as they are.
for _name, _member in list(vars(StateStore).items()):
    if inspect.isfunction(_member) and (_name == "__init__" or not _name.startswith("_")):
        setattr(StateStore, _name, translating(_member))
