"""The contract cases of the `sql` source: SQLite and DuckDB files, PostgreSQL and MariaDB."""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from tests.contract.cases import REPO, Case


@contextmanager
def _sqlite_shop(tmp: Path) -> Iterator[dict[str, Any]]:
    db = tmp / "shop.sqlite"
    shutil.copy(REPO / "examples/data/shop.sqlite", db)
    yield {"type": "sql", "config": {"url": f"sqlite:///{db}", "service_name": "shop"}}


@contextmanager
def _duckdb_warehouse(tmp: Path) -> Iterator[dict[str, Any]]:
    db = tmp / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        """
        CREATE SCHEMA sales;
        CREATE TABLE sales.customers (id INTEGER PRIMARY KEY, email VARCHAR UNIQUE NOT NULL,
                                      tags VARCHAR[], signed_up TIMESTAMP WITH TIME ZONE);
        CREATE TABLE sales.orders (id BIGINT PRIMARY KEY, customer_id INTEGER NOT NULL
                                   REFERENCES sales.customers (id), total DECIMAL(12, 2));
        CREATE TABLE sales."line.items" (order_id BIGINT, sku VARCHAR(32), qty SMALLINT);
        CREATE VIEW sales.big_orders AS SELECT o.id, c.email FROM sales.orders o
            JOIN sales.customers c ON c.id = o.customer_id WHERE o.total > 100;
        COMMENT ON TABLE sales.customers IS 'people who buy';
        """
    )
    con.close()
    yield {"type": "sql", "config": {"url": f"duckdb:///{db}", "service_name": "warehouse"}}


# The same small shop on every server; each dialect's own DDL quirks are kept out of it.
_SERVER_SHOP = (
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
    "REFERENCES customers (id), total DECIMAL(12, 2))",
    "CREATE VIEW big_orders AS SELECT o.id, c.email FROM orders o "
    "JOIN customers c ON c.id = o.customer_id WHERE o.total > 100",
)


def _server_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


@contextmanager
def _server_database(admin_url: str, url_of: Callable[[str], str]) -> Iterator[str]:
    """A uniquely named database with the shop in it, dropped afterwards; yields its URL."""
    name = f"syncer_contract_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.exec_driver_sql(f"CREATE DATABASE {name}")
    shop = sa.create_engine(url_of(name))
    try:
        with shop.begin() as con:
            for statement in _SERVER_SHOP:
                con.exec_driver_sql(statement)
        yield url_of(name)
    finally:
        shop.dispose()
        with admin.connect() as con:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@contextmanager
def _postgres_shop(tmp: Path) -> Iterator[dict[str, Any]]:
    if not _server_answers(5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432: start it, or install it")
    base = "postgresql+psycopg://postgres@127.0.0.1:5432"
    with _server_database(f"{base}/test", lambda name: f"{base}/{name}") as url:
        yield {"type": "sql", "config": {"url": url, "service_name": "pg"}}


@contextmanager
def _mariadb_shop(tmp: Path) -> Iterator[dict[str, Any]]:
    if not _server_answers(3306):
        pytest.skip("MariaDB/MySQL is not running on 127.0.0.1:3306: start it, or install it")
    base = "mysql+pymysql://root@127.0.0.1:3306"
    with _server_database(f"{base}/test", lambda name: f"{base}/{name}") as url:
        yield {"type": "sql", "config": {"url": url, "service_name": "maria"}}


CASES = {
    "sql-sqlite": Case(_sqlite_shop, lineage="ViewLineage"),
    "sql-duckdb": Case(_duckdb_warehouse, lineage="ViewLineage"),
    "sql-postgres": Case(_postgres_shop, lineage="ViewLineage"),
    "sql-mariadb": Case(_mariadb_shop, lineage="ViewLineage"),
}
