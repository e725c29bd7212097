"""Reading a database's catalog in bulk: a `Reflector` per dialect, picked from the URL."""

from __future__ import annotations

import difflib
import sqlite3
from pathlib import Path

import sqlalchemy as sa

# Not `import duckdb`: importing the submodule of that name rebinds `duckdb` in this package.
from duckdb import Error as DuckDBError
from sqlalchemy.engine import URL

from syncer import DISTRIBUTION
from syncer.connectors.sql.reflect.duckdb import DuckDBReflector
from syncer.connectors.sql.reflect.generic import GenericReflector
from syncer.connectors.sql.reflect.model import (
    CheckLine,
    ChecksPrivileges,
    LooksUp,
    Lookup,
    NameFilter,
    RawColumn,
    RawForeignKey,
    RawTable,
    Reflector,
    TableKind,
    reflection_order,
)
from syncer.connectors.sql.reflect.sqlite import SqliteReflector
from syncer.errors import ConfigError, SourceError
from syncer.text import first_line

__all__ = [
    "CheckLine",
    "ChecksPrivileges",
    "DuckDBReflector",
    "GenericReflector",
    "LooksUp",
    "Lookup",
    "NameFilter",
    "RawColumn",
    "RawForeignKey",
    "RawTable",
    "Reflector",
    "SqliteReflector",
    "TableKind",
    "check_url",
    "database_file",
    "open_reflector",
    "reflection_order",
    "sqlite_engine",
]

FILE_DIALECTS = ("sqlite", "duckdb")


# Dialects syncer is built and tested for; any other SQLAlchemy dialect goes the generic way.
SUPPORTED_DIALECTS = ("sqlite", "duckdb", "postgresql", "mysql", "mariadb")
# The extra that installs a driver, by (dialect, driver); other drivers are installed by hand.
_EXTRAS = {
    ("postgresql", "psycopg"): "postgres",
    ("mysql", "pymysql"): "mysql",
    ("mariadb", "pymysql"): "mysql",
}
# The synchronous driver to suggest instead of an asyncio one, or of one no extra installs.
_SYNC_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
# Driver modules whose package on PyPI has another name.
_PACKAGES = {"MySQLdb": "mysqlclient", "psycopg2": "psycopg2-binary"}


def check_url(url: URL) -> None:
    """Raise a one-line `ConfigError` when the URL cannot work whatever the database holds:
    no file named, an unknown dialect or driver, a driver that is not installed.

    Imports the driver but never connects: it runs when the config is loaded.
    """
    dialect = url.get_backend_name()
    if dialect in FILE_DIALECTS:
        _file_name(url)
        return
    try:
        dialect_cls = url.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise ConfigError(_unknown(url)) from None
    try:
        dialect_cls.import_dbapi()
    except ImportError as err:
        raise ConfigError(_missing_driver(url, dialect_cls.driver, err)) from None
    if dialect_cls.is_async:
        sync = _SYNC_DRIVERS.get(dialect)
        example = f"; e.g. {dialect}+{sync}://" if sync else ""
        raise ConfigError(
            f"url: {url.drivername} is an asyncio driver, which syncer cannot use;"
            f" name a synchronous driver instead{example}"
        )


