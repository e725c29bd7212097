"""Query-log lineage on real PostgreSQL servers, through the whole workflow.

pg_stat_statements must be preloaded, which the shared server on 5432 is not (and must not be
reconfigured), so a throwaway server is started for this module (`conftest.start_postgres`), as an
unprivileged user when the tests run as root (PostgreSQL refuses to run as root). The shared
server (or its throwaway stand-in) shows what a user without the extension sees.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from structlog.testing import capture_logs

from tests.integration.connectors.conftest import PgDatabase, PgServer, start_postgres
from tests.integration.connectors.test_postgres import Deployment

SETUP = """
CREATE EXTENSION pg_stat_statements;
CREATE SCHEMA mart;
CREATE TABLE public.customers (id integer PRIMARY KEY, email text, spend numeric);
CREATE TABLE public.orders (id integer PRIMARY KEY, customer_id integer, amount numeric);
CREATE TABLE mart.totals (customer_id integer, total numeric);
CREATE TABLE mart.tiers (id integer, tier text);
INSERT INTO customers VALUES (1, 'ann@vip.example', 10), (2, 'bob@example.com', 99);
INSERT INTO orders VALUES (1, 1, 12.5), (2, 2, 70);
INSERT INTO mart.tiers VALUES (1, 'basic');
SELECT pg_stat_statements_reset();
"""
# The statements whose lineage is expected; the literals must not reach the state or a sink.
STATEMENTS = [
    "INSERT INTO mart.totals (customer_id, total)"
    " SELECT o.customer_id, sum(o.amount) FROM orders o WHERE o.amount > 11.25 GROUP BY 1",
    "CREATE TABLE mart.vip AS SELECT id, email FROM customers WHERE email LIKE '%@vip.example'",
    "UPDATE mart.tiers SET tier = CASE WHEN t.total > 50.5 THEN 'gold' ELSE 'silver' END"
    " FROM mart.totals t WHERE t.customer_id = tiers.id",
    "MERGE INTO mart.tiers x USING customers c ON x.id = c.id"
    " WHEN NOT MATCHED THEN INSERT (id, tier) VALUES (c.id, 'new@example.com')",
]
LITERALS = ["11.25", "@vip.example", "50.5", "gold", "silver", "new@example.com"]


@pytest.fixture(scope="session")
def pg_querylog_server() -> Iterator[PgServer]:
    with start_postgres("shared_preload_libraries=pg_stat_statements") as server:
        yield server


def _deployment(tmp_path: Path, database: str, port: int) -> Deployment:
    config_path = tmp_path / "workflow.yaml"
    state_path, jsonl_path = tmp_path / "state.duckdb", tmp_path / "out" / "changes.jsonl"
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"
    source = {"type": "sql", "config": {"url": url, "service_name": "pg", "query_lineage": True}}
    sinks = [{"type": "duckdb"}, {"type": "jsonl", "config": {"path": str(jsonl_path)}}]
    spec = {"workflow": "pg", "source": source, "sinks": sinks, "state": {"path": str(state_path)}}
    config_path.write_text(yaml.safe_dump(spec))
    return Deployment(
        PgDatabase(database, "postgres", "", port), config_path, state_path, jsonl_path, False
    )


@pytest.fixture
def logged(pg_querylog_server: PgServer, tmp_path: Path) -> Iterator[Deployment]:
    """A fresh database on the throwaway server whose log holds exactly `STATEMENTS`."""
    server = pg_querylog_server
    name = f"qlog_{tmp_path.name[-20:].lower().replace('-', '_')}"
    server.execute("postgres", f"CREATE DATABASE {name}")
    try:
        server.execute(name, SETUP, *STATEMENTS)
        yield _deployment(tmp_path, name, server.port)
    finally:
        server.execute("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _edges(deployment: Deployment) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (p["fromEntity"]["fullyQualifiedName"], p["toEntity"]["fullyQualifiedName"]): p
        for p in deployment.payloads("lineage").values()
    }


def test_logged_statements_give_their_edges_with_redacted_sql(logged: Deployment) -> None:
    result = logged.run()
    assert result.status == "succeeded", result.error
    f = logged.fqn
    edges = _edges(logged)
    assert set(edges) == {
        (f("public", "orders"), f("mart", "totals")),
        (f("public", "customers"), f("mart", "vip")),
        (f("mart", "totals"), f("mart", "tiers")),
        (f("public", "customers"), f("mart", "tiers")),
    }
    for edge in edges.values():
        assert edge["source"] == "QueryLineage"
        assert "?" in edge["sqlQuery"]
    sent = [line for line in logged.jsonl_path.read_text().splitlines() if "QueryLineage" in line]
    assert len(sent) == 4
    for literal in LITERALS:
        assert not any(literal in line for line in sent)
        assert not any(literal in json.dumps(edge) for edge in edges.values())
    totals = edges[(f("public", "orders"), f("mart", "totals"))]
    assert {c["toColumn"]: c["fromColumns"] for c in totals["columnsLineage"]} == {
        f("mart", "totals") + ".customer_id": [f("public", "orders") + ".customer_id"],
        f("mart", "totals") + ".total": [f("public", "orders") + ".amount"],
    }


def test_a_second_run_sends_nothing(logged: Deployment) -> None:
    logged.run()
    lines = logged.jsonl_path.read_bytes()
    result = logged.run()
    assert result.status == "succeeded", result.error
    assert result.counters.changed == 0
    assert logged.jsonl_path.read_bytes() == lines


def test_a_log_that_ages_out_or_goes_away_deletes_no_edge(
    logged: Deployment, pg_querylog_server: PgServer
) -> None:
    first = logged.run()
    pg_querylog_server.execute(logged.db.name, "SELECT pg_stat_statements_reset()")
    assert logged.run().counters.deleted == 0
    pg_querylog_server.execute(logged.db.name, "DROP EXTENSION pg_stat_statements")
    with capture_logs() as logs:
        result = logged.run()
    assert result.status == "partial"
    assert (result.counters.errors, result.counters.deleted) == (1, 0)
    [failed] = [e for e in logs if e["event"] == "record failed"]
    assert "CREATE EXTENSION pg_stat_statements" in failed["reason"]
    assert len(_edges(logged)) == 4
    live = logged.query("SELECT count(*) FROM current_entities")
    assert live[0][0] == first.counters.created


def test_without_the_extension_the_run_says_how_to_enable_it_and_deletes_nothing(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    pg_database.execute("CREATE TABLE public.t (id integer)")
    deployment = _deployment(tmp_path, pg_database.name, pg_database.port)
    with capture_logs() as logs:
        result = deployment.run()
    assert result.status == "partial"
    assert (result.counters.errors, result.counters.deleted) == (1, 0)
    [failed] = [e for e in logs if e["event"] == "record failed"]
    assert failed["record"] == f"pg.{pg_database.name}.pg_stat_statements"
    for step in (
        "shared_preload_libraries = 'pg_stat_statements'",
        "restart",
        "CREATE EXTENSION pg_stat_statements;",
        "GRANT pg_read_all_stats TO",
    ):
        assert step in failed["reason"]
    assert set(deployment.payloads("table")) == {f"pg.{pg_database.name}.public.t"}
    assert deployment.query("SELECT count(*) FROM change_log WHERE kind = 'deleted'") == [(0,)]
