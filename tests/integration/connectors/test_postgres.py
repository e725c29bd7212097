"""The `sql` source on a real PostgreSQL server, through the whole workflow.

Every test builds the same small database (see `SCHEMA`) in a fresh `syncer_test_<hex>`
database and reads it as a read-only login role, the way a deployment would.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
import yaml
from structlog.testing import capture_logs

from syncer.connectors.sql import reading
from syncer.connectors.sql.config import load_config
from syncer.connectors.sql.mapping import to_table
from syncer.connectors.sql.reflect import RawTable, open_reflector
from syncer.connectors.sql.reflect import postgres as pg_reflect
from syncer.connectors.sql.source import SqlSource
from syncer.errors import ConfigError
from syncer.models import Table
from tests.integration.connectors.conftest import PgDatabase, PgServer
from tests.support.synced import SyncedState
from tests.support.workspace import REPO, SYNCER

PASSWORD_ENV = "SYNCER_TEST_PG_PASSWORD"

SCHEMA = """
CREATE SCHEMA sales;
CREATE SCHEMA "Odd Schema";
CREATE TYPE sales.status AS ENUM ('new', 'Shipped');
CREATE TABLE public.customers (
    id integer PRIMARY KEY,
    email character varying(120) NOT NULL UNIQUE,
    tags text[],
    profile jsonb,
    created timestamptz DEFAULT now(),
    ip inet
);
COMMENT ON TABLE public.customers IS 'People who buy';
COMMENT ON COLUMN public.customers.email IS 'Login e-mail';
CREATE TABLE sales.orders (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES public.customers (id),
    ref uuid UNIQUE,
    amount numeric(10, 2),
    status sales.status NOT NULL DEFAULT 'new',
    scores double precision[],
    receipt bytea
);
CREATE TABLE sales.events (id integer, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE sales.events_2024 PARTITION OF sales.events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE sales.events_2025 PARTITION OF sales.events
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE "Odd Schema"."Line.Items" (
    "Order Id" bigint REFERENCES sales.orders (id),
    "Qty" integer,
    "größe" text,
    UNIQUE ("Order Id", "Qty")
);
COMMENT ON COLUMN "Odd Schema"."Line.Items"."größe" IS 'Größe';
CREATE VIEW sales.order_totals AS
    SELECT o.customer_id, sum(o.amount) AS total FROM sales.orders o GROUP BY o.customer_id;
CREATE VIEW public.customer_totals AS
    SELECT c.email, t.total FROM customers c JOIN sales.order_totals t ON t.customer_id = c.id;
CREATE MATERIALIZED VIEW sales.big_orders AS
    SELECT id, amount FROM sales.orders WHERE amount > 100;
CREATE VIEW "Odd Schema"."Big Items" AS
    SELECT "Order Id", "Qty" FROM "Odd Schema"."Line.Items" WHERE "Qty" > 10;
"""
FOREIGN = """
CREATE EXTENSION postgres_fdw;
CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'elsewhere');
CREATE FOREIGN TABLE sales.remote_orders (id bigint NOT NULL, note text) SERVER elsewhere;
"""


def _grants(role: str) -> str:
    schemas = 'public, sales, "Odd Schema"'
    return f"""
GRANT USAGE ON SCHEMA {schemas} TO {role};
GRANT SELECT ON ALL TABLES IN SCHEMA {schemas} TO {role};
"""


@dataclass
class Deployment(SyncedState):
    db: PgDatabase
    config_path: Path
    state_path: Path
    jsonl_path: Path
    foreign: bool  # whether postgres_fdw was available for the foreign table

    def fqn(self, schema: str, table: str) -> str:
        table = f'"{table}"' if "." in table else table
        return f"pg.{self.db.name}.{schema}.{table}"

    def configure(self, **options: Any) -> None:
        """Set options of the source's config in the workflow file."""
        spec = yaml.safe_load(self.config_path.read_text())
        spec["source"]["config"].update(options)
        self.config_path.write_text(yaml.safe_dump(spec))

    def test_connection(self) -> subprocess.CompletedProcess[str]:
        """`syncer test-connection` on the workflow file, as a user runs it."""
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        return subprocess.run(
            [str(SYNCER), "test-connection", str(self.config_path)],
            cwd=self.config_path.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def snapshot(self) -> dict[str, Any]:
        """Every entity's payload by type, and the order in which the changes were logged."""
        types = ("databaseService", "database", "databaseSchema", "table", "lineage")
        order = [fqn for (fqn,) in self.query("SELECT fqn FROM change_log ORDER BY seq")]
        return {"order": order, **{t: self.payloads(t) for t in types}}

    def changes(self, run_id: int) -> list[tuple[Any, ...]]:
        return self.query(
            "SELECT fqn, entity_type, kind, changed_fields FROM change_log"
            f" WHERE run_id = {run_id} ORDER BY seq"
        )


def _has_fdw(db: PgDatabase) -> bool:
    with psycopg.connect(f"host=127.0.0.1 port={db.port} user=postgres dbname={db.name}") as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgres_fdw'"
        ).fetchone()
    return found is not None


