"""The runs of a page on a time axis: one bar per run, from its start to its end, so that gaps,
overlaps of workflows and slow runs show at a glance above the runs table.

Pure: it is handed the runs and a width, and returns bars; the template draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from syncer.ui.queries import RunRow

WIDTH = 960
LANE = 18  # height of one workflow's lane
_MIN_BAR = 3  # a run of a second is still visible and clickable


@dataclass(frozen=True, slots=True)
class Bar:
    run_id: int
    workflow: str
    status: str
    x: int
    y: int
    width: int


@dataclass(frozen=True, slots=True)
class Timeline:
    bars: list[Bar]
    lanes: list[str]  # the workflows, top to bottom
    start: datetime | None
    end: datetime | None
    width: int
    height: int


def timeline(runs: Sequence[RunRow], width: int = WIDTH) -> Timeline:
    """Bars for `runs` across `width` pixels, a lane per workflow; a run still going (no end)
    is drawn to the latest moment on the axis."""
    if not runs:
        return Timeline([], [], None, None, width, 0)
    start = min(r.started_at for r in runs)
    end = max(r.ended_at or r.started_at for r in runs)
    end = max(end, max(r.started_at for r in runs))
    span = max((end - start).total_seconds(), 1.0)
    lanes = sorted({r.workflow for r in runs})
    bars = []
    for run in runs:
        left = (run.started_at - start).total_seconds() / span * (width - _MIN_BAR)
        right = ((run.ended_at or end) - start).total_seconds() / span * (width - _MIN_BAR)
        bars.append(
            Bar(
                run.run_id,
                run.workflow,
                run.status,
                round(left),
                lanes.index(run.workflow) * LANE,
                max(_MIN_BAR, round(right - left)),
            )
        )
    return Timeline(bars, lanes, start, end, width, len(lanes) * LANE)
