"""The sql source's point lookup before a deletion (`SqlSource.exists`) on SQLite and DuckDB
files, and a run whose listing misses a table that the lookup still finds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from syncer.config import LoadedConfig, WorkflowConfig
from syncer.connectors.sql import SqlConfig, SqlSource
from syncer.connectors.sql.reflect import NameFilter, RawTable, SqliteReflector, sqlite_engine
from tests.support.runs import query_state, run_workflow
from tests.support.sources import read_stream

DDL = [
    *(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY)" for i in range(9)),
    'CREATE TABLE "Mixed.Case" (id INTEGER)',
    "CREATE VIEW v AS SELECT id FROM t0",
]


def _sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        for statement in DDL:
            conn.execute(statement)
    return path


def _duckdb(path: Path) -> Path:
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA sales")
        conn.execute("USE sales")
        for statement in DDL:
            conn.execute(statement)
    return path


@pytest.fixture(params=["sqlite", "duckdb"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SqlSource, str]]:
    """A source on a fresh file, connected as a run connects it; and the schema's FQN."""
    dialect = request.param
    if dialect == "sqlite":
        path, schema = _sqlite(tmp_path / "shop.sqlite"), "main"
    else:
        path, schema = _duckdb(tmp_path / "shop.duckdb"), "sales"
    src = SqlSource(SqlConfig(url=f"{dialect}:///{path}", service_name="svc"))
    src.targets.connect()
    try:
        yield src, f"svc.shop.{schema}"
    finally:
        src.close()


def test_a_table_a_view_a_schema_and_the_database_are_found(
    source: tuple[SqlSource, str],
) -> None:
    src, schema = source
    assert src.exists("database", "svc.shop") is True
    assert src.exists("databaseSchema", schema) is True
    assert src.exists("table", f"{schema}.t3") is True
    assert src.exists("table", f"{schema}.v") is True
    assert src.exists("table", f'{schema}."Mixed.Case"') is True


def test_what_is_not_there_is_gone_names_compared_exactly(source: tuple[SqlSource, str]) -> None:
    src, schema = source
    assert src.exists("table", f"{schema}.dropped") is False
    assert src.exists("table", f"{schema}.T3") is False  # a rename that changed only the case
    assert src.exists("databaseSchema", "svc.shop.nope") is False
    assert src.exists("table", "svc.shop.nope.t3") is False
    assert src.exists("database", "svc.other") is False  # the source reads one database


def test_what_the_source_cannot_check_is_none(source: tuple[SqlSource, str]) -> None:
    src, schema = source
    assert src.exists("lineage", f"{schema}.t0->{schema}.v") is None
    assert src.exists("databaseService", "svc") is None
    assert src.exists("table", f"elsewhere.shop.{schema.rsplit('.', 1)[1]}.t0") is None


def test_what_the_filters_leave_out_is_gone_whatever_the_file_holds(tmp_path: Path) -> None:
    path = _sqlite(tmp_path / "shop.sqlite")
    config = SqlConfig(
        url=f"sqlite:///{path}",
        service_name="svc",
        exclude={"tables": ["^t1$"]},
        table_types=["Regular"],
    )
    src = SqlSource(config)
    src.targets.connect()
    try:
        assert src.exists("table", "svc.shop.main.t1") is False
        assert src.exists("table", "svc.shop.main.v") is False  # views are not kept
        assert src.exists("table", "svc.shop.main.t2") is True
    finally:
        src.close()


class Forgetful(SqliteReflector):
    """Lists every table but `t4`, as a flaky listing would; its lookup still finds it."""

    def tables(self, schema: str, keep: NameFilter) -> list[RawTable]:
        return [t for t in super().tables(schema, keep) if t.name != "t4"]


def _loaded(tmp_path: Path, source: SqlSource) -> LoadedConfig:
    spec = WorkflowConfig.model_validate(
        {
            "workflow": "shop",
            "source": {"type": "sql"},
            "state": {"path": str(tmp_path / "state.duckdb")},
        }
    )
    return LoadedConfig(tmp_path / "workflow.yaml", spec, "fingerprint", source, [], [])


def test_a_table_the_listing_missed_but_the_lookup_finds_is_not_deleted(tmp_path: Path) -> None:
    path = _sqlite(tmp_path / "shop.sqlite")
    config = SqlConfig(url=f"sqlite:///{path}", service_name="svc")
    first = run_workflow(_loaded(tmp_path, SqlSource(config)))
    assert first.status == "succeeded", first.error
    flaky = SqlSource(config, reflector=Forgetful(sqlite_engine(path)))
    assert "svc.shop.main.t4" not in {t.fqn for t in read_stream(flaky, "tables")}  # type: ignore[union-attr]
    flaky.close()
    result = run_workflow(_loaded(tmp_path, SqlSource(config, Forgetful(sqlite_engine(path)))))
    assert result.counters.deleted == 0
    assert result.warnings == [
        "stream tables: svc.shop.main.t4 not deleted, nor what goes with it: the source still "
        "finds it (its listing left it out)"
    ]
    live: list[Any] = query_state(
        tmp_path / "state.duckdb", "SELECT fqn FROM current_entities WHERE fqn LIKE '%.t4'"
    )
    assert live == [("svc.shop.main.t4",)]
    # Once it is really dropped, the lookup confirms it and the deletion goes through.
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE t4")
    dropped = run_workflow(_loaded(tmp_path, SqlSource(config, Forgetful(sqlite_engine(path)))))
    assert dropped.counters.deleted == 1 and dropped.warnings == []
