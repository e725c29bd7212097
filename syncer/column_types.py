"""Maps a column type as a database spells it ("DECIMAL(10,2)", "int4[]") to OpenMetadata's.

Shared by every source that reads types as a database spells them: the sql source's
reflection, dbt's catalog, the schema facets of OpenLineage events."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from syncer.models import DataType as D

# Base type names, lower-cased with arguments removed, across SQLite, DuckDB, PostgreSQL, MySQL.
_NAMES: dict[str, D] = {
    # integers
    "tinyint": D.TINYINT, "int1": D.TINYINT, "byteint": D.BYTEINT,
    "smallint": D.SMALLINT, "int2": D.SMALLINT, "smallserial": D.SMALLINT, "serial2": D.SMALLINT,
    "short": D.SMALLINT,
    "mediumint": D.INT, "int": D.INT, "integer": D.INT, "int4": D.INT, "serial": D.INT,
    "serial4": D.INT, "signed": D.INT,
    "bigint": D.BIGINT, "int8": D.BIGINT, "bigserial": D.BIGINT, "serial8": D.BIGINT,
    "long": D.LONG, "big int": D.BIGINT,
    "utinyint": D.UINT, "usmallint": D.UINT, "uinteger": D.UINT, "ubigint": D.UINT,
    "hugeint": D.LARGEINT, "uhugeint": D.LARGEINT, "int128": D.LARGEINT, "largeint": D.LARGEINT,
    # floating point and exact numbers
    "real": D.FLOAT, "float": D.FLOAT, "float4": D.FLOAT,
    "double": D.DOUBLE, "double precision": D.DOUBLE, "float8": D.DOUBLE,
    "decimal": D.DECIMAL, "dec": D.DECIMAL, "numeric": D.NUMERIC, "number": D.NUMBER,
    "money": D.MONEY, "smallmoney": D.MONEY,
    # text
    "varchar": D.VARCHAR, "character varying": D.VARCHAR, "nvarchar": D.VARCHAR,
    "varchar2": D.VARCHAR, "nvarchar2": D.VARCHAR, "varying character": D.VARCHAR,
    "national varchar": D.VARCHAR, "national character varying": D.VARCHAR,
    "char": D.CHAR, "character": D.CHAR, "nchar": D.CHAR, "bpchar": D.CHAR, '"char"': D.CHAR,
    "native character": D.CHAR, "national character": D.CHAR, "national char": D.CHAR,
    "text": D.TEXT, "tinytext": D.TEXT, "ntext": D.TEXT, "citext": D.TEXT, "longtext": D.TEXT,
    "mediumtext": D.MEDIUMTEXT, "string": D.STRING, "name": D.VARCHAR,
    "clob": D.CLOB, "nclob": D.CLOB,
    # binary
    "blob": D.BLOB, "tinyblob": D.BLOB, "mediumblob": D.MEDIUMBLOB, "longblob": D.LONGBLOB,
    "bytea": D.BYTEA, "binary": D.BINARY, "varbinary": D.VARBINARY, "bytes": D.BYTES,
    "bit": D.BIT, "varbit": D.BIT, "bit varying": D.BIT, "bitstring": D.BIT,
    # booleans
    "boolean": D.BOOLEAN, "bool": D.BOOLEAN, "logical": D.BOOLEAN,
    # dates and times
    "date": D.DATE, "year": D.YEAR, "interval": D.INTERVAL,  # also `interval day to second`
    "time": D.TIME, "time without time zone": D.TIME, "time with time zone": D.TIME,
    "timetz": D.TIME,
    "timestamp": D.TIMESTAMP, "timestamp without time zone": D.TIMESTAMP,
    "timestamp_s": D.TIMESTAMP, "timestamp_ms": D.TIMESTAMP, "timestamp_ns": D.TIMESTAMP,
    "timestamp_us": D.TIMESTAMP, "datetime2": D.DATETIME, "smalldatetime": D.DATETIME,
    "datetime": D.DATETIME,
    "timestamptz": D.TIMESTAMPZ, "timestamp with time zone": D.TIMESTAMPZ,
    "datetimeoffset": D.TIMESTAMPZ,
    # semi-structured and nested
    "json": D.JSON, "jsonb": D.JSON, "variant": D.VARIANT, "xml": D.XML,
    "struct": D.STRUCT, "row": D.STRUCT, "record": D.STRUCT, "object": D.STRUCT,
    "map": D.MAP, "union": D.UNION, "array": D.ARRAY, "list": D.ARRAY,
    "enum": D.ENUM, "set": D.SET,
    # identifiers, network, text search, spatial
    "uuid": D.UUID, "uniqueidentifier": D.UUID,
    "inet": D.INET, "cidr": D.CIDR, "macaddr": D.MACADDR, "macaddr8": D.MACADDR,
    "tsvector": D.TSVECTOR, "tsquery": D.TSQUERY,
    "point": D.POINT, "polygon": D.POLYGON, "geography": D.GEOGRAPHY, "geometry": D.GEOMETRY,
    # PostgreSQL's other geometric types, as OpenMetadata maps them; its ranges and multiranges
    # (int4range, tstzmultirange, …), pg_lsn and the like have no OpenMetadata type: UNKNOWN.
    "box": D.GEOMETRY, "circle": D.GEOMETRY, "line": D.GEOMETRY, "lseg": D.GEOMETRY,
    "path": D.GEOMETRY,
    "linestring": D.GEOMETRY, "multipoint": D.GEOMETRY, "multilinestring": D.GEOMETRY,
    "multipolygon": D.GEOMETRY, "geometrycollection": D.GEOMETRY,
    "null": D.NULL,
}  # fmt: skip

# OpenMetadata refuses these without a length; like its own ingestion, an unbounded one gets 1.
_NEEDS_LENGTH = frozenset({D.CHAR, D.VARCHAR, D.BINARY, D.VARBINARY})
_HAS_LENGTH = _NEEDS_LENGTH | {D.TEXT, D.STRING, D.BIT, D.BLOB, D.CLOB}
_HAS_PRECISION = frozenset({D.DECIMAL, D.NUMERIC, D.NUMBER})
# MySQL modifiers that do not change what kind of value a column holds.
_MODIFIERS = re.compile(
    r"^unsigned |\s(unsigned|signed|zerofill)$|\s(character set|charset|collate) \S+$"
)
# SQLite's type affinity rules (sqlite.org/datatype3.html §3.1), for names outside the table.
_SQLITE_AFFINITY: tuple[tuple[str, D], ...] = (
    ("int", D.INT),
    ("char", D.TEXT),
    ("clob", D.TEXT),
    ("text", D.TEXT),
    ("blob", D.BLOB),
    ("real", D.DOUBLE),
    ("floa", D.DOUBLE),
    ("doub", D.DOUBLE),
)


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A `Column`'s type fields."""

    data_type: D
    data_type_display: str | None = None
    data_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    array_data_type: D | None = None

    def fields(self) -> Mapping[str, Any]:
        """The type as `Column` keyword arguments: one read-only mapping per type, as a catalog
        spells a few types over 150,000 columns."""
        return _fields(self)


