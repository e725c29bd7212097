"""PostgreSQL types as the server has them: a DVD-rental shop (`tests/fixtures/sql/
postgres_rental.sql`) loaded into a fresh `syncer_test_<hex>` database, synced once with the `sql`
source as a read-only role, and every relation, column type and key compared with what the
server's own catalog (`pg_class`, `pg_attribute`, `pg_type`, `pg_enum`, `pg_constraint`,
`format_type`) says, read independently here as the superuser: not with a copy of our output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tests.integration.connectors.conftest import PgServer, new_pg_database
from tests.integration.connectors.test_postgres import (
    PASSWORD_ENV,
    Deployment,
    _deployment,
    _url,
)
from tests.support.workspace import REPO

FIXTURE = REPO / "tests" / "fixtures" / "sql" / "postgres_rental.sql"
SCHEMA = "rental"
GRANTS = (
    "GRANT USAGE ON SCHEMA rental TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA rental TO {role};"
)

# The catalog's own name of a base type (`pg_type.typname`, not what `format_type` prints) →
# OpenMetadata's dataType, as OpenMetadata maps PostgreSQL's types (ranges, multiranges and
# other types it has no name for: UNKNOWN).
BASE_TYPES = {
    "int2": "SMALLINT", "int4": "INT", "int8": "BIGINT", "numeric": "NUMERIC",
    "float4": "FLOAT", "float8": "DOUBLE", "money": "MONEY",
    "varchar": "VARCHAR", "bpchar": "CHAR", "text": "TEXT", "char": "CHAR",
    "bytea": "BYTEA", "bit": "BIT", "varbit": "BIT", "bool": "BOOLEAN",
    "date": "DATE", "time": "TIME", "timetz": "TIME", "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPZ", "interval": "INTERVAL",
    "json": "JSON", "jsonb": "JSON", "xml": "XML", "uuid": "UUID",
    "inet": "INET", "cidr": "CIDR", "macaddr": "MACADDR", "macaddr8": "MACADDR",
    "tsvector": "TSVECTOR", "tsquery": "TSQUERY",
    "point": "POINT", "polygon": "POLYGON", "box": "GEOMETRY", "lseg": "GEOMETRY",
    "line": "GEOMETRY", "path": "GEOMETRY", "circle": "GEOMETRY",
}  # fmt: skip
BY_TYPTYPE = {"e": "ENUM", "c": "STRUCT", "r": "UNKNOWN", "m": "UNKNOWN"}
TABLE_TYPES = {"r": "Regular", "p": "Partitioned", "v": "View", "m": "MaterializedView"}

_TYPES_SQL = """
SELECT t.oid, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype, t.typtypmod,
       format_type(t.oid, NULL), n.nspname
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
"""
_RELATIONS_SQL = """
SELECT c.oid, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
"""
_ATTRIBUTES_SQL = """
SELECT a.attrelid, a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod),
       a.attnotnull
FROM pg_attribute a WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_ENUM_SQL = "SELECT enumtypid, enumlabel FROM pg_enum ORDER BY enumtypid, enumsortorder"
_CONSTRAINTS_SQL = """
SELECT con.conrelid, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
       rc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)
FROM pg_constraint con LEFT JOIN pg_class rc ON rc.oid = con.confrelid
WHERE con.conrelid = ANY(%s) AND con.contype IN ('p', 'u', 'f')
"""


