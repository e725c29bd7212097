"""Query-log lineage on real MariaDB servers, through the whole workflow.

The statement history of performance_schema must be on, which the shared server on 3306 is not
(and must not be reconfigured), so a throwaway MariaDB is started for this module
(`conftest.start_mariadb`) with performance_schema and the history consumer on. The shared
server (or its throwaway stand-in, see conftest) shows what a user without them sees.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest
import yaml
from structlog.testing import capture_logs

from syncer.statefile import open_state
from tests.integration.connectors.conftest import HOST, MySqlServer, start_mariadb
from tests.support.synced import SyncedState

SERVICE = "maria"
SETUP = """
CREATE TABLE {main}.customers (id INT PRIMARY KEY, email VARCHAR(200), spend DECIMAL(10,2));
CREATE TABLE {main}.orders (id INT PRIMARY KEY, customer_id INT, amount DECIMAL(10,2));
CREATE TABLE {mart}.totals (customer_id INT, total DECIMAL(10,2));
CREATE TABLE {mart}.tiers (id INT, tier VARCHAR(20));
INSERT INTO {main}.customers VALUES (1, 'ann@vip.example', 10), (2, 'bob@example.com', 99);
INSERT INTO {main}.orders VALUES (1, 1, 12.5), (2, 2, 70);
INSERT INTO {mart}.tiers VALUES (1, 'basic'), (2, 'basic')
"""
# Run in the main database; the literals must not reach the state or a sink.
STATEMENTS = [
    "INSERT INTO {mart}.totals (customer_id, total)"
    " SELECT o.customer_id, sum(o.amount) FROM orders o WHERE o.amount > 11.25"
    " GROUP BY o.customer_id",
    "CREATE TABLE {mart}.vip AS SELECT id, email FROM customers WHERE email LIKE '%@vip.example'",
    "UPDATE {mart}.tiers x JOIN {mart}.totals t ON t.customer_id = x.id"
    " SET x.tier = CASE WHEN t.total > 50.5 THEN 'gold' ELSE 'silver' END",
]
LITERALS = ["11.25", "@vip.example", "50.5", "gold", "silver"]


def _execute(server: MySqlServer, database: str, *statements: str) -> None:
    conn = pymysql.connect(
        host=HOST, port=server.port, user="root", database=database or None, autocommit=True
    )
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)  # no parameters: a % is not a placeholder
    finally:
        conn.close()


@pytest.fixture(scope="module")
def mariadb_querylog_server() -> Iterator[MySqlServer]:
    with start_mariadb(
        "--performance-schema=ON",
        "--performance-schema-consumer-events-statements-current=ON",
        "--performance-schema-consumer-events-statements-history-long=ON",
    ) as server:
        yield server


@dataclass(frozen=True)
class Deployment(SyncedState):
    main: str
    mart: str
    config_path: Path
    state_path: Path
    jsonl_path: Path

    def fqn(self, schema: str, table: str) -> str:
        return f"{SERVICE}.{self.main}.{schema}.{table}"

    def state_text(self) -> str:
        """Every row of every table of the state, as text."""
        store = open_state(self.state_path, read_only=True)
        try:
            conn = store.connection
            tables = conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
            return "\n".join(
                repr(conn.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()) for s, t in tables
            )
        finally:
            store.close()


def _deployment(tmp_path: Path, server: MySqlServer, main: str, mart: str) -> Deployment:
    config_path = tmp_path / "workflow.yaml"
    state_path, jsonl_path = tmp_path / "state.duckdb", tmp_path / "out" / "changes.jsonl"
    source = {
        "type": "sql",
        "config": {
            "url": server.url(database=main),
            "service_name": SERVICE,
            "include": {"schemas": [f"^{main}$", f"^{mart}$"]},
            "query_lineage": True,
        },
    }
    sinks = [{"type": "duckdb"}, {"type": "jsonl", "config": {"path": str(jsonl_path)}}]
    spec = {"workflow": "my", "source": source, "sinks": sinks, "state": {"path": str(state_path)}}
    config_path.write_text(yaml.safe_dump(spec))
    return Deployment(main, mart, config_path, state_path, jsonl_path)


@pytest.fixture
def databases(mariadb_querylog_server: MySqlServer) -> Iterator[tuple[str, str]]:
    main = f"qlog_{uuid.uuid4().hex[:8]}"
    mart = f"{main}_mart"
    server = mariadb_querylog_server
    _execute(server, "", f"CREATE DATABASE {main}", f"CREATE DATABASE {mart}")
    try:
        yield main, mart
    finally:
        _execute(server, "", f"DROP DATABASE IF EXISTS {mart}", f"DROP DATABASE IF EXISTS {main}")


@pytest.fixture
def logged(
    mariadb_querylog_server: MySqlServer, databases: tuple[str, str], tmp_path: Path
) -> Deployment:
    """Two fresh databases on the throwaway server whose history holds `STATEMENTS`."""
    server = mariadb_querylog_server
    main, mart = databases
    setup = [s.strip() for s in SETUP.format(main=main, mart=mart).split(";") if s.strip()]
    _execute(server, main, *setup)
    _execute(server, "", "TRUNCATE TABLE performance_schema.events_statements_history_long")
    _execute(server, main, *(s.format(mart=mart) for s in STATEMENTS))
    return _deployment(tmp_path, server, main, mart)


def _edges(deployment: Deployment) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (p["fromEntity"]["fullyQualifiedName"], p["toEntity"]["fullyQualifiedName"]): p
        for p in deployment.payloads("lineage").values()
    }


def test_logged_statements_give_their_edges_with_redacted_sql(logged: Deployment) -> None:
    result = logged.run()
    assert result.status == "succeeded", result.error
    f, main, mart = logged.fqn, logged.main, logged.mart
    edges = _edges(logged)
    assert set(edges) == {
        (f(main, "orders"), f(mart, "totals")),
        (f(main, "customers"), f(mart, "vip")),
        (f(mart, "totals"), f(mart, "tiers")),
    }
    for edge in edges.values():
        assert edge["source"] == "QueryLineage"
        assert "?" in edge["sqlQuery"]
    sent = [line for line in logged.jsonl_path.read_text().splitlines() if "QueryLineage" in line]
    assert len(sent) == 3
    state = logged.state_text()
    assert f(mart, "vip") in state and "QueryLineage" in state  # the check below sees the edges
    for literal in LITERALS:
        assert literal not in logged.jsonl_path.read_text()
        assert literal not in state
        assert not any(literal in json.dumps(edge) for edge in edges.values())
    totals = edges[(f(main, "orders"), f(mart, "totals"))]
    assert {c["toColumn"]: c["fromColumns"] for c in totals["columnsLineage"]} == {
        f(mart, "totals") + ".customer_id": [f(main, "orders") + ".customer_id"],
        f(mart, "totals") + ".total": [f(main, "orders") + ".amount"],
    }
    tiers = edges[(f(mart, "totals"), f(mart, "tiers"))]
    assert {c["toColumn"]: c["fromColumns"] for c in tiers["columnsLineage"]} == {
        f(mart, "tiers") + ".tier": [f(mart, "totals") + ".total"],
    }


def test_a_second_run_sends_nothing(logged: Deployment) -> None:
    logged.run()
    lines = logged.jsonl_path.read_bytes()
    result = logged.run()
    assert result.status == "succeeded", result.error
    assert result.counters.changed == 0
    assert logged.jsonl_path.read_bytes() == lines


def test_without_performance_schema_the_run_says_how_to_enable_it_and_deletes_nothing(
    mysql_server: MySqlServer, tmp_path: Path
) -> None:
    main = f"qlog_{uuid.uuid4().hex[:8]}"
    mart = f"{main}_mart"
    _execute(mysql_server, "", f"CREATE DATABASE {main}", f"CREATE DATABASE {mart}")
    try:
        _execute(mysql_server, main, "CREATE TABLE t (id INT)")
        deployment = _deployment(tmp_path, mysql_server, main, mart)
        with capture_logs() as logs:
            result = deployment.run()
    finally:
        _execute(
            mysql_server, "", f"DROP DATABASE IF EXISTS {mart}", f"DROP DATABASE IF EXISTS {main}"
        )
    assert result.status == "partial"
    assert (result.counters.errors, result.counters.deleted) == (1, 0)
    [failed] = [e for e in logs if e["event"] == "record failed"]
    assert failed["record"] == f"{SERVICE}.{main}.performance_schema"
    for step in (
        "performance_schema is OFF",
        "performance_schema=ON",
        "[mysqld]",
        "restart",
        "UPDATE performance_schema.setup_consumers SET ENABLED='YES'"
        " WHERE NAME LIKE 'events_statements_history%'",
        "GRANT SELECT ON performance_schema.* TO 'root'@",
    ):
        assert step in failed["reason"]
    assert set(deployment.payloads("table")) == {f"{SERVICE}.{main}.{main}.t"}
    assert deployment.query("SELECT count(*) FROM change_log WHERE kind = 'deleted'") == [(0,)]
