"""Maps a column type as a database spells it ("DECIMAL(10,2)", "int4[]") to OpenMetadata's."""

from __future__ import annotations

import re
from dataclasses import dataclass
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
    "char": D.CHAR, "character": D.CHAR, "nchar": D.CHAR, "bpchar": D.CHAR,
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
    "date": D.DATE, "year": D.YEAR, "interval": D.INTERVAL,
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

    def fields(self) -> dict[str, Any]:
        """The type as `Column` keyword arguments."""
        return {f: getattr(self, f) for f in self.__slots__}


def map_type(raw: str, dialect: str | None = None) -> ColumnType:
    """Map a raw type; unknown names become UNKNOWN (SQLite: its affinity rules decide)."""
    display = normalize(raw)
    if not display:
        return ColumnType(D.UNKNOWN)
    element = _array_element(display)
    if element is not None:
        return ColumnType(D.ARRAY, display, array_data_type=map_type(element, dialect).data_type)
    base, args = _split(display)
    if base == "tinyint" and args == ["1"]:
        return ColumnType(D.BOOLEAN, display)  # MySQL's BOOLEAN is stored as tinyint(1)
    data_type = _lookup(base, dialect)
    return ColumnType(data_type, display, *_sizes(data_type, args))


def normalize(raw: str) -> str:
    """Lower-cased, single-spaced, no spaces inside parentheses around commas."""
    text = " ".join(raw.split()).lower()
    text = re.sub(r"\s*,\s*", ",", text)
    return re.sub(r"\(\s*", "(", re.sub(r"\s*\)", ")", text))


def _array_element(display: str) -> str | None:
    """The element type of `int[]`, `int[3]`, `array<int>`, `array(int)`, PostgreSQL's `_int4`."""
    if found := re.fullmatch(r"(.+?)\s*\[\d*\]", display):
        return found.group(1)
    if found := re.fullmatch(r"array\s*[<(](.+)[>)]", display):
        return found.group(1)
    if display.startswith("_") and display[1:] in _NAMES:
        return display[1:]
    return None


def _split(display: str) -> tuple[str, list[str]]:
    """The base name without arguments, and the first argument list: `decimal(10,2)` → 2 args."""
    args: list[str] = []
    if found := re.search(r"\(([^()]*)\)", display):
        args = [a.strip() for a in found.group(1).split(",")]
    # Drop every parenthesised or angle-bracketed part, nested ones included.
    base = display
    while (stripped := re.sub(r"[(<][^()<>]*[)>]", "", base)) != base:
        base = stripped
    base = " ".join(base.split())
    while (trimmed := _MODIFIERS.sub("", base)) != base and trimmed:
        base = trimmed
    return base, args


def _lookup(base: str, dialect: str | None) -> D:
    if base in _NAMES:
        return _NAMES[base]
    first = base.split(" ", 1)[0]
    if first in _NAMES and first in {"struct", "map", "union", "enum", "set", "row"}:
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
