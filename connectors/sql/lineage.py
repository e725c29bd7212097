"""What a view reads: its source tables and, where the select list allows, column lineage.

Pure parsing with sqlglot: table names come back as the SQL writes them; the caller resolves
them. Given the columns of the tables the SQL reads (`columns`), sqlglot qualifies the query
first: stars (`select *`, `t.*`, through CTEs and views over views) expand to those columns and
unqualified columns over several tables find their table, so the canonical dbt style (import
CTEs, `select * from final`) gets column lineage. Column names then come back normalized as the
dialect resolves them (lower case for most), which callers match case-insensitively.

A column's sources are every column its expression reads: the arguments of a function or an
aggregate, and also the columns of an aggregate's `FILTER (WHERE …)` and of a window's
`PARTITION BY` and `ORDER BY`, since they decide the value too (as OpenMetadata's own SQL
lineage counts them). The query's `WHERE`, `GROUP BY` and join conditions do not count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
import structlog
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

log = structlog.get_logger(__name__)

# SQLAlchemy dialect names that sqlglot spells differently.
_SQLGLOT_DIALECTS = {"postgresql": "postgres", "mssql": "tsql", "mariadb": "mysql"}
# A chain of CTEs and derived tables deeper than this is not followed.
_MAX_DEPTH = 20
# Where a table's name leaves out its schema or catalog, in the schema handed to sqlglot (whose
# tables all have the same number of parts); a name as written still finds its table.
_UNNAMED = "\x00"
# Node metadata: the name a table had as the SQL wrote it, and a projection's expression as
# written, kept through qualification (which rewrites both).
_WRITTEN = "syncer_written"
_ERRORS = (SqlglotError, ValueError, KeyError, AttributeError, RecursionError)


@dataclass(frozen=True, slots=True)
class TableName:
    """A table as the SQL names it; `schema` and `catalog` are None when left out."""

    name: str
    schema: str | None = None
    catalog: str | None = None


@dataclass(frozen=True, slots=True)
class ColumnFlow:
    """One output column of the view and the source columns it is computed from."""

    target: str
    sources: tuple[tuple[TableName, str], ...]
    function: str | None = None  # the expression, when it is more than a column reference


@dataclass(frozen=True, slots=True)
class ViewSources:
    tables: tuple[TableName, ...]
    columns: tuple[ColumnFlow, ...]


# The columns a table the SQL names has, in order, or None when the caller does not know it.
ColumnsOf = Callable[[TableName], Sequence[str] | None]


def sqlglot_dialect(dialect: str) -> str:
    return _SQLGLOT_DIALECTS.get(dialect, dialect)


def statement_hash(sql: str) -> str:
    """A short, stable name for a statement in logs, without logging the SQL itself."""
    return hashlib.sha256(sql.encode()).hexdigest()[:12]


def view_sources(sql: str, dialect: str, columns: ColumnsOf | None = None) -> ViewSources | None:
    """Parse a view's SQL (`CREATE VIEW … AS SELECT …` or the bare query); None if it cannot.

    `columns` gives the columns of a table the SQL names (as it names it), for the stars and
    unqualified columns to be resolved against; without it, or for a table it does not know,
    a star gives no column lineage."""
    try:
        return _view_sources(sql, sqlglot_dialect(dialect), columns)
    except _ERRORS as err:
        # A view syncer cannot parse still syncs; only its lineage is missing.
        log.warning(
            "view SQL not parsed; no lineage for it",
            statement=statement_hash(sql),
            error=type(err).__name__,
        )
        return None


def _view_sources(sql: str, dialect: str, columns: ColumnsOf | None) -> ViewSources | None:
    statement = sqlglot.parse_one(sql, read=dialect)
    query = statement.expression if isinstance(statement, exp.Create) else statement
    if not isinstance(query, exp.Query):
        log.warning("view SQL is not a query; no lineage for it", statement=statement_hash(sql))
        return None
    root = build_scope(query)
    if root is None:
        return None
    tables: dict[TableName, None] = {}  # insertion-ordered set
    for scope in root.traverse():
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and source.name:
                name = _table_name(source)
                source.meta[_WRITTEN] = name
                tables[name] = None
    for select in query.find_all(exp.Select):
        for projection in select.expressions:
            projection.unalias().meta[_WRITTEN] = projection.unalias().sql(dialect=dialect)
    qualified = _qualified(query, dialect, tables, columns, sql)
    if qualified is not None:
        root = qualified
    return ViewSources(tuple(tables), tuple(_column_flows(root, dialect)))


def _qualified(
    query: exp.Query,
    dialect: str,
    tables: dict[TableName, None],
    columns: ColumnsOf | None,
    sql: str,
) -> Scope | None:
    """The query's scope once sqlglot has qualified its columns and expanded its stars against
    the tables' known columns; None if it cannot (the query is then traced as written)."""
    try:
        normalized = normalize_identifiers(query.copy(), dialect=dialect)
        if _written_out(normalized):
            return build_scope(normalized)  # nothing to expand or place: qualify adds nothing
        schema = _schema(normalized, dialect, tables, columns)
        qualified = qualify(
            normalized,
            dialect=dialect,
            schema=schema,
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        return build_scope(qualified)
    except _ERRORS as err:
        log.debug(
            "view SQL not qualified; traced as written",
            statement=statement_hash(sql),
            error=type(err).__name__,
        )
        return None


def _written_out(query: exp.Expr) -> bool:
    """Whether every column of `query` names its table and no star needs expanding: what
    `qualify` does for lineage is then done (most views are written so, and qualifying one
    costs a millisecond)."""
    if query.find(exp.Star) is not None:
        return False
    return all(column.table for column in query.find_all(exp.Column))


def _schema(
    query: exp.Expr, dialect: str, tables: dict[TableName, None], columns: ColumnsOf | None
) -> MappingSchema:
    """The known columns of the tables `query` reads, keyed by their names as written
    (normalized, as sqlglot looks them up); unknown tables are left out."""
    if columns is None:
        return MappingSchema(dialect=dialect)
    normalizer = Dialect.get_or_raise(dialect)
    known = {table: columns(table) for table in tables}  # asked once per table
    mapping: dict[str, Any] = {}
    for table in query.find_all(exp.Table):
        written = table.meta.get(_WRITTEN)
        found = known.get(written) if isinstance(written, TableName) else None
        if not found:
            continue  # a CTE's name, or a table whose columns the caller does not know
        names = {
            normalizer.normalize_identifier(exp.to_identifier(c)).name: "unknown" for c in found
        }
        catalog = mapping.setdefault(table.catalog or _UNNAMED, {})
        catalog.setdefault(table.db or _UNNAMED, {})[table.name] = names
    return MappingSchema(mapping, dialect=dialect, normalize=False)


def _table_name(table: exp.Table) -> TableName:
    written = table.meta.get(_WRITTEN)
    if isinstance(written, TableName):
        return written
    return TableName(name=table.name, schema=table.db or None, catalog=table.catalog or None)


def _column_flows(root: Scope, dialect: str) -> list[ColumnFlow]:
    """The select list's columns that can be traced to table columns; the rest are skipped."""
    if not isinstance(root.expression, exp.Select):
        return []  # a UNION's branches would need merging; its tables still give edges
    flows: list[ColumnFlow] = []
    for projection in root.expression.expressions:
        target = projection.alias_or_name
        inner = projection.unalias()
        if not target or target == "*" or _is_star(inner):
            continue  # a star left unexpanded: its tables' columns are not known
        sources = _trace_expression(root, projection, 0)
        if sources:
            function = _function(root, inner, dialect, 0)
            flows.append(ColumnFlow(target, tuple(dict.fromkeys(sources)), function))
    return flows


def _function(scope: Scope, node: exp.Expr, dialect: str, depth: int) -> str | None:
    """The expression a column is computed with, as written; a column passed on unchanged
    from a CTE or derived table has the expression it has there (None if it is a column
    there too, all the way down)."""
    if not isinstance(node, exp.Column):
        written = node.meta.get(_WRITTEN)
        return written if isinstance(written, str) else node.sql(dialect=dialect)
    source = scope.sources.get(node.table)
    if depth > _MAX_DEPTH or not isinstance(source, Scope):
        return None
    if not isinstance(source.expression, exp.Select):
        return None
    for projection in source.expression.expressions:
        if projection.alias_or_name == node.name and not _is_star(projection.unalias()):
            return _function(source, projection.unalias(), dialect, depth + 1)
    return None


def _is_star(node: exp.Expr) -> bool:
    return isinstance(node, exp.Star) or (
        isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
    )


def _trace_expression(scope: Scope, node: exp.Expr, depth: int) -> list[tuple[TableName, str]]:
    """Every table column `node` reads, or [] if any of them cannot be traced."""
    found: list[tuple[TableName, str]] = []
    for column in node.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            return []  # `t.*` inside an expression: which columns it reads is not known
        traced = _trace_column(scope, column, depth)
        if not traced:
            return []
        found.extend(traced)
    return found


def _trace_column(scope: Scope, column: exp.Column, depth: int) -> list[tuple[TableName, str]]:
    if depth > _MAX_DEPTH or not column.name:
        return []
    if column.table:
        source = scope.sources.get(column.table)
    elif len(scope.sources) == 1:
        source = next(iter(scope.sources.values()))
    else:
        return []  # unqualified with several sources: which table it is needs the catalog
    if isinstance(source, exp.Table):
        return [(_table_name(source), column.name)]
    if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
        # A CTE or derived table: follow the column into its own select list.
        for projection in source.expression.expressions:
            if projection.alias_or_name == column.name and not _is_star(projection.unalias()):
                return _trace_expression(source, projection, depth + 1)
    return []
