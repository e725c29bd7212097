"""Opening a state file: the DuckDB connection, its settings, the schema migrations, and DuckDB's
errors turned into ones that say what to do. Also the small helpers every part of the store uses.

One process writes a state file at a time; DuckDB's own file lock enforces it. A file that is not
a DuckDB database is refused by its first bytes, before DuckDB sees it: DuckDB would otherwise
try to load (or download) an extension to read some (a SQLite database); the connection never
loads or installs extensions. DuckDB's errors about the file itself, met while opening it or in
any later statement (`translating`), become `StateError`s: a damaged file (a block's checksum
does not match, the file was cut short), a full disk.
"""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import duckdb

from syncer.state.errors import StateDamagedError, StateDiskFullError, StateError, StateLockedError
from syncer.state.schema import MIGRATIONS, SCHEMA_VERSION

MEMORY = ":memory:"
_SETTINGS: dict[str, str | bool | int | float | list[str]] = {
    # DuckDB would cache up to 80% of RAM; a sync must stay small on an edge box. Beyond this
    # it spills to disk instead.
    "memory_limit": "256MB",
    # Checkpointing after every 16 MB of WAL (the default) made first runs spend a third of
    # their time checkpointing; closing the store checkpoints anyway.
    "checkpoint_threshold": "128MB",
    # A state file needs no extension beyond those built in (json, icu, parquet). DuckDB would
    # fetch one from the internet to read a file of another kind (a SQLite database).
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")
# Every DuckDB database file holds these bytes at offset 8, after its header's checksum.
_DUCKDB_MAGIC = b"DUCK"
_FOREIGN_MAGIC = (
    (b"SQLite format 3\x00", "a SQLite database"),
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip file"),
)
# DuckDB's messages that mean the file's bytes are not what DuckDB wrote, and what they mean.
_DAMAGE = (
    (
        re.compile(
            r"computed checksum \d+ does not match stored checksum \d+ in block at location (\d+)"
        ),
        "a block's checksum does not match its contents, at byte {0}",
    ),
    (re.compile(r"Corrupt database file"), "its blocks do not read back as written"),
    (
        re.compile(r"Could not read enough bytes from file .*? from location (\d+)"),
        "it ends at byte {0}, before its data does: it was cut short",
    ),
)
_DISK_FULL = ("No space left on device", "Disk quota exceeded")


def connect(
    where: str, *, version: str, read_only: bool, memory_limit: str | None
) -> duckdb.DuckDBPyConnection:
    """A connection to the state file at `where`, created and migrated to this schema.

    `version` is the version of the program that opens it: recorded with each migration it
    applies, and named when a newer file is refused.
    """
    if where != MEMORY:
        _check_folder(where, read_only)
        check_header(where)
    connection = open_connection(where, read_only=read_only, memory_limit=memory_limit)
    try:
        migrate(connection, where, version=version, read_only=read_only)
    except BaseException as exc:
        with suppress(duckdb.Error):
            connection.close()
        translated = state_error(where, exc)
        if translated is not None:
            raise translated from None
        raise
    return connection


def open_connection(
    where: str, *, read_only: bool, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to `where` with the state's settings, neither checked nor migrated;
    DuckDB's refusal (locked, damaged, not a database) as a `StateError`."""
    try:
        settings = {**_SETTINGS, **({"memory_limit": memory_limit} if memory_limit else {})}
        return duckdb.connect(where, read_only=read_only, config=settings)
    except duckdb.Error as exc:
        raise _open_error(where, exc) from None


def check_header(where: str) -> None:
    """Refuse a file that is not a DuckDB database by its first bytes, before DuckDB opens it.

    Read before DuckDB locks the file: closing any descriptor of a file drops the locks this
    process holds on it (POSIX), so this must not run while a connection to it is open here.
    """
    try:
        with open(where, "rb") as file:
            head = file.read(16)
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise StateError(
            f"{where} is a folder, not a state file: point --state at a file"
        ) from None
    except OSError as exc:
        raise StateError(f"{where}: cannot read the state file ({exc.strerror})") from None
    if head[8:12] == _DUCKDB_MAGIC:
        return
    what = next((name for magic, name in _FOREIGN_MAGIC if head.startswith(magic)), None)
    if not head:
        kind = "it is empty"
    elif what is not None:
        kind = f"it is {what}"
    else:
        kind = "it is not a DuckDB database"
    raise StateError(
        f"{where} is not a syncer state file ({kind}): point --state at another file, or move "
        "it away"
    )


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


def _open_error(where: str, exc: duckdb.Error) -> StateError:
    translated = state_error(where, exc)
    if translated is not None:
        return translated
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
    return StateError(f"{where}: cannot open the state file ({_first_line(message)})")


def state_error(where: str, exc: BaseException) -> StateError | None:
    """What a DuckDB error means for the state file at `where`, when it is about the file itself
    (damaged, the disk full); None for any other error."""
    if isinstance(exc, StateError):
        return exc
    if not isinstance(exc, duckdb.Error):
        return None
    message = str(exc)
    if any(text in message for text in _DISK_FULL):
        return StateDiskFullError(
            f"no space left on device writing {where} (free some space and re-run; nothing "
            "was lost)"
        )
    for pattern, meaning in _DAMAGE:
        found = pattern.search(message)
        if found:
            return StateDamagedError(damaged(where, meaning.format(*found.groups())))
    return None


def damaged(where: str, detail: str) -> str:
    """The message for a damaged state file."""
    return (
        f"state file {where} is damaged ({detail}); restore it from a backup or move it aside "
        "to start over"
    )


def _first_line(message: str) -> str:
    return (message.strip().splitlines() or [""])[0]


class _OnAStateFile(Protocol):
    @property
    def path(self) -> str: ...


_Store = TypeVar("_Store", bound=_OnAStateFile)
_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def translating(
    method: Callable[Concatenate[_Store, _Params], _Result],
) -> Callable[Concatenate[_Store, _Params], _Result]:
    """`method` of an object with a `path`, with DuckDB's errors about the file (damaged, disk
    full) raised as `StateError`s, also while a generator it returns is read."""

    @functools.wraps(method)
    def wrapper(self: _Store, /, *args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        try:
            result = method(self, *args, **kwargs)
        except duckdb.Error as exc:
            found = state_error(self.path, exc)
            if found is None:
                raise
            raise found from None
        if isinstance(result, types.GeneratorType):
            return _generator(self.path, result)  # type: ignore[return-value]
        return result

    return wrapper


def _generator(where: str, items: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from items
    except duckdb.Error as exc:
        found = state_error(where, exc)
        if found is None:
            raise
        raise found from None


@contextmanager
def scanning(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    columns: Mapping[str, Sequence[Any]],
    types: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """`columns` (equally long sequences of values, by column name) as the temp table `name`
    for the block.

    A column is VARCHAR unless `types` gives its SQL type (`BIGINT`, `VARCHAR[]`, ...): DuckDB
    cannot tell the type of an empty column or one of NULLs only. A `range` column is counted
    by DuckDB itself (BIGINT), not sent value by value. The values go in as list parameters,
    one `unnest` each (the unnests of one SELECT list advance together): as fast as an Arrow
    table for a batch, without importing pyarrow (40 MB a run).
    """
    selected: list[str] = []
    params: list[Any] = []
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of {name} differ in length: {sorted(lengths)}")
    for column, values in columns.items():
        if isinstance(values, range) and values.step == 1:
            selected.append(f'unnest(range(?::BIGINT, ?::BIGINT)) AS "{column}"')
            params.extend((values.start, values.stop))
        else:
            sql_type = (types or {}).get(column, "VARCHAR")
            selected.append(f'unnest(?::{sql_type}[]) AS "{column}"')
            params.append(values if isinstance(values, list | tuple) else list(values))
    with temp_table(connection, name, f"SELECT {', '.join(selected)}", params):
        yield


@contextmanager
def temp_table(
    connection: duckdb.DuckDBPyConnection, name: str, select: str, params: Sequence[Any] = ()
) -> Iterator[None]:
    """The rows of `select` as the temp table `name` for the block. DuckDB refuses to drop a
    table inside an aborted transaction; that refusal must not hide the error that aborted it
    (the rollback takes the table with it)."""
    connection.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {select}', list(params))
    try:
        yield
    finally:
        with suppress(duckdb.Error):
            connection.execute(f'DROP TABLE IF EXISTS "{name}"')


def interrupted(exc: BaseException) -> bool:
    """Whether `exc` is Ctrl-C: DuckDB catches SIGINT during a query and raises its own error:
    an InterruptException, a RuntimeError "Query interrupted" (DuckDB 2.0's, while it runs a
    statement or converts its parameters, such as `scanning`'s lists), or a wrapped
    KeyboardInterrupt."""
    if isinstance(exc, KeyboardInterrupt | duckdb.InterruptException):
        return True
    if isinstance(exc, RuntimeError) and str(exc) == "Query interrupted":
        return True
    # A KeyboardInterrupt raised while DuckDB calls back into Python (scanning a registered
    # Python object, as the store did with Arrow tables before issue 13) comes back wrapped.
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
