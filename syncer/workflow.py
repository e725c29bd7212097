"""The engine loop: extract, transform, diff and commit each stream, detect deletions, deliver.

Connectors do not override this loop; they declare streams and yield records. Everything a
batch changes in the state is committed in one transaction, so a crash loses at most the batch
in flight and the next run redoes it without duplicates: the state decides what is new.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, NoReturn

import structlog

from state import (
    Batch,
    ChangeRow,
    Missing,
    StateStore,
    ViolationRow,
    Watermark,
    interrupted,
)
from syncer import cursor as cursors
from syncer import deletions, differ, spool, topology
from syncer.config import LoadedConfig
from syncer.delivery import DeliveryReport, deliver
from syncer.differ import Row
from syncer.errors import PolicyError, describe
from syncer.models import ENTITY_TYPES, Entity
from syncer.secrets import redact
from syncer.steps import (
    ChangeKind,
    Counters,
    CursorValue,
    Either,
    Filtered,
    Flagged,
    Processor,
    ProcessorResult,
    RecordError,
    Stream,
)

log = structlog.get_logger("syncer.workflow")

RunStatus = Literal["succeeded", "partial", "failed", "interrupted"]
Progress = Callable[[str, int], None]  # stream name, records scanned so far


@dataclass(frozen=True, slots=True)
class PlannedChange:
    kind: ChangeKind
    entity_type: str
    key: str
    changed_fields: list[str]


@dataclass
class RunResult:
    run_id: int
    status: RunStatus
    counters: Counters
    streams: dict[str, Counters]
    warnings: list[str] = field(default_factory=list)
    deliveries: list[DeliveryReport] = field(default_factory=list)
    planned: list[PlannedChange] = field(default_factory=list)
    violations: list[ViolationRow] = field(default_factory=list)
    error: str | None = None


@dataclass
class _StreamState:
    stream: Stream
    counters: Counters = field(default_factory=Counters)
    unflushed: Counters = field(default_factory=Counters)  # counted but not yet committed
    rows: list[Row] = field(default_factory=list)  # the batch being built
    filtered_keys: list[str] = field(default_factory=list)
    violations: list[ViolationRow] = field(default_factory=list)
    high: CursorValue | None = None  # the stored watermark, then the highest value read
    note: str | None = None


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

    @property
    def workflow(self) -> str:
        return self.spec.workflow

    def run(self) -> RunResult:
        result = self._result
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
        try:
            self._extract()
        except KeyboardInterrupt:
            self._interrupted()
        except Exception as exc:
            if interrupted(exc):
                self._interrupted()
            result.status = "failed"
            result.error = redact(describe(exc))
            log.error("run failed", error=result.error)
        finally:
            self.config.source.close()
            for processor in self.config.processors:
                processor.close()
        if result.status != "failed" and result.counters.errors:
            result.status = "partial"
        if not self.dry_run:
            self.store.finish_run(self.run_id, result.status, result.error)
            try:
                result.deliveries = deliver(self.store, self.workflow, self.config.sinks)
            except KeyboardInterrupt:
                self._interrupted()
            self._record_sink_failures(result)
        return result

    def _interrupted(self) -> NoReturn:
        """Ctrl-C (DuckDB turns it into its own exception mid-query): committed batches stay,
        and the next run carries on from them."""
        if not self.dry_run:
            self.store.finish_run(self.run_id, "interrupted", "interrupted by the user")
        raise KeyboardInterrupt

    def _record_sink_failures(self, result: RunResult) -> None:
        """A sink that could not take its changes makes the run partial: they wait for the next."""
        failed = [r for r in result.deliveries if r.error]
        if not failed or result.status == "failed":
            return
        result.status = "partial"
        result.error = "; ".join(
            f"sink {r.sink}: {r.error}; {r.backlog} changes wait for the next run" for r in failed
        )
        self.store.finish_run(self.run_id, result.status, result.error)

    # --- extraction -------------------------------------------------------------------------

    def _extract(self) -> None:
        self.store.forget_seen()
        # Deletion shares are taken over what existed before this run, as `plan` sees it.
        self._live_before = self.store.live_counts(self.workflow)
        streams = topology.order_streams(self.config.source.streams())
        derived = {s.entity_type: _StreamState(s) for s in streams if s.derived}
        states: list[_StreamState] = []
        for stream in streams:
            if stream.derived:
                continue
            state = _StreamState(stream)
            states.append(state)
            self._sync(state, self._read(state), derived)
        for state in derived.values():
            self._sync_derived(state)
            states.append(state)
        self._detect_deletions(states)
        self._check_topology()
        self._record(states)

    def _record(self, states: list[_StreamState]) -> None:
        for state in states:
            self._result.streams[state.stream.name] = state.counters
            self._result.violations.extend(state.violations)
            if not self.dry_run:
                self.store.record_stream(self.run_id, state.stream.name, state.counters, state.note)
                self.store.record_violations(self.run_id, self.workflow, state.violations)
        failing = sum(v.action == "fail" for v in self._result.violations)
        if failing:
            raise PolicyError(
                f"{failing} entities broke rules whose action is fail and were kept out; "
                f"list them with `syncer violations --run {self.run_id}`"
            )

    def _read(self, state: _StreamState) -> Iterable[Either]:
        stream = state.stream
        since: CursorValue | None = None
        mark = self.store.watermark(self.workflow, stream.name) if stream.cursor else None
        if stream.cursor is not None and mark is not None:
            # The stored watermark is where `high` starts: a watermark never moves backwards,
            # not even after a --full-refresh.
            state.high = cursors.from_text(mark.value, stream.cursor.kind)
            if not self.full_refresh:
                since = cursors.lower_bound(state.high, stream.cursor)
        log.info("reading stream", stream=stream.name, since=str(since) if since else None)
        assert stream.read is not None, "derived streams are not read"
        return stream.read(since)

    def _sync(
        self, state: _StreamState, records: Iterable[Either], derived: dict[str, _StreamState]
    ) -> None:
        batch_size = self.spec.batch_size
        for item in records:
            if isinstance(item, RecordError):
                state.unflushed.errors += 1
                log.warning(
                    "record failed",
                    stream=state.stream.name,
                    record=item.record,
                    reason=redact(item.reason),
                )
                continue
            state.unflushed.scanned += 1
            entity = self._process(item, state)
            if entity is None:
                continue
            for related in self.config.source.relationships(entity):
                self._route(related, derived, state)
            state.rows.append(differ.row_of(entity, state.stream))
            if len(state.rows) + len(state.filtered_keys) >= batch_size:
                self._flush(state, final=False)
            if self.progress is not None and state.unflushed.scanned % 1000 == 0:
                self.progress(state.stream.name, state.counters.scanned + state.unflushed.scanned)
        self._flush(state, final=True)

    def _process(self, entity: Entity, state: _StreamState) -> Entity | None:
        key = entity.key
        for processor in self.config.processors:
            result = _apply(processor, entity)
            if isinstance(result, Flagged):
                result = self._flagged(result, state)
            if isinstance(result, Filtered):
                state.unflushed.filtered += 1
                state.filtered_keys.append(key)  # filtered entities are not deletions
                return None
            if isinstance(result, RecordError):
                state.unflushed.errors += 1
                log.warning("processor failed", record=result.record, reason=redact(result.reason))
                return None
            entity = result
        return entity

    def _flagged(self, flagged: Flagged, state: _StreamState) -> Entity | Filtered | RecordError:
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
        self, entity: Entity, derived: dict[str, _StreamState], origin: _StreamState
    ) -> None:
        """A derived entity is processed now and spooled into the state's scratch space (it
        never reaches the file), so that no stream holds more than a batch in memory."""
        target = derived.get(entity.entity_type)
        if target is None:
            origin.unflushed.errors += 1
            log.warning(
                "relationship has no derived stream", entity_type=entity.entity_type, key=entity.key
            )
            return
        target.unflushed.scanned += 1
        processed = self._process(entity, target)
        if processed is not None:
            target.rows.append(differ.row_of(processed, target.stream))
        if len(target.rows) + len(target.filtered_keys) >= self.spec.batch_size:
            self._spool(target)

    def _spool(self, state: _StreamState) -> None:
        spool.put(self.store, state.stream.name, state.rows)
        self.store.mark_seen(state.stream.name, state.filtered_keys)
        state.rows, state.filtered_keys = [], []

    def _sync_derived(self, state: _StreamState) -> None:
        """Diff and commit a derived stream from its spool, a batch at a time, once every read
        stream is committed (so lineage follows both of its ends in the change log)."""
        self._spool(state)
        for rows in spool.take(self.store, state.stream.name, self.spec.batch_size):
            state.rows = rows
            self._flush(state, final=False)
        self._flush(state, final=True)

    # --- diff and commit --------------------------------------------------------------------

    def _flush(self, state: _StreamState, *, final: bool) -> None:
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
        for i, known in sorted(changed.items()):
            row = rows[i]
            kind, fields, description = differ.classify(row, known)
            if kind is None:
                batch.counters.unchanged += 1
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
                )
            )
            if self.dry_run:
                self._result.planned.append(PlannedChange(kind, row.entity_type, row.key, fields))
        batch.watermark = self._advance(state, rows, final)
        self.store.mark_seen(stream.name, keys + state.filtered_keys)
        if not self.dry_run:
            self.store.commit(batch)
        state.counters.add(batch.counters)
        self._result.counters.add(batch.counters)
        state.unflushed = Counters()
        state.rows = []
        state.filtered_keys = []

    def _advance(self, state: _StreamState, rows: list[Row], final: bool) -> Watermark | None:
        cursor = state.stream.cursor
        if cursor is None:
            return None
        for row in rows:
            state.high = cursors.later(state.high, row.cursor)
        # A record that failed must be read again next time, so the watermark stays behind it.
        if state.counters.errors or state.unflushed.errors:
            return None
        # An unsorted stream may still hold lower values further on: advance only at its end.
        if cursor.ordering == "unsorted" and not final:
            return None
        if state.high is None:
            return None
        return Watermark(cursor.field, cursor.kind, cursors.to_text(state.high, cursor.kind))

    # --- deletions and contracts ------------------------------------------------------------

    def _detect_deletions(self, states: list[_StreamState]) -> None:
        """Decide parents first (so children can cascade), then commit children first."""
        read = [s for s in states if not s.stream.derived]
        unhealthy = any(s.counters.errors or not s.counters.scanned for s in read)
        gone: set[str] = set()
        decided: list[tuple[_StreamState, list[Missing]]] = []
        for state in sorted(states, key=lambda s: topology.rank(s.stream.entity_type)):
            reason = self._deletion_skip_reason(state, unhealthy)
            if reason:
                state.note = reason
                self._warn(f"stream {state.stream.name}: deletions skipped: {reason}")
            if reason is not None:
                # What hangs off a deleted entity goes with it, even in a stream that never
                # deletes on its own (test results, runs of a pipeline).
                cascaded = self._cascade(state, gone)
                gone.update(m.key for m in cascaded)
                decided.append((state, cascaded))
                continue
            live = self._live_before.get(state.stream.name, 0)
            missing = self.store.unseen(self.workflow, state.stream.name)
            verdict = deletions.decide(missing, live, gone, self.spec.deletions.fail_safe_percent)
            if verdict.refused:
                state.note = verdict.refused
                self._warn(
                    f"stream {state.stream.name}: deletions refused: {verdict.refused}; nothing "
                    "was deleted. If they are real, run once with --fail-safe-percent (or raise "
                    "deletions.fail_safe_percent)"
                )
            gone.update(m.key for m in verdict.delete)
            decided.append((state, verdict.delete))
        for state, rows in reversed(decided):
            if rows:
                self._commit_deletions(state, rows)

    def _cascade(self, state: _StreamState, gone: set[str]) -> list[Missing]:
        if not gone or not self.spec.deletions.enabled:
            return []
        missing = self.store.unseen(self.workflow, state.stream.name, under=gone)
        return [m for m in missing if deletions.cascades(m, gone)]

    def _deletion_skip_reason(self, state: _StreamState, unhealthy_read: bool) -> str | None:
        """Why deletions must not run for this stream; "" to skip silently; None to go on."""
        stream = state.stream
        model = ENTITY_TYPES.get(stream.entity_type)
        if stream.deletions == "never" or (model is not None and model.append_only):
            return ""
        if stream.cursor is not None and not self.full_refresh:
            return ""  # an incremental read does not see the whole scope
        if not self.spec.deletions.enabled:
            return ""
        if state.counters.errors:
            return "the stream had errors, so a missing entity may only be unreadable"
        if stream.derived and unhealthy_read:
            return "a stream it derives from had errors or produced nothing"
        if state.counters.scanned == 0 and not stream.derived:
            if self._live_before.get(stream.name):
                return "the stream produced nothing, which looks like an outage, not deletions"
            return ""
        return None

    def _commit_deletions(self, state: _StreamState, rows: list[Missing]) -> None:
        batch = Batch(self.run_id, self.workflow, state.stream.name)
        batch.counters.deleted = len(rows)
        for row in sorted(rows, key=lambda m: m.key):
            batch.changes.append(
                ChangeRow(
                    row.key,
                    row.entity_type,
                    row.parent_key,
                    row.depends_on,
                    "deleted",
                    None,
                    row.fingerprint,
                    [],
                    None,
                    row.payload,
                )
            )
            if self.dry_run:
                self._result.planned.append(PlannedChange("deleted", row.entity_type, row.key, []))
        if not self.dry_run:
            self.store.commit(batch)
        state.counters.add(batch.counters)
        self._result.counters.add(batch.counters)

    def _check_topology(self) -> None:
        if self.dry_run:
            return
        for entity_type, key, missing in self.store.orphans(self.workflow):
            self._warn(f"{entity_type} {key} refers to {missing}, which was never emitted")

    def _warn(self, message: str) -> None:
        self._result.warnings.append(message)
        log.warning(message)


def _apply(processor: Processor, entity: Entity) -> ProcessorResult:
    """One processor on one entity; a processor's exception is that entity's error only."""
    try:
        return processor.process(entity)
    except Exception as exc:
        if interrupted(exc):
            raise
        return RecordError(entity.key, f"{type(processor).__name__}: {type(exc).__name__}: {exc}")
