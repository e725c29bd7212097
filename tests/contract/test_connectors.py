"""One contract suite over every connector: entities, FQNs, parents, lineage ends, re-runs.

A new connector joins by adding a case to `CASES`: a context manager that prepares a real source
(in a temporary directory, or a uniquely named database on a local server that it drops after)
and yields its workflow `source` block. A case whose server does not answer is skipped.
"""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
import sqlalchemy as sa
import yaml

from state.store import StateStore
from syncer import fqn
from syncer.models import ENTITY_TYPES
from syncer.workflow import RunResult
from tests.support.runs import query_state, run_workflow

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def _sqlite_shop(tmp: Path) -> Iterator[dict[str, Any]]:
    db = tmp / "shop.sqlite"
    shutil.copy(REPO / "examples/data/shop.sqlite", db)
    yield {"type": "sql", "config": {"url": f"sqlite:///{db}", "service_name": "shop"}}


@contextmanager
def _duckdb_warehouse(tmp: Path) -> Iterator[dict[str, Any]]:
    db = tmp / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        """
        CREATE SCHEMA sales;
        CREATE TABLE sales.customers (id INTEGER PRIMARY KEY, email VARCHAR UNIQUE NOT NULL,
                                      tags VARCHAR[], signed_up TIMESTAMP WITH TIME ZONE);
        CREATE TABLE sales.orders (id BIGINT PRIMARY KEY, customer_id INTEGER NOT NULL
                                   REFERENCES sales.customers (id), total DECIMAL(12, 2));
        CREATE TABLE sales."line.items" (order_id BIGINT, sku VARCHAR(32), qty SMALLINT);
        CREATE VIEW sales.big_orders AS SELECT o.id, c.email FROM sales.orders o
            JOIN sales.customers c ON c.id = o.customer_id WHERE o.total > 100;
        COMMENT ON TABLE sales.customers IS 'people who buy';
        """
    )
    con.close()
    yield {"type": "sql", "config": {"url": f"duckdb:///{db}", "service_name": "warehouse"}}


# The same small shop on every server; each dialect's own DDL quirks are kept out of it.
_SERVER_SHOP = (
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
    "REFERENCES customers (id), total DECIMAL(12, 2))",
    "CREATE VIEW big_orders AS SELECT o.id, c.email FROM orders o "
    "JOIN customers c ON c.id = o.customer_id WHERE o.total > 100",
)


def _server_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


@contextmanager
def _server_database(admin_url: str, url_of: Callable[[str], str]) -> Iterator[str]:
    """A uniquely named database with the shop in it, dropped afterwards; yields its URL."""
    name = f"syncer_contract_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.exec_driver_sql(f"CREATE DATABASE {name}")
    shop = sa.create_engine(url_of(name))
    try:
        with shop.begin() as con:
            for statement in _SERVER_SHOP:
                con.exec_driver_sql(statement)
        yield url_of(name)
    finally:
        shop.dispose()
        with admin.connect() as con:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@contextmanager
def _postgres_shop(tmp: Path) -> Iterator[dict[str, Any]]:
    if not _server_answers(5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432: start it, or install it")
    base = "postgresql+psycopg://postgres@127.0.0.1:5432"
    with _server_database(f"{base}/test", lambda name: f"{base}/{name}") as url:
        yield {"type": "sql", "config": {"url": url, "service_name": "pg"}}


@contextmanager
def _mariadb_shop(tmp: Path) -> Iterator[dict[str, Any]]:
    if not _server_answers(3306):
        pytest.skip("MariaDB/MySQL is not running on 127.0.0.1:3306: start it, or install it")
    base = "mysql+pymysql://root@127.0.0.1:3306"
    with _server_database(f"{base}/test", lambda name: f"{base}/{name}") as url:
        yield {"type": "sql", "config": {"url": url, "service_name": "maria"}}


CASES: dict[str, Callable[[Path], AbstractContextManager[dict[str, Any]]]] = {
    "sql-sqlite": _sqlite_shop,
    "sql-duckdb": _duckdb_warehouse,
    "sql-postgres": _postgres_shop,
    "sql-mariadb": _mariadb_shop,
}


class Synced:
    """A connector synced once into a fresh state file, with helpers to look at the result."""

    def __init__(self, tmp: Path, source: dict[str, Any]) -> None:
        self.config_path = tmp / "workflow.yaml"
        self.state_path = tmp / "state.duckdb"
        self.config_path.write_text(
            yaml.safe_dump(
                {
                    "workflow": "contract",
                    "source": source,
                    "sinks": [{"type": "duckdb"}],
                    "state": {"path": str(self.state_path)},
                }
            )
        )
        self.first = self.run()

    def run(self) -> RunResult:
        return run_workflow(self.config_path, self.state_path)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return query_state(self.state_path, query)

    def entities(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (t, key, orjson.loads(payload))
            for t, key, payload in self.rows(
                "SELECT entity_type, fqn, payload::VARCHAR FROM current_entities"
            )
        ]


@pytest.fixture(params=sorted(CASES))
def synced(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Synced]:
    with CASES[request.param](tmp_path) as source:
        yield Synced(tmp_path, source)


def test_a_first_run_succeeds_and_creates_entities(synced: Synced) -> None:
    assert synced.first.status == "succeeded", synced.first.error
    assert synced.first.counters.created > 0
    assert synced.first.counters.errors == 0


def test_every_entity_is_a_valid_model_of_a_known_type(synced: Synced) -> None:
    for entity_type, key, payload in synced.entities():
        assert entity_type in ENTITY_TYPES, key
        ENTITY_TYPES[entity_type].model_validate(payload)


def test_every_key_is_the_fqn_its_model_builds_and_splits_back(synced: Synced) -> None:
    for entity_type, key, payload in synced.entities():
        entity = ENTITY_TYPES[entity_type].model_validate(payload)
        assert entity.fqn == key
        if entity_type != "lineage":
            assert fqn.build(*fqn.split(key)) == key


def test_every_child_has_its_parent_and_every_edge_its_ends(synced: Synced) -> None:
    store = StateStore.open(synced.state_path, read_only=True)
    try:
        assert store.orphans("contract") == []
    finally:
        store.close()
    assert synced.first.warnings == []


def test_a_source_with_views_yields_lineage_whose_ends_are_tables(synced: Synced) -> None:
    edges = synced.rows("SELECT from_fqn, to_fqn, source FROM lineage_edges")
    assert edges, "every case has at least one view"
    tables = {key for t, key, _ in synced.entities() if t == "table"}
    for from_fqn, to_fqn, source in edges:
        assert from_fqn in tables and to_fqn in tables
        assert source == "ViewLineage"


def test_an_immediate_rerun_changes_and_sends_nothing(synced: Synced) -> None:
    changes_before = synced.rows("SELECT count(*) FROM change_log")[0][0]
    again = synced.run()
    counters = again.counters
    assert (counters.created, counters.updated, counters.deleted, counters.restored) == (0, 0, 0, 0)
    assert counters.unchanged == synced.first.counters.created
    assert synced.rows("SELECT count(*) FROM change_log")[0][0] == changes_before
    assert [r.delivered for r in again.deliveries] == [0]


def test_the_catalog_holds_exactly_the_current_entities(synced: Synced) -> None:
    state = set(synced.rows("SELECT entity_type, fqn, fingerprint FROM current_entities"))
    catalog = set(synced.rows("SELECT entity_type, fqn, fingerprint FROM catalog.entities"))
    assert catalog == state
