"""The sql source's `tables` stream: each kept schema of a database reflected, its tables
mapped to entities, in schema order, whatever the concurrency.

A reflector that reads a whole database at once (PostgreSQL: a few statements on one
connection, whatever the number of schemas) hands the schemas over in order. Others reflect up
to `concurrency` schemas at once (`parallel.in_order`), each on its own pooled connection;
tables are handed over, and the database's `known` tables filled, in schema order, so the output
is the same whatever the concurrency. SQLite and DuckDB files are read one schema after
another: their catalogs are read in-process with no server round trips to overlap, and the
DuckDB reflector holds a single connection, which must not be used by two threads at once.

Each table is yielded raw (`syncer.steps.Raw`, its digest over everything reflected of it), so
the engine maps only the tables whose catalog rows moved since the last run.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from functools import partial

from syncer import fqn
from syncer.connectors.sql.config import SqlConfig
from syncer.connectors.sql.mapping import TABLE_TYPES, to_table
from syncer.connectors.sql.parallel import in_order
from syncer.connectors.sql.reflect import FILE_DIALECTS, RawTable, reflection_order
from syncer.connectors.sql.reflect.model import ReadsWholeDatabase, plain
from syncer.connectors.sql.scope import Scope
from syncer.connectors.sql.targets import COLUMN_SEPARATOR, Named, Relation, Target
from syncer.fingerprint import digest_of
from syncer.steps import Either, Raw, Record, RecordError
from syncer.text import first_line


class TableReader:
    """Reads the tables of the kept schemas of one database at a time."""

    def __init__(self, config: SqlConfig, dialect: str, scope: Scope) -> None:
        self._dialect = dialect
        self._scope = scope
        self._table_types = config.table_types
        self._view_lineage = config.view_lineage  # only then is a view's horizon asked for
        self._workers = 1 if dialect in FILE_DIALECTS else config.concurrency
        # A page of tables may wait in each schema's queue while the one before is mapped.
        self._bound = config.page_size

    def tables(self, target: Target) -> Iterator[Record]:
        """A database's tables, schema by schema; a schema that fails is an error of its own,
        after the tables read before it."""
        for schema, raw_tables in self._reflected(target):
            yield from self._mapped(target, schema, raw_tables)

    def _reflected(self, target: Target) -> Iterator[tuple[str, Iterator[RawTable]]]:
        """Each kept schema with its tables: all on one connection where the reflector reads
        a whole database at once, else up to `concurrency` schemas at a time."""
        schemas = self._scope.schemas(target.all_schemas)
        if isinstance(target.reflector, ReadsWholeDatabase):
            return target.reflector.database_tables(schemas, self._scope.keeps_table)
        return in_order(
            schemas,
            partial(self._raw_tables, target),
            workers=self._workers,
            bound=self._bound,
            name="sql-reflect",
        )

    def _raw_tables(self, target: Target, schema: str) -> Generator[RawTable, None, None]:
        """A schema's tables as its reflector reads them; a reflection error is raised while
        they are read, whether the reflector raises at once or after some pages."""
        assert target.reflector is not None
        found = target.reflector.tables(schema, self._scope.keeps_table)
        # Tables before views, so a view's lineage can use the columns reflected for them. A
        # list is sorted here; a paging reflector yields in that order itself.
        yield from sorted(found, key=reflection_order) if isinstance(found, list) else found

    def _mapped(
        self, target: Target, schema: str, raw_tables: Iterator[RawTable]
    ) -> Iterator[Record]:
        """One schema's tables as raw records, mapped by the engine only if their catalog rows
        moved; each recorded in `target.known` as it is yielded, for the lineage of the views
        that follow."""
        schema_fqn = fqn.join(target.fqn, schema)
        schema_key = _lowered(schema)
        while True:
            try:
                raw = next(raw_tables)
            except StopIteration:
                return
            except Exception as err:
                # The engine skips deletion detection for a stream with errors, so the tables
                # of this schema are not taken for deleted (nor those read before the error).
                yield RecordError(schema_fqn, f"schema could not be reflected: {first_line(err)}")
                return
            record = fqn.join(schema_fqn, raw.name)
            if raw.error is not None:
                yield RecordError(record, f"table could not be reflected: {raw.error}")
                continue
            table_type = TABLE_TYPES[raw.kind]
            if self._table_types is not None and table_type not in self._table_types:
                continue
            known, name = target.known, _lowered(raw.name)
            columns = COLUMN_SEPARATOR.join(raw.column_names())
            known[(schema_key, name)] = (schema, raw.name, columns, len(known))
            digest = own = digest_of(self._dialect, target.fqn, schema, plain(raw))
            if self._view_lineage and raw.definition is not None:
                target.horizons[record] = len(known)
                # Its lineage edges depend on the tables its SQL reads, as known so far (their
                # names and columns, not their comments or types), and so does its digest: an
                # unchanged view gives the same edges, which the engine then carries over.
                digest = digest_of(own, _read_by(raw.definition, target.named))
            relation = (schema, raw.name, columns)
            same_name = target.named.get(name)
            target.named[name] = (relation,) if same_name is None else (*same_name, relation)
            yield Raw(record, digest, partial(self._table, raw, target.fqn, schema, record))

    def _table(self, raw: RawTable, database_fqn: str, schema: str, record: str) -> Either:
        try:
            return to_table(raw.complete(), database_fqn, schema, self._dialect)
        except ValueError as err:  # pydantic's ValidationError and FQNError included
            return RecordError(record, f"table could not be mapped: {first_line(err)}")


def _lowered(name: str) -> str:
    """`name` lower-cased, the same object when it already is: `known` holds one per table."""
    lowered = name.lower()
    return name if lowered == name else lowered


# A name in SQL: "quoted" (with "" inside), `quoted` (with `` inside), [quoted], or a word.
_NAME = re.compile(r'"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|\[([^\]]*)\]|([^\W\d][\w$]*)')


def _read_by(sql: str, named: Named) -> list[tuple[str, tuple[Relation, ...]]]:
    """Every relation known so far whose name the SQL writes: a superset of the tables a view
    reads (its words include keywords and aliases), so that a view's digest moves with any
    table its lineage may resolve to, in whatever schema."""
    names = set()
    for double, back, bracket, word in _NAME.findall(sql):
        name = double.replace('""', '"') or back.replace("``", "`") or bracket or word
        names.add(name.lower())
    return sorted((name, named[name]) for name in names if name in named)