@lru_cache(maxsize=4096)
def _fields(column_type: ColumnType) -> Mapping[str, Any]:
    return MappingProxyType({f: getattr(column_type, f) for f in column_type.__slots__})


# A catalog holds a handful of distinct type strings over many thousands of columns: each is
# parsed once per process (the answer is an immutable value).
@lru_cache(maxsize=4096)
def map_type(raw: str, dialect: str | None = None) -> ColumnType:
    """Map a raw type; unknown names become UNKNOWN (SQLite: its affinity rules decide)."""
    display = normalize(raw)
    if not display:
        return ColumnType(D.UNKNOWN)
    if dialect in MYSQL_DIALECTS:
        return _mysql_type(display)
    element = _array_element(display)
    if element is not None:
        return ColumnType(D.ARRAY, display, array_data_type=map_type(element, dialect).data_type)
    if dialect != "sqlite" and (found := _DOMAIN.fullmatch(_masked(display))):
        # A PostgreSQL domain, `domain name(base type)`: its base type's fields, its own name.
        inner = map_type(display[found.start(1) : found.end(1)], dialect)
        return replace(inner, data_type_display=display)
    base, args = _split(display)
    if base == "tinyint" and args == ["1"]:
        return ColumnType(D.BOOLEAN, display)  # MySQL's BOOLEAN is stored as tinyint(1)
    data_type = _lookup(base, dialect)
    return ColumnType(data_type, display, *_sizes(data_type, args))


def normalize(raw: str) -> str:
    """Lower-cased, single-spaced, no spaces inside parentheses around commas; what is quoted
    (enum labels, quoted identifiers: `'PG-13'`, `"Größe"`) is kept exactly as it is."""
    parts = _QUOTED.split(raw.strip())
    # Odd parts are quoted: kept whole. The others are lower-cased and their spacing tidied.
    for i in range(0, len(parts), 2):
        text = " ".join(parts[i].split()).lower()
        if parts[i][:1].isspace() and i > 0:
            text = " " + text
        if parts[i][-1:].isspace() and i < len(parts) - 1:
            text += " "
        text = re.sub(r"\s*,\s*", ",", text)
        parts[i] = re.sub(r"\(\s*", "(", re.sub(r"\s*\)", ")", text))
    return "".join(parts)


# A single-quoted literal or double-quoted identifier, doubled quotes inside included.
_QUOTED = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*")""")


# `domain name(base)`, as the PostgreSQL reflector writes a domain (base: maybe another domain).
_DOMAIN = re.compile(r"domain [^(]+\((.+)\)")


def _masked(display: str) -> str:
    """`display` with the inside of every quoted part blanked out (`'_____'`), same length, so
    that patterns see its structure only and their positions still apply to `display`."""
    return _QUOTED.sub(lambda m: m[0][0] + "_" * (len(m[0]) - 2) + m[0][0], display)