@dataclass(frozen=True)
class Catalog:
    """What the server's catalog says about the `rental` schema."""

    relations: dict[str, tuple[int, str]]  # name → (oid, relkind)
    columns: dict[str, list[tuple[Any, ...]]]  # table → (name, type oid, typmod, format, notnull)
    types: dict[int, tuple[Any, ...]]
    labels: dict[int, list[str]]
    constraints: dict[str, list[tuple[Any, ...]]]
    formats: dict[tuple[int, int], str]  # (type, typmod) → format_type, for each column's base

    def base(self, oid: int, typmod: int) -> tuple[int, int, list[int]]:
        """A type with every domain around it removed: (oid, typmod, the domains' oids)."""
        domains: list[int] = []
        while self.types[oid][2] == "d":
            domains.append(oid)
            _, _, _, _, _, basetype, base_typmod, _, _ = self.types[oid]
            oid, typmod = basetype, typmod if typmod != -1 else base_typmod
        return oid, typmod, domains

    def data_type(self, oid: int) -> tuple[str, str | None]:
        """(dataType, arrayDataType) of a type, from the catalog's own names and kinds."""
        oid, _, _ = self.base(oid, -1)
        _, name, typtype, category, elem, _, _, _, _ = self.types[oid]
        if category == "A":
            return "ARRAY", self.data_type(elem)[0]
        if typtype in BY_TYPTYPE:
            return BY_TYPTYPE[typtype], None
        return BASE_TYPES.get(name, "UNKNOWN"), None

    def unqualified(self, oid: int) -> str:
        """The type's name as `format_type` prints it, without its schema."""
        _, _, _, _, _, _, _, formatted, schema = self.types[oid]
        return re.sub(rf'^("{schema}"|{schema})\.', "", formatted)


def read_catalog(server: PgServer, database: str) -> Catalog:
    with psycopg.connect(server.dsn(database)) as conn:
        relations = {
            name: (oid, kind) for oid, name, kind in conn.execute(_RELATIONS_SQL, (SCHEMA,))
        }
        names = {oid: name for name, (oid, _) in relations.items()}
        oids = list(names)
        columns: dict[str, list[tuple[Any, ...]]] = {name: [] for name in relations}
        for relid, *column in conn.execute(_ATTRIBUTES_SQL, (oids,)):
            columns[names[relid]].append(tuple(column))
        types = {row[0]: tuple(row) for row in conn.execute(_TYPES_SQL)}
        labels: dict[int, list[str]] = {}
        for typid, label in conn.execute(_ENUM_SQL):
            labels.setdefault(typid, []).append(label)
        constraints: dict[str, list[tuple[Any, ...]]] = {name: [] for name in relations}
        for relid, *constraint in conn.execute(_CONSTRAINTS_SQL, (oids,)):
            constraints[names[relid]].append(tuple(constraint))
        catalog = Catalog(relations, columns, types, labels, constraints, {})
        for table_columns in columns.values():
            for _, oid, typmod, _, _ in table_columns:
                base, base_typmod, _ = catalog.base(oid, typmod)
                while types[base][3] == "A":  # an array's element, with the array's typmod
                    base, base_typmod, _ = catalog.base(types[base][4], base_typmod)
                [(formatted,)] = conn.execute("SELECT format_type(%s, %s)", (base, base_typmod))
                catalog.formats[base, base_typmod] = formatted
    return catalog


@dataclass(frozen=True)
class Synced:
    deployment: Deployment
    catalog: Catalog
    tables: dict[str, dict[str, Any]]  # table name → payload

    def column(self, table: str, name: str) -> dict[str, Any]:
        return next(c for c in self.tables[table]["columns"] if c["name"] == name)


