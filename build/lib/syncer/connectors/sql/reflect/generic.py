"""Reflection with SQLAlchemy's bulk inspector methods: the path for PostgreSQL, MySQL, others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import (
    ReflectedColumn,
    ReflectedTableComment,
    ReflectedUniqueConstraint,
)
from sqlalchemy.engine.reflection import Inspector, ObjectKind
from sqlalchemy.exc import CompileError
from sqlalchemy.types import NullType

from syncer.connectors.sql.reflect.model import (
    NameFilter,
    RawColumn,
    RawForeignKey,
    RawTable,
    TableKind,
)

T = TypeVar("T")
_Key = tuple[str | None, str]


class GenericReflector:
    """Reads a schema with one inspector call per kind of metadata, never one per table."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    def schemas(self) -> list[str]:
        return list(sa.inspect(self.engine).get_schema_names())

    def tables(self, schema: str, keep: NameFilter) -> list[RawTable]:
        # A fresh inspector per schema: its cache would otherwise hold every schema at once.
        insp = sa.inspect(self.engine)
        kinds = _table_kinds(insp, schema)
        names = [n for n in kinds if keep(n)]
        if not names:
            return []
        # Asking for every name when nothing was filtered lets the server skip a long IN list.
        wanted = None if len(names) == len(kinds) else names
        tables = {n: RawTable(name=n, kind=kinds[n]) for n in names}
        _add_columns(insp, schema, wanted, tables)
        _add_keys(insp, schema, wanted, tables)
        _add_comments(insp, schema, wanted, tables)
        _add_view_definitions(insp, schema, tables)
        return [tables[n] for n in sorted(tables)]

    def close(self) -> None:
        self.engine.dispose()


def _table_kinds(insp: Inspector, schema: str) -> dict[str, TableKind]:
    kinds: dict[str, TableKind] = dict.fromkeys(insp.get_table_names(schema=schema), "table")
    kinds.update(dict.fromkeys(insp.get_view_names(schema=schema), "view"))
    mat_views: list[str] = _optional(lambda: insp.get_materialized_view_names(schema=schema), [])
    kinds.update(dict.fromkeys(mat_views, "materialized_view"))
    return kinds


def _add_view_definitions(insp: Inspector, schema: str, tables: dict[str, RawTable]) -> None:
    # SQLAlchemy has no bulk call for view definitions: this is one query per view.
    for table in tables.values():
        if table.kind != "table":
            try:
                table.definition = insp.get_view_definition(table.name, schema=schema)
            except NotImplementedError:
                return


def _optional(call: Callable[[], T], fallback: T) -> T:
    """A dialect that does not implement a reflection method has nothing of that kind."""
    try:
        return call()
    except NotImplementedError:
        return fallback


def _by_name(result: dict[_Key, T]) -> dict[str, T]:
    return {name: value for (_, name), value in result.items()}


def _add_columns(
    insp: Inspector, schema: str, wanted: list[str] | None, tables: dict[str, RawTable]
) -> None:
    found = insp.get_multi_columns(schema=schema, filter_names=wanted, kind=ObjectKind.ANY)
    dialect = insp.bind.dialect
    for name, columns in _by_name(found).items():
        if name in tables:
            tables[name].columns = [_column(c, i, dialect) for i, c in enumerate(columns, 1)]


def _column(col: ReflectedColumn, ordinal: int, dialect: sa.Dialect) -> RawColumn:
    default = col.get("default")
    return RawColumn(
        name=col["name"],
        type=type_string(col["type"], dialect),
        nullable=bool(col["nullable"]),
        ordinal=ordinal,
        default=None if default is None else str(default),
        comment=col.get("comment"),
    )


def type_string(type_: Any, dialect: sa.Dialect) -> str:
    """The type as the database would spell it; "" when it reported none (SQLite)."""
    if isinstance(type_, NullType):
        return ""
    try:
        return str(type_.compile(dialect=dialect))
    except CompileError:
        return str(type_.__class__.__name__)


def _add_keys(
    insp: Inspector, schema: str, wanted: list[str] | None, tables: dict[str, RawTable]
) -> None:
    kw: dict[str, Any] = {"schema": schema, "filter_names": wanted, "kind": ObjectKind.TABLE}
    for name, pk in _by_name(insp.get_multi_pk_constraint(**kw)).items():
        if name in tables and pk:
            tables[name].primary_key = tuple(pk.get("constrained_columns") or ())
    uniques: dict[str, list[ReflectedUniqueConstraint]] = _optional(
        lambda: _by_name(insp.get_multi_unique_constraints(**kw)), {}
    )
    for name, constraints in uniques.items():
        if name in tables:
            tables[name].unique = [tuple(u["column_names"]) for u in constraints]
    for name, fks in _by_name(insp.get_multi_foreign_keys(**kw)).items():
        if name in tables:
            tables[name].foreign_keys = [
                RawForeignKey(
                    columns=tuple(fk["constrained_columns"]),
                    referred_schema=fk.get("referred_schema") or schema,
                    referred_table=fk["referred_table"],
                    referred_columns=tuple(fk["referred_columns"]),
                    name=fk.get("name"),
                )
                for fk in fks
            ]


def _add_comments(
    insp: Inspector, schema: str, wanted: list[str] | None, tables: dict[str, RawTable]
) -> None:
    comments: dict[_Key, ReflectedTableComment] = _optional(
        lambda: insp.get_multi_table_comment(
            schema=schema, filter_names=wanted, kind=ObjectKind.ANY
        ),
        {},
    )
    for name, comment in _by_name(comments).items():
        if name in tables:
            tables[name].comment = comment.get("text")
