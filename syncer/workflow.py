"""The engine loop: extract, transform, diff and commit each stream, detect deletions, deliver.

Connectors do not override this loop; they declare streams and yield records. Everything a
batch changes in the state is committed in one transaction, so a crash loses at most the batch
in flight and the next run redoes it without duplicates: the state decides what is new.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import structlog

from syncer import __version__, differ, fleet, interrupts, spool, topology
from syncer import cursor as cursors
from syncer.config import LoadedConfig
from syncer.delivery import DeliveryReport, deliver
from syncer.differ import Row
from syncer.errors import PolicyError, StateError, describe
from syncer.fingerprint import digest_of
from syncer.handoff import read_ahead
from syncer.models import Entity
from syncer.results import PlannedChange, Progress, RunResult, RunStatus, StreamState
from syncer.secrets import redact
from syncer.state import (
    Batch,
    ChangeRow,
    StateStore,
    ViolationRow,
    Watermark,
    interrupted,
)
from syncer.steps import (
    NOTICES_PER_STREAM,
    Counters,
    CursorValue,
    Either,
    Filtered,
    Flagged,
    Notice,
    Processor,
    ProcessorResult,
    Raw,
    Record,
    RecordError,
)
from syncer.sweep import Sweep

__all__ = ["PlannedChange", "Progress", "RunResult", "RunStatus", "Workflow"]

log = structlog.get_logger("syncer.workflow")

_BEYOND_WARNINGS = 10  # run warnings naming records stamped in the future, per stream


class Workflow:
    """One run of one workflow against a state store."""

    def __init__(
        self,
        config: LoadedConfig,
        store: StateStore,
        *,
        full_refresh: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.spec = config.spec
        self.store = store
        self.full_refresh = full_refresh
        self.dry_run = dry_run
        self.progress = progress
        self.run_id = 0
        self._result = RunResult(0, "succeeded", Counters(), {})
        self._live_before: dict[str, int] = {}
        self.started_at = datetime.now(UTC)  # no watermark passes it (plus the tolerance)
        self._salt = self._digest_salt()

    def _digest_salt(self) -> str | None:
        """What a raw record's digest is salted with: whatever its mapping depends on besides
        the record (syncer's version, the source's mapping version, the source's and
        processors' config). None turns the shortcut off: on a full refresh, which maps
        everything again, and when a processor looks beyond the record."""
        source, processors = self.config.source, self.config.processors
        if self.full_refresh or not all(p.record_only for p in processors):
            return None
        # Put before each digest as it is: a 64-bit prefix tells versions and configs apart,
        # and costs a string concatenation per record where hashing again cost ten times that.
        salt = digest_of(__version__, type(source).mapping_version, self.config.mapping_fingerprint)
        return salt[:16]

    @property
    def workflow(self) -> str:
        return self.spec.workflow

    @property
    def result(self) -> RunResult:
        """The run's result: whole once `run` returns, as far as it got if `run` raised."""
        return self._result

    def run(self) -> RunResult:
        result = self._result
        self.started_at = datetime.now(UTC)
        if not self.dry_run:
            for stale in self.store.mark_crashed(self.workflow):
                log.warning(
                    "an earlier run did not finish; its committed batches are kept", run_id=stale
                )
            mode = "full-refresh" if self.full_refresh else "incremental"
            self.run_id = self.store.start_run(
                self.workflow, mode, self.config.fingerprint, os.getpid()
            )
            result.run_id = self.run_id
        log.info("run started", workflow=self.workflow, run_id=self.run_id, dry_run=self.dry_run)
        try:  # an interruption anywhere below, cleanup and delivery included, is recorded
            try:
                self._extract()
            except Exception as exc:
                if interrupted(exc):
                    raise KeyboardInterrupt from None
                result.status = "failed"
                result.error = redact(describe(exc))
                log.error("run failed", error=result.error)
                if isinstance(exc, StateError):
                    self._state_failed(exc)
            finally:
                self.config.source.close()
                for processor in self.config.processors:
                    processor.close()
            if result.status != "failed" and result.counters.errors:
                result.status = "partial"
            if not self.dry_run:
                interrupts.check()
                # The run stays `running` until every sink's delivery has ended, so that one
                # killed while sinks drain is found `crashed` by the next run.
                result.deliveries = deliver(self.store, self.workflow, self.config.sinks)
                self._record_sink_failures(result)
                self.store.finish_run(self.run_id, result.status, result.error)
                fleet.leave_summary(self.store, self.workflow, self.run_id)
        except KeyboardInterrupt:
            self._interrupted()
        return result

    def _state_failed(self, exc: StateError) -> NoReturn:
        """The state file itself failed (a full disk, a damaged block): nothing is delivered, the
        run is recorded as failed if the file still takes that, and the state's error stops the
        command (with its own exit code). A failed batch left nothing behind in the file."""
        if not self.dry_run:
            try:
                self.store.finish_run(self.run_id, "failed", self._result.error)
            except StateError:
                raise type(exc)(
                    f"{exc}; the run could not be recorded as failed either: the next run marks "
                    "it crashed"
                ) from None
        raise exc

    def _interrupted(self) -> NoReturn:
        """Ctrl-C or SIGTERM (DuckDB turns it into its own exception mid-query): committed
        batches and acknowledged deliveries stay, and the next run carries on from them."""
        if not self.dry_run:
            self.store.finish_run(self.run_id, "interrupted", interrupts.reason())
            fleet.leave_summary(self.store, self.workflow, self.run_id)
        raise KeyboardInterrupt

    def _record_sink_failures(self, result: RunResult) -> None:
        """A sink that could not take its changes, or refused some (dead letters included), or
        held some back behind a refused one, makes the run partial: they wait for the next."""
        problems = [_sink_problem(r) for r in result.deliveries]
        found = [p for p in problems if p]
        if not found or result.status == "failed":
            return
        result.status = "partial"
        result.error = "; ".join(found)

    # --- extraction -------------------------------------------------------------------------

    def _extract(self) -> None:
        self.store.forget_seen()
        # Deletion shares are taken over what existed before this run, as `plan` sees it.
        self._live_before = self.store.live_counts(self.workflow)
        streams = topology.order_streams(self.config.source.streams())
        derived = {s.entity_type: StreamState(s) for s in streams if s.derived}
        states: list[StreamState] = []
        for stream in streams:
            if stream.derived:
                continue
            state = StreamState(stream)
            states.append(state)
            self._sync(state, self._read(state), derived)
        for state in derived.values():
            self._sync_derived(state)
            states.append(state)
        self._detect_deletions(states)
        self._check_topology()
        self._record(states)

    def _record(self, states: list[StreamState]) -> None:
        for state in states:
            self._result.streams[state.stream.name] = state.counters
            self._result.violations.extend(state.violations)
        if not self.dry_run:
            self.store.record_streams(
                self.run_id, [(s.stream.name, s.counters, s.note) for s in states]
            )
            self.store.record_violations(self.run_id, self.workflow, self._result.violations)
        failing = sum(v.action == "fail" for v in self._result.violations)
        if failing:
            raise PolicyError(
                f"{failing} entities broke rules whose action is fail and were kept out; "
                f"list them with `syncer violations --run {self.run_id}`"
            )

    def _read(self, state: StreamState) -> Iterator[Record]:
        stream = state.stream
        since: CursorValue | None = None
        mark = self.store.watermark(self.workflow, stream.name) if stream.cursor else None
        state.stored = mark
        if stream.cursor is not None:
            tolerance = timedelta(seconds=self.spec.cursors.future_tolerance_seconds)
            state.ceiling = cursors.limit(self.started_at, stream.cursor, tolerance)
        if stream.cursor is not None and mark is not None:
            stored = cursors.from_text(mark.value, stream.cursor.kind)
            if cursors.beyond(stored, state.ceiling):
                self._warn(
                    f"stream {stream.name}: its watermark {mark.value} is beyond this run's "
                    "start plus cursors.future_tolerance_seconds; "
                    + (
                        "this full refresh recomputes it from what it reads"
                        if self.full_refresh
                        else "changes stamped before it are not read: run once with "
                        f"--full-refresh, or `syncer state reset --stream {stream.name}`"
                    )
                )
            # An incremental read starts from the stored watermark and never moves it back; a
            # full refresh recomputes it from what it reads, so it may move back (which repairs
            # one that a record stamped in the future pushed too far).
            if not self.full_refresh:
                state.high = stored
                since = cursors.lower_bound(stored, stream.cursor)
        log.info("reading stream", stream=stream.name, since=str(since) if since else None)
        assert stream.read is not None, "derived streams are not read"
        records = iter(stream.read(since))
        if not stream.read_ahead:
            return records
        return read_ahead(records, bound=self.spec.batch_size, name=f"read-{stream.name}")

    def _sync(
        self, state: StreamState, records: Iterator[Record], derived: dict[str, StreamState]
    ) -> None:
        try:
            for item in records:
                if isinstance(item, Notice):
                    self._notice(state, item)
                elif not isinstance(item, Raw):
                    self._resolve(state, derived)  # records are taken in the order they came
                    self._take(item, state, derived)
                elif self._salt is None:
                    self._take(item.build(), state, derived)
                else:
                    state.pending.append(item)
                    if len(state.pending) >= self.spec.batch_size:
                        self._resolve(state, derived)
        finally:  # a reader ahead stops reading when the stream stops, whatever stopped it
            close = getattr(records, "close", None)
            if close is not None:
                close()
        self._resolve(state, derived)
        self._flush(state, final=True)

    def _take(
        self,
        item: Either,
        state: StreamState,
        derived: dict[str, StreamState],
        raw_digest: str | None = None,
    ) -> None:
        """One record read (or mapped from a raw one): processed, its relationships routed, and
        its row added to the batch, which is committed once full."""
        if isinstance(item, RecordError):
            state.unflushed.errors += 1
            log.warning(
                "record failed",
                stream=state.stream.name,
                record=item.record,
                reason=redact(item.reason),
            )
            return
        state.unflushed.scanned += 1
        entity = self._process(item, state)
        if entity is not None:
            for other in self.config.source.relationships(entity):
                self._route(other, derived, state, entity.key)
            state.rows.append(differ.row_of(entity, state.stream, raw_digest))
        self._tick(state, derived)

    def _resolve(self, state: StreamState, derived: dict[str, StreamState]) -> None:
        """Raw records read so far: those whose digest the state holds are unchanged without
        being mapped; the others are mapped and taken like any record."""
        pending, state.pending = state.pending, []
        if not pending:
            return
        assert self._salt is not None
        salt = self._salt
        digests = [salt + raw.digest for raw in pending]
        same = self.store.same_digests(
            self.workflow, state.stream.name, [raw.key for raw in pending], digests
        )
        if same and derived:
            self._carry_over([pending[i].key for i in sorted(same)], derived)
        for i, raw in enumerate(pending):
            if i not in same:
                self._take(raw.build(), state, derived, digests[i])
                continue
            state.unflushed.scanned += 1
            state.unflushed.unchanged += 1
            state.seen_only.append(raw.key)
            self._reach(state, raw.key, raw.cursor)
            self._tick(state, derived)

    def _carry_over(self, origins: list[str], derived: dict[str, StreamState]) -> None:
        """Records left unmapped give no relationships this run: what they gave last time is
        seen (not deleted) and counted unchanged, since their digest covers all it came from."""
        carried = self.store.carry_over(self.workflow, origins)
        for target in derived.values():
            count = carried.get(target.stream.name, 0)
            target.unflushed.scanned += count
            target.unflushed.unchanged += count

    def _tick(self, state: StreamState, derived: dict[str, StreamState]) -> None:
        """After each record: commit a full batch (once every raw record read before it is
        resolved, so that its watermark passes nothing uncommitted), report progress."""
        if len(state.rows) + len(state.seen_only) >= self.spec.batch_size:
            self._resolve(state, derived)
            self._flush(state, final=False)
        if self.progress is not None and state.unflushed.scanned % 1000 == 0:
            self.progress(state.stream.name, state.counters.scanned + state.unflushed.scanned)

    def _process(self, entity: Entity, state: StreamState) -> Entity | None:
        key = entity.key
        for processor in self.config.processors:
            result = _apply(processor, entity)
            if isinstance(result, Flagged):
                result = self._flagged(result, state)
            if isinstance(result, Filtered):
                state.unflushed.filtered += 1
                state.seen_only.append(key)  # filtered entities are not deletions
                return None
            if isinstance(result, RecordError):
                state.unflushed.errors += 1
                log.warning("processor failed", record=result.record, reason=redact(result.reason))
                return None
            entity = result
        return entity

    def _flagged(self, flagged: Flagged, state: StreamState) -> Entity | Filtered | RecordError:
        """Record the rules an entity broke; the strictest action decides what happens to it."""
        entity = flagged.entity
        for v in flagged.violations:
            state.violations.append(
                ViolationRow(
                    state.stream.name, entity.entity_type, entity.key, v.rule, v.action, v.message
                )
            )
            log.warning("policy violated", rule=v.rule, action=v.action, message=v.message)
        actions = {v.action for v in flagged.violations}
        if "fail" in actions:
            # Kept out, and counted as an error: its stream neither deletes nor advances.
            return RecordError(entity.key, "broke a rule whose action is fail")
        if "drop" in actions:
            return Filtered("broke a rule whose action is drop")
        return entity

    def _route(
        self, entity: Entity, derived: dict[str, StreamState], state: StreamState, origin: str
    ) -> None:
        """A derived entity (a relationship of the entity `origin` of `state`) is processed now
        and spooled into the state's scratch space (it never reaches the file), so that no
        stream holds more than a batch in memory."""
        target = derived.get(entity.entity_type)
        if target is None:
            state.unflushed.errors += 1
            log.warning(
                "relationship has no derived stream", entity_type=entity.entity_type, key=entity.key
            )
            return
        target.unflushed.scanned += 1
        processed = self._process(entity, target)
        if processed is not None:
            target.rows.append(differ.row_of(processed, target.stream, origin=origin))
        if len(target.rows) + len(target.seen_only) >= self.spec.batch_size:
            self._spool(target)

    def _spool(self, state: StreamState) -> None:
        spool.put(self.store, state.stream.name, state.rows)
        self.store.mark_seen(state.stream.name, state.seen_only)
        state.rows, state.seen_only = [], []

    def _sync_derived(self, state: StreamState) -> None:
        """Diff and commit a derived stream from its spool, a batch at a time, once every read
        stream is committed (so lineage follows both of its ends in the change log)."""
        self._spool(state)
        for rows in spool.take(self.store, state.stream.name, self.spec.batch_size):
            state.rows = rows
            self._flush(state, final=False)
        self._flush(state, final=True)

    # --- diff and commit --------------------------------------------------------------------

    def _flush(self, state: StreamState, *, final: bool) -> None:
        interrupts.check()  # a stop whose exception was lost stops before the next commit
        stream = state.stream
        rows = list({row.key: row for row in state.rows}.values())  # the last of a key wins
        keys = [row.key for row in rows]
        changed = (
            self.store.changed(self.workflow, stream.name, keys, [r.fingerprint for r in rows])
            if rows
            else {}
        )
        batch = Batch(self.run_id, self.workflow, stream.name, counters=state.unflushed)
        batch.counters.unchanged += len(rows) - len(changed)
        unchanged = [i for i in range(len(rows)) if i not in changed]
        for i, known in sorted(changed.items()):
            row = rows[i]
            kind, fields, description = differ.classify(row, known)
            if kind is None:
                batch.counters.unchanged += 1
                unchanged.append(i)
                continue
            setattr(batch.counters, kind, getattr(batch.counters, kind) + 1)
            batch.changes.append(
                ChangeRow(
                    row.key,
                    row.entity_type,
                    row.parent_key,
                    list(row.depends_on),
                    kind,
                    row.fingerprint,
                    known.fingerprint,
                    fields,
                    description,
                    row.payload,
                    row.raw_digest,
                    row.origin,
                )
            )
            if self.dry_run:
                self._result.planned.append(PlannedChange(kind, row.entity_type, row.key, fields))
        batch.digests = [(rows[i].key, d) for i in unchanged if (d := rows[i].raw_digest)]
        batch.origins = [(rows[i].key, o) for i in unchanged if (o := rows[i].origin)]
        batch.watermark = self._advance(state, rows, final)
        self.store.mark_seen(stream.name, keys + state.seen_only)
        if not self.dry_run:
            self.store.commit(batch)
        state.counters.add(batch.counters)
        self._result.counters.add(batch.counters)
        state.unflushed = Counters()
        state.rows = []
        state.seen_only = []

    def _advance(self, state: StreamState, rows: list[Row], final: bool) -> Watermark | None:
        cursor = state.stream.cursor
        if cursor is None:
            return None
        for row in rows:
            self._reach(state, row.key, row.cursor)
        # A record that failed must be read again next time, so the watermark stays behind it.
        if state.counters.errors or state.unflushed.errors:
            return None
        # An unsorted stream may still hold lower values further on: advance only at its end.
        if cursor.ordering == "unsorted" and not final:
            return None
        if state.high is None:
            return None
        mark = Watermark(cursor.field, cursor.kind, cursors.to_text(state.high, cursor.kind))
        if mark == state.stored:
            return None  # unchanged: it keeps the run that set it
        state.stored = mark
        return mark

    def _reach(self, state: StreamState, key: str, value: CursorValue | None) -> None:
        """A committed record's cursor value raises the stream's high mark, unless it is past
        the run's start plus the tolerance (a typo such as 2099, a clock running ahead): that
        record is synced all the same, named in a warning, and kept out of the watermark, so
        that later changes stamped with the right time are still read."""
        cursor = state.stream.cursor
        if cursor is None:
            return
        if not cursors.beyond(value, state.ceiling):
            state.high = cursors.later(state.high, value)
            return
        assert value is not None and state.ceiling is not None
        name = state.stream.name
        state.beyond += 1
        message = (
            f"stream {name}: {key} has {cursor.field} {cursors.shown(value, cursor)}, "
            f"beyond this run's start plus cursors.future_tolerance_seconds "
            f"({cursors.shown(state.ceiling, cursor)}); it is synced, but the watermark does "
            "not move to it"
        )
        more = f"stream {name}: more records are stamped beyond it; the log names each"
        self._warn_bounded(state.beyond, _BEYOND_WARNINGS, message, more)

    def _notice(self, state: StreamState, notice: Notice) -> None:
        """What a reader told the run: a run warning, not a record (nothing counts it)."""
        state.notices += 1
        name = state.stream.name
        more = f"stream {name}: its reader has more notices; the log names each"
        message = f"stream {name}: {redact(notice.message)}"
        self._warn_bounded(state.notices, NOTICES_PER_STREAM, message, more)

    # --- deletions and contracts ------------------------------------------------------------

    def _detect_deletions(self, states: list[StreamState]) -> None:
        Sweep(
            self.store,
            self.config.source,
            self.workflow,
            self.run_id,
            self.spec.deletions,
            self._live_before,
            self._result,
            full_refresh=self.full_refresh,
            dry_run=self.dry_run,
        ).run(states)

    def _check_topology(self) -> None:
        if self.dry_run:
            return
        for entity_type, key, missing in self.store.orphans(self.workflow):
            self._warn(f"{entity_type} {key} refers to {missing}, which was never emitted")

    def _warn(self, message: str) -> None:
        self._result.warnings.append(message)
        log.warning(message)

    def _warn_bounded(self, count: int, limit: int, message: str, more: str) -> None:
        """The `count`th warning of one kind in a stream: the first `limit` are run warnings,
        the rest log lines only, announced once by `more`, so that a stream with thousands of
        them keeps the run's result readable."""
        if count <= limit:
            self._warn(message)
            return
        log.warning(message)
        if count == limit + 1:
            self._warn(more)


def _sink_problem(report: DeliveryReport) -> str:
    """What went wrong with one sink's delivery, or "" if nothing did."""
    parts = []
    if report.refused or report.held:
        refused = f"{report.refused} changes refused"
        if report.held:
            refused += f", {report.held} waiting for them"
        parts.append(f"{refused}; retried on the next run (see `syncer changes --pending`)")
    if report.error:
        parts.append(f"{report.error}; {report.backlog} changes wait for the next run")
    return f"sink {report.sink}: {'; '.join(parts)}" if parts else ""


def _apply(processor: Processor, entity: Entity) -> ProcessorResult:
    """One processor on one entity; a processor's exception is that entity's error only."""
    try:
        return processor.process(entity)
    except Exception as exc:
        if interrupted(exc):
            raise
        return RecordError(entity.key, f"{type(processor).__name__}: {type(exc).__name__}: {exc}")