def _array_element(display: str) -> str | None:
    """The element type of `int[]`, `int[3]`, `array<int>`, `array(int)`, PostgreSQL's `_int4`."""
    masked = _masked(display)
    if found := re.fullmatch(r"(.+?)\s*\[\d*\]", masked):
        return display[: found.end(1)]
    if found := re.fullmatch(r"array\s*[<(](.+)[>)]", masked):
        return display[found.start(1) : found.end(1)]
    if display.startswith("_") and display[1:] in _NAMES:
        return display[1:]
    return None


def _split(display: str) -> tuple[str, list[str]]:
    """The base name without arguments, and the first argument list: `decimal(10,2)` → 2 args."""
    args: list[str] = []
    masked = _masked(display)
    if found := re.search(r"\(([^()]*)\)", masked):
        args = [a.strip() for a in display[found.start(1) : found.end(1)].split(",")]
    # Drop every parenthesised or angle-bracketed part, nested ones included (what is quoted
    # inside them too, whatever brackets it holds).
    base = display
    while found := re.search(r"[(<][^()<>]*[)>]", masked):
        masked = masked[: found.start()] + masked[found.end() :]
        base = base[: found.start()] + base[found.end() :]
    base = " ".join(base.split())
    while (trimmed := _MODIFIERS.sub("", base)) != base and trimmed:
        base = trimmed
    return base, args


def _lookup(base: str, dialect: str | None) -> D:
    if base in _NAMES:
        return _NAMES[base]
    first = base.split(" ", 1)[0]
    if first in _NAMES and first in {"struct", "map", "union", "enum", "set", "row", "interval"}:
        return _NAMES[first]
    if dialect == "sqlite":
        return next((d for key, d in _SQLITE_AFFINITY if key in base), D.NUMERIC)
    return D.UNKNOWN


def _sizes(data_type: D, args: list[str]) -> tuple[int | None, int | None, int | None]:
    """(data_length, precision, scale) from the arguments that apply to this type."""
    numbers = [int(a) for a in args if a.isdigit()]
    if data_type in _HAS_PRECISION and numbers:
        return None, numbers[0], numbers[1] if len(numbers) > 1 else None
    if data_type in _HAS_LENGTH and numbers:
        return numbers[0], None, None
    if data_type in _NEEDS_LENGTH:
        return 1, None, None
    return None, None, None


# --- MySQL and MariaDB: information_schema's COLUMN_TYPE, as the server spells it -------------

MYSQL_DIALECTS = frozenset({"mysql", "mariadb"})
# Where MySQL's names mean something else than in the shared table, after OpenMetadata's own
# MySQL connector: every spatial type is GEOMETRY (the display keeps `point`, `multipolygon`…);
# MySQL has no boolean type (BOOL is TINYINT(1)), so tinyint(1) is a TINYINT like any other;
# SERIAL is BIGINT UNSIGNED; REAL is DOUBLE (unless sql_mode has REAL_AS_FLOAT, and then the
# server reports `float`); MariaDB's INET4/INET6 are addresses.
_MYSQL_NAMES: dict[str, D] = {
    "geometry": D.GEOMETRY, "point": D.GEOMETRY, "linestring": D.GEOMETRY,
    "polygon": D.GEOMETRY, "multipoint": D.GEOMETRY, "multilinestring": D.GEOMETRY,
    "multipolygon": D.GEOMETRY, "geometrycollection": D.GEOMETRY,
    "geomcollection": D.GEOMETRY,  # MySQL 8's name for geometrycollection
    "bool": D.TINYINT, "boolean": D.TINYINT, "serial": D.BIGINT, "real": D.DOUBLE,
    "inet4": D.INET, "inet6": D.INET,
}  # fmt: skip
# MySQL's deprecated FLOAT(M,D) and DOUBLE(M,D) have a precision and scale like DECIMAL(M,D).
_MYSQL_FLOATS = frozenset({D.FLOAT, D.DOUBLE})
# ENUM and SET: their labels (kept as written by `normalize`) may hold any character.
_MYSQL_LABELLED = re.compile(r"(enum|set)\s*\(")


def _mysql_type(display: str) -> ColumnType:
    """A MySQL/MariaDB COLUMN_TYPE (`bigint(20) unsigned`, `enum('G','PG-13')`, `decimal(5,2)`,
    `datetime(6)`): the display is the whole type, modifiers and labels included."""
    if found := _MYSQL_LABELLED.match(display):
        return ColumnType(D.ENUM if found.group(1) == "enum" else D.SET, display)
    base, args = _split(display)
    data_type = _MYSQL_NAMES.get(base) or _lookup(base, None)
    length, precision, scale = _sizes(data_type, args)
    if data_type in _MYSQL_FLOATS and len(args) == 2 and all(a.isdigit() for a in args):
        precision, scale = int(args[0]), int(args[1])
    return ColumnType(data_type, display, length, precision, scale)
