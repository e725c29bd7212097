"""What a run produces and works with: its result, the changes a plan lists, and the state of
each stream while it is read; how a run ends (its exit code) and the document that reports it
(`syncer run --format json`, the `run finished` log event; `syncer/schemas/run.schema.json`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from syncer.delivery import DeliveryReport
from syncer.differ import Row
from syncer.state import ViolationRow, Watermark
from syncer.steps import ChangeKind, Counters, CursorValue, Raw, Stream

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
class StreamState:
    stream: Stream
    counters: Counters = field(default_factory=Counters)
    unflushed: Counters = field(default_factory=Counters)  # counted but not yet committed
    rows: list[Row] = field(default_factory=list)  # the batch being built
    # Keys read that are not diffed: filtered out, or raw records whose digest had not moved.
    seen_only: list[str] = field(default_factory=list)
    pending: list[Raw] = field(default_factory=list)  # raw records whose digest is not checked yet
    violations: list[ViolationRow] = field(default_factory=list)
    # The stored watermark (on an incremental run), then the highest value read within `ceiling`.
    high: CursorValue | None = None
    ceiling: CursorValue | None = None  # what a time cursor's watermark may reach in this run
    beyond: int = 0  # records read whose cursor value is past `ceiling`
    notices: int = 0  # `Notice`s its reader yielded
    stored: Watermark | None = None  # as the state holds it: rewritten only when it changes
    note: str | None = None


# --- how a run ends ---------------------------------------------------------------------------

REFUSED_FIX = (
    "if they are real, allow them with --fail-safe-percent (or deletions.fail_safe_percent), "
    "and those the source cannot verify with --allow-deletions (or deletions.unverifiable: "
    "delete)"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A run's exit code, and why it is not 0 (one line for stderr; None when the run's own
    error says it)."""

    exit_code: int
    reason: str | None = None


def outcome(result: RunResult, *, allow_partial: bool = False, strict: bool = False) -> Outcome:
    """The documented rule: 1 for a failed run; 1 for a partial one (records failed, a sink
    refused changes or was down) unless `allow_partial`; 1 for refused deletions with
    `strict`; else 0. An interrupted run exits 130 or 143, which the caller knows."""
    if result.status == "failed":
        return Outcome(1)
    if result.status == "partial" and not allow_partial:
        return Outcome(1, "the run is partial: exit 1 (--allow-partial exits 0)")
    refused = result.counters.refused
    if strict and refused:
        what = "1 deletion was" if refused == 1 else f"{refused} deletions were"
        return Outcome(1, f"{what} refused: exit 1 (--strict); {REFUSED_FIX}")
    return Outcome(0)


def run_document(
    result: RunResult,
    workflow: str,
    *,
    exit_code: int,
    started_at: datetime,
    ended_at: datetime,
    planned: bool = False,
) -> dict[str, Any]:
    """How a run or plan ended, as `syncer/schemas/run.schema.json` describes it."""
    document: dict[str, Any] = {
        "kind": "plan" if planned else "run",
        "run_id": None if planned else result.run_id,
        "workflow": workflow,
        "status": result.status,
        "exit_code": exit_code,
        "started_at": started_at.isoformat(),
        "ended_at": ended_at.isoformat(),
        "duration_seconds": round((ended_at - started_at).total_seconds(), 3),
        "streams": {name: counters.as_dict() for name, counters in result.streams.items()},
        "total": result.counters.as_dict(),
        "refused_deletions": result.counters.refused,
        "deliveries": [
            {
                "sink": report.sink,
                "delivered": report.delivered,
                "refused": report.refused,
                "held": report.held,
                "backlog": report.backlog,
                "error": report.error,
            }
            for report in result.deliveries
        ],
        "warnings": list(result.warnings),
        "error": result.error,
    }
    if planned:
        document["planned"] = [
            {
                "kind": change.kind,
                "entity_type": change.entity_type,
                "key": change.key,
                "changed_fields": change.changed_fields,
            }
            for change in result.planned
        ]
    return document
