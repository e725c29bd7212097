"""The sql source's `tables` stream: each kept schema of a database reflected, its tables
mapped to entities, in schema order, whatever the concurrency.

Schemas are reflected up to `concurrency` at once (`parallel.in_order`), each on its own pooled
connection; tables are mapped, and the database's `known` tables filled, in the reading thread
in schema order, so the output is the same whatever the concurrency. SQLite and DuckDB files
are read one schema after another: their catalogs are read in-process with no server round
trips to overlap, and the DuckDB reflector holds a single connection, which must not be shared
between threads.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from functools import partial

from connectors.sql.config import SqlConfig
from connectors.sql.mapping import TABLE_TYPES, to_table
from connectors.sql.parallel import in_order
from connectors.sql.reflect import FILE_DIALECTS, RawTable, reflection_order
from connectors.sql.scope import Scope
from connectors.sql.targets import Target
from syncer import fqn
from syncer.steps import Either, RecordError
from syncer.text import first_line


class TableReader:
    """Reads the tables of the kept schemas of one database at a time."""

    def __init__(self, config: SqlConfig, dialect: str, scope: Scope) -> None:
        self._dialect = dialect
        self._scope = scope
        self._table_types = config.table_types
        self._workers = 1 if dialect in FILE_DIALECTS else config.concurrency
        # A page of tables may wait in each schema's queue while the one before is mapped.
        self._bound = config.page_size

    def tables(self, target: Target) -> Iterator[Either]:
        """A database's tables, schema by schema; a schema that fails is an error of its own,
        after the tables read before it."""
        schemas = self._scope.schemas(target.all_schemas)
        reflected = in_order(
            schemas,
            partial(self._raw_tables, target),
            workers=self._workers,
            bound=self._bound,
            name="sql-reflect",
        )
        for schema, raw_tables in reflected:
            yield from self._mapped(target, schema, raw_tables)

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
    ) -> Iterator[Either]:
        """One schema's tables as entities, each recorded in `target.known` as it is yielded."""
        schema_fqn = fqn.join(target.fqn, schema)
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
            if self._table_types is not None and TABLE_TYPES[raw.kind] not in self._table_types:
                continue
            try:
                table = to_table(raw, target.fqn, schema, self._dialect)
            except ValueError as err:  # pydantic's ValidationError and FQNError included
                yield RecordError(record, f"table could not be mapped: {first_line(err)}")
                continue
            columns = {c.name.lower(): c.name for c in table.columns}
            target.known[(schema.lower(), raw.name.lower())] = (schema, raw.name, columns)
            yield table
