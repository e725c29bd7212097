"""MySQL's/MariaDB's keys as the reflector reads them (KEY_COLUMN_USAGE alone), compared with
what the statement it replaced read (TABLE_CONSTRAINTS joined to KEY_COLUMN_USAGE: 14 s for
3,000 tables on MariaDB 10.11), on the music store fixture and keys whose names sort
differently by case.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from syncer.connectors.sql.reflect.mysql import MySQLReflector
from tests.integration.connectors.conftest import MySqlServer
from tests.integration.connectors.test_mysql_types import FIXTURE

MANY_KEYS = """
CREATE TABLE parent (
    a INT, b INT, c INT,
    PRIMARY KEY (b, a), UNIQUE KEY zz (c), UNIQUE KEY `Ab` (c, a), UNIQUE KEY `aa` (a, c)
);
CREATE TABLE child (
    id INT PRIMARY KEY, pa INT, pb INT, pc INT,
    CONSTRAINT `Fk_b` FOREIGN KEY (pb, pa) REFERENCES parent (b, a),
    CONSTRAINT fk_a FOREIGN KEY (pc) REFERENCES parent (c)
)
"""
# The statement the reflector used before issue 13.
_JOINED = """
SELECT c.TABLE_NAME, c.CONSTRAINT_NAME, c.CONSTRAINT_TYPE, k.COLUMN_NAME,
       k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME
FROM information_schema.TABLE_CONSTRAINTS c
JOIN information_schema.KEY_COLUMN_USAGE k
  ON k.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = c.CONSTRAINT_NAME
 AND k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = %s AND c.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
ORDER BY c.TABLE_NAME, c.CONSTRAINT_TYPE, c.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""
Keys = dict[str, dict[str, Any]]


@pytest.fixture
def database(mysql_server: MySqlServer) -> Iterator[str]:
    name = f"syncer_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(mysql_server.url(), isolation_level="AUTOCOMMIT")
    text = "\n".join(
        line for line in FIXTURE.read_text().splitlines() if not line.lstrip().startswith("--")
    )
    statements = [s.strip() for s in (text + ";" + MANY_KEYS).split(";\n") if s.strip()]
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
            conn.exec_driver_sql(f"USE `{name}`")
            for statement in statements:
                conn.exec_driver_sql(statement.rstrip(";"))
        yield name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


def _joined(engine: sa.Engine, schema: str) -> Keys:
    """Keys as the replaced statement read them, in the shape the reflector gives them."""
    found: dict[tuple[str, str], list[Any]] = defaultdict(list)
    with engine.connect() as conn:
        for row in conn.exec_driver_sql(_JOINED, (schema,)):
            found[(row[0], row[1])].append(row)
    keys: Keys = defaultdict(lambda: {"primary_key": (), "unique": [], "foreign_keys": []})
    for (table, name), rows in found.items():
        columns = tuple(r[3] for r in rows)
        if rows[0][2] == "PRIMARY KEY":
            keys[table]["primary_key"] = columns
        elif rows[0][2] == "UNIQUE":
            keys[table]["unique"].append(columns)
        else:
            referred = (rows[0][4], rows[0][5], tuple(r[6] for r in rows))
            keys[table]["foreign_keys"].append((name, columns, referred))
    return dict(keys)


def test_keys_are_read_as_the_joined_constraint_statement_read_them(
    mysql_server: MySqlServer, database: str
) -> None:
    engine = sa.create_engine(mysql_server.url(database=database))
    reflector = MySQLReflector(engine)
    try:
        expected = _joined(engine, database)
        read = {
            t.name: {
                "primary_key": t.primary_key,
                "unique": t.unique,
                "foreign_keys": [
                    (f.name, f.columns, (f.referred_schema, f.referred_table, f.referred_columns))
                    for f in t.foreign_keys
                ],
            }
            for t in reflector.tables(database, lambda _: True)
            if t.primary_key or t.unique or t.foreign_keys
        }
    finally:
        reflector.close()
    assert read == expected
    assert read["parent"]["primary_key"] == ("b", "a")
    assert len(read["parent"]["unique"]) == 3
    assert len(read["child"]["foreign_keys"]) == 2
