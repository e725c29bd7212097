"""The PostgreSQL reflector's catalog read, on a realistic database: the DVD-rental shop
(`tests/fixtures/sql/postgres_rental.sql`), the schemas of `test_postgres.py`, and names that
sort differently by case, accent or byte.

`golden/postgres_raw_tables.json` holds what the reflector read from it before its read path
was streamed (issue 13: four paged statements per schema, through SQLAlchemy rows), so a change
of what is read shows as a diff of that file. View definitions are as PostgreSQL 15 prints them;
on another major version, regenerate it with `SYNCER_WRITE_GOLDEN=1` and read the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from syncer.connectors.sql.reflect import RawTable
from syncer.connectors.sql.reflect.postgres import PostgresReflector, SchemaNotReadable
from tests.integration.connectors.conftest import PgDatabase, PgServer, new_pg_database
from tests.integration.connectors.test_postgres import MORE_SCHEMAS, SCHEMA
from tests.support.workspace import REPO

GOLDEN = REPO / "tests" / "integration" / "connectors" / "golden" / "postgres_raw_tables.json"
RENTAL = REPO / "tests" / "fixtures" / "sql" / "postgres_rental.sql"
# Names Python and a collation would order differently, a dropped and a generated column, a
# table without columns, a comment on a view, and a key whose column order is not the table's.
ODD_NAMES = """
CREATE SCHEMA "Zürich";
CREATE TABLE "Zürich"."Äpfel" (id integer PRIMARY KEY, gone text, "Größe" integer);
ALTER TABLE "Zürich"."Äpfel" DROP COLUMN gone;
CREATE TABLE "Zürich".apfel (
    a integer, b integer, total integer GENERATED ALWAYS AS (a + b) STORED,
    UNIQUE (b, a)
);
CREATE TABLE "Zürich"."Zebra" ();
CREATE TABLE "Zürich".zebra (id integer REFERENCES "Zürich"."Äpfel" (id));
CREATE TABLE "Zürich"."_under" (x integer);
CREATE VIEW "Zürich"."Ansicht" AS SELECT id FROM "Zürich"."Äpfel";
COMMENT ON VIEW "Zürich"."Ansicht" IS 'a view with a comment';
"""
Read = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def database(pg_server: PgServer) -> Iterator[PgDatabase]:
    with new_pg_database(pg_server) as db:
        db.execute(RENTAL.read_text(), SCHEMA, MORE_SCHEMAS, ODD_NAMES)
        yield db


def _reflector(db: PgDatabase, page_size: int = 5000, user: str = "postgres") -> PostgresReflector:
    engine = sa.create_engine(f"postgresql+psycopg://{user}@127.0.0.1:{db.port}/{db.name}")
    return PostgresReflector(engine, page_size=page_size)


def _plain(tables: Iterator[RawTable]) -> list[dict[str, Any]]:
    """Each table as built for mapping (its columns left as rows until then)."""
    return [
        {k: v for k, v in dataclasses.asdict(t.complete()).items() if k != "column_rows"}
        for t in tables
    ]


def _by_schema(reflector: PostgresReflector) -> Read:
    return {s: _plain(reflector.tables(s, lambda _: True)) for s in reflector.schemas()}


def _as_json(read: Read) -> Read:
    """Tuples become lists, as a round trip through the golden file makes them."""
    loaded: Read = json.loads(json.dumps(read))
    return loaded


def test_every_schema_is_read_as_the_paged_reader_before_issue_13_read_it(
    database: PgDatabase,
) -> None:
    reflector = _reflector(database)
    try:
        read = _as_json(_by_schema(reflector))
    finally:
        reflector.close()
    if os.environ.get("SYNCER_WRITE_GOLDEN"):
        GOLDEN.write_text(json.dumps(read, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    assert read == json.loads(GOLDEN.read_text())
    names = [t["name"] for t in read["Zürich"]]
    assert names == ["Zebra", "_under", "apfel", "zebra", "Äpfel", "Ansicht"]


@pytest.mark.parametrize("page_size", [1, 3, 5000])
def test_one_read_of_the_whole_database_gives_what_reading_each_schema_gives(
    database: PgDatabase, page_size: int
) -> None:
    reflector = _reflector(database, page_size)
    try:
        one_by_one = _by_schema(reflector)
        schemas = reflector.schemas()
        whole = {s: _plain(tables) for s, tables in reflector.database_tables(schemas, _kept)}
    finally:
        reflector.close()
    kept = {s: [t for t in tables if _kept(t["name"])] for s, tables in one_by_one.items()}
    assert whole == kept
    assert list(whole) == schemas


def _kept(name: str) -> bool:
    return not name.startswith("z")


def test_a_schema_the_role_may_not_use_fails_alone_in_a_whole_database_read(
    database: PgDatabase,
) -> None:
    role = database.role
    database.execute(
        f"GRANT USAGE ON SCHEMA sales, s1 TO {role}",
        f"REVOKE USAGE ON SCHEMA s2 FROM {role}",
    )
    reflector = _reflector(database, user=role)
    read: dict[str, list[str] | str] = {}
    try:
        for schema, tables in reflector.database_tables(["s1", "s2", "missing", "sales"], _kept):
            try:
                read[schema] = [t.name for t in tables]
            except (SchemaNotReadable, LookupError) as err:
                read[schema] = type(err).__name__
    finally:
        reflector.close()
    assert read == {
        "s1": ["facts", "labelled"],
        "s2": "SchemaNotReadable",
        "missing": "LookupError",
        "sales": ["orders", "big_orders", "events", "order_totals"],
    }


def test_a_failed_statement_fails_every_schema_from_the_one_being_read_on(
    database: PgDatabase,
) -> None:
    engine = sa.create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{database.port}/{database.name}"
    )
    reflector = PostgresReflector(engine, statement_timeout_seconds=0.5)
    dsn = f"host=127.0.0.1 port={database.port} user=postgres dbname={database.name}"
    read: dict[str, list[str] | str] = {}
    try:
        # pg_get_viewdef locks the view it prints: a session holding it makes the read wait.
        with psycopg.connect(dsn) as locker:
            locker.execute("LOCK TABLE s3.over_sales IN ACCESS EXCLUSIVE MODE")
            for schema, tables in reflector.database_tables(["s1", "s2", "s3", "s4"], _kept):
                try:
                    read[schema] = [t.name for t in tables]
                except psycopg.errors.QueryCanceled as err:
                    read[schema] = str(err)
            locker.rollback()
    finally:
        reflector.close()
    # Rows are fetched a page ahead, so the schemas before s3 may fail with it; none after the
    # first failure is read as empty, which would look as if its tables had been dropped.
    timeout = "canceling statement due to statement timeout"
    failed = [schema for schema, found in read.items() if found == timeout]
    assert failed == ["s1", "s2", "s3", "s4"][-len(failed) :]
    assert {"s3", "s4"} <= set(failed)


def test_schemas_the_caller_leaves_unread_do_not_shift_the_next_ones(
    database: PgDatabase,
) -> None:
    role = database.role
    database.execute(
        f"GRANT USAGE ON SCHEMA s1, s3 TO {role}", f"REVOKE USAGE ON SCHEMA s2 FROM {role}"
    )
    reflector = _reflector(database, page_size=1, user=role)
    read = {}
    try:
        for schema, tables in reflector.database_tables(["s1", "s2", "s3"], _kept):
            if schema == "s3":
                read[schema] = [t.name for t in tables]
    finally:
        reflector.close()
    assert read == {"s3": ["empty_one", "over_sales"]}


def test_catalog_sessions_plan_for_whole_reads_without_jit(database: PgDatabase) -> None:
    reflector = _reflector(database)
    try:
        with reflector.engine.connect() as conn:
            settings = conn.exec_driver_sql(
                "SELECT current_setting('jit'), current_setting('cursor_tuple_fraction')"
            ).one()
    finally:
        reflector.close()
    assert tuple(settings) == ("off", "1")


def test_a_server_that_cannot_be_reached_fails_each_schema_on_its_own() -> None:
    reflector = PostgresReflector(sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/x"))
    failed = []
    try:
        for schema, tables in reflector.database_tables(["a", "b"], _kept):
            with pytest.raises(psycopg.OperationalError):
                list(tables)
            failed.append(schema)
    finally:
        reflector.close()
    assert failed == ["a", "b"]
