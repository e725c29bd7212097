"""Real SQLite files for the benchmark, built the way users have them, and the SQLite case.

A file holds N tables of `columns` columns made with CREATE TABLE statements (an INTEGER
PRIMARY KEY, NOT NULL and DEFAULT clauses, a mix of declared types, a foreign key to the
previous table on every fifth table) and N/100 views joining two tables. It is built once into
the cache folder (`bench/results/cache/`) and copied for each benchmark, so that the 1% change
(ALTER TABLE ADD COLUMN on every hundredth table) never touches the cached file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

from bench.floor import sqlite_floor_spec
from bench.harness import Case, Scenario, Step, three_runs

# Bump when the shape of the generated file changes: the cached files are rebuilt.
LAYOUT = 1
_TYPES = (
    "TEXT NOT NULL DEFAULT ''",
    "VARCHAR(64)",
    "NUMERIC(12,2)",
    "INTEGER NOT NULL DEFAULT 0",
    "REAL",
    "BOOLEAN",
    "DATE",
    "TIMESTAMP",
    "BLOB",
    "DECIMAL(10,2)",
    "BIGINT",
    "CHAR(2)",
)
_NOUNS = ("orders", "customers", "payments", "events", "invoices", "products", "accounts")


def table_name(i: int) -> str:
    return f"{_NOUNS[i % len(_NOUNS)]}_{i:06d}"


def table_sql(i: int, columns: int) -> str:
    parts = ["id INTEGER PRIMARY KEY"]
    for j in range(1, columns):
        parts.append(f"c{j} {_TYPES[(i + j) % len(_TYPES)]}")
    if i % 5 == 4:  # the last column refers to the previous table
        parts[-1] = f"parent_id INTEGER REFERENCES {table_name(i - 1)} (id)"
    return f"CREATE TABLE {table_name(i)} ({', '.join(parts)})"


def view_sql(k: int) -> str:
    a, b = table_name(k * 100), table_name(k * 100 + 1)
    return (
        f"CREATE VIEW report_{k:05d} AS SELECT a.id, a.c1, b.c2 "
        f"FROM {a} AS a JOIN {b} AS b ON b.id = a.id"
    )


def build(path: Path, tables: int, columns: int) -> None:
    """Write a fresh file at `path` (through a temp name, so a cut build is never reused).

    SQLite's CREATE TABLE re-reads sqlite_master after each table (a full scan: it has no
    index), so creating 60,000 tables one statement at a time takes tens of minutes. The file
    is written the way SQLite itself would write it instead: the same CREATE statements as
    sqlite_master rows (`writable_schema`), each table's root an empty table b-tree page appended
    to the file, and the header's page count and schema cookie bumped. `PRAGMA quick_check`
    then vouches for the result.
    """
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    con = sqlite3.connect(partial, isolation_level=None)
    try:
        con.execute(table_sql(0, columns))  # a normal first table: a valid header and schema
        con.execute("PRAGMA writable_schema = ON")
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) "
            "VALUES ('table', ?, ?, ?, ?)",
            (
                (table_name(i), table_name(i), _PLACEHOLDER, table_sql(i, columns))
                for i in range(1, tables)
            ),
        )
        con.executemany(
            "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) "
            "VALUES ('view', ?, ?, 0, ?)",
            ((f"report_{k:05d}", f"report_{k:05d}", view_sql(k)) for k in range(tables // 100)),
        )
        con.execute("COMMIT")
        pages = _assign_roots(con, tables)
    finally:
        con.close()
    _append_empty_roots(partial, pages, tables - 1)
    _check(partial, tables)
    partial.replace(path)


# A root page number to be replaced, no shorter in a record than the real ones (3 bytes).
_PLACEHOLDER = 8_000_000
_PAGE = 4096


def _assign_roots(con: sqlite3.Connection, tables: int) -> int:
    """Number the roots after the file's last page, in one pass over sqlite_master (rows
    inserted in order have consecutive rowids, the first table's being 1); the file's page
    count once stable."""
    while True:
        pages = int(con.execute("PRAGMA page_count").fetchone()[0])
        con.execute("BEGIN")
        con.execute(
            "UPDATE sqlite_master SET rootpage = ? + rowid - 1 WHERE type = 'table' AND rowid > 1",
            (pages,),
        )
        con.execute("COMMIT")
        if int(con.execute("PRAGMA page_count").fetchone()[0]) == pages:
            break
    top = con.execute("SELECT max(rootpage), count(*) FROM sqlite_master WHERE type = 'table'")
    if tuple(top.fetchone()) != (pages + tables - 1, tables):
        raise RuntimeError("sqlite_master rowids are not consecutive")
    return pages


def _append_empty_roots(path: Path, pages: int, count: int) -> None:
    """Append `count` empty table leaf pages after page `pages`; fix the header to match."""
    empty = bytearray(_PAGE)
    empty[0] = 0x0D  # a table b-tree leaf page
    empty[5:7] = _PAGE.to_bytes(2, "big")  # cell content starts at the end: no cells
    with path.open("r+b") as f:
        header = bytearray(f.read(100))
        if int.from_bytes(header[16:18], "big") != _PAGE:
            raise RuntimeError(f"{path}: page size is not {_PAGE}")
        f.seek(pages * _PAGE)
        f.truncate()
        for _ in range(count):
            f.write(empty)
        counter = int.from_bytes(header[24:28], "big") + 1
        header[24:28] = counter.to_bytes(4, "big")  # file change counter
        header[28:32] = (pages + count).to_bytes(4, "big")  # pages in the file
        cookie = int.from_bytes(header[40:44], "big") + 1
        header[40:44] = cookie.to_bytes(4, "big")  # schema cookie: sqlite_master changed
        header[92:96] = counter.to_bytes(4, "big")  # version-valid-for: the count is current
        f.seek(0)
        f.write(header)


def _check(path: Path, tables: int) -> None:
    con = sqlite3.connect(path)
    try:
        problems = [r[0] for r in con.execute("PRAGMA quick_check").fetchall()]
        found = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    finally:
        con.close()
    if problems != ["ok"] or found[0] != tables:
        raise RuntimeError(f"{path}: built file fails quick_check: {problems[:5]}")


def cached(cache: Path, tables: int, columns: int) -> Path:
    """The cached file for (tables, columns), built first if missing."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"sqlite-{tables}x{columns}-v{LAYOUT}.sqlite"
    if not path.exists():
        sys.stderr.write(f"building {path} ({tables:,} tables, {tables // 100:,} views)\n")
        build(path, tables, columns)
    return path


