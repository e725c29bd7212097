"""The openlineage source: the events `syncer serve` stored in the inbox, as a pipeline per job,
a pipeline status per ended run, and lineage between tables through the jobs.

The inbox is a SQLite file in WAL mode, so this source reads it while the receiver appends.
Statuses are read incrementally, by the inbox's sequence: each run touched since the
watermark is read whole and merged. Lineage is read whole on every run, from each job's last
`retire_after_runs` ended runs, so an edge that a job stopped producing is not seen and the
engine deletes it, under its usual guards. A dataset whose namespace is not mapped holds its
edges back, and the lineage stream tells the run so (a `Notice` per dataset); with
`unknown_datasets: create` it gets a table of its own instead (`created`), through four more
streams read before the lineage, from the same recent runs.
"""

from __future__ import annotations

from collections.abc import Iterator

from syncer.connectors.openlineage.config import OpenLineageConfig
from syncer.connectors.openlineage.created import Created, create_tables
from syncer.connectors.openlineage.inbox import Inbox
from syncer.connectors.openlineage.mapping import (
    DatasetId,
    Edges,
    Facets,
    MergedRun,
    lineage_edges,
    merge_run,
    pipeline_reference,
    to_pipeline,
    to_status,
)
from syncer.connectors.openlineage.naming import Unresolved, is_mapped, table_fqn
from syncer.errors import SyncerError
from syncer.models import PipelineService
from syncer.steps import (
    ConnectionReport,
    Cursor,
    CursorValue,
    Either,
    Notice,
    Record,
    Source,
    Stream,
)

# OpenMetadata's pipeline service type for OpenLineage jobs.
SERVICE_TYPE = "OpenLineage"


