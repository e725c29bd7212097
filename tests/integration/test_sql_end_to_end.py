"""The whole path on real database files: SQLite and DuckDB, through the `sql` source.

Each test changes the database the way a user would (ALTER, DROP) and checks what the state,
the embedded catalog and the JSON Lines sink show afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
import yaml

from syncer.workflow import RunResult
from tests.support.runs import query_state, run_workflow

TABLES = ["customers", "orders", "products", "suppliers", "shipments", "invoices", "returns"]


def _create_sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    for name in TABLES:
        con.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)")
    con.execute(
        "CREATE VIEW named_orders AS SELECT o.id, c.name FROM orders o "
        "JOIN customers c ON c.id = o.id"
    )
    con.commit()
    con.close()


def _create_duckdb(path: Path) -> None:
    con = duckdb.connect(str(path))
    for name in TABLES:
        con.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)")
    con.execute(
        "CREATE VIEW named_orders AS SELECT o.id, c.name FROM orders o "
        "JOIN customers c ON c.id = o.id"
    )
    con.close()


def _sqlite_exec(path: Path, sql: str) -> None:
    con = sqlite3.connect(path)
    con.executescript(sql)
    con.close()


def _duckdb_exec(path: Path, sql: str) -> None:
    con = duckdb.connect(str(path))
    con.execute(sql)
    con.close()


@dataclass
class Database:
    path: Path
    url: str
    execute: Callable[[Path, str], None]

    def run_sql(self, sql: str) -> None:
        self.execute(self.path, sql)


@dataclass
class Deployment:
    """A workflow over one database file, with the state, catalog and JSONL it writes."""

    db: Database
    config_path: Path
    state_path: Path
    jsonl_path: Path

    def run(self, **options: Any) -> RunResult:
        return run_workflow(self.config_path, self.state_path, **options)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return query_state(self.state_path, sql)

    def jsonl(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.jsonl_path.read_bytes().splitlines()]

    def counts(self) -> tuple[int, int]:
        entities = self.query("SELECT count(*) FROM entities")[0][0]
        changes = self.query("SELECT count(*) FROM changes")[0][0]
        return entities, changes


@pytest.fixture(params=["sqlite", "duckdb"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    if request.param == "sqlite":
        db = Database(tmp_path / "app.sqlite", "", _sqlite_exec)
        _create_sqlite(db.path)
        db.url = f"sqlite:///{db.path}"
    else:
        db = Database(tmp_path / "app.duckdb", "", _duckdb_exec)
        _create_duckdb(db.path)
        db.url = f"duckdb:///{db.path}"
    config_path = tmp_path / "workflow.yaml"
    jsonl_path = tmp_path / "out" / "changes.jsonl"
    state_path = tmp_path / "state.duckdb"
    config_path.write_text(
        yaml.safe_dump(
            {
                "workflow": "e2e",
                "source": {"type": "sql", "config": {"url": db.url, "service_name": "app"}},
                "sinks": [
                    {"type": "duckdb"},
                    {"type": "jsonl", "config": {"path": str(jsonl_path)}},
                ],
                "state": {"path": str(state_path)},
            }
        )
    )
    yield Deployment(db, config_path, state_path, jsonl_path)


def _table_fqn(deployment: Deployment, name: str) -> str:
    database = deployment.db.path.stem
    schema = "main"
    return f"app.{database}.{schema}.{name}"


def test_the_first_run_creates_every_table_view_and_edge(deployment: Deployment) -> None:
    result = deployment.run()
    assert result.status == "succeeded"
    tables = {
        fqn
        for (fqn,) in deployment.query(
            "SELECT fqn FROM current_entities WHERE entity_type = 'table'"
        )
    }
    assert tables == {_table_fqn(deployment, n) for n in [*TABLES, "named_orders"]}
    edges = set(deployment.query("SELECT from_fqn, to_fqn FROM lineage_edges"))
    view = _table_fqn(deployment, "named_orders")
    assert edges == {
        (_table_fqn(deployment, "orders"), view),
        (_table_fqn(deployment, "customers"), view),
    }
    assert len(deployment.jsonl()) == result.counters.created
    assert {r.sink: r.delivered for r in result.deliveries} == {
        "duckdb": result.counters.created,
        "jsonl": result.counters.created,
    }


def test_an_immediate_rerun_sends_nothing_and_adds_no_rows(deployment: Deployment) -> None:
    deployment.run()
    before = deployment.counts()
    lines = deployment.jsonl_path.read_bytes()
    result = deployment.run()
    assert result.counters.changed == 0
    assert deployment.counts() == before
    assert deployment.jsonl_path.read_bytes() == lines
    assert all(r.delivered == 0 for r in result.deliveries)


def test_altering_one_table_yields_exactly_one_update_naming_the_field(
    deployment: Deployment,
) -> None:
    deployment.run()
    deployment.db.run_sql("ALTER TABLE suppliers ADD COLUMN phone VARCHAR(20)")
    result = deployment.run()
    assert (result.counters.created, result.counters.updated, result.counters.deleted) == (0, 1, 0)
    [(fqn, kind, fields)] = deployment.query(
        f"SELECT fqn, kind, changed_fields FROM change_log WHERE run_id = {result.run_id}"
    )
    assert (fqn, kind) == (_table_fqn(deployment, "suppliers"), "updated")
    assert fields == ["columns.phone"]
    catalog_columns = {
        name
        for (name,) in deployment.query(
            f"SELECT name FROM catalog.columns WHERE table_fqn = '{fqn}'"
        )
    }
    assert catalog_columns == {"id", "name", "phone"}
    assert deployment.jsonl()[-1]["changedFields"] == ["columns.phone"]


def test_dropping_one_table_yields_one_deletion_everywhere(deployment: Deployment) -> None:
    deployment.run()
    deployment.db.run_sql("DROP TABLE returns")
    result = deployment.run()
    assert (result.counters.created, result.counters.updated, result.counters.deleted) == (0, 0, 1)
    gone = _table_fqn(deployment, "returns")
    assert deployment.query(f"SELECT kind FROM change_log WHERE fqn = '{gone}' ORDER BY seq") == [
        ("created",),
        ("deleted",),
    ]
    assert deployment.query(f"SELECT * FROM current_entities WHERE fqn = '{gone}'") == []
    assert deployment.query(f"SELECT * FROM catalog.entities WHERE fqn = '{gone}'") == []
    assert deployment.jsonl()[-1]["kind"] == "deleted"


def test_dropping_a_view_deletes_it_and_its_lineage(deployment: Deployment) -> None:
    deployment.run()
    deployment.db.run_sql("DROP VIEW named_orders")
    result = deployment.run()
    assert result.counters.deleted == 3  # the view and its two edges
    assert deployment.query("SELECT * FROM lineage_edges") == []
    assert deployment.query("SELECT * FROM catalog.lineage") == []
    kinds = [
        (t, k)
        for t, k in deployment.query(
            f"SELECT entity_type, kind FROM change_log WHERE run_id = {result.run_id} ORDER BY seq"
        )
    ]
    assert kinds == [("lineage", "deleted"), ("lineage", "deleted"), ("table", "deleted")]


def test_deleting_more_than_the_fail_safe_share_is_refused(deployment: Deployment) -> None:
    deployment.run()
    deployment.db.run_sql("DROP VIEW named_orders; DROP TABLE invoices; DROP TABLE shipments")
    result = deployment.run()
    assert result.counters.deleted == 0
    assert any(w.startswith("stream tables: deletions refused") for w in result.warnings)
    live_tables = deployment.query(
        "SELECT count(*) FROM current_entities WHERE entity_type = 'table'"
    )[0][0]
    assert live_tables == len(TABLES) + 1
    # The view was kept, so its lineage is kept too.
    assert len(deployment.query("SELECT * FROM lineage_edges")) == 2


def test_a_dropped_table_that_comes_back_is_restored(deployment: Deployment) -> None:
    deployment.run()
    deployment.db.run_sql("DROP TABLE returns")
    deployment.run()
    deployment.db.run_sql(
        "CREATE TABLE returns (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)"
    )
    result = deployment.run()
    assert result.counters.restored == 1
    assert deployment.jsonl()[-1]["kind"] == "restored"
