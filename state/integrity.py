"""A state file checked for damage, and copied consistently for a backup.

`check` opens the file read-only (no run can write it meanwhile) and reads every table in full:
DuckDB verifies each block's checksum as it reads it, so a damaged block, or a file cut short,
shows up here rather than in the middle of a run. `backup` takes the writer lock as a run would
(it waits for no one: a running sync makes it fail at once), folds the write-ahead log into the
file (`CHECKPOINT`), copies the file byte for byte next to the target, and renames the copy into
place once it is on disk; then it checks the copy. Neither migrates the file: a file of an older
schema is checked and copied as it is.
"""

from __future__ import annotations

import os
import shutil
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

from syncer.state.connection import (
    _schema_version,
    check_header,
    damaged,
    interrupted,
    open_connection,
    state_error,
)
from syncer.state.errors import StateDamagedError, StateError


@dataclass(frozen=True)
class CheckReport:
    path: str
    schema_version: int
    tables: int  # the file's tables, the state's own and those of sinks that write into it
    rows: int  # read, every column of every row


def check(path: Path | str) -> CheckReport:
    """Read every table of the state file at `path` in full; `StateDamagedError` if DuckDB
    cannot (a checksum that does not match, a file cut short), `StateError` if it is not a
    state file or cannot be opened."""
    where = str(path)
    if not Path(where).is_file():
        raise StateError(f"no state file at {where}: pass --state or --config")
    return _check(where, where)


def _check(where: str, shown: str) -> CheckReport:
    """Check the file at `where`, naming it `shown` in errors (a copy by its original)."""
    check_header(where)
    connection = open_connection(where, read_only=True)
    try:
        return _read_everything(connection, shown)
    finally:
        with suppress(duckdb.Error):
            connection.close()


def backup(path: Path | str, target: Path | str, *, force: bool = False) -> CheckReport:
    """Copy the state file at `path` to `target` while no run writes it, then check the copy.

    An existing `target` is replaced only with `force`; a half-written copy never takes its place.
    """
    where, dest = str(path), Path(target)
    if not Path(where).is_file():
        raise StateError(f"no state file at {where}: nothing to back up; pass --state or --config")
    if dest.is_dir():
        raise StateError(
            f"{dest} is a folder: give the backup's file name, e.g. {dest}/state.duckdb"
        )
    if dest.exists() and dest.resolve() == Path(where).resolve():
        raise StateError(f"{dest} is the state file itself: give the backup another path")
    if dest.exists() and not force:
        raise StateError(
            f"{dest} already exists: pass --force to replace it, or choose another path"
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"{dest}: cannot create its folder ({exc.strerror})") from None
    check_header(where)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        _copy_checkpointed(where, partial)
        # The copy is the file byte for byte: damage in it is the state file's, and it must not
        # replace an older backup.
        report = _check(str(partial), where)
        # A write-ahead log left beside an older backup would be replayed onto this copy.
        Path(f"{dest}.wal").unlink(missing_ok=True)
        os.replace(partial, dest)
    except OSError as exc:
        raise StateError(
            f"cannot write the backup {dest} ({exc.strerror}); check the path and free space"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return CheckReport(str(dest), report.schema_version, report.tables, report.rows)


def _copy_checkpointed(where: str, partial: Path) -> None:
    """Take the writer lock on `where`, fold its log into it, copy it to `partial` (on disk)."""
    connection = open_connection(where, read_only=False)
    try:
        try:
            _schema_version(connection, where, read_only=True)  # refuses a file not ours
            connection.execute("CHECKPOINT")
        except duckdb.Error as exc:
            raise (state_error(where, exc) or exc) from None
        # Closing a descriptor of a file drops every POSIX lock this process holds on it: the
        # source stays open until DuckDB has let go of the file, so no run starts mid-copy.
        with open(where, "rb") as source:
            with open(partial, "wb") as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
                copy.flush()
                os.fsync(copy.fileno())
            connection.close()
    finally:
        with suppress(duckdb.Error):
            connection.close()


def _read_everything(connection: duckdb.DuckDBPyConnection, where: str) -> CheckReport:
    tables = rows = 0
    try:
        version, _ = _schema_version(connection, where, read_only=True)
        names = connection.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT temporary ORDER BY ALL"
        ).fetchall()
        for schema, table in names:
            # Hashing every column makes DuckDB read (and checksum) each of its blocks.
            name = f"{_quoted(schema)}.{_quoted(table)}"
            count = connection.execute(
                f"SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM {name}"
            ).fetchall()[0][0]
            tables += 1
            rows += int(count)
    except duckdb.Error as exc:
        if interrupted(exc):
            raise KeyboardInterrupt from None
        found = state_error(where, exc)
        if isinstance(found, StateDamagedError):
            raise found from None
        # Whatever else stops DuckDB reading a table it listed is damage too.
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StateDamagedError(damaged(where, detail)) from None
    return CheckReport(where, version, tables, rows)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
