"""Lineage from logged statements, and the redaction that makes them safe to keep.

Pure parsing with sqlglot, like `connectors.sql.lineage`: names come back as the SQL writes them
(with `default_schema` filled in), and the caller resolves them. A logged statement may carry
personal data in its literals, so whatever leaves this module (the statement, an expression of
column lineage) has every literal replaced by `?` first.

Statements that move data from tables into a table give lineage: `INSERT … SELECT`,
`CREATE TABLE … AS SELECT`, `UPDATE … FROM`, MySQL's `UPDATE … JOIN … SET` and
`MERGE INTO … USING`. Any other statement gives none.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

import sqlglot
from sqlglot import TokenType, exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import build_scope

from syncer.connectors.sql.lineage import (
    ColumnFlow,
    TableName,
    _table_name,
    _trace_expression,
    sqlglot_dialect,
)
from syncer.processors.redact import SQL_LITERALS

__all__ = ["StatementLineage", "fingerprint", "lineage_of", "redact"]

MARK = "?"
# Nodes that hold a value written in the statement (or a bound parameter standing for one).
_LITERALS = (*SQL_LITERALS, exp.Parameter, exp.Placeholder)
_LITERAL_TOKENS = frozenset(
    t for t in TokenType if t.name.endswith("_STRING") or t.name in ("STRING", "NUMBER")
)
# The last resort when even the tokenizer fails (an unterminated string): quoted text to the
# end of the statement, dollar-quoted text, and numbers.
_LOOSE_LITERALS = re.compile(r"'.*|\$\w*\$.*|\b\d[\w.]*", re.DOTALL)
_PARSE_ERRORS = (SqlglotError, ValueError, KeyError, AttributeError, RecursionError)


class StatementLineage(NamedTuple):
    """What one statement writes (`target`), what it reads, and per target column from what."""

    target: TableName
    sources: tuple[TableName, ...]
    columns: tuple[ColumnFlow, ...]  # `ColumnFlow.target` is a column of `target`


def redact(sql: str, dialect: str) -> str:
    """The statement with every literal (strings, numbers, dates, parameters) as `?`, and
    without comments. A statement sqlglot cannot parse is redacted token by token."""
    read = sqlglot_dialect(dialect)
    try:
        statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
        return "; ".join(_redact_tree(s).sql(dialect=read, comments=False) for s in statements)
    except _PARSE_ERRORS:
        return _redact_tokens(sql, read)


def fingerprint(sql: str, dialect: str = "postgresql") -> str:
    """A short, stable name for a statement, the same for any of its literals: for logs."""
    return hashlib.sha256(redact(sql, dialect).encode()).hexdigest()[:16]


def lineage_of(sql: str, dialect: str, default_schema: str) -> list[StatementLineage] | None:
    """The lineage of each statement in `sql` that moves data between tables; None if sqlglot
    cannot parse it (the caller logs its `fingerprint`, never its text)."""
    read = sqlglot_dialect(dialect)
    try:
        found: list[StatementLineage] = []
        for statement in sqlglot.parse(sql, read=read):
            if statement is not None:
                found.extend(_statement_lineage(statement, read, default_schema))
        return found
    except _PARSE_ERRORS:
        return None


# --- redaction ------------------------------------------------------------------------------


def _redact_tree(node: exp.Expr) -> exp.Expr:
    def mark(n: exp.Expr) -> exp.Expr:
        return exp.Var(this=MARK) if isinstance(n, _LITERALS) else n

    return node.copy().transform(mark, copy=False)


def _redact_tokens(sql: str, read: str) -> str:
    try:
        tokens = Dialect.get_or_raise(read).tokenize(sql)
    except _PARSE_ERRORS:
        return _LOOSE_LITERALS.sub(MARK, sql)
    return " ".join(MARK if t.token_type in _LITERAL_TOKENS else t.text for t in tokens)


# --- lineage --------------------------------------------------------------------------------


def _statement_lineage(statement: exp.Expr, read: str, schema: str) -> list[StatementLineage]:
    if isinstance(statement, exp.Insert) and isinstance(statement.expression, exp.Query):
        query = statement.expression.copy()
        if statement.args.get("with_") and not query.args.get("with_"):
            query.set("with_", statement.args["with_"].copy())  # WITH … INSERT … SELECT
        table, names = _target(statement.this)
        # Without a column list values go to the table's columns by position, which the
        # statement does not name: table lineage only.
        return [_lineage(table, query, names or [], read, schema)]
    if (
        isinstance(statement, exp.Create)
        and str(statement.args.get("kind") or "").upper() == "TABLE"
        and isinstance(statement.expression, exp.Query)
    ):
        table, names = _target(statement.this)
        return [_lineage(table, statement.expression, names, read, schema)]
    if (
        isinstance(statement, exp.Update)
        and isinstance(statement.this, exp.Table)
        and statement.this.args.get("joins")
    ):  # MySQL's UPDATE t JOIN s ON … SET t.c = …
        updated = statement.this.copy()
        joined = updated.args.get("joins") or []
        updated.set("joins", None)
        sets = [p for p in statement.expressions if _sets(p, updated)]
        return [_assignments(updated, sets, joined, read, schema)]
    if isinstance(statement, exp.Update) and statement.args.get("from_") is not None:
        target = statement.this
        from_ = statement.args["from_"].this.copy()
        joins = [exp.Join(this=from_), *(from_.args.get("joins") or [])]
        from_.set("joins", None)
        return [_assignments(target, statement.expressions, joins, read, schema)]
    if isinstance(statement, exp.Merge) and statement.args.get("using") is not None:
        pairs: list[exp.Expr] = []
        for when in statement.args["whens"].expressions:
            action = when.args.get("then")
            if isinstance(action, exp.Update):
                pairs.extend(action.expressions)
            elif isinstance(action, exp.Insert) and isinstance(action.expression, exp.Tuple):
                names = action.this.expressions if isinstance(action.this, exp.Tuple) else []
                values = action.expression.expressions
                pairs.extend(
                    exp.EQ(this=n, expression=v) for n, v in zip(names, values, strict=False)
                )
        joins = [exp.Join(this=statement.args["using"].copy())]
        return [_assignments(statement.this, pairs, joins, read, schema)]
    return []


def _sets(pair: exp.Expr, target: exp.Table) -> bool:
    """Whether a `SET` pair assigns a column of `target` (a multi-table UPDATE may also set
    the tables it joins, which are not lineage into `target`)."""
    if not isinstance(pair, exp.EQ) or not isinstance(pair.this, exp.Column):
        return False
    qualifier = pair.this.table
    return not qualifier or qualifier in (target.alias_or_name, target.name)


def _target(node: exp.Expr) -> tuple[exp.Table, list[str] | None]:
    """The table written to, and the column list when the statement names one."""
    if isinstance(node, exp.Schema) and isinstance(node.this, exp.Table):
        return node.this, [c.name for c in node.expressions]
    if isinstance(node, exp.Table):
        return node, None
    raise ValueError(f"unexpected target {type(node).__name__}")


def _assignments(
    target: exp.Table, pairs: list[exp.Expr], joins: list[exp.Join], read: str, schema: str
) -> StatementLineage:
    """`SET column = expression` pairs read as a SELECT over the target and what it joins, so
    that they are traced like any query's columns."""
    names = [p.this.name for p in pairs if isinstance(p, exp.EQ)]
    projections = [p.expression.copy() for p in pairs if isinstance(p, exp.EQ)]
    query = exp.Select(expressions=projections)
    query.set("from_", exp.From(this=target.copy()))
    query.set("joins", [j.copy() for j in joins])
    return _lineage(target, query, names, read, schema)


