"""The dbt source: a project's tables, lineage, tests and test results, from dbt's artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog
from requests.adapters import BaseAdapter

from syncer.connectors.dbt.artifacts import (
    ArtifactError,
    ArtifactName,
    ArtifactReader,
    HttpArtifacts,
    LocalArtifacts,
)
from syncer.connectors.dbt.config import DbtConfig
from syncer.connectors.dbt.lineage import lineage_edges
from syncer.connectors.dbt.mapping import Naming, Project, build_project
from syncer.connectors.dbt.quality import Quality, build_quality, millis, other_command, results_of
from syncer.errors import SourceError
from syncer.http import HttpClient, authenticator
from syncer.steps import (
    ConnectionReport,
    Cursor,
    CursorValue,
    Either,
    RecordError,
    Source,
    Stream,
)

log = structlog.get_logger(__name__)


@dataclass
class _Loaded:
    """What one run reads from the manifest and catalog, once, before anything is yielded."""

    project: Project
    quality: Quality
    manifest_version: int
    dbt_version: str


class DbtSource(Source):
    """Reads `manifest.json` and, when they are there, `catalog.json` and `run_results.json`.

    The manifest describes the whole project, so every stream but the results is read whole on
    every run and fingerprints decide what changed: a cursor on the manifest would only hide
    removed models. The results carry a cursor: a `run_results.json` older than the watermark
    was synced already and is not read again.

    The manifest and catalog are read and checked once, before the first entity of any stream
    (`_load`), so a broken one fails the run before anything is synced or deleted; every stream
    then reads its part of what was loaded.
    """

    config_model = DbtConfig
    config: DbtConfig

    def __init__(self, config: DbtConfig, *, transport: BaseAdapter | None = None) -> None:
        """`transport` carries the requests for artifacts at a URL (None: requests' own)."""
        super().__init__(config)
        self._transport = transport
        self._reader: ArtifactReader | None = None
        self._loaded: _Loaded | None = None
        self.naming = Naming(
            service_name=config.service_name,
            service_type=config.service_type,
            tag_classification=config.tag_classification,
            default_database=config.default_database,
        )

    def streams(self) -> list[Stream]:
        return [
            # The service, databases and schemas are the warehouse's, shared with the sql
            # source: dbt no longer naming one is no reason to delete it (with its tables).
            Stream("services", "databaseService", read=self._read_services, deletions="never"),
            Stream("databases", "database", read=self._read_databases, deletions="never"),
            Stream("schemas", "databaseSchema", read=self._read_schemas, deletions="never"),
            Stream("tables", "table", read=self._read_tables),
            Stream("test_cases", "testCase", read=self._read_test_cases),
            # Each result is stamped with when its test finished; the watermark is the latest.
            Stream(
                "test_results",
                "testCaseResult",
                read=self._read_test_results,
                cursor=Cursor("timestamp", "integer", unit="epoch_ms"),
            ),
            # Read, not derived: a derived stream skips deletions whenever any read stream
            # produced nothing, and a project without run_results.json always has one.
            Stream("lineage", "lineage", read=self._read_lineage),
        ]

    def test_connection(self) -> ConnectionReport:
        reader = self._open()
        try:
            loaded = self._load()
        except SourceError as err:
            return ConnectionReport(ok=False, checks=[("manifest.json", False, str(err))])
        project = loaded.project
        checks = [
            (
                "manifest.json",
                True,
                f"{reader.where('manifest.json')}: schema v{loaded.manifest_version} (dbt "
                f"{loaded.dbt_version}), {len(project.tables)} tables, "
                f"{len(loaded.quality.test_cases)} test cases",
            )
        ]
        for name, without in _OPTIONAL.items():
            try:
                found = reader.load(name, required=False)
            except SourceError as err:
                checks.append((name, False, str(err)))
                continue
            detail = (
                f"{found.where}: schema v{found.version}"
                if found
                else f"{reader.where(name)}: not found ({without})"
            )
            command = other_command(found.data) if found and name == "run_results.json" else None
            if command is not None:
                detail += f", written by `{command}`: no test results (ignored)"
            checks.append((name, True, detail))
        return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._loaded = None

    # --- the streams' readers: `since` is used by the results only --------------------------

    def _read_services(self, since: CursorValue | None) -> Iterator[Either]:
        yield self._load().project.service

    def _read_databases(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._load().project.databases

    def _read_schemas(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._load().project.schemas

    def _read_tables(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._load().project.tables

    def _read_test_cases(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._load().quality.test_cases

    def _read_test_results(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._results(self._load().quality, since)

    def _read_lineage(self, since: CursorValue | None) -> Iterator[Either]:
        project = self._load().project
        yield from lineage_edges(project, column_lineage=self.config.column_lineage)

    # --- reading ---------------------------------------------------------------------------

    def _open(self) -> ArtifactReader:
        if self._reader is None:
            config = self.config
            if config.is_url:
                client = HttpClient(
                    config.path,
                    auth=authenticator(config.auth),
                    timeout=config.timeout_seconds,
                    tls=config.tls,
                    retry=config.retry,
                    transport=self._transport,
                )
                self._reader = HttpArtifacts(client)
            else:
                self._reader = LocalArtifacts(Path(config.path).expanduser())
        return self._reader

    def _load(self) -> _Loaded:
        if self._loaded is None:
            reader = self._open()
            manifest = reader.load("manifest.json", required=True)
            assert manifest is not None  # required: a missing one raises
            catalog = reader.load("catalog.json", required=False)
            if catalog is None:
                log.info("no catalog.json: columns and types come from the manifest only")
            project = build_project(manifest.data, catalog.data if catalog else None, self.naming)
            columns = {t.fqn: [c.name for c in t.columns] for t in project.tables}
            quality = build_quality(manifest.data, project.relations, columns, self.naming)
            metadata = manifest.data.get("metadata") or {}
            # Only the entities are kept: a large manifest's JSON is not held for the run.
            self._loaded = _Loaded(
                project, quality, manifest.version, str(metadata.get("dbt_version") or "?")
            )
        return self._loaded

    def _results(self, quality: Quality, since: CursorValue | None) -> Iterator[Either]:
        reader = self._open()
        try:
            run_results = reader.load("run_results.json", required=False)
            if run_results is None:
                log.info("no run_results.json: no test results to read")
                return
            generated_at = run_results.generated_at
        except SourceError as err:
            # The project's tables and tests are synced; only the results wait for a good file
            # (the stream's error keeps its watermark where it was).
            where = (
                err.where if isinstance(err, ArtifactError) else reader.where("run_results.json")
            )
            yield RecordError(where, err.reason if isinstance(err, ArtifactError) else str(err))
            return
        command = other_command(run_results.data)
        if command is not None:
            # Not an error: the file is fine, it just holds no test results. `dbt docs generate`
            # after a failing build would otherwise mark every failed test as passed.
            log.warning(
                f"run_results.json was written by `{command}`, which runs no tests: its results "
                "are not test results and are ignored; sync after `dbt build` or `dbt test`, "
                "before another dbt command rewrites the file",
                where=run_results.where,
                command=command,
            )
            return
        if isinstance(since, int) and millis(generated_at) < since:
            log.info(
                "run_results.json is older than the watermark; its results were synced already",
                generated_at=generated_at.isoformat(),
            )
            return
        yield from results_of(run_results.data, quality.bindings, generated_at)


# The optional artifacts, and what the source does without each, for `test-connection`.
_OPTIONAL: dict[ArtifactName, str] = {
    "catalog.json": "columns and types come from the manifest only; run `dbt docs generate`",
    "run_results.json": "no test results; run `dbt build` or `dbt test`",
}