def _write_config(path: Path, url: str, state: Path, jsonl: Path) -> None:
    source = {"type": "sql", "config": {"url": url, "service_name": "pg"}}
    sinks = [{"type": "duckdb"}, {"type": "jsonl", "config": {"path": str(jsonl)}}]
    spec = {"workflow": "pg", "source": source, "sinks": sinks, "state": {"path": str(state)}}
    path.write_text(yaml.safe_dump(spec))


def _deployment(db: PgDatabase, tmp_path: Path, url: str, foreign: bool) -> Deployment:
    config_path = tmp_path / "workflow.yaml"
    state_path, jsonl_path = tmp_path / "state.duckdb", tmp_path / "out" / "changes.jsonl"
    _write_config(config_path, url, state_path, jsonl_path)
    return Deployment(db, config_path, state_path, jsonl_path, foreign)


def _url(db: PgDatabase, port: int | None = None, database: str | None = None) -> str:
    return (
        f"postgresql+psycopg://{db.role}:${{env:{PASSWORD_ENV}}}@127.0.0.1:{port or db.port}/"
        f"{database or db.name}"
    )


@pytest.fixture
def deployment(
    pg_database: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    foreign = _has_fdw(pg_database)
    pg_database.execute(SCHEMA, *([FOREIGN] if foreign else []), _grants(pg_database.role))
    monkeypatch.setenv(PASSWORD_ENV, pg_database.password)
    yield _deployment(pg_database, tmp_path, _url(pg_database), foreign)


def _columns(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in table["columns"]}


_TYPE_FIELDS = ("dataType", "dataTypeDisplay", "dataLength", "precision", "scale", "arrayDataType")


def _type(column: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(column.get(k) for k in _TYPE_FIELDS)


def test_the_first_run_creates_every_kind_of_relation_with_its_fqn_and_type(
    deployment: Deployment,
) -> None:
    result = deployment.run()
    assert result.status == "succeeded", result.error
    f = deployment.fqn
    tables = deployment.payloads("table")
    expected = {
        f("public", "customers"): "Regular",
        f("public", "customer_totals"): "View",
        f("sales", "orders"): "Regular",
        f("sales", "events"): "Partitioned",
        f("sales", "order_totals"): "View",
        f("sales", "big_orders"): "MaterializedView",
        f("Odd Schema", "Line.Items"): "Regular",
        f("Odd Schema", "Big Items"): "View",
    }
    if deployment.foreign:
        expected[f("sales", "remote_orders")] = "Foreign"
    assert {fqn: t["tableType"] for fqn, t in tables.items()} == expected
    schemas = set(deployment.payloads("databaseSchema"))
    assert schemas == {f"pg.{deployment.db.name}.{s}" for s in ("public", "sales", "Odd Schema")}
    assert set(deployment.payloads("database")) == {f"pg.{deployment.db.name}"}
    [service] = deployment.payloads("databaseService").values()
    assert service["serviceType"] == "Postgres"


def test_columns_carry_postgres_types_nullability_and_comments(deployment: Deployment) -> None:
    deployment.run()
    tables = deployment.payloads("table")
    customers = tables[deployment.fqn("public", "customers")]
    assert customers["description"] == "People who buy"
    columns = _columns(customers)
    assert list(columns) == ["id", "email", "tags", "profile", "created", "ip"]
    assert _type(columns["id"]) == ("INT", "integer", None, None, None, None)
    assert _type(columns["email"]) == ("VARCHAR", "character varying(120)", 120, None, None, None)
    assert _type(columns["tags"]) == ("ARRAY", "text[]", None, None, None, "TEXT")
    assert _type(columns["profile"]) == ("JSON", "jsonb", None, None, None, None)
    assert _type(columns["created"])[:2] == ("TIMESTAMPZ", "timestamp with time zone")
    assert _type(columns["ip"])[:2] == ("INET", "inet")
    assert columns["email"]["description"] == "Login e-mail"
    assert columns["id"]["constraint"] == "PRIMARY_KEY"
    assert columns["email"]["constraint"] == "NOT_NULL"
    assert columns["tags"]["constraint"] == "NULL"
    assert [c["ordinalPosition"] for c in columns.values()] == [1, 2, 3, 4, 5, 6]

    orders = _columns(tables[deployment.fqn("sales", "orders")])
    assert _type(orders["id"])[:1] == ("BIGINT",)
    assert _type(orders["ref"])[:1] == ("UUID",)
    assert _type(orders["amount"]) == ("NUMERIC", "numeric(10,2)", None, 10, 2, None)
    # The enum's own name and its labels, in their own case.
    assert _type(orders["status"])[:2] == ("ENUM", "enum status('new','Shipped')")
    assert _type(orders["scores"]) == ("ARRAY", "double precision[]", None, None, None, "DOUBLE")
    assert _type(orders["receipt"])[:1] == ("BYTEA",)
    assert orders["status"]["constraint"] == "NOT_NULL"

    odd = tables[deployment.fqn("Odd Schema", "Line.Items")]
    assert list(_columns(odd)) == ["Order Id", "Qty", "größe"]
    assert _columns(odd)["größe"]["description"] == "Größe"


def test_keys_name_their_columns_and_referred_tables_across_schemas(
    deployment: Deployment,
) -> None:
    deployment.run()
    tables = deployment.payloads("table")
    f, db = deployment.fqn, deployment.db.name

    def constraints(fqn: str) -> list[tuple[Any, ...]]:
        return sorted(
            (c["constraintType"], tuple(c["columns"]), tuple(c.get("referredColumns") or ()))
            for c in tables[fqn].get("tableConstraints") or []
        )

    assert constraints(f("public", "customers")) == [
        ("PRIMARY_KEY", ("id",), ()),
        ("UNIQUE", ("email",), ()),
    ]
    assert constraints(f("sales", "orders")) == [
        ("FOREIGN_KEY", ("customer_id",), (f"pg.{db}.public.customers.id",)),
        ("PRIMARY_KEY", ("id",), ()),
        ("UNIQUE", ("ref",), ()),
    ]
    assert constraints(f("Odd Schema", "Line.Items")) == [
        ("FOREIGN_KEY", ("Order Id",), (f"pg.{db}.sales.orders.id",)),
        ("UNIQUE", ("Order Id", "Qty"), ()),
    ]
    assert constraints(f("sales", "events")) == [("PRIMARY_KEY", ("id", "at"), ())]


def test_views_get_table_and_column_lineage(deployment: Deployment) -> None:
    deployment.run()
    f = deployment.fqn
    edges = {
        (p["fromEntity"]["fullyQualifiedName"], p["toEntity"]["fullyQualifiedName"]): {
            c["toColumn"].rsplit(".", 1)[-1]: sorted(c["fromColumns"])
            for c in p.get("columnsLineage") or []
        }
        for p in deployment.payloads("lineage").values()
    }
    orders, totals = f("sales", "orders"), f("sales", "order_totals")
    items = f("Odd Schema", "Line.Items")
    assert edges == {
        (orders, totals): {
            "customer_id": [f"{orders}.customer_id"],
            "total": [f"{orders}.amount"],
        },
        (f("public", "customers"), f("public", "customer_totals")): {
            "email": [f("public", "customers") + ".email"],
        },
        (totals, f("public", "customer_totals")): {"total": [f"{totals}.total"]},
        (orders, f("sales", "big_orders")): {
            "id": [f"{orders}.id"],
            "amount": [f"{orders}.amount"],
        },
        (items, f("Odd Schema", "Big Items")): {
            "Order Id": [f"{items}.Order Id"],
            "Qty": [f"{items}.Qty"],
        },
    }


def test_a_rerun_sends_nothing(deployment: Deployment) -> None:
    deployment.run()
    lines = deployment.jsonl_path.read_bytes()
    result = deployment.run()
    assert result.status == "succeeded"
    assert result.counters.changed == 0
    assert deployment.jsonl_path.read_bytes() == lines


def test_adding_a_column_gives_exactly_one_update_naming_it(deployment: Deployment) -> None:
    deployment.run()
    deployment.db.execute('ALTER TABLE "Odd Schema"."Line.Items" ADD COLUMN note varchar(20)')
    result = deployment.run()
    assert (result.counters.created, result.counters.updated, result.counters.deleted) == (0, 1, 0)
    assert deployment.changes(result.run_id) == [
        (deployment.fqn("Odd Schema", "Line.Items"), "table", "updated", ["columns.note"])
    ]


def test_dropping_a_view_deletes_it_and_its_edges(deployment: Deployment) -> None:
    deployment.run()
    deployment.db.execute("DROP VIEW public.customer_totals")
    result = deployment.run()
    assert result.status == "succeeded"
    view = deployment.fqn("public", "customer_totals")
    changes = deployment.changes(result.run_id)
    assert {(fqn, kind) for fqn, _, kind, _ in changes if kind != "deleted"} == set()
    assert (view, "table", "deleted", None) in [(a, b, c, None) for a, b, c, _ in changes]
    assert sum(1 for _, t, _, _ in changes if t == "table") == 1
    assert sum(1 for _, t, _, _ in changes if t == "lineage") == 2
    to_fqns = {to for _, to in deployment.query("SELECT from_fqn, to_fqn FROM lineage_edges")}
    assert view not in to_fqns
    assert deployment.query(f"SELECT count(*) FROM catalog.entities WHERE fqn = '{view}'") == [(0,)]


def test_a_revoked_schema_warns_and_deletes_nothing(deployment: Deployment) -> None:
    first = deployment.run()
    role = deployment.db.role
    deployment.db.execute(f"REVOKE USAGE ON SCHEMA sales FROM {role}")
    with capture_logs() as logs:
        result = deployment.run()
    assert result.status == "partial"
    assert (result.counters.errors, result.counters.deleted) == (1, 0)
    assert any(w.startswith("stream tables: deletions skipped") for w in result.warnings)
    [failed] = [e for e in logs if e["event"] == "record failed"]
    assert failed["record"] == f"pg.{deployment.db.name}.sales"
    assert f"role {role} lacks USAGE" in failed["reason"]
    live = deployment.query("SELECT count(*) FROM current_entities")
    assert live[0][0] == first.counters.created
    assert deployment.query("SELECT count(*) FROM change_log WHERE kind = 'deleted'") == [(0,)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("port", "Connection refused"),
        ("database", "does not exist"),
    ],
)
def test_an_unreachable_server_or_missing_database_fails_in_one_line_without_the_password(
    pg_database: PgDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    expected: str,
) -> None:
    # Trust authentication accepts any password, so a wrong one cannot be tested here.
    monkeypatch.setenv(PASSWORD_ENV, pg_database.password)
    url = (
        _url(pg_database, port=1)
        if where == "port"
        else _url(pg_database, database=f"{pg_database.name}_missing")
    )
    deployment = _deployment(pg_database, tmp_path, url, foreign=False)
    result = deployment.run()
    assert result.status == "failed"
    assert result.error is not None
    assert "\n" not in result.error
    assert expected in result.error
    assert "cannot list the schemas" in result.error
    assert pg_database.password not in result.error
    [(stored,)] = deployment.query("SELECT error FROM runs")
    assert pg_database.password not in stored
    assert deployment.query("SELECT count(*) FROM entities") == [(0,)]


def test_a_statement_timeout_fails_the_schema_and_deletes_nothing(
    deployment: Deployment,
) -> None:
    first = deployment.run()
    deployment.configure(statement_timeout_seconds=0.5)
    # pg_get_viewdef locks the view it prints: a session holding it makes reflection wait.
    dsn = f"host=127.0.0.1 port={deployment.db.port} user=postgres dbname={deployment.db.name}"
    with psycopg.connect(dsn) as locker:
        locker.execute("LOCK TABLE sales.order_totals IN ACCESS EXCLUSIVE MODE")
        with capture_logs() as logs:
            result = deployment.run()
        locker.rollback()
    assert result.status == "partial"
    # The catalog is read with one statement per kind for every schema at once, so the one that
    # waits for the lock fails every schema it reads.
    failed = {e["record"]: e["reason"] for e in logs if e["event"] == "record failed"}
    database = f"pg.{deployment.db.name}"
    reason = "schema could not be reflected: canceling statement due to statement timeout"
    schemas = ("Odd Schema", "public", "sales")
    assert failed == {f"{database}.{schema}": reason for schema in schemas}
    assert result.counters.deleted == 0
    assert any("deletions skipped" in w for w in result.warnings)
    live = deployment.query("SELECT count(*) FROM current_entities")
    assert live[0][0] == first.counters.created


def test_every_connection_is_bounded_and_read_only(pg_database: PgDatabase) -> None:
    url = sa.engine.make_url(
        f"postgresql+psycopg://postgres@127.0.0.1:{pg_database.port}/{pg_database.name}"
    )
    reflector = open_reflector(url)
    assert isinstance(reflector, pg_reflect.PostgresReflector)
    try:
        with reflector.engine.connect() as conn:
            settings = conn.execute(
                sa.text(
                    "SELECT current_setting('statement_timeout'),"
                    " current_setting('transaction_read_only'), current_setting('search_path')"
                )
            ).one()
    finally:
        reflector.close()
    assert tuple(settings) == ("1min", "on", "pg_catalog")


# --- test-connection ------------------------------------------------------------------------


def _lines(output: str) -> list[str]:
    return [re.sub(r"\s+", " ", line).strip() for line in output.splitlines()]


def test_test_connection_passes_for_a_least_privilege_role(deployment: Deployment) -> None:
    done = deployment.test_connection()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _lines(done.stdout)
    for schema in ("Odd Schema", "public", "sales"):
        assert f"ok schema {schema}: USAGE granted" in lines, done.stdout
    # Informational: ok whether or not the extension is there, saying how to enable it.
    assert len([line for line in lines if line.startswith("ok pg_stat_statements: ")]) == 1
    assert "FAIL" not in done.stdout
    assert deployment.db.password not in done.stdout + done.stderr


def test_test_connection_fails_naming_the_revoked_schema_and_its_grant(
    deployment: Deployment,
) -> None:
    role = deployment.db.role
    deployment.db.execute(f"REVOKE USAGE ON SCHEMA sales FROM {role}")
    done = deployment.test_connection()
    assert done.returncode == 1, done.stdout + done.stderr
    lines = _lines(done.stdout)
    assert (
        f"FAIL schema sales: role {role} lacks USAGE: GRANT USAGE ON SCHEMA sales TO {role}"
        in lines
    ), done.stdout
    assert "ok schema public: USAGE granted" in lines
    assert [line for line in lines if line.startswith("FAIL")] == [
        f"FAIL schema sales: role {role} lacks USAGE: GRANT USAGE ON SCHEMA sales TO {role}"
    ]
    assert deployment.db.password not in done.stdout + done.stderr


# --- statement timeout, concurrency and paging --------------------------------------------


def test_statement_timeout_seconds_and_concurrency_reach_every_session(
    pg_database: PgDatabase,
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{pg_database.port}/{pg_database.name}"
    config = load_config({"url": url, "statement_timeout_seconds": 2.5, "concurrency": 3})
    source = SqlSource(config)
    try:
        reflector = source.targets.open()
        assert isinstance(reflector, pg_reflect.PostgresReflector)
        with reflector.engine.connect() as conn:
            timeout = conn.exec_driver_sql("SHOW statement_timeout").scalar()
        pool = reflector.engine.pool
        assert isinstance(pool, sa.pool.QueuePool)
        assert (pool.size(), pool._max_overflow) == (3, 0)
    finally:
        source.close()
    assert timeout == "2500ms"


MORE_SCHEMAS = """
CREATE SCHEMA s1;
CREATE SCHEMA s2;
CREATE SCHEMA s3;
CREATE SCHEMA s4;
CREATE TABLE s4.base (id integer PRIMARY KEY, label text);
CREATE TABLE s1.facts (id integer PRIMARY KEY, base_id integer REFERENCES s4.base (id));
CREATE VIEW s1.labelled AS SELECT f.id, b.label FROM s1.facts f JOIN s4.base b ON b.id = f.base_id;
CREATE TABLE s2.events (id integer, at date);
CREATE VIEW s2.recent AS SELECT id FROM s2.events WHERE at > '2024-01-01';
CREATE TABLE s3.empty_one (x integer);
CREATE VIEW s3.over_sales AS SELECT customer_id FROM sales.orders;
"""


def test_concurrency_3_reads_exactly_what_concurrency_1_reads(
    pg_database: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_database.execute(SCHEMA, MORE_SCHEMAS, _grants(pg_database.role))
    role = pg_database.role
    pg_database.execute(
        f"GRANT USAGE ON SCHEMA s1, s2, s3, s4 TO {role};"
        f" GRANT SELECT ON ALL TABLES IN SCHEMA s1, s2, s3, s4 TO {role};"
    )
    monkeypatch.setenv(PASSWORD_ENV, pg_database.password)
    snapshots = {}
    for concurrency in (1, 3):
        where = tmp_path / f"concurrency_{concurrency}"
        where.mkdir()
        deployment = _deployment(pg_database, where, _url(pg_database), foreign=False)
        deployment.configure(concurrency=concurrency)
        result = deployment.run()
        assert result.status == "succeeded", result.error
        snapshots[concurrency] = deployment.snapshot()
    assert len(snapshots[3]["databaseSchema"]) == 7
    assert len(snapshots[3]["lineage"]) >= 6
    assert snapshots[3] == snapshots[1]


def _wide_schema(count: int) -> str:
    statements = ["CREATE SCHEMA wide;"]
    for i in range(count):
        parent = f", parent integer REFERENCES wide.t{i - 1:02d} (id)" if i else ""
        statements.append(
            f"CREATE TABLE wide.t{i:02d} (id integer PRIMARY KEY, note text{parent});"
        )
        statements.append(f"COMMENT ON TABLE wide.t{i:02d} IS 'table {i}';")
    statements.append("CREATE VIEW wide.a_view AS SELECT id, note FROM wide.t29;")
    statements.append(
        "CREATE VIEW wide.z_view AS SELECT t.id FROM wide.t00 t JOIN wide.t13 u USING (id);"
    )
    return "\n".join(statements)


def test_page_size_7_reads_exactly_what_the_default_page_size_reads(
    pg_database: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = pg_database.role
    pg_database.execute(
        _wide_schema(30),
        f"GRANT USAGE ON SCHEMA wide TO {role};",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA wide TO {role};",
    )
    monkeypatch.setenv(PASSWORD_ENV, pg_database.password)
    snapshots = {}
    for page_size in (None, 7):
        where = tmp_path / f"page_{page_size}"
        where.mkdir()
        deployment = _deployment(pg_database, where, _url(pg_database), foreign=False)
        if page_size is not None:
            deployment.configure(page_size=page_size)
        result = deployment.run()
        assert result.status == "succeeded", result.error
        snapshots[page_size] = deployment.snapshot()
    tables = snapshots[7]["table"]
    assert len(tables) == 32
    t05 = tables[f"pg.{pg_database.name}.wide.t05"]
    assert t05["description"] == "table 5"
    assert [c["name"] for c in t05["columns"]] == ["id", "note", "parent"]
    assert len(snapshots[7]["lineage"]) == 3
    assert snapshots[7] == snapshots[None]
    # Tables before views, each by name, read across pages in that order.
    engine = sa.create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{pg_database.port}/{pg_database.name}"
    )
    reflector = pg_reflect.PostgresReflector(engine, page_size=7)
    try:
        names = [t.name for t in reflector.tables("wide", lambda _: True)]
    finally:
        reflector.close()
    assert names == [f"t{i:02d}" for i in range(30)] + ["a_view", "z_view"]


# --- all_databases ------------------------------------------------------------------------


# The same schema, tables and view in each database; the column `only_<key>` is in one
# database's tables alone, so view lineage resolved against another database's tables loses it.
def _same_named(key: str, role: str) -> str:
    return f"""
CREATE SCHEMA shop;
CREATE TABLE shop.orders (id integer PRIMARY KEY, amount numeric(10, 2), only_{key} text);
CREATE TABLE shop.notes (id integer);
CREATE VIEW shop.big AS SELECT id, amount, only_{key} FROM shop.orders WHERE amount > 100;
GRANT USAGE ON SCHEMA shop TO {role};
GRANT SELECT ON ALL TABLES IN SCHEMA shop TO {role};
"""


@dataclass
class Server:
    """Databases `<first>_a`, `_b`, `_c` and `_skip` (left out by `exclude.databases`) next to
    the fixture's own database, which the URL names and the filters leave out."""

    deployment: Deployment
    databases: dict[str, str]  # key → database name

    def fqn(self, key: str, *parts: str) -> str:
        return ".".join(["pg", self.databases[key], *parts])

    def execute(self, key: str, *statements: str) -> None:
        PgServer(self.deployment.db.port).execute(self.databases[key], *statements)


@pytest.fixture
def server(
    pg_database: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Server]:
    admin = PgServer(pg_database.port)
    databases = {key: f"{pg_database.name}_{key}" for key in ("a", "b", "c", "skip")}
    try:
        for key, name in databases.items():
            admin.execute("postgres", f'CREATE DATABASE "{name}"')
            admin.execute(name, _same_named(key, pg_database.role))
        monkeypatch.setenv(PASSWORD_ENV, pg_database.password)
        deployment = _deployment(pg_database, tmp_path, _url(pg_database), foreign=False)
        deployment.configure(
            all_databases=True,
            include={"databases": [f"^{re.escape(pg_database.name)}_"]},
            exclude={"databases": ["_skip$"]},
        )
        yield Server(deployment, databases)
    finally:
        for name in databases.values():
            admin.execute("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _edges(deployment: Deployment) -> dict[tuple[str, str], dict[str, list[str]]]:
    return {
        (p["fromEntity"]["fullyQualifiedName"], p["toEntity"]["fullyQualifiedName"]): {
            c["toColumn"].rsplit(".", 1)[-1]: sorted(c["fromColumns"])
            for c in p.get("columnsLineage") or []
        }
        for p in deployment.payloads("lineage").values()
    }


def test_all_databases_reads_each_kept_database_under_its_own_fqns(server: Server) -> None:
    deployment = server.deployment
    result = deployment.run()
    assert result.status == "succeeded", result.error
    kept = ("a", "b", "c")
    assert set(deployment.payloads("database")) == {server.fqn(k) for k in kept}
    assert set(deployment.payloads("databaseSchema")) == {
        server.fqn(k, s) for k in kept for s in ("public", "shop")
    }
    tables = deployment.payloads("table")
    names = ("orders", "notes", "big")
    assert set(tables) == {server.fqn(k, "shop", t) for k in kept for t in names}
    for key in kept:
        orders = tables[server.fqn(key, "shop", "orders")]
        assert [c["name"] for c in orders["columns"]] == ["id", "amount", f"only_{key}"]
    everything = [fqn for (fqn,) in deployment.query("SELECT fqn FROM current_entities")]
    assert not [fqn for fqn in everything if server.databases["skip"] in fqn]
    assert not [fqn for fqn in everything if fqn.startswith(f"pg.{deployment.db.name}.")]
    # Each view's lineage stays within its database, every column included.
    expected = {}
    for key in kept:
        orders, big = server.fqn(key, "shop", "orders"), server.fqn(key, "shop", "big")
        expected[(orders, big)] = {c: [f"{orders}.{c}"] for c in ("id", "amount", f"only_{key}")}
    assert _edges(deployment) == expected


def test_all_databases_rerun_sends_nothing_and_a_drop_deletes_only_its_table(
    server: Server,
) -> None:
    deployment = server.deployment
    deployment.run()
    lines = deployment.jsonl_path.read_bytes()
    again = deployment.run()
    assert again.status == "succeeded", again.error
    assert again.counters.changed == 0
    assert deployment.jsonl_path.read_bytes() == lines
    server.execute("b", "DROP TABLE shop.notes")
    result = deployment.run()
    assert result.status == "succeeded", result.error
    assert deployment.changes(result.run_id) == [
        (server.fqn("b", "shop", "notes"), "table", "deleted", [])
    ]
    assert server.fqn("a", "shop", "notes") in deployment.payloads("table")


def test_all_databases_a_database_without_connect_warns_and_deletes_nothing(
    server: Server,
) -> None:
    deployment = server.deployment
    first = deployment.run()
    assert first.status == "succeeded", first.error
    role, revoked = deployment.db.role, server.databases["c"]
    server.execute("a", f'REVOKE CONNECT ON DATABASE "{revoked}" FROM PUBLIC, {role}')
    with capture_logs() as logs:
        result = deployment.run()
    assert result.status == "partial"
    assert result.counters.deleted == 0
    assert any(w.startswith("stream tables: deletions skipped") for w in result.warnings)
    failed = [e for e in logs if e["event"] == "record failed"]
    assert {e["stream"] for e in failed} == {"databases", "schemas", "tables"}
    assert {e["record"] for e in failed} == {server.fqn("c")}
    assert all("permission denied for database" in e["reason"] for e in failed)
    assert all(deployment.db.password not in e["reason"] for e in failed)
    live = deployment.query("SELECT count(*) FROM current_entities")
    assert live[0][0] == first.counters.created
    assert deployment.query("SELECT count(*) FROM change_log WHERE kind = 'deleted'") == [(0,)]

    done = deployment.test_connection()
    assert done.returncode == 1, done.stdout + done.stderr
    lines = _lines(done.stdout)
    for key in ("a", "b"):
        name = server.databases[key]
        assert any(line.startswith(f"ok database {name}: ") for line in lines), done.stdout
        assert f"ok {name}: schema shop: USAGE granted" in lines, done.stdout
    [failing] = [line for line in lines if line.startswith("FAIL")]
    assert failing.startswith(f"FAIL database {revoked}: ")
    assert "permission denied for database" in failing
    assert server.databases["skip"] not in done.stdout
    assert deployment.db.password not in done.stdout + done.stderr


def test_all_databases_is_refused_for_other_dialects(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    with pytest.raises(ConfigError, match="all_databases"):
        SqlSource(load_config({"url": url, "all_databases": True}))


# --- raw digests: an unchanged table is not mapped again, a changed one always is -------------

CATALOG_EDITS = {
    "a column's type": (
        "ALTER TABLE sales.orders ALTER COLUMN ref TYPE text USING ref::text",
        ("sales", "orders"),
        "columns.ref.dataType",
    ),
    "a column's comment": (
        "COMMENT ON COLUMN sales.orders.ref IS 'The receipt number'",
        ("sales", "orders"),
        "columns.ref.description",
    ),
    "a table's comment": (
        "COMMENT ON TABLE public.customers IS 'People who bought once'",
        ("public", "customers"),
        "description",
    ),
    "a column's nullability": (
        "ALTER TABLE sales.orders ALTER COLUMN ref SET NOT NULL",
        ("sales", "orders"),
        "columns.ref.constraint",
    ),
    # The column's own catalog row stays as it was: its type is spelled from the enum's.
    "an enum label of a column's type": (
        "ALTER TYPE sales.status ADD VALUE 'returned'",
        ("sales", "orders"),
        "columns.status.dataTypeDisplay",
    ),
    "a new column": (
        "ALTER TABLE sales.orders ADD COLUMN note text",
        ("sales", "orders"),
        "columns",
    ),
    "a constraint": (
        "ALTER TABLE public.customers ADD CONSTRAINT one_ip UNIQUE (ip)",
        ("public", "customers"),
        "tableConstraints",
    ),
    "a view's text": (
        "CREATE OR REPLACE VIEW sales.order_totals AS SELECT o.customer_id, sum(o.amount) AS"
        " total FROM sales.orders o WHERE o.amount > 0 GROUP BY o.customer_id",
        ("sales", "order_totals"),
        "schemaDefinition",
    ),
}


# The views a catalog edit re-maps besides the edited relation: those reading sales.orders.
VIEWS_MAPPED_TOO = {"a new column": {"sales.order_totals", "sales.big_orders"}}


@pytest.mark.parametrize("edit", CATALOG_EDITS, ids=list(CATALOG_EDITS))
def test_a_catalog_change_is_never_hidden_by_the_raw_digest(
    deployment: Deployment, edit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment.run()
    statement, (schema, table), field = CATALOG_EDITS[edit]
    deployment.db.execute(statement)
    mapped = _count_mapped(monkeypatch)

    result = deployment.run()

    updated = {fqn: fields for fqn, _, kind, fields in deployment.changes(result.run_id)}
    assert any(f.startswith(field) for f in updated[deployment.fqn(schema, table)])
    # Only the edited table was mapped, and the views whose SQL names it when it gained a
    # column (their lineage resolves against its columns, not its types or comments).
    assert {f"{s}.{t}" for s, t in mapped} == {f"{schema}.{table}", *VIEWS_MAPPED_TOO.get(edit, ())}


def test_a_new_mapping_version_maps_every_table_once(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment.run()
    tables = len(deployment.payloads("table"))
    mapped = _count_mapped(monkeypatch)

    monkeypatch.setattr(SqlSource, "mapping_version", SqlSource.mapping_version + 1)
    upgraded = deployment.run()
    after_upgrade = len(mapped)
    mapped.clear()
    again = deployment.run()

    assert after_upgrade == tables and upgraded.counters.changed == 0
    assert mapped == [] and again.counters.changed == 0


def test_a_no_change_run_maps_no_table_nor_view_and_keeps_every_lineage_edge(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment.run()
    before = deployment.snapshot()
    mapped = _count_mapped(monkeypatch)

    again = deployment.run()

    assert mapped == []
    assert again.streams["lineage"].unchanged == len(before["lineage"]) > 0
    assert (again.counters.changed, again.counters.deleted) == (0, 0)
    assert deployment.snapshot() == before


def _count_mapped(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The (schema, table) of every table the sql source maps from here on."""
    mapped: list[tuple[str, str]] = []

    def counting(raw: RawTable, database_fqn: str, schema: str, dialect: str) -> Table:
        mapped.append((schema, raw.name))
        return to_table(raw, database_fqn, schema, dialect)

    monkeypatch.setattr(reading, "to_table", counting)
    return mapped