@pytest.fixture(scope="module")
def synced(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """The rental database, loaded, granted to a read-only role, synced once; dropped after."""
    with new_pg_database(pg_server) as db:
        db.execute(FIXTURE.read_text(), GRANTS.format(role=db.role))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(PASSWORD_ENV, db.password)
            deployment = _deployment(db, tmp_path_factory.mktemp("rental"), _url(db), False)
            result = deployment.run()
            assert result.status == "succeeded", result.error
        prefix = f"pg.{db.name}.{SCHEMA}."
        tables = {
            fqn.removeprefix(prefix): payload
            for fqn, payload in deployment.payloads("table").items()
        }
        yield Synced(deployment, read_catalog(pg_server, db.name), tables)


def test_every_relation_is_synced_with_its_kind(synced: Synced) -> None:
    expected = {name: TABLE_TYPES[kind] for name, (_, kind) in synced.catalog.relations.items()}
    assert {name: t["tableType"] for name, t in synced.tables.items()} == expected
    assert "payment_p2022_01" not in synced.tables  # a partition is part of its table
    assert len(expected) >= 15


def test_every_column_type_is_what_the_catalog_says(synced: Synced) -> None:
    catalog = synced.catalog
    checked = 0
    for table, columns in catalog.columns.items():
        payload = synced.tables[table]["columns"]
        assert [c["name"] for c in payload] == [c[0] for c in columns], table
        assert [c["ordinalPosition"] for c in payload] == list(range(1, len(columns) + 1))
        for got, (name, oid, typmod, formatted, _notnull) in zip(payload, columns, strict=True):
            where = f"{table}.{name} ({formatted})"
            data_type, array_type = catalog.data_type(oid)
            assert (got["dataType"], got.get("arrayDataType")) == (data_type, array_type), where
            _check_display(catalog, got["dataTypeDisplay"], oid, typmod, where)
            _check_sizes(catalog, got, oid, typmod, where)
            checked += 1
    assert checked > 100


def _check_display(catalog: Catalog, display: str, oid: int, typmod: int, where: str) -> None:
    """The display names the type as the catalog does: each domain around it, then its base;
    an enum's labels exactly, in order, in their case; a composite type's fields."""
    if catalog.types[oid][3] == "A" and catalog.types[oid][2] != "d":
        assert display.endswith("[]"), where
        _check_display(catalog, display[:-2], catalog.types[oid][4], typmod, where)
        return
    base, base_typmod, domains = catalog.base(oid, typmod)
    for domain in domains:
        spelled = f"domain {catalog.unqualified(domain)}("
        assert display.startswith(spelled), where
        display = display[len(spelled) : -1]
    _, _, typtype, category, _, _, _, _, schema = catalog.types[base]
    if category == "A":
        _check_display(catalog, display, base, base_typmod, where)
    elif typtype == "e":
        labels = ",".join("'" + label.replace("'", "''") + "'" for label in catalog.labels[base])
        assert display == f"enum {catalog.unqualified(base)}({labels})", where
    elif typtype == "c":
        assert display.startswith(f"struct {catalog.unqualified(base)}("), where
    else:
        formatted = catalog.formats[base, base_typmod].removeprefix(f"{schema}.")
        assert display == _spaced(formatted), where


def _spaced(formatted: str) -> str:
    return re.sub(r"\s*,\s*", ",", formatted)


def _check_sizes(catalog: Catalog, got: dict[str, Any], oid: int, typmod: int, where: str) -> None:
    """Lengths, precision and scale as the base type's modifier gives them."""
    base, base_typmod, _ = catalog.base(oid, typmod)
    name = catalog.types[base][1]
    if name in {"varchar", "bpchar", "bit", "varbit"} and base_typmod != -1:
        length = base_typmod - 4 if name in {"varchar", "bpchar"} else base_typmod
        assert got.get("dataLength") == length, where
    if name == "numeric" and base_typmod != -1:
        precision, scale = ((base_typmod - 4) >> 16) & 0xFFFF, (base_typmod - 4) & 0xFFFF
        assert (got.get("precision"), got.get("scale")) == (precision, scale), where


def test_every_key_is_what_the_catalog_says(synced: Synced) -> None:
    db = synced.deployment.db.name
    for table, constraints in synced.catalog.constraints.items():
        kinds = {"p": "PRIMARY_KEY", "u": "UNIQUE", "f": "FOREIGN_KEY"}
        expected = sorted(
            (
                kinds[kind],
                tuple(columns),
                tuple(f"pg.{db}.{SCHEMA}.{referred}.{c}" for c in referred_columns),
            )
            for kind, columns, referred, referred_columns in constraints
        )
        got = sorted(
            (c["constraintType"], tuple(c["columns"]), tuple(c.get("referredColumns") or ()))
            for c in synced.tables[table].get("tableConstraints") or []
        )
        assert got == expected, table
        notnull = {c[0] for c in synced.catalog.columns[table] if c[4]}
        keys = [tuple(c) for kind, c, _, _ in constraints if kind == "p"]
        for column in synced.tables[table]["columns"]:
            if keys and keys[0] == (column["name"],):
                assert column["constraint"] == "PRIMARY_KEY"
            else:
                wanted = "NOT_NULL" if column["name"] in notnull else "NULL"
                assert column["constraint"] == wanted, f"{table}.{column['name']}"


# One column of each type family: (table, column, dataType, dataTypeDisplay, arrayDataType).
FAMILIES = [
    ("enum", "film", "rating", "ENUM", "enum mpaa_rating('G','PG','PG-13','R','NC-17')", None),
    ("enum quoted name and labels", "film", "formats", "ARRAY",
     "enum \"Media Format\"('DVD','Blu-ray','VHS (legacy)','it''s 4K')[]", "ENUM"),
    ("enum array", "film", "past_ratings", "ARRAY",
     "enum mpaa_rating('G','PG','PG-13','R','NC-17')[]", "ENUM"),
    ("domain", "customer", "member_since", "INT", "domain year(integer)", None),
    ("domain over domain", "film", "release_year", "INT",
     "domain release_year(domain year(integer))", None),
    ("domain non-ascii name", "customer", "shoe_size", "BIGINT", 'domain "Größe"(bigint)', None),
    ("domain with length", "customer", "email", "VARCHAR",
     "domain email(character varying(120))", None),
    ("domain array", "customer", "loyalty_years", "ARRAY", "domain year(integer)[]", "INT"),
    ("domain over enum array", "film", "allowed_ratings", "ARRAY",
     "domain ratings(enum mpaa_rating('G','PG','PG-13','R','NC-17')[])", "ENUM"),
    ("composite", "store", "address", "STRUCT",
     "struct address(street text,city text,\"Postal Code\" character varying(10))", None),
    ("composite array", "store", "past_addresses", "ARRAY",
     "struct address(street text,city text,\"Postal Code\" character varying(10))[]", "STRUCT"),
    ("range", "inventory", "shelf_slots", "UNKNOWN", "int4range", None),
    ("user range", "inventory", "weight_band", "UNKNOWN", "floatrange", None),
    ("tstzrange", "rental", "rental_period", "UNKNOWN", "tstzrange", None),
    ("range array", "rental", "history", "ARRAY", "tstzrange[]", "UNKNOWN"),
    ("multirange", "rental", "busy", "UNKNOWN", "tstzmultirange", None),
    ("bit varying", "customer", "preferences", "BIT", "bit varying(16)", None),
    ("bit", "customer", "active_flags", "BIT", "bit(7)", None),
    ("interval fields", "rental", "late_by", "INTERVAL", "interval day to second(0)", None),
    ("interval", "film", "runtime", "INTERVAL", "interval hour to minute", None),
    ("timestamptz(3)", "payment", "payment_date", "TIMESTAMPZ", "timestamp(3) with time zone",
     None),
    ("timetz", "store", "closing_hours", "TIME", "time with time zone", None),
    ("json", "customer", "raw_profile", "JSON", "json", None),
    ("jsonb", "customer", "profile", "JSON", "jsonb", None),
    ("uuid", "customer", "external_id", "UUID", "uuid", None),
    ("inet", "store", "manager_ip", "INET", "inet", None),
    ("cidr array", "store", "allowed_networks", "ARRAY", "cidr[]", "CIDR"),
    ("macaddr8", "store", "mac8", "MACADDR", "macaddr8", None),
    ("money", "store", "till_float", "MONEY", "money", None),
    ("tsvector", "film", "fulltext", "TSVECTOR", "tsvector", None),
    ("tsquery", "film", "title_words", "TSQUERY", "tsquery", None),
    ("point", "store", "location", "POINT", "point", None),
    ("polygon", "store", "outline", "POLYGON", "polygon", None),
    ("box", "store", "area", "GEOMETRY", "box", None),
    ("circle", "store", "reach", "GEOMETRY", "circle", None),
    ("xml", "customer", "notes", "XML", "xml", None),
    ('"char"', "customer", "initial", "CHAR", '"char"', None),
    ("text array", "film", "special_features", "ARRAY", "text[]", "TEXT"),
    ("generated column", "payment", "net", "NUMERIC", "numeric(7,2)", None),
    ("view over domain", "film_list", "price", "NUMERIC", "domain price(numeric(5,2))", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("table", "column", "data_type", "display", "array_type"),
    [f[1:] for f in FAMILIES],
    ids=[f[0] for f in FAMILIES],
)
def test_each_type_family_maps_to_its_openmetadata_type(
    synced: Synced,
    table: str,
    column: str,
    data_type: str,
    display: str,
    array_type: str | None,
) -> None:
    got = synced.column(table, column)
    assert (got["dataType"], got["dataTypeDisplay"], got.get("arrayDataType")) == (
        data_type,
        display,
        array_type,
    )