def _lineage(
    target: exp.Table, query: exp.Query, names: list[str] | None, read: str, schema: str
) -> StatementLineage:
    """`names` are the target columns the select list fills, in order; None to take the
    select list's own names (CREATE TABLE … AS)."""
    root = build_scope(query)
    if root is None:
        raise ValueError("query has no scope")
    written = _qualified(_table_name(target), schema)
    tables: dict[TableName, None] = {}  # insertion-ordered set
    for scope in root.traverse():
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and source.name:
                name = _qualified(_table_name(source), schema)
                if name != written:
                    tables[name] = None
    flows: dict[str, list[tuple[TableName, str]]] = {}
    functions: dict[str, str | None] = {}
    projections = root.expression.expressions if isinstance(root.expression, exp.Select) else []
    for position, projection in enumerate(projections):
        if projection.find(exp.Star):
            break  # a star hides how many columns it fills: later positions are unknown
        column = projection.alias_or_name if names is None else _at(names, position)
        if not column:
            continue
        traced = _trace_expression(root, projection, 0)
        if not traced:
            continue
        flows.setdefault(column, []).extend((_qualified(t, schema), c) for t, c in traced)
        inner = projection.unalias()
        if not isinstance(inner, exp.Column):
            functions[column] = _redact_tree(inner).sql(dialect=read, comments=False)
    columns = tuple(
        ColumnFlow(name, tuple(dict.fromkeys(sources)), functions.get(name))
        for name, sources in flows.items()
    )
    return StatementLineage(written, tuple(tables), columns)


def _at(names: list[str], position: int) -> str | None:
    return names[position] if position < len(names) else None


def _qualified(table: TableName, schema: str) -> TableName:
    return table if table.schema else TableName(table.name, schema, table.catalog)
