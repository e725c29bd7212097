"""The `sql` source against a generated PostgreSQL database (the PostgreSQL case of bench.run).

A uniquely named database holds N tables x 15 columns of mixed types, primary keys, some
foreign keys, comments, and N/50 views; the case times a first `syncer run` into the embedded
catalog, a no-change re-run and a re-run after 1% of the tables changed (half gained a column,
half a new comment). The database is dropped afterwards. Skipped when no PostgreSQL answers on
127.0.0.1:5432.
"""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from bench.floor import postgres_floor_spec
from bench.harness import Case, Scenario, Step, three_runs

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
_TYPES = (
    "integer",
    "bigint",
    "varchar(64)",
    "text",
    "numeric(12,2)",
    "timestamptz",
    "boolean",
    "jsonb",
    "uuid",
    "date",
    "integer[]",
    "double precision",
    "bytea",
    "smallint",
)


def _tables_sql(start: int, stop: int) -> str:
    statements = []
    for i in range(start, stop):
        columns = ", ".join(f"c{j} {_TYPES[(i + j) % len(_TYPES)]}" for j in range(14))
        fk = f", parent_id integer REFERENCES t{i - 1} (id)" if i % 10 and i > start else ""
        statements.append(f"CREATE TABLE t{i} (id integer PRIMARY KEY, {columns}{fk})")
        statements.append(f"COMMENT ON TABLE t{i} IS 'generated table {i}'")
    return ";\n".join(statements)


def build(url: str, tables: int) -> None:
    engine = sa.create_engine(url)
    for start in range(0, tables, 500):  # a transaction each: one for all runs out of locks
        with engine.begin() as con:
            con.exec_driver_sql(_tables_sql(start, min(start + 500, tables)))
    with engine.begin() as con:
        views = [
            f"CREATE VIEW v{k} AS SELECT a.id, a.c1, b.c2 FROM t{k * 50} a "
            f"JOIN t{k * 50 + 1} b ON b.id = a.id"
            for k in range(tables // 50)
        ]
        if views:
            con.exec_driver_sql(";\n".join(views))
    engine.dispose()


def change(url: str, tables: int, percent: float) -> int:
    """`percent` % of the tables changed, spread evenly: every other one gains a column, the
    rest a new comment; how many."""
    step = max(1, round(100 / percent))
    changed = range(0, tables, step)
    statements = [
        f"ALTER TABLE t{i} ADD COLUMN added integer"
        if k % 2 == 0
        else f"COMMENT ON TABLE t{i} IS 'changed table {i}'"
        for k, i in enumerate(changed)
    ]
    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.exec_driver_sql(";\n".join(statements))
    engine.dispose()
    return len(changed)


@contextmanager
def database(tables: int) -> Iterator[str]:
    """A uniquely named database holding the generated catalog, dropped afterwards."""
    name = f"syncer_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        sys.stderr.write(f"PostgreSQL: building {tables:,} tables and {tables // 50} views\n")
        build(f"{SERVER}/{name}", tables)
        yield name
    finally:
        with admin.connect() as con:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def available() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        return False
    return True


def case(name: str, tables: int, memory_limit: str = "256MB") -> Case:
    """The PostgreSQL case on database `name`: first run, no change, 1% changed."""
    url = f"{SERVER}/{name}"
    objects = tables + tables // 50
    return Case(
        name=f"PostgreSQL {tables // 1000}k" if tables >= 1000 else f"PostgreSQL {tables}",
        detail=f"{tables:,} tables x 15 columns + {tables // 50:,} views",
        source={"type": "sql", "config": {"url": url, "service_name": "pg"}},
        floor=postgres_floor_spec(f"host=127.0.0.1 port=5432 user=postgres dbname={name}"),
        steps=three_runs(
            objects,
            Step(
                Scenario("1% changed re-run", objects, changed_percent=1),
                before=lambda: change(url, tables, 1),
            ),
        ),
        state={"memory_limit": memory_limit},
    )
