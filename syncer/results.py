"""What a run produces and works with: its result, the changes a plan lists, and the state of
each stream while it is read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from state import ViolationRow, Watermark
from syncer.delivery import DeliveryReport
from syncer.differ import Row
from syncer.steps import ChangeKind, Counters, CursorValue, Stream

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
    filtered_keys: list[str] = field(default_factory=list)
    violations: list[ViolationRow] = field(default_factory=list)
    # The stored watermark (on an incremental run), then the highest value read within `ceiling`.
    high: CursorValue | None = None
    ceiling: CursorValue | None = None  # what a time cursor's watermark may reach in this run
    beyond: int = 0  # records read whose cursor value is past `ceiling`
    stored: Watermark | None = None  # as the state holds it: rewritten only when it changes
    note: str | None = None
