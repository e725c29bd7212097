"""MySQL/MariaDB COLUMN_TYPEs, one case per type family, map to OpenMetadata's type fields as
OpenMetadata's own MySQL connector maps them, with the whole type kept as the display."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from syncer.column_types import map_type
from syncer.connectors.sql.reflect.mysql import _JSON_CHECK
from syncer.models import DataType as D


@dataclass(frozen=True)
class T:
    """A COLUMN_TYPE and the fields it maps to; its display is the COLUMN_TYPE itself."""

    raw: str
    data_type: D
    length: int | None = None
    precision: int | None = None
    scale: int | None = None


# COLUMN_TYPE as the server reports it, and what it maps to; its display is itself.
CASES: list[T] = [
    # integers: signedness and display width stay in the display only
    T("tinyint(4)", D.TINYINT),
    T("tinyint(1)", D.TINYINT),
    T("tinyint(3) unsigned", D.TINYINT),
    T("smallint(5) unsigned", D.SMALLINT),
    T("mediumint(9)", D.INT),
    T("int unsigned", D.INT),
    T("int(10) unsigned", D.INT),
    T("int(5) unsigned zerofill", D.INT),
    T("bigint(20) unsigned", D.BIGINT),
    T("serial", D.BIGINT),
    T("bool", D.TINYINT),
    # exact and approximate numbers
    T("decimal(10,2)", D.DECIMAL, precision=10, scale=2),
    T("decimal(65,30)", D.DECIMAL, precision=65, scale=30),
    T("decimal(5,0) unsigned", D.DECIMAL, precision=5, scale=0),
    T("float", D.FLOAT),
    T("float(10,2)", D.FLOAT, precision=10, scale=2),
    T("double", D.DOUBLE),
    T("double(8,3)", D.DOUBLE, precision=8, scale=3),
    T("double precision", D.DOUBLE),
    T("real", D.DOUBLE),
    T("bit(1)", D.BIT, length=1),
    T("bit(64)", D.BIT, length=64),
    # strings
    T("char(2)", D.CHAR, length=2),
    T("varchar(255)", D.VARCHAR, length=255),
    T("varchar(9) character set latin1", D.VARCHAR, length=9),
    T("tinytext", D.TEXT),
    T("text", D.TEXT),
    T("mediumtext", D.MEDIUMTEXT),
    T("longtext", D.TEXT),
    # binary strings
    T("binary(16)", D.BINARY, length=16),
    T("varbinary(200)", D.VARBINARY, length=200),
    T("tinyblob", D.BLOB),
    T("blob", D.BLOB),
    T("mediumblob", D.MEDIUMBLOB),
    T("longblob", D.LONGBLOB),
    # dates and times, fractional seconds in the display
    T("date", D.DATE),
    T("datetime", D.DATETIME),
    T("datetime(6)", D.DATETIME),
    T("timestamp(3)", D.TIMESTAMP),
    T("time(3)", D.TIME),
    T("year", D.YEAR),
    T("year(4)", D.YEAR),
    # labelled types: labels keep their case, spaces, commas and quotes
    T("enum('G','PG-13','R')", D.ENUM),
    T("enum('Gold','Silver, Plus','it''s (x)')", D.ENUM),
    T("set('Trailers','Deleted Scenes')", D.SET),
    T("set('int','<a>')", D.SET),
    # semi-structured: MariaDB's json arrives as json once the reflector saw its check
    T("json", D.JSON),
    # spatial: OpenMetadata's MySQL connector names every one GEOMETRY
    T("geometry", D.GEOMETRY),
    T("point", D.GEOMETRY),
    T("linestring", D.GEOMETRY),
    T("polygon", D.GEOMETRY),
    T("multipoint", D.GEOMETRY),
    T("multilinestring", D.GEOMETRY),
    T("multipolygon", D.GEOMETRY),
    T("geometrycollection", D.GEOMETRY),
    T("geomcollection", D.GEOMETRY),
    # MariaDB's own types
    T("inet6", D.INET),
    T("inet4", D.INET),
    T("uuid", D.UUID),
    T("vector(3)", D.UNKNOWN),
]  # fmt: skip


@pytest.mark.parametrize("dialect", ["mysql", "mariadb"])
@pytest.mark.parametrize("case", CASES, ids=[c.raw for c in CASES])
def test_a_mysql_column_type_maps_by_family(case: T, dialect: str) -> None:
    got = map_type(case.raw, dialect)
    assert (got.data_type, got.data_type_display) == (case.data_type, case.raw)
    assert (got.data_length, got.precision, got.scale) == (case.length, case.precision, case.scale)
    assert got.array_data_type is None


def test_a_type_written_by_hand_is_spelled_as_the_server_spells_it() -> None:
    assert map_type("  BIGINT( 20 )  UNSIGNED ", "mysql") == map_type(
        "bigint(20) unsigned", "mysql"
    )
    assert map_type("ENUM( 'Gold' , 'silver' )", "mysql").data_type_display == (
        "enum('Gold','silver')"
    )


@pytest.mark.parametrize(
    ("clause", "column"),
    [
        ("json_valid(`prefs`)", "prefs"),  # what MariaDB's JSON alias adds
        ("json_valid(`odd``name`)", "odd``name"),
        ("json_valid(`prefs`) or `prefs` is null", "prefs"),
        ("JSON_VALID(`Prefs`)", "Prefs"),
    ],
)
def test_mariadb_json_checks_are_recognised(clause: str, column: str) -> None:
    found = _JSON_CHECK.fullmatch(clause)
    assert found is not None
    assert found.group(1) == column


@pytest.mark.parametrize(
    "clause",
    ["json_valid(`a`) and `b` > 1", "json_valid(`a`) or `b` is null", "`a` is null"],
)
def test_other_checks_do_not_make_a_column_json(clause: str) -> None:
    assert _JSON_CHECK.fullmatch(clause) is None
