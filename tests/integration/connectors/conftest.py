"""A throw-away PostgreSQL database per test, on the server at 127.0.0.1:5432.

Each database (`syncer_test_<hex>`) and its login role (`syncer_ro_<hex>`) are dropped after
the test, whether it passed or not. Without a server the tests are skipped, not failed.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

HOST, PORT = "127.0.0.1", 5432
ADMIN = f"host={HOST} port={PORT} user=postgres dbname=postgres connect_timeout=2"


@dataclass(frozen=True)
class PgDatabase:
    name: str
    role: str  # a login role with CONNECT, USAGE and SELECT only: what syncer reads as
    password: str  # planted in the URL through ${env:...}; trust auth ignores it

    def execute(self, *statements: str) -> None:
        """Run statements as the superuser, in this database, each committed."""
        with psycopg.connect(_dsn(self.name), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode())


def _dsn(database: str) -> str:
    return f"host={HOST} port={PORT} user=postgres dbname={database} connect_timeout=2"


@pytest.fixture(scope="session")
def pg_server() -> None:
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError:
        pytest.skip(
            "PostgreSQL is not running on 127.0.0.1:5432: start it, or apt-get install postgresql"
        )


@pytest.fixture
def pg_database(pg_server: None) -> Iterator[PgDatabase]:
    """An empty database, a read-only login role allowed to connect to it, both dropped after."""
    suffix = uuid.uuid4().hex[:12]
    db = PgDatabase(f"syncer_test_{suffix}", f"syncer_ro_{suffix}", f"pw-{uuid.uuid4().hex}")
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
        try:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(db.role), sql.Literal(db.password)
                )
            )
            admin.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(db.name), sql.Identifier(db.role)
                )
            )
            yield db
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name))
            )
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(db.role)))
