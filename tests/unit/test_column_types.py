"""Raw column types, as databases report them, map to OpenMetadata's type fields."""

from __future__ import annotations

import pytest

from syncer.column_types import ColumnType, map_type
from syncer.models import DataType as D

CASES: list[tuple[str, str | None, ColumnType]] = [
    # SQLite, as declared
    ("INTEGER", "sqlite", ColumnType(D.INT, "integer")),
    ("TEXT", "sqlite", ColumnType(D.TEXT, "text")),
    ("VARCHAR(20)", "sqlite", ColumnType(D.VARCHAR, "varchar(20)", data_length=20)),
    ("NVARCHAR(30)", "sqlite", ColumnType(D.VARCHAR, "nvarchar(30)", data_length=30)),
    ("DECIMAL(10,2)", "sqlite", ColumnType(D.DECIMAL, "decimal(10,2)", precision=10, scale=2)),
    ("DECIMAL(10, 2)", "sqlite", ColumnType(D.DECIMAL, "decimal(10,2)", precision=10, scale=2)),
    ("BOOLEAN", "sqlite", ColumnType(D.BOOLEAN, "boolean")),
    ("BLOB", "sqlite", ColumnType(D.BLOB, "blob")),
    ("", "sqlite", ColumnType(D.UNKNOWN)),
    ("UNSIGNED BIG INT", "sqlite", ColumnType(D.BIGINT, "unsigned big int")),
    ("MYINTEGER", "sqlite", ColumnType(D.INT, "myinteger")),
    ("SOMETHING", "sqlite", ColumnType(D.NUMERIC, "something")),
    # DuckDB
    ("VARCHAR", "duckdb", ColumnType(D.VARCHAR, "varchar", data_length=1)),
    ("INTEGER[]", "duckdb", ColumnType(D.ARRAY, "integer[]", array_data_type=D.INT)),
    ("VARCHAR[3]", "duckdb", ColumnType(D.ARRAY, "varchar[3]", array_data_type=D.VARCHAR)),
    ("TIMESTAMP WITH TIME ZONE", "duckdb", ColumnType(D.TIMESTAMPZ, "timestamp with time zone")),
    ("STRUCT(a INT)", "duckdb", ColumnType(D.STRUCT, "struct(a int)")),
    ("MAP(VARCHAR, INTEGER)", "duckdb", ColumnType(D.MAP, "map(varchar,integer)")),
    ("HUGEINT", "duckdb", ColumnType(D.LARGEINT, "hugeint")),
    ("UBIGINT", "duckdb", ColumnType(D.UINT, "ubigint")),
    ("SOMETHING", "duckdb", ColumnType(D.UNKNOWN, "something")),
    # PostgreSQL
    ("jsonb", "postgresql", ColumnType(D.JSON, "jsonb")),
    ("uuid", "postgresql", ColumnType(D.UUID, "uuid")),
    ("geometry", "postgresql", ColumnType(D.GEOMETRY, "geometry")),
    ("int4", "postgresql", ColumnType(D.INT, "int4")),
    ("float8", "postgresql", ColumnType(D.DOUBLE, "float8")),
    ("timestamptz", "postgresql", ColumnType(D.TIMESTAMPZ, "timestamptz")),
    ("bytea", "postgresql", ColumnType(D.BYTEA, "bytea")),
    ("_int4", "postgresql", ColumnType(D.ARRAY, "_int4", array_data_type=D.INT)),
    ("character varying(255)", None, ColumnType(D.VARCHAR, "character varying(255)", 255)),
    ("timestamp(6) with time zone", None, ColumnType(D.TIMESTAMPZ, "timestamp(6) with time zone")),
    ("double precision", None, ColumnType(D.DOUBLE, "double precision")),
    ("numeric(12,4)", None, ColumnType(D.NUMERIC, "numeric(12,4)", precision=12, scale=4)),
    ("inet", None, ColumnType(D.INET, "inet")),
    # MySQL
    ("tinyint(1)", "mysql", ColumnType(D.TINYINT, "tinyint(1)")),  # MySQL has no boolean
    ("tinyint(4)", "mysql", ColumnType(D.TINYINT, "tinyint(4)")),
    ("mediumtext", "mysql", ColumnType(D.MEDIUMTEXT, "mediumtext")),
    ("int(11) unsigned", "mysql", ColumnType(D.INT, "int(11) unsigned")),
    ("enum('a','b')", "mysql", ColumnType(D.ENUM, "enum('a','b')")),
    ("set('x','y')", "mysql", ColumnType(D.SET, "set('x','y')")),
    ("varchar(9) charset utf8", "mysql", ColumnType(D.VARCHAR, "varchar(9) charset utf8", 9)),
    ("longblob", "mysql", ColumnType(D.LONGBLOB, "longblob")),
    ("datetime(3)", "mysql", ColumnType(D.DATETIME, "datetime(3)")),
    ("year", "mysql", ColumnType(D.YEAR, "year")),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "dialect", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_raw_type_maps_to_openmetadata_type_fields(
    raw: str, dialect: str | None, expected: ColumnType
) -> None:
    assert map_type(raw, dialect) == expected


def test_an_unknown_name_is_unknown_outside_sqlite() -> None:
    assert map_type("mood", "postgresql").data_type == D.UNKNOWN


def test_an_array_of_unknown_elements_is_still_an_array() -> None:
    assert map_type("mood[]", "postgresql") == ColumnType(
        D.ARRAY, "mood[]", array_data_type=D.UNKNOWN
    )
