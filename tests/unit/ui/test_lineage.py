"""The lineage around an entity, read hop by hop from a state written by real runs."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from syncer.ui import lineage
from tests.support.engine import SCHEMA, Engine


def fqn(name: str) -> str:
    return f"{SCHEMA}.{name}"


@pytest.fixture
def connection(shop: Engine) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(shop.state_path), read_only=True) as connection:
        yield connection


def test_the_neighbourhood_reaches_as_many_hops_each_way_as_asked(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    found = lineage.neighbourhood(connection, fqn("t02"), hops=1)
    assert found.hops == {fqn("t01"): -1, fqn("t02"): 0, fqn("t03"): 1}
    assert sorted(found.edges) == [(fqn("t01"), fqn("t02")), (fqn("t02"), fqn("t03"))]
    assert not found.cut


def test_the_neighbourhood_stops_at_the_node_limit_and_says_so(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    found = lineage.neighbourhood(connection, fqn("t02"), hops=5, limit=3)
    assert len(found.hops) == 3 and found.cut
    assert all(a in found.hops and b in found.hops for a, b in found.edges)


def test_the_neighbourhood_as_of_a_run_holds_the_edges_deleted_since(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    now = lineage.neighbourhood(connection, fqn("t04"), hops=1)
    then = lineage.neighbourhood(connection, fqn("t04"), hops=1, as_of=1)
    assert fqn("t05") not in now.hops
    assert then.hops[fqn("t05")] == 1


def test_the_column_graph_puts_each_column_at_its_tables_distance(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    hops, edges = lineage.neighbourhood(connection, fqn("t01"), hops=1).column_graph()
    assert hops == {fqn("t00.id"): -1, fqn("t01.id"): 0, fqn("t02.id"): 1}
    assert sorted(edges) == [(fqn("t00.id"), fqn("t01.id")), (fqn("t01.id"), fqn("t02.id"))]


def test_an_entity_without_lineage_is_alone() -> None:
    with duckdb.connect() as memory:
        memory.execute(
            "CREATE VIEW lineage_edges AS SELECT 'a' AS from_fqn, 'b' AS to_fqn, "
            "NULL::JSON AS columns_lineage WHERE false"
        )
        found = lineage.neighbourhood(memory, "x")
    assert found.hops == {"x": 0} and found.edges == {}
