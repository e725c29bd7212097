"""A source that cannot be read fails before its first record; a URL that cannot work at all
fails when the config is loaded."""

from __future__ import annotations

import builtins
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syncer.connectors.sql import SqlConfig, SqlSource
from syncer.connectors.sql.reflect import NameFilter, RawTable
from syncer.errors import ConfigError, SourceError, SyncerError
from syncer.steps import Either
from tests.support.sources import mapped


def _first_stream(source: SqlSource) -> list[Either]:
    services = source.streams()[0]
    assert services.name == "services"
    yielded: list[Either] = []
    try:
        assert services.read is not None
        for record in services.read(None):
            yielded.append(record)
    finally:
        source.close()
    return yielded


def _garbage(tmp_path: Path, suffix: str) -> Path:
    path = tmp_path / f"garbage.{suffix}"
    path.write_bytes(b"this is not a database, only some text that is long enough" * 100)
    return path


def test_a_missing_sqlite_file_yields_no_service(tmp_path: Path) -> None:
    missing = tmp_path / "srcc.sqlite"
    source = SqlSource(SqlConfig(url=f"sqlite:///{missing}"))  # a missing file is no config error
    yielded: list[Either] = []
    with pytest.raises(SourceError, match=r"sqlite file .*srcc\.sqlite does not exist.*fix url"):
        yielded = _first_stream(source)
    assert yielded == []
    assert not missing.exists()


@pytest.mark.parametrize("dialect", ["sqlite", "duckdb"])
def test_a_file_that_is_no_database_yields_no_service(tmp_path: Path, dialect: str) -> None:
    path = _garbage(tmp_path, dialect)
    source = SqlSource(SqlConfig(url=f"{dialect}:///{path}"))
    yielded: list[Either] = []
    with pytest.raises(SourceError, match=rf"{dialect} file .*garbage\.{dialect} .*fix url") as err:
        yielded = _first_stream(source)
    assert yielded == []
    assert "\n" not in str(err.value)


def test_a_sqlite_file_is_checked_once_per_run_then_every_stream_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "small.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    conn.close()
    source = SqlSource(SqlConfig(url=f"sqlite:///{path}"))
    calls = 0
    reflector = source.targets.open()
    listing = reflector.schemas

    def counted() -> list[str]:
        nonlocal calls
        calls += 1
        return listing()

    monkeypatch.setattr(reflector, "schemas", counted)
    records = [r for s in source.streams() if s.read for r in mapped(s.read(None))]
    names = [getattr(r, "name", None) for r in records]
    assert names == ["sqlite", "small", "main", "t"]
    assert calls == 1
    source.close()


def test_an_unknown_dialect_fails_before_any_service(tmp_path: Path) -> None:
    yielded: list[Either] = []
    with pytest.raises(ConfigError, match=r"unknown dialect 'nosuchdb'.*sqlite, duckdb") as err:
        yielded = _first_stream(SqlSource(SqlConfig(url="nosuchdb://u:pw@host/db")))
    assert yielded == []
    assert "pw" not in str(err.value)


def test_a_misspelt_dialect_is_named_with_the_likely_one() -> None:
    with pytest.raises(ConfigError, match=r"unknown dialect 'postgres'; did you mean postgresql"):
        SqlSource(SqlConfig(url="postgres://u:pw@host/db"))


class _Unreachable:
    dialect = "postgresql"

    def schemas(self) -> list[str]:
        raise OSError('connection to server at "db.example" failed: Connection refused')

    def tables(self, schema: str, keep: NameFilter) -> list[RawTable]:
        raise AssertionError("no table is read from an unreachable server")

    def close(self) -> None:
        pass


def test_an_unreachable_server_yields_no_service() -> None:
    config = SqlConfig(url="postgresql+psycopg://u:s3cret@db.example/shop")
    source = SqlSource(config, reflector=_Unreachable())
    yielded: list[Either] = []
    with pytest.raises(SourceError, match=r"cannot list the schemas .*refused") as err:
        yielded = _first_stream(source)
    assert yielded == []
    assert "s3cret" not in str(err.value)


