"""One contract suite over every connector: entities, FQNs, parents, lineage ends, re-runs.

A new connector joins by adding a case to `CASES`: a function that prepares a real source in a
temporary directory and returns its workflow `source` block.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
import yaml

from state.store import StateStore
from syncer import config as configs
from syncer import fqn
from syncer.models import ENTITY_TYPES
from syncer.workflow import RunResult, Workflow

REPO = Path(__file__).resolve().parents[2]


def _sqlite_shop(tmp: Path) -> dict[str, Any]:
    db = tmp / "shop.sqlite"
    shutil.copy(REPO / "examples/data/shop.sqlite", db)
    return {"type": "sql", "config": {"url": f"sqlite:///{db}", "service_name": "shop"}}


def _duckdb_warehouse(tmp: Path) -> dict[str, Any]:
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
    return {"type": "sql", "config": {"url": f"duckdb:///{db}", "service_name": "warehouse"}}


CASES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "sql-sqlite": _sqlite_shop,
    "sql-duckdb": _duckdb_warehouse,
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
        loaded = configs.load(self.config_path)
        store = StateStore.open(self.state_path)
        try:
            return Workflow(loaded, store).run()
        finally:
            store.close()

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        store = StateStore.open(self.state_path, read_only=True)
        try:
            return store.connection.execute(query).fetchall()
        finally:
            store.close()

    def entities(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (t, key, orjson.loads(payload))
            for t, key, payload in self.rows(
                "SELECT entity_type, fqn, payload::VARCHAR FROM current_entities"
            )
        ]


@pytest.fixture(params=sorted(CASES))
def synced(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Synced]:
    yield Synced(tmp_path, CASES[request.param](tmp_path))


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
