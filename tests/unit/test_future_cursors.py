"""Cursors stamped in the future (issue 11, "nothing lost").

A record stamped `2099-01-01` (a typo, a source whose clock ran ahead and was set back) is
synced and named in a warning, but a time cursor's watermark never passes the run's start plus
`cursors.future_tolerance_seconds`, so later changes stamped with the right time are still
read. A watermark an older version let into the future is repaired by `--full-refresh`, which
recomputes it from what it reads. The rule is the engine's (`Workflow._advance`): it holds the
same for the test double's streams, the rest source's and the dbt source's results.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
import structlog
import yaml

from syncer.workflow import RunResult
from tests.support.engine import SCHEMA, Engine, table
from tests.support.runs import query_state, run_workflow
from tests.unit.connectors.dbt.runs import ARTIFACTS, DbtRuns, copy_artifacts, load, write_json
from tests.unit.connectors.rest.conftest import FAST_RETRY
from tests.unit.connectors.rest.fake_api import FakeApi, Reply

FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
FUTURE_MS = 4070908800000  # FUTURE in milliseconds since the epoch
CURSOR = {"cursor": {"field": "updated_at", "kind": "datetime"}}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(tmp_path)


def now() -> datetime:
    return datetime.now(UTC)


def ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def stamped(name: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return table(name, updated_at=at.isoformat(), **fields)


def fqn(name: str) -> str:
    return f"{SCHEMA}.{name}"


def watermark(state: Path, stream: str) -> str | None:
    rows = query_state(state, "SELECT value FROM watermarks WHERE stream = ?", [stream])
    return str(rows[0][0]) if rows else None


def live(state: Path) -> set[str]:
    return {row[0] for row in query_state(state, "SELECT fqn FROM current_entities")}


def beyond_warnings(result: RunResult) -> list[str]:
    return [w for w in result.warnings if "future_tolerance_seconds" in w]


def poison(state: Path, stream: str, value: str) -> None:
    """Write a watermark straight into the state, as an older syncer would have left it."""
    with duckdb.connect(str(state)) as con:
        con.execute("UPDATE watermarks SET value = ? WHERE stream = ?", [value, stream])


# --- the test double's streams ----------------------------------------------------------------


def test_a_record_in_the_future_is_synced_and_named_but_does_not_move_the_watermark(
    engine: Engine,
) -> None:
    past = now() - timedelta(hours=1)
    engine.write_tables([stamped("t00", past), stamped("t01", FUTURE)], **CURSOR)
    with structlog.testing.capture_logs() as logs:
        result = engine.run()
    assert result.status == "succeeded"
    assert result.streams["tables"].created == 2
    assert fqn("t01") in live(engine.state_path)  # read and committed all the same
    assert watermark(engine.state_path, "tables") == past.isoformat()
    [warning] = beyond_warnings(result)
    assert fqn("t01") in warning and "2099-01-01T00:00:00+00:00" in warning
    assert warning.startswith("stream tables: ")
    assert any(fqn("t01") in entry["event"] for entry in logs if entry["log_level"] == "warning")


def test_the_next_incremental_run_still_reads_a_change_made_now(engine: Engine) -> None:
    past = now() - timedelta(hours=1)
    engine.write_tables([stamped("t00", past), stamped("t01", FUTURE)], **CURSOR)
    engine.run()
    engine.write_tables(
        [stamped("t00", now(), description="changed now"), stamped("t01", FUTURE)], **CURSOR
    )
    second = engine.run()
    assert second.streams["tables"].updated == 1
    [(description,)] = engine.rows(
        "SELECT payload->>'description' FROM current_entities WHERE fqn = ?", [fqn("t00")]
    )
    assert description == "changed now"
    # the record in the future is read again (it is past the watermark) and warned about again
    assert len(beyond_warnings(second)) == 1


def test_a_full_refresh_repairs_a_watermark_left_in_the_future(engine: Engine) -> None:
    past = now() - timedelta(hours=1)
    engine.write_tables([stamped("t00", past)], **CURSOR)
    engine.run()
    poison(engine.state_path, "tables", FUTURE.isoformat())
    changed = now() - timedelta(minutes=1)
    engine.write_tables([stamped("t00", changed, description="new")], **CURSOR)

    missed = engine.run()  # incremental: reads from 2099, so sees nothing, and says so
    assert missed.streams["tables"].scanned == 0
    [warning] = beyond_warnings(missed)
    assert "its watermark 2099-01-01T00:00:00+00:00" in warning
    assert "--full-refresh" in warning and "syncer state reset --stream tables" in warning

    repaired = engine.run(full_refresh=True)
    assert repaired.streams["tables"].updated == 1
    assert watermark(engine.state_path, "tables") == changed.isoformat()  # moved back
    engine.write_tables([stamped("t00", now(), description="newer")], **CURSOR)
    assert engine.run().streams["tables"].updated == 1  # incremental again, and in step


def test_the_tolerance_lets_a_source_clock_run_a_little_ahead(engine: Engine) -> None:
    ahead = now() + timedelta(minutes=2)
    engine.write_tables([stamped("t00", ahead)], **CURSOR)
    result = engine.run()  # the default tolerance is 300 s
    assert beyond_warnings(result) == []
    assert watermark(engine.state_path, "tables") == ahead.isoformat()


def test_without_tolerance_a_record_stamped_after_the_start_does_not_move_the_watermark(
    engine: Engine,
) -> None:
    past = now() - timedelta(minutes=1)
    engine.write_tables(
        [stamped("t00", past), stamped("t01", now() + timedelta(minutes=2))], **CURSOR
    )
    result = engine.run(cursors={"future_tolerance_seconds": 0})
    assert len(beyond_warnings(result)) == 1
    assert watermark(engine.state_path, "tables") == past.isoformat()


def test_a_sorted_stream_keeps_its_per_batch_watermark_within_the_limit(engine: Engine) -> None:
    start = now() - timedelta(hours=1)
    records = [stamped(f"t{i:02d}", start + timedelta(minutes=i)) for i in range(4)]
    records.insert(2, stamped("typo", FUTURE))
    engine.write_tables(records, cursor={"field": "updated_at", "ordering": "sorted"})
    result = engine.run(batch_size=2)
    assert result.streams["tables"].created == 5
    assert watermark(engine.state_path, "tables") == (start + timedelta(minutes=3)).isoformat()


def test_many_records_in_the_future_name_ten_and_the_log_names_every_one(engine: Engine) -> None:
    engine.write_tables([stamped(f"t{i:02d}", FUTURE) for i in range(15)], **CURSOR)
    with structlog.testing.capture_logs() as logs:
        result = engine.run()
    warnings = beyond_warnings(result)
    assert len(warnings) == 10
    assert "stream tables: more records are stamped beyond it; the log names each" in (
        result.warnings
    )
    logged = [e["event"] for e in logs if "future_tolerance_seconds" in e["event"]]
    assert all(any(fqn(f"t{i:02d}") in line for line in logged) for i in range(15))
    assert watermark(engine.state_path, "tables") is None  # nothing within the limit was read


def results(*timestamps: int, unit: str | None = None) -> list[dict[str, Any]]:
    cursor = {"field": "timestamp", "kind": "integer", **({"unit": unit} if unit else {})}
    return [
        {
            "name": "results",
            "entity_type": "testCaseResult",
            "cursor": cursor,
            "records": [
                {"test_case": "svc.db.sch.t.nn", "timestamp": ts, "test_case_status": "Success"}
                for ts in timestamps
            ],
        }
    ]


def test_an_epoch_milliseconds_cursor_is_held_to_the_limit(engine: Engine) -> None:
    past = ms(now() - timedelta(hours=1))
    engine.write(results(past, FUTURE_MS, unit="epoch_ms"))
    result = engine.run()
    assert result.streams["results"].created == 2
    assert watermark(engine.state_path, "results") == str(past)
    [warning] = beyond_warnings(result)
    assert f"{FUTURE_MS} (2099-01-01T00:00:00+00:00)" in warning
    [key] = [k for k in live(engine.state_path) if str(FUTURE_MS) in k]
    assert key in warning


def test_an_integer_sequence_is_not_a_time_and_has_no_limit(engine: Engine) -> None:
    engine.write(results(5, 10**15))
    result = engine.run()
    assert beyond_warnings(result) == []
    assert watermark(engine.state_path, "results") == str(10**15)


# --- the rest source --------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi() as server:
        yield server


def _rest_workflow(tmp_path: Path, api: FakeApi) -> Path:
    path = tmp_path / "workflow.yaml"
    endpoint = {
        "name": "models",
        "path": "/models",
        "records": "models",
        "entity": "mlmodel",
        "fields": {"name": "name", "description": "about", "algorithm": {"value": "unknown"}},
        "cursor": {"field": "updated", "ordering": "ascending"},
    }
    source = {
        "base_url": api.url,
        "retry": FAST_RETRY,
        "service": {"type": "mlmodelService", "name": "models", "service_type": "Mlflow"},
        "endpoints": [endpoint],
    }
    path.write_text(
        yaml.safe_dump(
            {
                "workflow": "api",
                "source": {"type": "rest", "config": source},
                "state": {"path": str(tmp_path / "state.duckdb")},
            }
        )
    )
    return path


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_rest_source_goes_through_the_same_rule(api: FakeApi, tmp_path: Path) -> None:
    past = now().replace(microsecond=0) - timedelta(hours=1)
    models = [{"name": "a", "updated": _iso(past)}, {"name": "typo", "updated": _iso(FUTURE)}]
    api.route("/models", lambda req: Reply({"models": models}))
    config = _rest_workflow(tmp_path, api)
    state = tmp_path / "state.duckdb"

    first = run_workflow(config)
    assert first.status == "succeeded" and first.streams["models"].created == 2
    assert watermark(state, "models") == past.isoformat()
    [typo] = [k for k in live(state) if k.endswith("typo")]
    [warning] = beyond_warnings(first)
    assert warning.startswith("stream models: ") and typo in warning

    models[0] = {"name": "a", "about": "changed now", "updated": _iso(now())}
    second = run_workflow(config)
    assert second.streams["models"].updated == 1

    poison(state, "models", FUTURE.isoformat())
    models[0] = {"name": "a", "about": "changed again", "updated": _iso(now())}
    assert run_workflow(config).streams["models"].updated == 0  # missed: read from 2099
    repaired = run_workflow(config, full_refresh=True)
    assert repaired.streams["models"].updated == 1
    assert str(watermark(state, "models")) < FUTURE.isoformat()


# --- the dbt source's test results (an epoch-milliseconds cursor) -----------------------------


def test_the_dbt_results_go_through_the_same_rule(tmp_path: Path) -> None:
    target = copy_artifacts(ARTIFACTS, tmp_path / "target")
    run_results = load("run_results.json")
    tests = [r for r in run_results["results"] if r["unique_id"].startswith("test.")]
    typo = tests[0]
    for timing in typo["timing"]:
        timing["completed_at"] = "2099-01-01T00:00:00Z"
    write_json(target / "run_results.json", run_results)
    runs = DbtRuns(tmp_path)

    first = runs.run(target)
    assert first.status == "succeeded", first.error
    stamps = {key: r["timestamp"] for key, r in runs.entities("testCaseResult").items()}
    assert FUTURE_MS in stamps.values()  # synced all the same
    assert runs.watermark("test_results") == str(max(t for t in stamps.values() if t < FUTURE_MS))
    future = [key for key, stamp in stamps.items() if stamp == FUTURE_MS]
    warnings = beyond_warnings(first)
    assert future and all(any(key in w for w in warnings) for key in future)

    # The next build, run now: its results are read (the watermark did not jump to 2099).
    built = now()
    run_results["metadata"]["generated_at"] = built.isoformat()
    for result in run_results["results"]:
        for timing in result.get("timing") or []:
            timing["completed_at"] = built.isoformat()
    (target / "run_results.json").write_bytes(orjson.dumps(run_results))
    second = runs.run(target)
    assert second.status == "succeeded", second.error
    assert second.streams["test_results"].scanned == 16
    assert second.streams["test_results"].created == 16
    assert runs.watermark("test_results") == str(ms(built))
