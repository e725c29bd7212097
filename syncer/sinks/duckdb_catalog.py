"""The embedded catalog: current entities, their columns and lineage as DuckDB tables.

By default the catalog lives in the state file (schema `catalog`) and is written in the same
transaction that advances this sink's offset, so it is exactly as current as the change log.
Given a `path`, it is a DuckDB file of its own; writes are idempotent by key either way.

A write is set-based SQL over the batch's change rows: inside the state file it reads them
where they are, through a view the state file gives (`StateFile.view_changes`: nothing is
copied, nothing goes through Python); in a file of its own it reads the batch's columns.
Each table's payload is parsed once, into its name and columns; the rows a batch replaces are
deleted only where it found some, so a first load (nothing to replace) never scans the
catalog's columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

import duckdb

from syncer.errors import SinkError
from syncer.paths import ConfigPath
from syncer.state import scanning
from syncer.steps import Change, ChangeBatch, Refusals, Sink, SinkContext, StateFile, StepConfig

_TABLES = """
CREATE SCHEMA IF NOT EXISTS "{schema}";
CREATE TABLE IF NOT EXISTS "{schema}".entities (
    workflow VARCHAR NOT NULL, entity_type VARCHAR NOT NULL, fqn VARCHAR NOT NULL,
    name VARCHAR, fingerprint VARCHAR, payload JSON NOT NULL, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS "{schema}".columns (
    workflow VARCHAR NOT NULL, table_fqn VARCHAR NOT NULL, name VARCHAR NOT NULL,
    ordinal_position INTEGER, data_type VARCHAR, data_length INTEGER, "precision" INTEGER,
    scale INTEGER, "constraint" VARCHAR, description VARCHAR);
CREATE TABLE IF NOT EXISTS "{schema}".lineage (
    workflow VARCHAR NOT NULL, from_fqn VARCHAR NOT NULL, to_fqn VARCHAR NOT NULL,
    source VARCHAR, columns_lineage JSON);
"""

# What a table's payload gives the catalog: its name and its columns, read in one parse.
_TABLE_SHAPE = (
    '{"name": "VARCHAR", "columns": [{"name": "VARCHAR", "ordinalPosition": "INTEGER", '
    '"dataType": "VARCHAR", "dataLength": "INTEGER", "precision": "INTEGER", '
    '"scale": "INTEGER", "constraint": "VARCHAR", "description": "VARCHAR"}]}'
)

# The last change of each key in the batch is the one that counts. A live table's payload is
# parsed here, once; every statement after this one reads `tbl` or, for the other entity
# types (few), the document itself.
_LATEST = (
    "CREATE OR REPLACE TEMP TABLE catalog_docs AS SELECT *, CASE WHEN live AND "
    "entity_type = 'table' THEN from_json(doc, '{shape}') END AS tbl FROM ("
    "SELECT workflow, entity_type, key AS fqn, fingerprint, payload_json::JSON AS doc, seq, "
    "kind <> 'deleted' AS live FROM catalog_batch QUALIFY row_number() OVER "
    "(PARTITION BY workflow, entity_type, key ORDER BY seq DESC) = 1)"
)

# Replace what the batch touches: delete every touched key that is there, then insert the
# live ones. A table's columns and an edge's lineage row exist only beside its entity row, so
# nothing is deleted (and the catalog's columns are not scanned) for a type of which the batch
# found no entity row: on a first load, none. (`DELETE ... RETURNING` would tell the same, at
# ten times the cost of this join.)
_FOUND = (
    'SELECT DISTINCT e.entity_type FROM "{schema}".entities e SEMI JOIN catalog_docs b '
    "ON e.workflow = b.workflow AND e.entity_type = b.entity_type AND e.fqn = b.fqn"
)
_DELETE_ENTITIES = (
    'DELETE FROM "{schema}".entities e USING catalog_docs b WHERE e.workflow = b.workflow '
    "AND e.entity_type = b.entity_type AND e.fqn = b.fqn"
)
_DELETE_BESIDE = {
    "table": 'DELETE FROM "{schema}".columns c USING catalog_docs b WHERE b.entity_type = '
    "'table' AND c.workflow = b.workflow AND c.table_fqn = b.fqn",
    "lineage": 'DELETE FROM "{schema}".lineage l USING catalog_docs b WHERE b.entity_type = '
    "'lineage' AND l.workflow = b.workflow AND b.fqn = l.from_fqn || '->' || l.to_fqn",
}
_INSERT = (
    'INSERT INTO "{schema}".entities SELECT workflow, entity_type, fqn, CASE WHEN tbl IS NULL '
    "THEN doc->>'$.name' ELSE tbl.name END, fingerprint, doc, seq FROM catalog_docs WHERE live",
    'INSERT INTO "{schema}".columns SELECT workflow, fqn, c.name, c.ordinalPosition, '
    "c.dataType, c.dataLength, c.precision, c.scale, c.constraint, c.description FROM "
    "(SELECT workflow, fqn, unnest(tbl.columns) AS c FROM catalog_docs WHERE tbl IS NOT NULL)",
    'INSERT INTO "{schema}".lineage SELECT workflow, '
    "doc->>'$.fromEntity.fullyQualifiedName', doc->>'$.toEntity.fullyQualifiedName', "
    "doc->>'$.source', doc->'$.columnsLineage' FROM catalog_docs "
    "WHERE live AND entity_type = 'lineage'",
)


class DuckDBCatalogConfig(StepConfig):
    path: ConfigPath | None = None
    """A DuckDB file of its own, relative to the config file's folder; unset: inside the state
    file."""
    schema_name: str = "catalog"
    """The schema that holds the catalog's tables."""


class DuckDBCatalogSink(Sink):
    config_model = DuckDBCatalogConfig
    config: DuckDBCatalogConfig

    def __init__(self, config: DuckDBCatalogConfig) -> None:
        super().__init__(config)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._state: StateFile | None = None  # set when the catalog lives in the state file

    @property
    def writes_into_state(self) -> bool:
        return self.config.path is None

    def open(self, context: SinkContext) -> None:
        if self.config.path is None:
            if context.state_file is None:
                raise SinkError("duckdb sink: the embedded catalog needs the state file open")
            self._state = context.state_file
            self._con = context.state_file.connection
        else:
            try:
                self.config.path.parent.mkdir(parents=True, exist_ok=True)
                self._con = duckdb.connect(str(self.config.path))
            except (OSError, duckdb.Error) as exc:
                raise SinkError(f"duckdb sink: cannot open {self.config.path} ({exc})") from None
        self._con.execute(_TABLES.format(schema=self.config.schema_name))

    def write(self, changes: Sequence[Change]) -> Refusals:
        con = self._con
        assert con is not None, "open() first"
        if not changes:
            return {}
        if self._state is not None:
            # Inside the state file the changes are already here, and the delivery's own
            # transaction makes this write and the sink's offset one commit.
            seqs = changes.seqs if isinstance(changes, ChangeBatch) else [c.seq for c in changes]
            self._state.view_changes("catalog_batch", seqs)
            self._apply(con)
            return {}
        with scanning(con, "catalog_batch", _columns(changes), {"seq": "BIGINT"}):
            con.execute("BEGIN TRANSACTION")
            try:
                self._apply(con)
                con.execute("COMMIT")
            except BaseException:
                with suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
        return {}

    def _apply(self, con: duckdb.DuckDBPyConnection) -> None:
        schema = self.config.schema_name
        con.execute(_LATEST.format(shape=_TABLE_SHAPE))
        found = {row[0] for row in con.execute(_FOUND.format(schema=schema)).fetchall()}
        if found:
            con.execute(_DELETE_ENTITIES.format(schema=schema))
        for entity_type, statement in _DELETE_BESIDE.items():
            if entity_type in found:
                con.execute(statement.format(schema=schema))
        for statement in _INSERT:
            con.execute(statement.format(schema=schema))
        con.execute("DROP TABLE catalog_docs")

    def forget(self, workflow: str) -> None:
        con = self._con
        assert con is not None, "open() first"
        for table in ("entities", "columns", "lineage"):
            con.execute(
                f'DELETE FROM "{self.config.schema_name}".{table} WHERE workflow = ?', [workflow]
            )

    def close(self) -> None:
        if self._state is None and self._con is not None:
            self._con.close()
        self._con = None
        self._state = None


_BATCH_COLUMNS = ("seq", "workflow", "entity_type", "key", "kind", "fingerprint", "payload_json")


def _columns(changes: Sequence[Change]) -> dict[str, list[object]]:
    """The columns of the changes that the catalog reads; from a batch's rows without building
    a `Change` for each."""
    if isinstance(changes, ChangeBatch):
        return {name: changes.table.column(name) for name in _BATCH_COLUMNS}
    return {name: [getattr(c, name) for c in changes] for name in _BATCH_COLUMNS}
