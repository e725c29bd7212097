"""Opening a state file: the DuckDB connection, its settings, the schema migrations, and DuckDB's
errors turned into ones that say what to do. Also the small helpers every part of the store uses.

One process writes a state file at a time; DuckDB's own file lock enforces it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from state.errors import StateError, StateLockedError
from state.schema import MIGRATIONS, SCHEMA_VERSION

MEMORY = ":memory:"
_SETTINGS: dict[str, str | bool | int | float | list[str]] = {
    # DuckDB would cache up to 80% of RAM; a sync must stay small on an edge box. Beyond this
    # it spills to disk instead.
    "memory_limit": "256MB",
    # Checkpointing after every 16 MB of WAL (the default) made first runs spend a third of
    # their time checkpointing; closing the store checkpoints anyway.
    "checkpoint_threshold": "128MB",
}
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")


def connect(
    where: str, *, version: str, read_only: bool, memory_limit: str | None
) -> duckdb.DuckDBPyConnection:
    """A connection to the state file at `where`, created and migrated to this schema.

    `version` is the version of the program that opens it: recorded with each migration it
    applies, and named when a newer file is refused.
    """
    if where != MEMORY:
        _check_folder(where, read_only)
    try:
        settings = {**_SETTINGS, **({"memory_limit": memory_limit} if memory_limit else {})}
        connection = duckdb.connect(where, read_only=read_only, config=settings)
    except duckdb.IOException as exc:
        raise _open_error(where, exc) from None
    except duckdb.Error as exc:
        raise StateError(f"{where}: cannot open the state file ({exc})") from None
    try:
        migrate(connection, where, version=version, read_only=read_only)
    except BaseException:
        connection.close()
        raise
    return connection


def _check_folder(where: str, read_only: bool) -> None:
    """A reader needs the file; a writer needs a folder to create it in."""
    if read_only and not Path(where).exists():
        raise StateError(
            f"no state file at {where}: run `syncer run CONFIG` first, or pass --state"
        )
    if not read_only:
        try:
            Path(where).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"{where}: cannot create its folder ({exc.strerror}); "
                "point --state or state.path somewhere writable"
            ) from None


def migrate(
    connection: duckdb.DuckDBPyConnection, where: str, *, version: str, read_only: bool
) -> None:
    """Bring the file to `SCHEMA_VERSION` in one transaction, or refuse it with a reason."""
    current, written_by = _schema_version(connection, where, read_only)
    if current > SCHEMA_VERSION:
        raise StateError(
            f"state file {where} was written by syncer {written_by} (schema {current}); this is "
            f"syncer {version} (schema {SCHEMA_VERSION}): upgrade syncer, or point --state "
            "at another file"
        )
    if current == SCHEMA_VERSION:
        return
    if read_only:
        raise StateError(
            f"state file {where} has schema {current}; run `syncer run` once to upgrade it"
        )
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER, syncer_version VARCHAR, migrated_at TIMESTAMPTZ)"
        )
        for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
            connection.execute(script)
            connection.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)", [number, version, now()]
            )
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _schema_version(
    connection: duckdb.DuckDBPyConnection, where: str, read_only: bool
) -> tuple[int, str | None]:
    """The file's schema version and the version of the program that wrote it; 0 for an empty
    file. A DuckDB file with tables of its own is someone else's: it is left alone."""
    tables = {
        r[0]
        for r in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    if "schema_version" not in tables:
        if tables or read_only:
            raise StateError(
                f"{where} is a DuckDB file but not a syncer state file; "
                "point --state at another path"
            )
        return 0, None
    row = first(
        connection.execute(
            "SELECT version, syncer_version FROM schema_version ORDER BY version DESC LIMIT 1"
        )
    )
    return (int(row[0]), row[1]) if row else (0, None)


def _open_error(where: str, exc: duckdb.IOException) -> StateError:
    message = str(exc)
    holder = _LOCK_HOLDER.search(message)
    if holder:
        return StateLockedError(
            f"state file {where} is in use by another process (PID {holder.group(2)}): wait "
            "for that run to finish, or point --state at another file"
        )
    if "not a valid DuckDB database" in message or "database file" in message.lower():
        return StateError(
            f"{where} is not a syncer state file (it is not a DuckDB database, or it is damaged): "
            "move it away or point --state at another file"
        )
    return StateError(f"{where}: cannot open the state file ({message})")


@contextmanager
def scanning(connection: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[None]:
    """`table` visible to SQL as `name` for the block. DuckDB refuses to unregister inside an
    aborted transaction; that refusal must not hide the error that aborted it."""
    connection.register(name, table)
    try:
        yield
    finally:
        with suppress(duckdb.Error):
            connection.unregister(name)


def interrupted(exc: BaseException) -> bool:
    """Whether `exc` is Ctrl-C: DuckDB catches SIGINT during a query and raises its own error
    (an InterruptException, a RuntimeError from its Arrow path, or a wrapped KeyboardInterrupt)."""
    if isinstance(exc, KeyboardInterrupt | duckdb.InterruptException):
        return True
    if isinstance(exc, RuntimeError) and str(exc) == "Query interrupted":
        return True
    # A KeyboardInterrupt raised while DuckDB scans a registered Arrow table comes back wrapped.
    return isinstance(exc, duckdb.Error) and "KeyboardInterrupt" in str(exc)


def one(result: duckdb.DuckDBPyConnection) -> Any:
    """The first column of the first row, or None."""
    row = first(result)
    return row[0] if row else None


def first(result: duckdb.DuckDBPyConnection) -> Any:
    """The first row, reading the result to its end: DuckDB refuses `register` and friends on a
    connection whose last result was left half-read (`fetchone` on a one-row result does that)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def now() -> datetime:
    return datetime.now(UTC)