def _without(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make importing `modules` fail as if they were not installed."""
    real: Callable[..., Any] = builtins.__import__

    def fake(name: str, *args: Any, **kwargs: Any) -> Any:
        level = kwargs.get("level", args[3] if len(args) > 3 else 0)
        if level == 0 and name.split(".")[0] in modules:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.parametrize(
    ("url", "missing", "extra"),
    [
        ("postgresql://u:s3cret@h/db", "psycopg", "postgres"),
        ("postgresql+psycopg://u:s3cret@h/db", "psycopg", "postgres"),
        ("mysql+pymysql://u:s3cret@h/db", "pymysql", "mysql"),
        ("mariadb+pymysql://u:s3cret@h/db", "pymysql", "mysql"),
    ],
)
def test_a_missing_driver_is_a_config_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, missing: str, extra: str
) -> None:
    _without(monkeypatch, missing)
    with pytest.raises(ConfigError) as err:
        SqlSource(SqlConfig(url=url))
    message = str(err.value)
    dialect = url.split(":")[0].split("+")[0]
    assert message == (
        f"url: the {dialect} dialect needs its driver: pip install 'metadata-syncer[{extra}]'"
    )


MYSQL_EXTRA = "or write mysql+pymysql:// and pip install 'metadata-syncer[mysql]'"
POSTGRES_EXTRA = "or write postgresql+psycopg:// and pip install 'metadata-syncer[postgres]'"


@pytest.mark.parametrize(
    ("url", "missing", "advice", "extra"),
    [
        ("oracle://u:s3cret@h/db", "oracledb", "pip install oracledb", None),
        ("mssql://u:s3cret@h/db", "pyodbc", "pip install pyodbc", None),
        ("mysql://u:s3cret@h/db", "MySQLdb", "pip install mysqlclient", MYSQL_EXTRA),
        (
            "postgresql+psycopg2://u:s3cret@h/db",
            "psycopg2",
            "pip install psycopg2-binary",
            POSTGRES_EXTRA,
        ),
    ],
)
def test_a_driver_no_extra_installs_is_named_by_its_package_beside_the_extra_that_would_do(
    monkeypatch: pytest.MonkeyPatch, url: str, missing: str, advice: str, extra: str | None
) -> None:
    _without(monkeypatch, missing)
    with pytest.raises(ConfigError, match="needs its driver") as err:
        SqlSource(SqlConfig(url=url))
    message = str(err.value)
    assert advice in message
    assert "s3cret" not in message and "\n" not in message
    if extra is not None:  # under our distribution's name: `syncer` on PyPI is another project
        assert message.endswith(extra)


def test_the_driver_check_opens_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    # A stand-in driver that cannot connect, and no sockets: construction needs neither.
    monkeypatch.setattr(PGDialect_psycopg, "import_dbapi", classmethod(lambda cls: object()))
    monkeypatch.setattr(socket, "socket", None)
    source = SqlSource(SqlConfig(url="postgresql://u:pw@192.0.2.1:9/db"))
    assert not source.targets.is_open


def test_an_asyncio_driver_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

    monkeypatch.setattr(PGDialect_asyncpg, "import_dbapi", classmethod(lambda cls: object()))
    with pytest.raises(ConfigError, match=r"asyncio driver.*postgresql\+psycopg://"):
        SqlSource(SqlConfig(url="postgresql+asyncpg://u:pw@h/db"))


def test_the_cli_exits_2_on_a_missing_driver_before_any_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncer import config as configs

    _without(monkeypatch, "oracledb")
    path = tmp_path / "workflow.yaml"
    path.write_text(
        "workflow: w\nsource: {type: sql, config: {url: 'oracle://u:s3cret@h/db'}}\n"
        "sinks: [{type: jsonl, config: {path: out}}]\n"
    )
    with pytest.raises(SyncerError) as err:
        configs.load(path)
    assert isinstance(err.value, ConfigError) and err.value.exit_code == 2
    assert "pip install oracledb" in str(err.value) and "s3cret" not in str(err.value)
