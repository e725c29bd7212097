"""MySQL/MariaDB types as the server has them: a music store (tests/fixtures/sql/mysql_music.sql)
is loaded into a fresh database, synced with the sql source, and every relation, column type and
key is compared with what the server's own information_schema says, queried here independently
of the reflector, and mapped with OpenMetadata's MySQL facts written out below.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.connectors.conftest import MySqlServer
from tests.integration.connectors.test_mysql import SERVICE, Deployment, Server
from tests.support.workspace import REPO

FIXTURE = REPO / "tests" / "fixtures" / "sql" / "mysql_music.sql"
SPATIAL = (
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
    "multipolygon", "geometrycollection", "geomcollection",
)  # fmt: skip
# information_schema.COLUMNS.DATA_TYPE → OpenMetadata's dataType, as its MySQL connector has it.
OM_TYPES: dict[str, str] = {
    "tinyint": "TINYINT", "smallint": "SMALLINT", "mediumint": "INT", "int": "INT",
    "bigint": "BIGINT", "decimal": "DECIMAL", "float": "FLOAT", "double": "DOUBLE", "bit": "BIT",
    "char": "CHAR", "varchar": "VARCHAR", "tinytext": "TEXT", "text": "TEXT",
    "mediumtext": "MEDIUMTEXT", "longtext": "TEXT", "binary": "BINARY",
    "varbinary": "VARBINARY", "tinyblob": "BLOB", "blob": "BLOB", "mediumblob": "MEDIUMBLOB",
    "longblob": "LONGBLOB", "date": "DATE", "datetime": "DATETIME", "timestamp": "TIMESTAMP",
    "time": "TIME", "year": "YEAR", "enum": "ENUM", "set": "SET", "json": "JSON",
    **dict.fromkeys(SPATIAL, "GEOMETRY"),
}  # fmt: skip
JSON_COLUMNS = {
    ("album", "label_info"),
    ("customer", "preferences"),
    ("playlist", "meta"),
    ("store", "opening_hours"),
}
VIEWS = {"track_detail", "artist_sales", "top_artists", "customer_spend", "country_revenue"}


def load(server: Server, path: Path = FIXTURE) -> None:
    """Runs the fixture's statements, one at a time, in the server's main database."""
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")
    )
    statements = [s.strip() for s in re.split(r";\s*$", text, flags=re.M) if s.strip()]
    server.execute(f"USE `{server.main}`", *statements)


@pytest.fixture
def music(mysql_server: MySqlServer, tmp_path: Path) -> Iterator[Deployment]:
    main = f"syncer_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(mysql_server.url(), isolation_level="AUTOCOMMIT")
    # The second database of `Server` is never created: the store lives in one.
    server = Server(admin, main, f"{main}_b", mysql_server.port)
    try:
        server.execute(f"CREATE DATABASE `{main}`")
        load(server)
        yield Deployment(tmp_path, server, server.url())
    finally:
        server.execute(f"DROP DATABASE IF EXISTS `{main}`")
        admin.dispose()


def _rows(server: Server, sql: str) -> list[Any]:
    """The rows of `sql`, whose one parameter is the store's database."""
    with server.admin.connect() as conn:
        return list(conn.exec_driver_sql(sql, (server.main,)).all())


def _is_mariadb(server: Server) -> bool:
    with server.admin.connect() as conn:
        return "mariadb" in str(conn.exec_driver_sql("SELECT VERSION()").scalar()).lower()