class OpenLineageSource(Source):
    """Reads the inbox that `syncer serve` fills with OpenLineage events."""

    config_model = OpenLineageConfig
    config: OpenLineageConfig

    def __init__(self, config: OpenLineageConfig) -> None:
        super().__init__(config)
        self._inbox: Inbox | None = None
        # Each job's last ended runs, read once per run by the first stream that needs them.
        self._recent: dict[tuple[str, str], list[MergedRun]] = {}
        self._created: Created | None = None  # with `unknown_datasets: create`, once per run

    def streams(self) -> list[Stream]:
        # Computed from the inbox, which is local: a stream that finds nothing has nothing
        # left (the last created table's namespace got mapped, the last edge retired).
        created = []
        if self.config.unknown_datasets == "create":
            created = [
                Stream(name, entity_type, read=read, deletions="complete")
                for name, entity_type, read in (
                    ("database_services", "databaseService", self._read_db_services),
                    ("databases", "database", self._read_databases),
                    ("database_schemas", "databaseSchema", self._read_schemas),
                    ("tables", "table", self._read_tables),
                )
            ]
        return [
            Stream("services", "pipelineService", read=self._read_services),
            Stream("pipelines", "pipeline", read=self._read_pipelines),
            # A status is append-only: a run is sent once it ended, with what it ended as.
            Stream(
                "pipeline_statuses",
                "pipelineStatus",
                read=self._read_statuses,
                cursor=Cursor("inbox_seq", "integer", "unsorted"),
                deletions="never",
            ),
            *created,
            Stream("lineage", "lineage", read=self._read_lineage, deletions="complete"),
        ]

    def test_connection(self) -> ConnectionReport:
        try:
            inbox = self._open()
            checks = [
                (
                    "inbox",
                    True,
                    f"{inbox.path}: {inbox.last_seq()} events, {len(inbox.jobs())} jobs",
                )
            ]
        except SyncerError as exc:
            checks = [("inbox", False, str(exc))]
        return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)

    def close(self) -> None:
        if self._inbox is not None:
            self._inbox.close()
        self._inbox = None
        self._recent = {}
        self._created = None

    # --- the streams' readers -----------------------------------------------------------------

    def _read_services(self, since: CursorValue | None) -> Iterator[Either]:
        self._open()  # a missing inbox fails the first stream, before anything is read
        yield PipelineService(name=self.config.service_name, service_type=SERVICE_TYPE)

    def _read_pipelines(self, since: CursorValue | None) -> Iterator[Either]:
        inbox = self._open()
        for job in inbox.jobs():
            runs = self._recent_runs(*job)
            # Oldest first, so that the newest run's job facets win.
            merged = _merged_job(runs) if runs else MergedRun(job[0], job[1], "")
            yield to_pipeline(merged, self.config.service_name)

    def _read_statuses(self, since: CursorValue | None) -> Iterator[Either]:
        # The engine's bound is inclusive: the run that set the watermark is read again, and
        # its fingerprint drops it.
        after = since - 1 if isinstance(since, int) else 0
        for events in self._open().runs_touched_since(after):
            run = merge_run(events)
            if run.has_ended and run.job_name:
                reference = pipeline_reference(
                    self.config.service_name, run.job_namespace, run.job_name
                )
                yield to_status(run, reference.fully_qualified_name)

    def _read_db_services(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._catalog().services.values()

    def _read_databases(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._catalog().databases.values()

    def _read_schemas(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._catalog().schemas.values()

    def _read_tables(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._catalog().tables.values()

    def _read_lineage(self, since: CursorValue | None) -> Iterator[Record]:
        found = Edges()
        service = self.config.service_name
        for job in self._open().jobs():
            lineage_edges(
                self._recent_runs(*job), pipeline_reference(service, *job), self._resolve, found
            )
        # The engine makes each a run warning (and logs it): the reason ends with the fix.
        for (namespace, name), unresolved in sorted(found.pending.items()):
            yield Notice(f"lineage of dataset {namespace}/{name} is held back: {unresolved.reason}")
        yield from found.edges.values()

    # --- helpers ------------------------------------------------------------------------------

    def _open(self) -> Inbox:
        if self._inbox is None:
            self._inbox = Inbox(self.config.inbox)
        return self._inbox

    def _recent_runs(self, job_namespace: str, job_name: str) -> list[MergedRun]:
        """A job's last `retire_after_runs` ended runs, merged, newest first."""
        key = (job_namespace, job_name)
        if key not in self._recent:
            runs = self._open().job_runs(job_namespace, job_name, self.config.retire_after_runs)
            self._recent[key] = [merge_run(events) for events in runs if events]
        return self._recent[key]

    def _catalog(self) -> Created:
        """The tables made for the datasets of unmapped namespaces that the jobs' recent runs
        read or wrote, each from the facets of those runs, newest first."""
        if self._created is None:
            seen: dict[DatasetId, list[tuple[int, Facets]]] = {}
            for job in self._open().jobs():
                for run in self._recent_runs(*job):
                    for dataset, facets in (*run.inputs.items(), *run.outputs.items()):
                        if not is_mapped(dataset[0], self.config.namespaces):
                            seen.setdefault(dataset, []).append((run.last_seq, facets))
            newest_first = {
                dataset: [facets for _, facets in sorted(runs, key=lambda r: -r[0])]
                for dataset, runs in seen.items()
            }
            self._created = create_tables(newest_first, self.config.service_name)
        return self._created

    def _resolve(self, namespace: str, name: str) -> str | Unresolved:
        found = table_fqn(namespace, name, self.config.namespaces)
        if not isinstance(found, Unresolved) or self.config.unknown_datasets != "create":
            return found
        if is_mapped(namespace, self.config.namespaces):
            return found  # mapped, but the name does not fit the prefix: that is the reason
        created = self._catalog()
        return created.fqns.get((namespace, name)) or created.unresolved.get(
            (namespace, name), found
        )


def _merged_job(runs: list[MergedRun]) -> MergedRun:
    """The job facets of a job's runs, the newest run's winning."""
    newest = runs[0]
    merged = MergedRun(newest.job_namespace, newest.job_name, newest.run_id)
    for run in reversed(runs):
        merged.job_facets.update(run.job_facets)
    return merged
