"""Watermarks on the command line: a record stamped in the future warned about by `syncer run`,
`syncer state show` listing each stream's watermark, and `syncer state reset --stream` forgetting
(or, with `--to`, setting) one and touching nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.workspace import Workspace, catalog

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

TABLES = 3
FUTURE_TABLE = "warehouse.analytics.s1.t000001"


def _stamped(stamps: list[datetime]) -> dict[str, Any]:
    """The workspace catalog, its tables stream read by a cursor on `updated_at`."""
    document = catalog(len(stamps))
    tables = document["streams"][3]
    tables["cursor"] = {"field": "updated_at", "kind": "datetime"}
    for record, stamp in zip(tables["records"], stamps, strict=True):
        record["updatedAt"] = stamp.isoformat()
    return document


@pytest.fixture
def past() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def synced(tmp_path: Path, subprocess_env: dict[str, str], past: datetime) -> Workspace:
    """A workspace whose tables carry a cursor, after one run; t000001 is stamped 2099, so the
    watermark is t000002's `past` (an incremental read would not see t000000 again)."""
    ws = Workspace(tmp_path, subprocess_env)
    earlier = past - timedelta(hours=1)
    ws.write_source(_stamped([earlier, datetime(2099, 1, 1, tzinfo=UTC), past]))
    ws.write_config()
    ws.run()
    return ws


def _marks(ws: Workspace) -> list[tuple[Any, ...]]:
    return ws.query("SELECT stream, value, run_id FROM watermarks ORDER BY stream")


def test_a_run_names_a_record_stamped_in_the_future_and_keeps_the_watermark_back(
    synced: Workspace, past: datetime
) -> None:
    again = synced.run()  # the 2099 record is past the watermark: read, and named, again
    assert FUTURE_TABLE in again.stderr and "future_tolerance_seconds" in again.stderr
    assert _marks(synced) == [("tables", past.isoformat(), 1)]


def test_state_show_lists_each_streams_watermark_and_the_run_that_set_it(
    synced: Workspace, past: datetime
) -> None:
    done = synced.syncer("state", "show", "--config", synced.config)

    assert done.returncode == 0, done.stderr
    assert "watermarks: 1" in done.stdout
    header = next(line for line in done.stdout.splitlines() if "cursor_field" in line)
    assert [cell.strip() for cell in header.strip("┃ \n").split("┃")] == [
        "workflow",
        "stream",
        "cursor_field",
        "value",
        "set_by",
    ]
    [row] = [line for line in done.stdout.splitlines() if "updated_at" in line and "│" in line]
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    # within the limit: the table stamped 2099 was synced but did not move it
    assert cells == ["shop", "tables", "updated_at", past.isoformat(), "run 1"]


def test_state_reset_stream_forgets_one_watermark_and_touches_nothing_else(
    synced: Workspace,
) -> None:
    before = {
        table: synced.query(f"SELECT * FROM {table} ORDER BY ALL")
        for table in ("runs", "entities", "changes", "deliveries")
    }
    done = synced.syncer("state", "reset", "--stream", "tables", "--yes", "--config", synced.config)

    assert done.returncode == 0, done.stderr
    assert "watermark of shop stream tables forgot" in done.stdout
    assert _marks(synced) == []
    for table, rows in before.items():
        assert synced.query(f"SELECT * FROM {table} ORDER BY ALL") == rows, table

    again = synced.run()  # the stream is read whole again
    assert "│ tables    │       3 │         3 │" in again.stdout  # scanned, unchanged


def test_state_reset_stream_asks_first_and_a_no_keeps_the_watermark(synced: Workspace) -> None:
    marks = _marks(synced)
    done = synced.syncer(
        "state", "reset", "shop", "--stream", "tables", "--state", synced.state, input="n\n"
    )

    assert done.returncode == 1
    assert "Forget the watermark of stream 'tables' of 'shop'" in done.stdout
    assert _marks(synced) == marks


def test_state_reset_stream_to_sets_a_watermark_back_by_hand(synced: Workspace) -> None:
    done = synced.syncer(
        "state",
        "reset",
        "--workflow",
        "shop",
        "--stream",
        "tables",
        "--to",
        "2024-05-01T00:00:00Z",
        "--yes",
        "--config",
        synced.config,
    )

    assert done.returncode == 0, done.stderr
    assert _marks(synced) == [("tables", "2024-05-01T00:00:00+00:00", 0)]
    shown = synced.syncer("state", "show", "--config", synced.config)
    assert "state reset" in shown.stdout


def test_state_reset_stream_refuses_what_it_cannot_do(synced: Workspace) -> None:
    marks = _marks(synced)
    unknown = synced.syncer(
        "state", "reset", "--stream", "nope", "--yes", "--config", synced.config
    )
    assert unknown.returncode == 2
    assert "has no watermark for stream 'nope' (streams with one: tables)" in unknown.stderr

    bad = synced.syncer(
        "state", "reset", "--stream", "tables", "--to", "soon", "--yes", "--config", synced.config
    )
    assert bad.returncode == 2
    assert "--to: 'soon' is not a datetime cursor value" in bad.stderr

    alone = synced.syncer(
        "state", "reset", "--to", "2024-05-01", "--yes", "--config", synced.config
    )
    assert alone.returncode == 2
    assert "give --stream too" in alone.stderr
    assert _marks(synced) == marks
