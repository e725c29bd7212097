"""The `sql` source against a generated PostgreSQL database: `python -m bench.postgres`.

Builds a uniquely named database (N tables x 15 columns of mixed types, primary keys, some
foreign keys, comments, and N/50 views), then times a first `syncer run` into the embedded
catalog, a no-change re-run and a re-run after 1% of the tables gained a column. The database
is dropped afterwards. Skipped (exit 0) when no PostgreSQL answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa
import yaml

from bench.run import WORKFLOW, Measurement, Scenario, markdown, run_child, run_facts, state_size

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


def change(url: str, tables: int, percent: float) -> None:
    engine = sa.create_engine(url)
    step = max(1, int(100 / percent))
    with engine.begin() as con:
        con.exec_driver_sql(
            ";\n".join(f"ALTER TABLE t{i} ADD COLUMN added integer" for i in range(0, tables, step))
        )
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.postgres", description=__doc__)
    parser.add_argument("--tables", type=int, default=10_000)
    parser.add_argument("--memory-limit", default="256MB", help="state.memory_limit")
    args = parser.parse_args(argv)
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        sys.stderr.write("no PostgreSQL on 127.0.0.1:5432: database benchmark skipped\n")
        return 0
    name = f"syncer_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.exec_driver_sql(f"CREATE DATABASE {name}")
    work = Path(tempfile.mkdtemp(prefix="syncer-bench-pg-"))
    results: list[Measurement] = []
    try:
        sys.stderr.write(f"building {args.tables:,} tables and {args.tables // 50} views\n")
        build(f"{SERVER}/{name}", args.tables)
        state = work / "state.duckdb"
        config = work / "workflow.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "workflow": WORKFLOW,
                    "source": {
                        "type": "sql",
                        "config": {"url": f"{SERVER}/{name}", "service_name": "pg"},
                    },
                    "sinks": [{"type": "duckdb"}],
                    "state": {"path": str(state), "memory_limit": args.memory_limit},
                }
            )
        )
        for scenario in (
            Scenario("first run", args.tables, "pg"),
            Scenario("no-change re-run", args.tables, "pg"),
            Scenario("1% changed re-run", args.tables, "pg", changed_percent=1),
        ):
            if scenario.changed_percent:
                change(f"{SERVER}/{name}", args.tables, scenario.changed_percent)
            sys.stderr.write(f"running: {scenario.name}\n")
            before_size = state_size(state)
            before_offset = run_facts(state)[1] if state.exists() else 0
            code, wall, rss = run_child(
                [str(Path(sys.executable).with_name("syncer")), "run", str(config)],
                work / "run.log",
            )
            if code != 0:
                sys.stderr.write((work / "run.log").read_text())
            committed, offset, counters = run_facts(state)
            results.append(
                Measurement(
                    scenario,
                    code,
                    wall,
                    rss,
                    state_size(state) - before_size,
                    committed,
                    offset - before_offset,
                    counters,
                )
            )
    finally:
        with admin.connect() as con:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)
    table = markdown(results, 15).replace("sink: embedded", "source: PostgreSQL, sink: embedded")
    sys.stdout.write(table)
    return 0 if all(m.exit_code == 0 for m in results) else 1


if __name__ == "__main__":
    sys.exit(main())
