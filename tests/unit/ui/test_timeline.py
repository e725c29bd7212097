"""The runs timeline: a bar per run from its start to its end, a lane per workflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncer.ui.queries import RunRow
from syncer.ui.timeline import LANE, timeline

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def run(run_id: int, workflow: str, start: int, end: int | None) -> RunRow:
    ended = None if end is None else T0 + timedelta(seconds=end)
    return RunRow(
        run_id,
        workflow,
        "succeeded",
        "incremental",
        T0 + timedelta(seconds=start),
        ended,
        None,
        {},
        None,
    )


def test_bars_span_the_runs_from_the_first_start_to_the_last_end() -> None:
    drawn = timeline([run(1, "a", 0, 10), run(2, "a", 90, 100)], width=103)
    first, second = drawn.bars
    assert (first.x, first.width) == (0, 10)
    assert (second.x, second.width) == (90, 10)
    assert drawn.start == T0 and drawn.end == T0 + timedelta(seconds=100)


def test_each_workflow_has_its_own_lane() -> None:
    drawn = timeline([run(1, "b", 0, 10), run(2, "a", 0, 10)])
    assert drawn.lanes == ["a", "b"]
    assert {bar.workflow: bar.y for bar in drawn.bars} == {"a": 0, "b": LANE}
    assert drawn.height == 2 * LANE


def test_a_short_run_is_still_visible_and_a_run_without_an_end_reaches_the_axis_end() -> None:
    drawn = timeline([run(1, "a", 0, 0), run(2, "a", 50, None), run(3, "a", 20, 100)], width=103)
    short, going, _ = drawn.bars
    assert short.width == 3
    assert going.x + going.width == 100


def test_no_runs_draw_nothing() -> None:
    assert timeline([]).bars == [] and timeline([]).height == 0
