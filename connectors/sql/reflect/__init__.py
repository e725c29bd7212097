"""Reading a database's catalog in bulk: a `Reflector` per dialect, picked from the URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import sqlalchemy as sa
from sqlalchemy.engine import URL

from connectors.sql.reflect.duckdb import DuckDBReflector
from connectors.sql.reflect.generic import GenericReflector
from connectors.sql.reflect.model import (
    NameFilter,
    RawColumn,
    RawForeignKey,
    RawTable,
    Reflector,
    TableKind,
)
from connectors.sql.reflect.sqlite import SqliteReflector
from syncer.errors import ConfigError, SourceError

__all__ = [
    "DuckDBReflector",
    "GenericReflector",
    "NameFilter",
    "RawColumn",
    "RawForeignKey",
    "RawTable",
    "Reflector",
    "SqliteReflector",
    "TableKind",
    "database_file",
    "open_reflector",
    "sqlite_engine",
]

FILE_DIALECTS = ("sqlite", "duckdb")


def open_reflector(url: URL) -> Reflector:
    """The fastest reflector for the URL's dialect; raises with what to fix when it cannot."""
    dialect = url.get_backend_name()
    if dialect == "sqlite":
        return SqliteReflector(sqlite_engine(database_file(url)))
    if dialect == "duckdb":
        path = database_file(url)
        try:
            return DuckDBReflector.open(str(path))
        except duckdb.Error as err:
            raise SourceError(f"cannot open DuckDB file {path}: {_first_line(err)}") from err
    try:
        engine = sa.create_engine(url)
    except sa.exc.NoSuchModuleError as err:
        raise ConfigError(
            f"url: unknown dialect {url.drivername!r}: install its SQLAlchemy driver"
            " or fix the URL's scheme"
        ) from err
    except (ImportError, sa.exc.ArgumentError) as err:
        raise ConfigError(f"url: {url.render_as_string()}: {_first_line(err)}") from err
    return GenericReflector(engine)


def database_file(url: URL) -> Path:
    """A file database's path, which must exist: reading must never create an empty file."""
    name = url.database
    if not name or name == ":memory:":
        raise ConfigError(
            f"url: {url.render_as_string()} names no database file;"
            f" use {url.get_backend_name()}:///path/to/file"
        )
    path = Path(name)
    if not path.is_file():
        raise SourceError(
            f"{url.get_backend_name()} file {path} does not exist"
            f" (resolved from {Path.cwd()}): fix url {url.render_as_string()}"
        )
    return path


def sqlite_engine(path: Path) -> sa.Engine:
    """An engine on an existing SQLite file, opened read-only so nothing is ever written."""
    uri = path.resolve().as_uri() + "?mode=ro"
    return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
