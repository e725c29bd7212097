"""PostgreSQL's types as the reflector spells them (`column_type`) map to OpenMetadata's fields;
`normalize` keeps what is quoted (enum labels, quoted identifiers) as it is."""

from __future__ import annotations

import pytest

from syncer.column_types import ColumnType, map_type, normalize
from syncer.connectors.sql.reflect.postgres import PgType, column_type
from syncer.models import DataType as D

RATING = "enum mpaa_rating('G','PG','PG-13','R','NC-17')"

# One case per type family: (id, raw type, expected fields).
FAMILIES: list[tuple[str, str, ColumnType]] = [
    ("enum", RATING, ColumnType(D.ENUM, RATING)),
    ("enum array", RATING + "[]", ColumnType(D.ARRAY, RATING + "[]", array_data_type=D.ENUM)),
    ("enum quoted", "enum \"Media Format\"('VHS (legacy)','it''s 4K')",
     ColumnType(D.ENUM, "enum \"Media Format\"('VHS (legacy)','it''s 4K')")),
    ("domain", "domain year(integer)", ColumnType(D.INT, "domain year(integer)")),
    ("domain over domain", "domain release_year(domain year(integer))",
     ColumnType(D.INT, "domain release_year(domain year(integer))")),
    ("domain non-ascii", 'domain "Größe"(bigint)', ColumnType(D.BIGINT, 'domain "Größe"(bigint)')),
    ("domain named like a type", "domain text(integer)", ColumnType(D.INT, "domain text(integer)")),
    ("domain with length", "domain email(character varying(120))",
     ColumnType(D.VARCHAR, "domain email(character varying(120))", data_length=120)),
    ("domain with precision", "domain price(numeric(5, 2))",
     ColumnType(D.NUMERIC, "domain price(numeric(5,2))", precision=5, scale=2)),
    ("domain array", "domain year(integer)[]",
     ColumnType(D.ARRAY, "domain year(integer)[]", array_data_type=D.INT)),
    ("domain over array", "domain years(integer[])",
     ColumnType(D.ARRAY, "domain years(integer[])", array_data_type=D.INT)),
    ("composite", 'struct address(street text,"Zip" character varying(10))',
     ColumnType(D.STRUCT, 'struct address(street text,"Zip" character varying(10))')),
    ("composite array", "struct address(street text)[]",
     ColumnType(D.ARRAY, "struct address(street text)[]", array_data_type=D.STRUCT)),
    ("range", "int4range", ColumnType(D.UNKNOWN, "int4range")),
    ("tstzrange", "tstzrange", ColumnType(D.UNKNOWN, "tstzrange")),
    ("multirange", "datemultirange", ColumnType(D.UNKNOWN, "datemultirange")),
    ("range array", "tstzrange[]", ColumnType(D.ARRAY, "tstzrange[]", array_data_type=D.UNKNOWN)),
    ("bit varying", "bit varying(16)", ColumnType(D.BIT, "bit varying(16)", data_length=16)),
    ("bit", "bit(7)", ColumnType(D.BIT, "bit(7)", data_length=7)),
    ("interval", "interval", ColumnType(D.INTERVAL, "interval")),
    ("interval fields", "interval day to second(0)",
     ColumnType(D.INTERVAL, "interval day to second(0)")),
    ("interval year to month", "interval year to month",
     ColumnType(D.INTERVAL, "interval year to month")),
    ("timestamptz(3)", "timestamp(3) with time zone",
     ColumnType(D.TIMESTAMPZ, "timestamp(3) with time zone")),
    ("time(0)", "time(0) without time zone", ColumnType(D.TIME, "time(0) without time zone")),
    ("json", "json", ColumnType(D.JSON, "json")),
    ("jsonb array", "jsonb[]", ColumnType(D.ARRAY, "jsonb[]", array_data_type=D.JSON)),
    ("uuid array", "uuid[]", ColumnType(D.ARRAY, "uuid[]", array_data_type=D.UUID)),
    ("inet", "inet", ColumnType(D.INET, "inet")),
    ("cidr array", "cidr[]", ColumnType(D.ARRAY, "cidr[]", array_data_type=D.CIDR)),
    ("macaddr8", "macaddr8", ColumnType(D.MACADDR, "macaddr8")),
    ("money", "money", ColumnType(D.MONEY, "money")),
    ("tsvector", "tsvector", ColumnType(D.TSVECTOR, "tsvector")),
    ("tsquery", "tsquery", ColumnType(D.TSQUERY, "tsquery")),
    ("point", "point", ColumnType(D.POINT, "point")),
    ("polygon", "polygon", ColumnType(D.POLYGON, "polygon")),
    ("box", "box", ColumnType(D.GEOMETRY, "box")),
    ("circle", "circle", ColumnType(D.GEOMETRY, "circle")),
    ("line", "line", ColumnType(D.GEOMETRY, "line")),
    ("lseg", "lseg", ColumnType(D.GEOMETRY, "lseg")),
    ("path", "path", ColumnType(D.GEOMETRY, "path")),
    ('"char"', '"char"', ColumnType(D.CHAR, '"char"', data_length=1)),
    ("quoted unknown keeps its case", '"Mood"', ColumnType(D.UNKNOWN, '"Mood"')),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"), [f[1:] for f in FAMILIES], ids=[f[0] for f in FAMILIES]
)
def test_each_postgres_type_family_maps_to_its_openmetadata_type(
    raw: str, expected: ColumnType
) -> None:
    assert map_type(raw, "postgresql") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ENUM('G','PG-13')", "enum('G','PG-13')"),
        ("Enum ( 'a b' , 'C,D' )", "enum ('a b','C,D')"),
        ("enum('it''s','X')", "enum('it''s','X')"),
        ("\"Größe\" ( 'X' )", "\"Größe\" ('X')"),
        ("DECIMAL( 10 , 2 )", "decimal(10,2)"),
        ("  TIMESTAMP   WITH TIME ZONE ", "timestamp with time zone"),
        ("set('A  B')", "set('A  B')"),
    ],
)
def test_normalize_keeps_what_is_quoted_as_it_is(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_brackets_inside_labels_are_not_structure() -> None:
    raw = "enum odd('a(b','c[]',')')"
    assert map_type(raw, "postgresql") == ColumnType(D.ENUM, raw)
    assert map_type(raw + "[]", "postgresql") == ColumnType(
        D.ARRAY, raw + "[]", array_data_type=D.ENUM
    )


# oids of a made-up catalog: what `_TYPES_SQL` would have read.
INT4, YEAR, RELEASE, YEARS, RATING_T, RATINGS_T, ADDRESS, BIGINT, SIZE = range(1, 10)
TYPES = {
    INT4: PgType("b", None, None, None, None, None, None),
    BIGINT: PgType("b", None, None, None, None, None, None),
    YEAR: PgType("d", "rental.", None, INT4, "integer", None, None),
    RELEASE: PgType("d", "rental.", None, YEAR, "rental.year", None, None),
    YEARS: PgType("b", "rental.", YEAR, None, None, None, None),  # year[]
    RATING_T: PgType("e", '"Odd Schema".', None, None, None, "'G','PG-13'", None),
    RATINGS_T: PgType("b", '"Odd Schema".', RATING_T, None, None, None, None),
    ADDRESS: PgType("c", "rental.", None, None, None, None, 'street text,"Zip" integer'),
    SIZE: PgType("d", "rental.", None, BIGINT, "bigint", None, None),
}


@pytest.mark.parametrize(
    ("oid", "formatted", "expected"),
    [
        (INT4, "integer", "integer"),
        (YEAR, "rental.year", "domain year(integer)"),
        (RELEASE, "rental.release_year", "domain release_year(domain year(integer))"),
        (YEARS, "rental.year[]", "domain year(integer)[]"),
        (RATING_T, '"Odd Schema".rating', "enum rating('G','PG-13')"),
        (RATINGS_T, '"Odd Schema".rating[]', "enum rating('G','PG-13')[]"),
        (ADDRESS, "rental.address", 'struct address(street text,"Zip" integer)'),
        (SIZE, 'rental."Größe"', 'domain "Größe"(bigint)'),
        (999, "public.citext", "public.citext"),  # not read: left as printed
    ],
)
def test_the_reflector_spells_out_domains_enums_composites_and_arrays(
    oid: int, formatted: str, expected: str
) -> None:
    assert column_type(oid, formatted, TYPES) == expected