def change(path: Path, tables: int, percent: float) -> int:
    """Add a column to `percent` % of the tables, spread evenly; how many were changed.

    What ALTER TABLE ADD COLUMN (nullable, no default) does to a file: the table's CREATE
    statement in sqlite_master gains the column, rows are untouched, the schema cookie moves.
    Done directly, because each ALTER re-reads the whole schema (seconds at 60,000 tables).
    """
    step = max(1, round(100 / percent))
    altered = [table_name(i) for i in range(0, tables, step)]
    con = sqlite3.connect(path, isolation_level=None)
    try:
        version = int(con.execute("PRAGMA schema_version").fetchone()[0])
        con.execute("PRAGMA writable_schema = ON")
        con.execute("BEGIN")
        con.execute(  # one pass: sqlite_master has no index to look names up by
            "UPDATE sqlite_master SET sql = substr(sql, 1, length(sql) - 1) "
            "|| ', added_note TEXT)' "
            "WHERE type = 'table' AND name IN (SELECT value FROM json_each(?))",
            (json.dumps(altered),),
        )
        con.execute(f"PRAGMA schema_version = {version + 1}")
        con.execute("COMMIT")
    finally:
        con.close()
    return len(altered)


def case(cache: Path, work: Path, tables: int, columns: int) -> Case:
    """The SQLite case over a copy of the cached file: first run, no change, 1% changed."""
    source = cached(cache, tables, columns)
    target = work / f"sqlite-{tables}.sqlite"
    shutil.copyfile(source, target)
    objects = tables + tables // 100
    return Case(
        name=f"SQLite {tables // 1000}k",
        detail=f"{tables:,} tables x {columns} columns + {tables // 100:,} views, real file",
        source={
            "type": "sql",
            "config": {"url": f"sqlite:///{target}", "service_name": "lite"},
        },
        floor=sqlite_floor_spec(target),
        steps=three_runs(
            objects,
            Step(
                Scenario("1% changed re-run", objects, changed_percent=1),
                before=lambda: change(target, tables, 1),
            ),
        ),
        cleanup=lambda: target.unlink(missing_ok=True),
    )
