"""The engine's guards against deleting too much: the fail-safe counts what goes with a deleted
parent, per stream and per workflow, and the source confirms each deletion before it is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from syncer.steps import Unverifiable
from syncer.workflow import RunResult
from tests.support.engine import SERVICE, Engine, catalog, table
from tests.support.runs import run_workflow
from tests.support.sources import FileSource

DATABASE = f"{SERVICE}.db"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(tmp_path)


def schemas_and_tables(layout: dict[str, int]) -> list[dict[str, Any]]:
    """Streams for one service and database, `layout` naming each schema and its table count,
    and the source's answers to `exists` (none: it cannot tell)."""
    return [
        {
            "name": "services",
            "entity_type": "databaseService",
            "records": [{"name": SERVICE, "service_type": "Duckdb"}],
        },
        {
            "name": "databases",
            "entity_type": "database",
            "records": [{"name": "db", "service": SERVICE}],
        },
        {
            "name": "schemas",
            "entity_type": "databaseSchema",
            "records": [{"name": s, "database": DATABASE} for s in layout],
        },
        {
            "name": "tables",
            "entity_type": "table",
            "records": [
                {**table(f"t{i:02d}"), "database_schema": f"{DATABASE}.{s}"}
                for s, count in layout.items()
                for i in range(count)
            ],
        },
    ]


def live(engine: Engine, entity_type: str) -> int:
    rows = engine.rows("SELECT count(*) FROM current_entities WHERE entity_type = ?", [entity_type])
    return int(rows[0][0])


# --- the fail-safe counts cascades -----------------------------------------------------------


def test_a_parent_whose_children_go_over_the_share_is_refused_with_them(engine: Engine) -> None:
    layout = {"big": 20, "a": 1, "b": 1, "c": 1, "d": 1}
    engine.write(schemas_and_tables(layout))
    engine.run()
    del layout["big"]  # one schema of five (20%), but 20 of the 24 tables
    engine.write(schemas_and_tables(layout))
    for result in (engine.run(dry_run=True), engine.run()):
        assert result.counters.deleted == 0
        # The 20 tables the fail-safe refused and their schema, which stays with them.
        assert (result.counters.refused, result.streams["tables"].refused) == (21, 20)
        assert result.warnings[0].startswith(
            "stream tables: deletions refused: would delete 20 of 24 (83%), more than the "
            "fail-safe 20% (20 of them would go with their parent, which stays too); nothing was "
            "deleted. If they are real, run once with --fail-safe-percent"
        )
        assert result.warnings[1] == (
            f"stream schemas: 1 deletion held back because what would go with it stays: "
            f"{DATABASE}.big"
        )
    assert live(engine, "databaseSchema") == 5 and live(engine, "table") == 24
    notes = dict(engine.rows("SELECT stream, note FROM run_streams WHERE note IS NOT NULL"))
    assert notes["schemas"].startswith("1 deletion held back")
    recorded = engine.rows("SELECT refused FROM run_summary ORDER BY run_id")
    assert recorded == [(0,), (21,)]  # the plan recorded nothing
    by_stream = engine.rows("SELECT stream, refused FROM run_streams WHERE refused > 0 ORDER BY 1")
    assert by_stream == [("schemas", 1), ("tables", 20)]
    assert notes["tables"].startswith("would delete 20 of 24 (83%)")

    allowed = engine.run(deletions={"fail_safe_percent": 90})
    assert allowed.counters.deleted == 21 and allowed.warnings == []
    assert allowed.counters.refused == 0
    assert live(engine, "databaseSchema") == 4 and live(engine, "table") == 4


def test_a_run_over_the_workflows_share_deletes_nothing(engine: Engine) -> None:
    layout = {"a": 4, "b": 3, "c": 3, "empty": 0, "gone": 0}
    engine.write(schemas_and_tables(layout))
    engine.run()
    # An empty schema (1 of 5: within its share) and 3 of 10 tables (refused): 4 of 17.
    layout = {"a": 1, "b": 3, "c": 3, "empty": 0}
    engine.write(schemas_and_tables(layout))
    result = engine.run()
    assert (result.counters.deleted, result.counters.refused) == (0, 4)
    assert result.warnings[-1] == (
        "deletions refused for the whole run: would delete 4 of the workflow's 17 entities "
        "(24%), more than the fail-safe 20%; nothing was deleted. If they are real, run once "
        "with --fail-safe-percent (or raise deletions.fail_safe_percent)"
    )
    assert live(engine, "databaseSchema") == 5


