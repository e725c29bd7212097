"""The airflow source: DAGs as pipelines, finished DAG runs as pipeline statuses, and lineage
between pipelines and tables from the assets (datasets) that tasks produce and consume."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from requests.adapters import BaseAdapter

from syncer.connectors.airflow.api import FINISHED, AirflowApi, AirflowApiError, parse
from syncer.connectors.airflow.auth import airflow_auth
from syncer.connectors.airflow.config import AirflowConfig
from syncer.connectors.airflow.mapping import (
    Links,
    Naming,
    from_ms,
    lineage_edges,
    to_pipeline,
    to_status,
)
from syncer.connectors.airflow.payloads import Asset, Dag, DagRun
from syncer.errors import SyncerError
from syncer.http import HttpClient
from syncer.models import PipelineService
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

# A run's end date is written when it finishes, but becomes visible only when that transaction
# commits: runs that ended this long before the watermark are asked for again, and dropped by
# their fingerprints, so that a late commit is never skipped.
RUN_LOOKBACK_MS = 5 * 60 * 1000


@dataclass
class _Dags:
    """What this run learnt of the DAGs, shared by the streams.

    `listed` holds the DAGs the config keeps, listed once per run by the first stream that
    needs them. `failed` holds those that could not be read, with why: a DAG that does not
    parse is put there when listed, one whose tasks cannot be read by the `pipelines` stream.
    `pipeline_statuses` and `lineage` turn a failed DAG's runs and edges into errors, so that
    nothing of it is skipped or deleted; they rely on the engine reading `pipelines` before
    them (a status is a pipeline's child, an edge comes after both its ends).
    """

    listed: dict[str, Dag] | None = None
    failed: dict[str, str] = field(default_factory=dict)


class AirflowSource(Source):
    """Reads one Airflow through its REST API: v2 for Airflow 3, v1 for Airflow 2."""

    config_model = AirflowConfig
    config: AirflowConfig

    def __init__(
        self,
        config: AirflowConfig,
        client: HttpClient | None = None,
        *,
        transport: BaseAdapter | None = None,
    ) -> None:
        """`transport` carries every request, the token's too (None: requests' own); a given
        `client` already has its own."""
        super().__init__(config)
        self.client = client or HttpClient(
            config.base_url,
            auth=airflow_auth(config, transport),
            timeout=config.timeout_seconds,
            tls=config.tls,
            retry=config.retry,
            transport=transport,
        )
        self.api = AirflowApi(self.client, config.api_version, config.page_size)
        self._dags = _Dags()

    def streams(self) -> list[Stream]:
        return [
            Stream("services", "pipelineService", read=self._read_services),
            # Airflow re-parses DAG files on a timer: a DAG not parsed since the watermark has
            # not changed, and its tasks are not asked for. Deletions show on --full-refresh.
            Stream(
                "pipelines",
                "pipeline",
                read=self._read_pipelines,
                cursor=Cursor("updated_at", "datetime"),
            ),
            Stream(
                "pipeline_statuses",
                "pipelineStatus",
                read=self._read_statuses,
                cursor=Cursor(
                    "end_time", "integer", "sorted", lookback=RUN_LOOKBACK_MS, unit="epoch_ms"
                ),
                deletions="never",
            ),
            Stream("lineage", "lineage", read=self._read_lineage),
        ]

    def test_connection(self) -> ConnectionReport:
        try:
            dialect = self.api.dialect
        except SyncerError as exc:
            return ConnectionReport(ok=False, checks=[("version", False, str(exc))])
        checks = [("version", True, f"Airflow {dialect.airflow_version}, REST API {dialect.api}")]
        assets_path, assets_key = dialect.assets
        for name, path, key in (
            ("dags", "/dags", "dags"),
            ("dag runs", "/dags/~/dagRuns", "dag_runs"),
            ("assets", assets_path, assets_key),
        ):
            try:
                checks.append((name, True, f"{self.api.count(path, key)} readable"))
            except SyncerError as exc:
                checks.append((name, False, str(exc)))
        return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)

    def close(self) -> None:
        self.client.close()

    # --- the streams' readers -----------------------------------------------------------------

    def _read_services(self, since: CursorValue | None) -> Iterator[Either]:
        yield self._service()

    def _read_pipelines(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._pipelines(since if isinstance(since, datetime) else None)

    def _read_statuses(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._statuses(since if isinstance(since, int) else None)

    def _read_lineage(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._lineage()

    def _service(self) -> PipelineService:
        # The API version is found first, so an unreachable Airflow fails before anything else.
        self.api.dialect  # noqa: B018
        return PipelineService(
            name=self.config.service_name,
            service_type="Airflow",
            source_url=self.config.links_base,
        )

    def _pipelines(self, since: datetime | None) -> Iterator[Either]:
        naming = self._naming()
        dags = self._listed()
        for dag_id, reason in list(self._dags.failed.items()):
            yield RecordError(naming.pipeline_fqn(dag_id), reason)
        for dag_id, dag in dags.items():
            if since is not None and dag.last_parsed_time and dag.last_parsed_time < since:
                continue
            try:
                tasks = self.api.tasks(dag_id)
            except SyncerError as exc:
                self._dags.failed[dag_id] = str(exc)
                yield RecordError(naming.pipeline_fqn(dag_id), str(exc))
                continue
            yield to_pipeline(dag, tasks, naming)

    def _statuses(self, since: int | None) -> Iterator[Either]:
        dags = self._listed()
        bound = from_ms(since) if since is not None else None
        batch: list[DagRun] = []
        for where, item in self.api.finished_runs(bound):
            try:
                run = parse(DagRun, item, where)
            except AirflowApiError as exc:
                run_id = item.get("dag_run_id") if isinstance(item, dict) else None
                yield RecordError(f"dag run {run_id or '?'}", str(exc))
                continue
            if run.dag_id in self._dags.failed:
                yield RecordError(
                    _run_key(run), f"its DAG could not be read: {self._dags.failed[run.dag_id]}"
                )
            elif run.dag_id in dags and run.end_date and run.state in FINISHED:
                batch.append(run)
            # Other runs belong to excluded or stale DAGs, or have not finished yet.
            if len(batch) >= self.config.page_size:
                yield from self._with_tasks(batch)
                batch = []
        yield from self._with_tasks(batch)

    def _with_tasks(self, runs: list[DagRun]) -> Iterator[Either]:
        if not runs:
            return
        try:
            instances = self.api.task_instances(runs)
        except SyncerError as exc:
            for run in runs:
                yield RecordError(_run_key(run), f"its task instances: {exc}")
            return
        naming = self._naming()
        for run in runs:
            yield to_status(run, instances[run.dag_id, run.dag_run_id], naming)

    def _lineage(self) -> Iterator[Either]:
        dags = self._listed()
        try:
            assets = [parse(Asset, item, where) for where, item in self.api.assets()]
        except SyncerError as exc:
            # An error, not an empty list: the edges already synced must not look deleted.
            yield RecordError("assets", str(exc))
            return
        naming = self._naming()
        edges = lineage_edges(
            assets,
            lambda dag_id: dag_id in dags or dag_id in self._dags.failed,
            naming,
            self.config.asset_services,
            self.config.dag_lineage,
        )
        failed = {naming.pipeline_fqn(d): d for d in self._dags.failed}
        for edge in edges:
            broken = [failed[end] for end in edge.ends if end in failed]
            if broken:
                yield RecordError(edge.fqn, f"its DAG {broken[0]} could not be read")
            else:
                yield edge

    # --- helpers ------------------------------------------------------------------------------

    def _listed(self) -> dict[str, Dag]:
        """The DAGs the config keeps, listed once per run; unreadable ones go to `failed`."""
        if self._dags.listed is None:
            dags: dict[str, Dag] = {}
            for where, item in self.api.dags():
                dag_id = item.get("dag_id") if isinstance(item, dict) else None
                if not isinstance(dag_id, str) or not dag_id:
                    raise AirflowApiError(f"{where}: a DAG without a dag_id; is this Airflow?")
                if not self.config.keeps(dag_id):
                    continue
                try:
                    dags[dag_id] = parse(Dag, item, where)
                except AirflowApiError as exc:
                    self._dags.failed[dag_id] = str(exc)
            self._dags.listed = dags
            log.info("dags listed", kept=len(dags), unreadable=len(self._dags.failed))
        return self._dags.listed

    def _naming(self) -> Naming:
        return Naming(
            service=self.config.service_name,
            links=Links(self.config.links_base, self.api.dialect.api),
            tag_classification=self.config.tag_classification,
            ignore_owners=frozenset(self.config.ignore_owners),
        )


def _run_key(run: DagRun) -> str:
    return f"dag run {run.dag_run_id} of {run.dag_id}"
