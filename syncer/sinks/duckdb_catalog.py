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

Inside the state file, `entities` is a view: each row's payload is read from the change that
brought it, which the state keeps as long as a sink holds it (`syncer.state.prune`), so the
payload is stored once: the copy cost a 100,000-table first run about 1.6 s of 11.8 s, and
half of its 195 MB state file.
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
CREATE TABLE IF NOT EXISTS "{schema}".columns (
    workflow VARCHAR NOT NULL, table_fqn VARCHAR NOT NULL, name VARCHAR NOT NULL,
    ordinal_position INTEGER, data_type VARCHAR, data_length INTEGER, "precision" INTEGER,
    scale INTEGER, "constraint" VARCHAR, description VARCHAR);
CREATE TABLE IF NOT EXISTS "{schema}".lineage (
    workflow VARCHAR NOT NULL, from_fqn VARCHAR NOT NULL, to_fqn VARCHAR NOT NULL,
    source VARCHAR, columns_lineage JSON);
"""
# In a file of its own, the catalog keeps each entity's payload.
_OWN_ENTITIES = """
CREATE TABLE IF NOT EXISTS "{schema}".entities (
    workflow VARCHAR NOT NULL, entity_type VARCHAR NOT NULL, fqn VARCHAR NOT NULL,
    name VARCHAR, fingerprint VARCHAR, payload JSON NOT NULL, seq BIGINT NOT NULL);
"""
# In the state file, the rows without their payloads, and `entities` over them with the
# payload of the change each came from (`main`: the file's own, also when it is attached under
# another name). `payload` is set only where a catalog of an earlier release held one whose
# change the state no longer keeps.
_ENTITY_ROWS = """
CREATE TABLE IF NOT EXISTS "{schema}".entity_rows (
    workflow VARCHAR NOT NULL, entity_type VARCHAR NOT NULL, fqn VARCHAR NOT NULL,
    name VARCHAR, fingerprint VARCHAR, seq BIGINT NOT NULL, payload JSON);
"""
_ENTITIES_VIEW = """
CREATE VIEW IF NOT EXISTS "{schema}".entities AS
SELECT r.workflow, r.entity_type, r.fqn, r.name, r.fingerprint,
       coalesce(r.payload, c.payload) AS payload, r.seq
FROM "{schema}".entity_rows r LEFT JOIN main.changes c ON c.seq = r.seq;
"""
# A catalog that an earlier release wrote into the state file, with the payloads copied. Each
# step can be repeated: a run killed midway does it again from the start (its old table is only
# dropped once every row is in `entity_rows`).
_FROM_COPIES = (
    'DELETE FROM "{schema}".entity_rows',
    'INSERT INTO "{schema}".entity_rows SELECT e.workflow, e.entity_type, e.fqn, e.name, '
    "e.fingerprint, e.seq, CASE WHEN c.seq IS NULL THEN e.payload END "
    'FROM "{schema}".entities e LEFT JOIN main.changes c ON c.seq = e.seq',
    'DROP TABLE "{schema}".entities',
)

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
    'SELECT DISTINCT e.entity_type FROM "{schema}".{entities} e SEMI JOIN catalog_docs b '
    "ON e.workflow = b.workflow AND e.entity_type = b.entity_type AND e.fqn = b.fqn"
)
_DELETE_ENTITIES = (
    'DELETE FROM "{schema}".{entities} e USING catalog_docs b WHERE e.workflow = b.workflow '
    "AND e.entity_type = b.entity_type AND e.fqn = b.fqn"
)
_DELETE_BESIDE = {
    "table": 'DELETE FROM "{schema}".columns c USING catalog_docs b WHERE b.entity_type = '
    "'table' AND c.workflow = b.workflow AND c.table_fqn = b.fqn",
    "lineage": 'DELETE FROM "{schema}".lineage l USING catalog_docs b WHERE b.entity_type = '
    "'lineage' AND l.workflow = b.workflow AND b.fqn = l.from_fqn || '->' || l.to_fqn",
}
_NAME = "CASE WHEN tbl IS NULL THEN doc->>'$.name' ELSE tbl.name END"
_INSERT_ENTITIES = {
    "entities": 'INSERT INTO "{schema}".entities SELECT workflow, entity_type, fqn, '
    f"{_NAME}, fingerprint, doc, seq FROM catalog_docs WHERE live",
    "entity_rows": 'INSERT INTO "{schema}".entity_rows SELECT workflow, entity_type, fqn, '
    f"{_NAME}, fingerprint, seq, NULL FROM catalog_docs WHERE live",
}
_INSERT = (
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
        schema = self.config.schema_name
        self._con.execute(_TABLES.format(schema=schema))
        if self._state is None:
            self._con.execute(_OWN_ENTITIES.format(schema=schema))
            return
        self._con.execute(_ENTITY_ROWS.format(schema=schema))
        if _is_table(self._con, schema, "entities"):  # payloads copied by an earlier release
            for statement in _FROM_COPIES:
                self._con.execute(statement.format(schema=schema))
        self._con.execute(_ENTITIES_VIEW.format(schema=schema))

    @property
    def _entities(self) -> str:
        """The table that holds the entity rows."""
        return "entities" if self._state is None else "entity_rows"

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
        schema, entities = self.config.schema_name, self._entities
        con.execute(_LATEST.format(shape=_TABLE_SHAPE))
        found_sql = _FOUND.format(schema=schema, entities=entities)
        found = {row[0] for row in con.execute(found_sql).fetchall()}
        if found:
            con.execute(_DELETE_ENTITIES.format(schema=schema, entities=entities))
        for entity_type, statement in _DELETE_BESIDE.items():
            if entity_type in found:
                con.execute(statement.format(schema=schema))
        for statement in (_INSERT_ENTITIES[entities], *_INSERT):
            con.execute(statement.format(schema=schema))
        con.execute("DROP TABLE catalog_docs")

    def forget(self, workflow: str) -> None:
        con = self._con
        assert con is not None, "open() first"
        for table in (self._entities, "columns", "lineage"):
            con.execute(
                f'DELETE FROM "{self.config.schema_name}".{table} WHERE workflow = ?', [workflow]
            )

    def close(self) -> None:
        if self._state is None and self._con is not None:
            self._con.close()
        self._con = None
        self._state = None


def _is_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """Whether the file's own `schema` holds a table (not a view) of that name."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(found and found[0])


_BATCH_COLUMNS = ("seq", "workflow", "entity_type", "key", "kind", "fingerprint", "payload_json")


def _columns(changes: Sequence[Change]) -> dict[str, list[object]]:
    """The columns of the changes that the catalog reads; from a batch's rows without building
    a `Change` for each."""
    if isinstance(changes, ChangeBatch):
        return {name: changes.table.column(name) for name in _BATCH_COLUMNS}
    return {name: [getattr(c, name) for c in changes] for name in _BATCH_COLUMNS}