# --- the source confirms each deletion ---------------------------------------------------------


class CheckingSource(FileSource):
    """A file source that answers `exists` from the file's `exists` map: true, false, null,
    "hidden" (it cannot tell dropped from hidden) or "raise"; it records what it was asked."""

    asked: list[tuple[str, str]]

    def exists(self, entity_type: str, key: str) -> bool | Unverifiable | None:
        self.asked.append((entity_type, key))
        answer = self._doc().get("exists", {}).get(key)
        if answer == "raise":
            raise ConnectionError("the catalog is unreachable")
        if answer == "hidden":
            return Unverifiable("the user may not see it", "GRANT SEE ON everything TO user")
        assert answer is None or isinstance(answer, bool)
        return answer


def write(engine: Engine, streams: list[dict[str, Any]], exists: dict[str, Any]) -> None:
    """The source file, with `exists`' answers by key."""
    engine.source_path.write_bytes(orjson.dumps({"streams": streams, "exists": exists}))


def run_checked(engine: Engine, **spec: Any) -> tuple[RunResult, CheckingSource]:
    loaded = engine.config(**spec)
    source = CheckingSource(loaded.source.config)  # type: ignore[arg-type]
    source.asked = []
    loaded.source = source
    return run_workflow(loaded, engine.state_path), source


def test_a_table_the_source_still_finds_is_not_deleted_and_the_run_names_it(
    engine: Engine,
) -> None:
    engine.write_tables([table(f"t{i:02d}") for i in range(10)])
    engine.run()
    kept, gone = f"{DATABASE}.sch.t03", f"{DATABASE}.sch.t04"
    remaining = [table(f"t{i:02d}") for i in range(10) if i not in (3, 4)]
    write(engine, catalog(remaining), {kept: True, gone: False})
    result, source = run_checked(engine)
    assert sorted(source.asked) == [("table", kept), ("table", gone)]
    assert engine.changes(result.run_id) == [("deleted", gone)]
    assert result.warnings == [
        f"stream tables: {kept} not deleted, nor what goes with it: the source still finds it "
        "(its listing left it out)"
    ]
    assert result.status == "succeeded"
    assert result.counters.refused == 0  # not a deletion at all: the source has it


def test_a_failed_lookup_keeps_the_object(engine: Engine) -> None:
    engine.write_tables([table(f"t{i:02d}") for i in range(10)])
    engine.run()
    key = f"{DATABASE}.sch.t00"
    write(engine, catalog([table(f"t{i:02d}") for i in range(1, 10)]), {key: "raise"})
    result, _ = run_checked(engine)
    assert result.counters.deleted == 0
    assert result.counters.refused == 0  # kept until a lookup answers, not refused
    assert result.warnings == [
        f"stream tables: {key} not deleted, nor what goes with it: checking that it is gone "
        "failed: ConnectionError: the catalog is unreachable"
    ]


def test_only_what_does_not_go_with_a_parent_is_looked_up(engine: Engine) -> None:
    layout = {"a": 3, "b": 3, "c": 3, "d": 3, "e": 3, "f": 3}
    engine.write(schemas_and_tables(layout))
    engine.run()
    del layout["f"]
    write(engine, schemas_and_tables(layout), {})
    result, source = run_checked(engine)
    assert source.asked == [("databaseSchema", f"{DATABASE}.f")]
    assert result.counters.deleted == 4  # the schema and its three tables: None lets them go


def test_an_unverifiable_schema_stays_unless_deletions_are_allowed(engine: Engine) -> None:
    layout = {"a": 3, "b": 3, "c": 3, "d": 3, "e": 3, "hidden": 3}
    engine.write(schemas_and_tables(layout))
    engine.run()
    del layout["hidden"]
    key = f"{DATABASE}.hidden"
    write(engine, schemas_and_tables(layout), {key: "hidden"})
    kept, _ = run_checked(engine)
    assert kept.counters.deleted == 0
    assert kept.counters.refused == 4  # refused until allowed: the schema and its tables
    assert kept.warnings == [
        f"stream schemas: {key} not deleted, nor what goes with it: the user may not see it; "
        "GRANT SEE ON everything TO user would make it certain; if it was dropped, run with "
        "--allow-deletions (or set deletions.unverifiable: delete)"
    ]
    allowed, _ = run_checked(engine, deletions={"unverifiable": "delete"})
    assert allowed.counters.deleted == 4 and allowed.warnings == []
    assert allowed.counters.refused == 0
