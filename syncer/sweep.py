"""A run's deletion pass: which entities this run did not see are gone, and committing them.

The policy (the fail-safe over cascades, which lookups to make, what their answers allow) is
pure, in `syncer.deletions`; this is its I/O: the state's unseen rows, the source's answers,
and the commits, children first.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from syncer import deletions, interrupts, topology
from syncer.config import DeletionSpec
from syncer.errors import describe
from syncer.models import ENTITY_TYPES
from syncer.results import PlannedChange, RunResult, StreamState
from syncer.secrets import redact
from syncer.state import Batch, ChangeRow, Missing, StateStore, interrupted
from syncer.steps import Source

log = structlog.get_logger("syncer.workflow")


@dataclass
class Sweep:
    """The deletion pass of one run."""

    store: StateStore
    source: Source
    workflow: str
    run_id: int
    policy: DeletionSpec
    live_before: dict[str, int]  # live entities per stream before the run, as `plan` sees them
    result: RunResult
    full_refresh: bool = False
    dry_run: bool = False

    def run(self, states: list[StreamState]) -> None:
        """Gather every stream's candidates parents first (so children can cascade), apply the
        fail-safe to all of them at once (`syncer.deletions`), ask the source about what passed,
        then commit children first."""
        read = [s for s in states if not s.stream.derived]
        unhealthy = any(s.counters.errors or not s.counters.scanned for s in read)
        gone: set[str] = set()
        gathered: list[tuple[StreamState, deletions.StreamCandidates]] = []
        for state in sorted(states, key=lambda s: topology.rank(s.stream.entity_type)):
            reason = self._deletion_skip_reason(state, unhealthy)
            if reason:
                state.note = reason
                self._warn(f"stream {state.stream.name}: deletions skipped: {reason}")
            # What hangs off a candidate goes with it, even in a stream that never deletes on
            # its own (test results, runs of a pipeline); a stream that may delete offers all
            # it did not see. `gone` holds every candidate so far: the fail-safe comes after.
            missing = (
                self._cascade(state, gone)
                if reason is not None
                else self.store.unseen(self.workflow, state.stream.name)
            )
            gone.update(m.key for m in missing)
            live = self.live_before.get(state.stream.name, 0)
            # A stream silently skipped never deletes on its own: it has no share to guard.
            candidates = deletions.StreamCandidates(
                state.stream.name, live, missing, checked=reason != ""
            )
            gathered.append((state, candidates))
        decision = deletions.decide([c for _, c in gathered], self.policy.fail_safe_percent)
        decision = self._verify_deletions(decision)
        for state, candidates in gathered:
            note = decision.notes.get(candidates.stream)
            if note and not state.note:
                state.note = note
        for message in decision.warnings:
            self._warn(message)
        for state, candidates in reversed(gathered):
            rows = decision.deleted(candidates.stream)
            if rows:
                self._commit_deletions(state, rows)
            self._count_refused(state, decision.refused_in(candidates.stream))

    def _verify_deletions(self, decision: deletions.Decision) -> deletions.Decision:
        """Ask the source whether each object about to be deleted is really gone (a bounded
        number per stream; see `syncer.deletions`)."""
        asked = deletions.lookups(decision)
        answers: dict[deletions.Node, deletions.Answer] = {}
        for stream, lookup in asked.items():
            for missing in lookup.asked:
                answers[(stream, missing.key)] = self._exists(missing)
        allow = self.policy.unverifiable == "delete"
        return deletions.confirm(decision, asked, answers, allow_unverifiable=allow)

    def _exists(self, missing: Missing) -> deletions.Answer:
        try:
            return self.source.exists(missing.entity_type, missing.key)
        except Exception as exc:
            if interrupted(exc):
                raise
            return deletions.Failed(redact(describe(exc)))  # the run's warning names the key

    def _cascade(self, state: StreamState, gone: set[str]) -> list[Missing]:
        if not gone or not self.policy.enabled:
            return []
        missing = self.store.unseen(self.workflow, state.stream.name, under=gone)
        return [m for m in missing if deletions.cascades(m, gone)]

    def _deletion_skip_reason(self, state: StreamState, unhealthy_read: bool) -> str | None:
        """Why deletions must not run for this stream; "" to skip silently; None to go on."""
        stream = state.stream
        model = ENTITY_TYPES.get(stream.entity_type)
        if stream.deletions == "never" or (model is not None and model.append_only):
            return ""
        if stream.cursor is not None and not self.full_refresh:
            return ""  # an incremental read does not see the whole scope
        if not self.policy.enabled:
            return ""
        if state.counters.errors:
            return "the stream had errors, so a missing entity may only be unreadable"
        if stream.derived and unhealthy_read:
            return "a stream it derives from had errors or produced nothing"
        if state.counters.scanned == 0 and not stream.derived and stream.deletions != "complete":
            if self.live_before.get(stream.name):
                return "the stream produced nothing, which looks like an outage, not deletions"
            return ""
        return None

    def _commit_deletions(self, state: StreamState, rows: list[Missing]) -> None:
        interrupts.check()
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
                self.result.planned.append(PlannedChange("deleted", row.entity_type, row.key, []))
        if not self.dry_run:
            self.store.commit(batch)
        state.counters.add(batch.counters)
        self.result.counters.add(batch.counters)

    def _count_refused(self, state: StreamState, refused: int) -> None:
        """Count a stream's refused deletions (`syncer.deletions`) in the run and the state."""
        if not refused:
            return
        batch = Batch(self.run_id, self.workflow, state.stream.name)
        batch.counters.refused = refused
        if not self.dry_run:
            self.store.commit(batch)  # no change rows: only the run's counters
        state.counters.add(batch.counters)
        self.result.counters.add(batch.counters)

    def _warn(self, message: str) -> None:
        self.result.warnings.append(message)
        log.warning(message)