def open_reflector(
    url: URL,
    *,
    statement_timeout_seconds: float = 60.0,
    concurrency: int = 2,
    page_size: int = 5000,
) -> Reflector:
    """The fastest reflector for the URL's dialect; raises with what to fix when it cannot.

    A server's connection pool holds at most `concurrency` connections: one per schema that
    the source reflects at once. `statement_timeout_seconds` bounds every catalog statement
    and `page_size` the tables read per query round (PostgreSQL and MySQL/MariaDB).
    """
    dialect = url.get_backend_name()
    if dialect == "sqlite":
        return SqliteReflector(sqlite_engine(database_file(url)))
    if dialect == "duckdb":
        path = database_file(url)
        try:
            return DuckDBReflector.open(str(path))
        except DuckDBError as err:
            raise SourceError(
                f"duckdb file {path} cannot be opened as a DuckDB database ({first_line(err)}):"
                f" fix url {url.render_as_string()}"
            ) from err
    check_url(url)
    # One connection per schema reflected at once, and no more, when the dialect pools them.
    pool: dict[str, int] = {}
    pool_class = getattr(url.get_dialect(), "get_pool_class", None)
    if pool_class is not None and issubclass(pool_class(url), sa.pool.QueuePool):
        pool = {"pool_size": concurrency, "max_overflow": 0}
    try:
        engine = sa.create_engine(url, **pool)
    except sa.exc.ArgumentError as err:
        raise ConfigError(f"url: {url.render_as_string()}: {first_line(err)}") from err
    # Servers whose catalogs we read directly; imported late, each needs its own driver.
    if dialect == "postgresql":
        from syncer.connectors.sql.reflect.postgres import PostgresReflector

        return PostgresReflector(
            engine, statement_timeout_seconds=statement_timeout_seconds, page_size=page_size
        )
    if dialect in ("mysql", "mariadb"):
        from syncer.connectors.sql.reflect.mysql import MySQLReflector

        return MySQLReflector(
            engine, statement_timeout_seconds=statement_timeout_seconds, page_size=page_size
        )
    return GenericReflector(engine)


def _unknown(url: URL) -> str:
    dialect = url.get_backend_name()
    try:
        sa.engine.make_url(f"{dialect}://").get_dialect()
    except sa.exc.NoSuchModuleError:
        pass
    else:  # the dialect exists; its driver does not
        return (
            f"url: unknown driver {url.get_driver_name()!r} for the {dialect} dialect;"
            f" write {dialect}:// for its default driver or install the driver's package"
        )
    close = difflib.get_close_matches(dialect, SUPPORTED_DIALECTS, n=1)
    hint = f"did you mean {close[0]}://? " if close else ""
    return (
        f"url: unknown dialect {url.drivername!r}; {hint}syncer reads sqlite, duckdb,"
        " postgresql, mysql and mariadb (and any other SQLAlchemy dialect whose package is"
        " installed): fix the URL's scheme"
    )


def _missing_driver(url: URL, driver: str, err: ImportError) -> str:
    dialect = url.get_backend_name()
    if err.name is None:  # no module is missing: the driver is there but fails to load
        return f"url: the {dialect}+{driver} driver cannot be imported: {first_line(err)}"
    extra = _EXTRAS.get((dialect, driver))
    if extra is not None:
        return f"url: the {dialect} dialect needs its driver: pip install '{DISTRIBUTION}[{extra}]'"
    module = err.name.split(".")[0]
    text = (
        f"url: the {dialect} dialect needs its driver: pip install {_PACKAGES.get(module, module)}"
        f" (SQLAlchemy's {dialect}+{driver} driver imports {module})"
    )
    sync = _SYNC_DRIVERS.get(dialect)
    if sync is not None:
        extra = _EXTRAS[(dialect, sync)]
        text += f", or write {dialect}+{sync}:// and pip install '{DISTRIBUTION}[{extra}]'"
    return text


def database_file(url: URL) -> Path:
    """A file database's path, which must exist: reading must never create an empty file."""
    path = _file_name(url)
    if not path.is_file():
        # A config's relative file is made absolute against its folder (syncer.paths).
        shown = path if path.is_absolute() else f"{path} (resolved from {Path.cwd()})"
        raise SourceError(
            f"{url.get_backend_name()} file {shown} does not exist:"
            f" fix url {url.render_as_string()}"
        )
    return path


def _file_name(url: URL) -> Path:
    name = url.database
    if not name or name == ":memory:":
        raise ConfigError(
            f"url: {url.render_as_string()} names no database file;"
            f" use {url.get_backend_name()}:///path/to/file"
        )
    return Path(name)


def sqlite_engine(path: Path) -> sa.Engine:
    """An engine on an existing SQLite file, opened read-only so nothing is ever written."""
    uri = path.resolve().as_uri() + "?mode=ro"
    # The pool lends a connection to one thread at a time, but not always the one that made it
    # (a stream read ahead reads with it, the engine's thread closes it). A queue pool, not the
    # per-thread pool SQLAlchemy gives `sqlite://`: a new connection parses the whole schema
    # again on its first statement, 0.3 s for 20,000 tables.
    return sa.create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
        poolclass=sa.pool.QueuePool,
    )
