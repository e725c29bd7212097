"""What a view reads: its source tables and, where the select list allows, column lineage.

Pure parsing with sqlglot: names come back as the SQL writes them; the caller resolves them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlglot
import structlog
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, build_scope

log = structlog.get_logger(__name__)

# SQLAlchemy dialect names that sqlglot spells differently.
_SQLGLOT_DIALECTS = {"postgresql": "postgres", "mssql": "tsql", "mariadb": "mysql"}
# A chain of CTEs and derived tables deeper than this is not followed.
_MAX_DEPTH = 20


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


def sqlglot_dialect(dialect: str) -> str:
    return _SQLGLOT_DIALECTS.get(dialect, dialect)


def statement_hash(sql: str) -> str:
    """A short, stable name for a statement in logs, without logging the SQL itself."""
    return hashlib.sha256(sql.encode()).hexdigest()[:12]


def view_sources(sql: str, dialect: str) -> ViewSources | None:
    """Parse a view's SQL (`CREATE VIEW … AS SELECT …` or the bare query); None if it cannot."""
    try:
        return _view_sources(sql, sqlglot_dialect(dialect))
    except (SqlglotError, ValueError, KeyError, AttributeError, RecursionError) as err:
        # A view syncer cannot parse still syncs; only its lineage is missing.
        log.warning(
            "view SQL not parsed; no lineage for it",
            statement=statement_hash(sql),
            error=type(err).__name__,
        )
        return None


def _view_sources(sql: str, dialect: str) -> ViewSources | None:
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
                tables[_table_name(source)] = None
    return ViewSources(tuple(tables), tuple(_column_flows(root)))


def _table_name(table: exp.Table) -> TableName:
    return TableName(name=table.name, schema=table.db or None, catalog=table.catalog or None)


def _column_flows(root: Scope) -> list[ColumnFlow]:
    """The select list's columns that can be traced to table columns; the rest are skipped."""
    if not isinstance(root.expression, exp.Select):
        return []  # a UNION's branches would need merging; its tables still give edges
    flows: list[ColumnFlow] = []
    for projection in root.expression.expressions:
        target = projection.alias_or_name
        if not target or target == "*" or projection.find(exp.Star):
            continue
        sources = _trace_expression(root, projection, 0)
        if sources:
            inner = projection.unalias()
            function = None if isinstance(inner, exp.Column) else inner.sql()
            flows.append(ColumnFlow(target, tuple(dict.fromkeys(sources)), function))
    return flows


def _trace_expression(scope: Scope, node: exp.Expr, depth: int) -> list[tuple[TableName, str]]:
    """Every table column `node` reads, or [] if any of them cannot be traced."""
    found: list[tuple[TableName, str]] = []
    for column in node.find_all(exp.Column):
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
            if projection.alias_or_name == column.name:
                return _trace_expression(source, projection, depth + 1)
    return []