def _catalog(server: Server) -> dict[str, Any]:
    """What information_schema says, in the shape of the synced entities."""
    json_checked: set[tuple[str, str]] = set()
    if _is_mariadb(server):  # JSON is LONGTEXT there, with a json_valid check the alias adds
        for table, clause in _rows(
            server,
            "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
            " WHERE CONSTRAINT_SCHEMA = %s",
        ):
            if found := re.fullmatch(r"json_valid\(`(\w+)`\)", clause):
                json_checked.add((table, found.group(1)))
    kinds = {"BASE TABLE": "Regular", "VIEW": "View"}
    relations = {
        name: kinds[type_]
        for name, type_ in _rows(
            server,
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
        )
    }
    constraints = _rows(
        server,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE FROM"
        " information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = %s"
        " AND CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')",
    )
    key_columns: dict[tuple[str, str], list[tuple[str, str | None, str | None]]] = defaultdict(list)
    for table, name, column, ref_table, ref_column in _rows(
        server,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME,"
        " REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
        " WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
    ):
        key_columns[(table, name)].append((column, ref_table, ref_column))
    keys: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...] | None]]] = defaultdict(list)
    primary: dict[str, tuple[str, ...]] = {}
    kind = {"PRIMARY KEY": "PRIMARY_KEY", "UNIQUE": "UNIQUE", "FOREIGN KEY": "FOREIGN_KEY"}
    for table, name, type_ in constraints:
        parts = key_columns[(table, name)]
        columns = tuple(c for c, _, _ in parts)
        referred = None
        if type_ == "FOREIGN KEY":
            referred = tuple(f"{_fqn(server, str(t))}.{c}" for _, t, c in parts)
        if type_ == "PRIMARY KEY":
            primary[table] = columns
        keys[table].append((kind[type_], columns, referred))
    columns_of: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for table, name, column_type, data_type, nullable, chars, digits, scale in _rows(
        server,
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE,"
        " CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE"
        " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s"
        " ORDER BY TABLE_NAME, ORDINAL_POSITION",
    ):
        if (table, name) in json_checked and data_type == "longtext":
            column_type = data_type = "json"
        length = None
        if data_type in ("char", "varchar", "binary", "varbinary"):
            length = int(chars)
        elif data_type == "bit":
            length = int(digits)
        precision, decimals = (int(digits), int(scale)) if data_type == "decimal" else (None, None)
        constraint = "NOT_NULL" if nullable == "NO" else "NULL"
        if primary.get(table) == (name,):
            constraint = "PRIMARY_KEY"
        columns_of[table].append(
            (name, OM_TYPES[data_type], column_type, length, precision, decimals, constraint)
        )
    return {
        "relations": relations,
        "columns": dict(columns_of),
        "keys": {t: sorted(k, key=repr) for t, k in keys.items()},
    }


def _fqn(server: Server, table: str) -> str:
    return f"{SERVICE}.{server.main}.{server.main}.{table}"


def _synced(deployment: Deployment) -> dict[str, Any]:
    tables = {t["name"]: t for t in deployment.entities("table").values()}
    return {
        "relations": {name: t["tableType"] for name, t in tables.items()},
        "columns": {
            name: [
                (
                    c["name"],
                    c["dataType"],
                    c.get("dataTypeDisplay"),
                    c.get("dataLength"),
                    c.get("precision"),
                    c.get("scale"),
                    c.get("constraint"),
                )
                for c in t["columns"]
            ]
            for name, t in tables.items()
        },
        "keys": {
            name: sorted(
                (
                    (
                        k["constraintType"],
                        tuple(k["columns"]),
                        tuple(k["referredColumns"]) if k.get("referredColumns") else None,
                    )
                    for k in t.get("tableConstraints") or []
                ),
                key=repr,
            )
            for name, t in tables.items()
            if t.get("tableConstraints")
        },
    }


def test_every_relation_column_type_and_key_is_what_information_schema_says(
    music: Deployment,
) -> None:
    result = music.run()
    assert result.status == "succeeded", (result.error, result.warnings)
    expected = _catalog(music.server)
    synced = _synced(music)
    assert synced["relations"] == expected["relations"]
    for table, columns in expected["columns"].items():
        assert synced["columns"][table] == columns, table
    assert synced["keys"] == expected["keys"]


def test_the_store_covers_every_type_family_and_its_views_stack(music: Deployment) -> None:
    """Guards the fixture itself, so the comparison above keeps covering what it claims."""
    music.run()
    expected = _catalog(music.server)
    assert len([r for r in expected["relations"].values() if r == "Regular"]) == 12
    assert {n for n, r in expected["relations"].items() if r == "View"} == VIEWS
    displays = {c[2] for cols in expected["columns"].values() for c in cols}
    families = {c[1] for cols in expected["columns"].values() for c in cols}
    assert set(OM_TYPES.values()) <= families
    spatial = {d for d in displays if d in SPATIAL}
    # MySQL 8 calls geometrycollection geomcollection.
    assert len(spatial) == 8 and set(SPATIAL[:7]) <= spatial, spatial
    assert any(d.endswith(" unsigned") for d in displays)
    assert "enum('Draft','Paid','Refunded','PG-13')" in displays  # labels keep their case
    assert "set('Calm','Energetic','Dark','upbeat','Rock & Roll')" in displays
    json = {
        (table, c[0]) for table, cols in expected["columns"].items() for c in cols if c[2] == "json"
    }
    assert json == JSON_COLUMNS
    generated = _rows(
        music.server,
        "SELECT TABLE_NAME, COLUMN_NAME, EXTRA FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = %s AND EXTRA LIKE '%%GENERATED%%'",
    )
    assert {str(extra).split()[0] for _, _, extra in generated} == {"VIRTUAL", "STORED"}
    assert len(generated) == 5
    fqn = music.table_fqn
    assert {
        (fqn("track_detail"), fqn("artist_sales")),
        (fqn("artist_sales"), fqn("top_artists")),
        (fqn("customer_spend"), fqn("country_revenue")),
        (fqn("customer"), fqn("customer_spend")),
    } <= music.edges()
