"""Runs the real engine through `FileSource` against a real state file in a test's directory.

`Engine.write_tables` rewrites the source between runs; `Engine.run` builds a workflow, runs it
against the state file and closes the file again, as one `syncer run` would; `Engine.rows`
queries the state file afterwards, as a user auditing it with SQL would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from syncer.config import LoadedConfig, WorkflowConfig
from syncer.steps import Processor, Sink
from syncer.workflow import RunResult
from tests.support.runs import query_state, run_workflow
from tests.support.sources import FileSource, FileSourceConfig

SERVICE = "svc"
DATABASE = "svc.db"
SCHEMA = "svc.db.sch"


def table(name: str, *, columns: Sequence[str] = ("id", "name"), **fields: Any) -> dict[str, Any]:
    """A table record under `SCHEMA`, with INT columns unless `columns` are given as dicts."""
    return {
        "name": name,
        "database_schema": SCHEMA,
        "columns": [c if isinstance(c, dict) else {"name": c, "data_type": "INT"} for c in columns],
        **fields,
    }


def tables(count: int, prefix: str = "t") -> list[dict[str, Any]]:
    return [table(f"{prefix}{i:02d}") for i in range(count)]


def catalog(table_records: list[dict[str, Any]], **table_stream: Any) -> list[dict[str, Any]]:
    """Streams for one service, database and schema, and `table_records` under it."""
    return [
        {
            "name": "services",
            "entity_type": "databaseService",
            "records": [{"name": SERVICE, "service_type": "Duckdb"}],
        },
        {
            "name": "databases",
            "entity_type": "database",
            "records": [{"name": "db", "service": SERVICE}],
        },
        {
            "name": "schemas",
            "entity_type": "databaseSchema",
            "records": [{"name": "sch", "database": DATABASE}],
        },
        {"name": "tables", "entity_type": "table", "records": table_records, **table_stream},
    ]


@dataclass
class Engine:
    directory: Path
    workflow: str = "test"
    sources: list[FileSource] = field(default_factory=list)  # one per run, newest last

    @property
    def state_path(self) -> Path:
        return self.directory / "state.duckdb"

    @property
    def source_path(self) -> Path:
        return self.directory / "source.json"

    @property
    def source(self) -> FileSource:
        return self.sources[-1]

    def write(self, streams: list[dict[str, Any]]) -> None:
        self.source_path.write_bytes(orjson.dumps({"streams": streams}))

    def write_tables(self, table_records: list[dict[str, Any]], **table_stream: Any) -> None:
        self.write(catalog(table_records, **table_stream))

    def config(
        self,
        *,
        sinks: Mapping[str, Sink] | None = None,
        processors: Sequence[Processor] = (),
        password: str | None = None,
        **spec: Any,
    ) -> LoadedConfig:
        source = FileSource(FileSourceConfig(path=self.source_path, password=password))
        self.sources.append(source)
        workflow = WorkflowConfig.model_validate(
            {
                "workflow": self.workflow,
                "source": {"type": "tests.support.sources:FileSource"},
                "state": {"path": str(self.state_path)},
                **spec,
            }
        )
        return LoadedConfig(
            path=self.directory / "workflow.yaml",
            spec=workflow,
            fingerprint="fingerprint-of-the-yaml",
            source=source,
            processors=list(processors),
            sinks=list((sinks or {}).items()),
        )

    def run(
        self,
        *,
        full_refresh: bool = False,
        dry_run: bool = False,
        read_only: bool = False,
        **config: Any,
    ) -> RunResult:
        return run_workflow(
            self.config(**config),
            self.state_path,
            read_only=read_only,
            full_refresh=full_refresh,
            dry_run=dry_run,
        )

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return query_state(self.state_path, sql, params)

    def changes(self, run_id: int | None = None) -> list[tuple[str, str]]:
        """(kind, fqn) of the change log, of one run or of all, in order."""
        where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
        return [
            (kind, fqn)
            for kind, fqn in self.rows(
                f"SELECT kind, fqn FROM change_log {where} ORDER BY seq", params
            )
        ]
