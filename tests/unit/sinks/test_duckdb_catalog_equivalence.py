"""The embedded catalog holds exactly what the sink held before its fill became set-based.

`ReferenceCatalogSink` is the sink as it was before issue 13, kept verbatim: it staged each
batch and re-parsed every payload. Both sinks are given the same deliveries of a realistic
catalog (tables of every column shape, views, constraints, escaped and non-ASCII text, names
that need quoting, lineage with and without column lineage, pipelines), through a first run,
a small change, deletions, restores, and a deletion and restore delivered together, in whole
pages and in small writes; after each run the catalog tables must hold the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, Literal

import duckdb
import pytest

from syncer import __version__, fqn
from syncer.delivery import context
from syncer.errors import SinkError
from syncer.sinks.duckdb_catalog import DuckDBCatalogConfig, DuckDBCatalogSink
from syncer.state import StateStore, scanning
from syncer.steps import Change, ChangeBatch, Refusals, Sink, SinkContext, StateFile
from tests.support.engine import SCHEMA, Engine, catalog

Where = Literal["state", "file"]
TABLES = ("entities", "columns", "lineage")

# --- the sink before issue 13, verbatim (only renamed) -----------------------------------------

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

_COLUMN_SHAPE = (
    '[{"name": "VARCHAR", "ordinalPosition": "INTEGER", "dataType": "VARCHAR", '
    '"dataLength": "INTEGER", "precision": "INTEGER", "scale": "INTEGER", '
    '"constraint": "VARCHAR", "description": "VARCHAR"}]'
)

_APPLY = (
    'DELETE FROM "{schema}".entities e USING catalog_docs b WHERE e.workflow = b.workflow '
    "AND e.entity_type = b.entity_type AND e.fqn = b.fqn",
    "DELETE FROM \"{schema}\".columns c USING catalog_docs b WHERE b.entity_type = 'table' "
    "AND c.workflow = b.workflow AND c.table_fqn = b.fqn",
    "DELETE FROM \"{schema}\".lineage l USING catalog_docs b WHERE b.entity_type = 'lineage' "
    "AND l.workflow = b.workflow AND b.fqn = l.from_fqn || '->' || l.to_fqn",
    "INSERT INTO \"{schema}\".entities SELECT workflow, entity_type, fqn, doc->>'$.name', "
    "fingerprint, doc, seq FROM catalog_docs WHERE live",
    'INSERT INTO "{schema}".columns SELECT workflow, fqn, c.name, c.ordinalPosition, '
    "c.dataType, c.dataLength, c.precision, c.scale, c.constraint, c.description FROM "
    f"(SELECT workflow, fqn, unnest(from_json(doc->'$.columns', '{_COLUMN_SHAPE}')) AS c "
    "FROM catalog_docs WHERE live AND entity_type = 'table')",
    'INSERT INTO "{schema}".lineage SELECT workflow, '
    "doc->>'$.fromEntity.fullyQualifiedName', doc->>'$.toEntity.fullyQualifiedName', "
    "doc->>'$.source', doc->'$.columnsLineage' FROM catalog_docs "
    "WHERE live AND entity_type = 'lineage'",
)


class ReferenceCatalogSink(Sink):
    config_model = DuckDBCatalogConfig
    config: DuckDBCatalogConfig

    def __init__(self, config: DuckDBCatalogConfig, request_size: int | None = None) -> None:
        super().__init__(config)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._state: StateFile | None = None
        self._request_size = request_size

    @property
    def request_size(self) -> int | None:
        return self._request_size

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
            self.config.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(self.config.path))
        self._con.execute(_TABLES.format(schema=self.config.schema_name))

    def write(self, changes: Sequence[Change]) -> Refusals:
        con = self._con
        assert con is not None, "open() first"
        if self._state is not None:
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
        con.execute(
            "CREATE OR REPLACE TEMP TABLE catalog_docs AS SELECT workflow, entity_type, "
            "key AS fqn, fingerprint, payload_json::JSON AS doc, seq, kind <> 'deleted' AS live "
            "FROM catalog_batch QUALIFY row_number() OVER "
            "(PARTITION BY workflow, entity_type, key ORDER BY seq DESC) = 1"
        )
        for statement in _APPLY:
            con.execute(statement.replace("{schema}", self.config.schema_name))
        con.execute("DROP TABLE catalog_docs")

    def close(self) -> None:
        if self._state is None and self._con is not None:
            self._con.close()
        self._con = None
        self._state = None


def _columns(changes: Sequence[Change]) -> dict[str, list[object]]:
    # Lists where an Arrow table was, since the store stopped using pyarrow (issue 13).
    names = ("seq", "workflow", "entity_type", "key", "kind", "fingerprint", "payload_json")
    return {name: [getattr(c, name) for c in changes] for name in names}


# --- a realistic catalog ----------------------------------------------------------------------

_TYPES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("BIGINT", {}),
    ("VARCHAR", {"data_length": 255}),
    ("DECIMAL", {"precision": 18, "scale": 4}),
    ("TIMESTAMPZ", {}),
    ("BOOLEAN", {}),
    ("JSON", {}),
    ("ARRAY", {"array_data_type": "INT"}),
    ("CHAR", {"data_length": 2}),
)
_DESCRIPTIONS = (
    None,
    "Customer who owns the row",
    'A "quoted" word, a back\\slash and a tab\there',
    "Line one\nline two",
    "Prix unitaire en € — ünïcödé, 日本語",
    "",
)


def _column(t: int, j: int, variant: int) -> dict[str, Any]:
    data_type, extra = _TYPES[(t + j + variant) % len(_TYPES)]
    column: dict[str, Any] = {
        "name": f"col_{j}" if j % 7 else f"Mixed Case.{j}",
        "data_type": data_type,
        "data_type_display": data_type.lower(),
        **extra,
    }
    if j % 3:
        column["ordinal_position"] = j + 1
    description = _DESCRIPTIONS[(t * 3 + j) % len(_DESCRIPTIONS)]
    if description is not None:
        column["description"] = description
    if j == 0:
        column["constraint"] = "PRIMARY_KEY"
    elif j % 5 == 1:
        column["constraint"] = "NOT_NULL"
    if t % 11 == 4 and j == 2:
        column["data_type"] = "STRUCT"
        column["children"] = [
            {"name": "street", "data_type": "VARCHAR"},
            {"name": "zip", "data_type": "INT"},
        ]
    if t % 13 == 5 and j == 1:
        column["tags"] = [{"tagFQN": "PII.Sensitive"}]
    return column


def _table(t: int, variant: int = 0) -> dict[str, Any]:
    width = 1 + t % 9 + variant  # a table with one column, and up to nine
    record: dict[str, Any] = {
        "name": f"table.{t:03d}" if t % 17 == 3 else f"t{t:03d}",
        "database_schema": SCHEMA,
        "columns": [_column(t, j, variant) for j in range(width)],
    }
    if t % 4:
        record["description"] = _DESCRIPTIONS[t % len(_DESCRIPTIONS)] or f"Table {t}"
    if t % 5 == 0:
        record["table_constraints"] = [{"constraint_type": "PRIMARY_KEY", "columns": ["col_0"]}]
    if t % 10 == 9:
        record["table_type"] = "View"
        record["schema_definition"] = f'SELECT * FROM "t{t - 1:03d}" -- view {t}'
    if t % 23 == 0:
        record["columns"] = []
    return record


def _fqn(t: int) -> str:
    return fqn.join(SCHEMA, _table(t)["name"])


def _edge(a: int, b: int, variant: int = 0) -> dict[str, Any]:
    edge: dict[str, Any] = {
        "from_entity": {"type": "table", "fully_qualified_name": _fqn(a)},
        "to_entity": {"type": "table", "fully_qualified_name": _fqn(b)},
        "source": "ViewLineage" if (a + variant) % 2 else "QueryLineage",
    }
    if (a + b + variant) % 3:
        edge["columns_lineage"] = [
            {"from_columns": [f"{_fqn(a)}.col_{j}"], "to_column": f"{_fqn(b)}.col_{j}"}
            for j in range(1, 1 + (a + variant) % 3)
        ]
    if a % 7 == 0:
        edge["sql_query"] = f"INSERT INTO t{b:03d} SELECT * FROM t{a:03d}"
    return edge


def _pipelines(variant: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "etl",
            "entity_type": "pipelineService",
            "records": [{"name": "airflow", "service_type": "Airflow"}],
        },
        {
            "name": "dags",
            "entity_type": "pipeline",
            "records": [
                {
                    "name": f"dag_{d}",
                    "service": "airflow",
                    "description": f"Loads domain {d}, version {variant}",
                    "tasks": [{"name": f"task_{k}"} for k in range(1 + d % 3)],
                }
                for d in range(4)
            ],
        },
    ]


def streams(
    present: Sequence[int], variants: dict[int, int], edges: Sequence[tuple[int, int]]
) -> list[dict[str, Any]]:
    """The source: tables `present` (at their variant), edges between present tables only."""
    kept = set(present)
    records = [_table(t, variants.get(t, 0)) for t in present]
    lineage = [_edge(a, b, variants.get(a, 0)) for a, b in edges if a in kept and b in kept]
    return [
        *catalog(records),
        {"name": "lineage", "entity_type": "lineage", "records": lineage},
        *_pipelines(max(variants.values(), default=0)),
    ]


N = 160
EDGES = [(t, (t * 7 + 3) % N) for t in range(0, N, 3) if (t * 7 + 3) % N != t]


class _Sized(DuckDBCatalogSink):
    """The sink, handed `size` changes per write (None: whole pages, as configured)."""

    def __init__(self, config: DuckDBCatalogConfig, size: int | None) -> None:
        super().__init__(config)
        self._size = size

    @property
    def request_size(self) -> int | None:
        return self._size


class Twin:
    """A workflow delivering to the sink and to the reference, each in its own catalog."""

    def __init__(self, tmp_path: Path, where: Where, request_size: int | None) -> None:
        self.engine = Engine(tmp_path)
        self.where = where
        self.request_size = request_size
        self.directory = tmp_path

    def _config(self, name: str) -> DuckDBCatalogConfig:
        path = self.directory / f"{name}-file.duckdb" if self.where == "file" else None
        return DuckDBCatalogConfig(path=path, schema_name=name)

    def sinks(self) -> dict[str, Sink]:
        """The sink and the reference, each handed `request_size` changes per write."""
        sink = _Sized(self._config("catalog"), self.request_size)
        reference = ReferenceCatalogSink(self._config("reference"), self.request_size)
        return {"catalog": sink, "reference": reference}

    def run(self, streams: list[dict[str, Any]], *, sinks_up: bool = True) -> None:
        self.engine.write(streams)
        result = self.engine.run(
            sinks=self.sinks() if sinks_up else {}, deletions={"fail_safe_percent": 100}
        )
        assert [r.error for r in result.deliveries] == [None] * len(result.deliveries)

    def contents(self, schema: str) -> dict[str, list[tuple[Any, ...]]]:
        path = self.directory / f"{schema}-file.duckdb" if self.where == "file" else None
        con = duckdb.connect(str(path or self.engine.state_path), read_only=True)
        try:
            return {
                table: con.execute(f'SELECT * FROM "{schema}".{table} ORDER BY ALL').fetchall()
                for table in TABLES
            }
        finally:
            con.close()

    def assert_same(self) -> dict[str, list[tuple[Any, ...]]]:
        """The catalog's rows, once checked equal to the reference's, column for column."""
        got, expected = self.contents("catalog"), self.contents("reference")
        for table in TABLES:
            assert got[table] == expected[table], f"catalog.{table} differs from the reference"
        return got


@pytest.mark.parametrize("request_size", [None, 7])
@pytest.mark.parametrize("where", ["state", "file"])
def test_the_catalog_holds_what_the_reference_holds_through_every_kind_of_change(
    tmp_path: Path, where: Where, request_size: int | None
) -> None:
    twin = Twin(tmp_path, where, request_size)
    everything = list(range(N))

    twin.run(streams(everything, {}, EDGES))  # first run
    first = twin.assert_same()
    assert len(first["entities"]) == 3 + N + 1 + 4 + len(EDGES)
    assert len(first["columns"]) > 4 * N
    assert any(row[4] is not None for row in first["lineage"])  # some with column lineage
    assert any(row[4] == "[]" for row in first["lineage"])  # some without

    changed = {t: 1 for t in range(0, N, 40)}  # a few tables and edges change
    twin.run(streams(everything, changed, EDGES))
    assert twin.assert_same() != first

    gone = [t for t in everything if t % 9 != 2]  # tables deleted, with their edges
    twin.run(streams(gone, changed, EDGES[::2]))
    assert len(twin.assert_same()["entities"]) < len(first["entities"])

    twin.run(streams(everything, changed, EDGES))  # restored
    twin.assert_same()

    # A sink down during a deletion and a restore gets both in one delivery: the last wins.
    twin.run(streams(gone, {t: 2 for t in range(N)}, []), sinks_up=False)
    twin.run(streams(everything, {t: 3 for t in range(0, N, 2)}, EDGES), sinks_up=False)
    twin.run(streams(everything, {t: 3 for t in range(0, N, 2)}, EDGES))
    last = twin.assert_same()
    assert len(last["entities"]) == len(first["entities"])


@pytest.mark.parametrize("where", ["state", "file"])
def test_a_write_whose_seqs_have_gaps_applies_its_own_changes_and_no_others(
    tmp_path: Path, where: Where
) -> None:
    twin = Twin(tmp_path, where, None)
    twin.run(streams(range(40), {}, EDGES), sinks_up=False)
    twin.run(streams(range(0, 40, 2), {t: 1 for t in range(0, 40, 3)}, EDGES), sinks_up=False)
    store = StateStore.open(twin.engine.state_path, version=__version__)
    try:
        every = [seq for (seq,) in store.connection.execute("SELECT seq FROM changes").fetchall()]
        # every third change left out: a write as delivery makes it when changes are held back
        batch = store.changelog.load([seq for i, seq in enumerate(sorted(every)) if i % 3])
        for sink in twin.sinks().values():
            sink.open(context(store, "test", sink))
            try:
                with store.transaction():
                    sink.write(batch)
            finally:
                sink.close()
    finally:
        store.close()
    assert twin.assert_same()["columns"]
