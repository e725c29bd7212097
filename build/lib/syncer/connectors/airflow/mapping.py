"""Airflow's DAGs, runs and assets as OpenMetadata-shaped entities: pure functions, no I/O."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from syncer import fqn
from syncer.connectors.airflow.payloads import Asset, Dag, DagRun, Task, TaskInstance
from syncer.models import (
    EntityReference,
    ExecutionStatus,
    LineageEdge,
    Pipeline,
    PipelineStatus,
    TagLabel,
    TaskStatus,
)
from syncer.models import Task as PipelineTask

# Airflow's task instance states, as OpenMetadata's; any other state is still going on.
_TASK_STATES: dict[str, ExecutionStatus] = {
    "success": "Successful",
    "failed": "Failed",
    "upstream_failed": "Failed",
    "skipped": "Skipped",
    "removed": "Skipped",
}
_RUN_STATES: dict[str, ExecutionStatus] = {"success": "Successful", "failed": "Failed"}
# Worst first: a mapped task is as bad as its worst instance.
_SEVERITY: tuple[ExecutionStatus, ...] = ("Failed", "Pending", "Successful", "Skipped")
_End = tuple[str, str]  # a lineage end: entity type and FQN
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Links:
    """Links into the Airflow UI, which moved between Airflow 2 (API v1) and 3 (API v2)."""

    base: str
    api: str

    def dag(self, dag_id: str) -> str:
        if self.api == "v1":
            return f"{self.base}/dags/{_q(dag_id)}/grid"
        return f"{self.base}/dags/{_q(dag_id)}"

    def task(self, dag_id: str, task_id: str) -> str:
        if self.api == "v1":
            return f"{self.base}/dags/{_q(dag_id)}/grid?task_id={_q(task_id)}"
        return f"{self.base}/dags/{_q(dag_id)}/tasks/{_q(task_id)}"

    def log(self, dag_id: str, run_id: str, task_id: str) -> str:
        if self.api == "v1":
            return (
                f"{self.base}/dags/{_q(dag_id)}/grid?dag_run_id={_q(run_id)}"
                f"&task_id={_q(task_id)}&tab=logs"
            )
        return f"{self.base}/dags/{_q(dag_id)}/runs/{_q(run_id)}/tasks/{_q(task_id)}"


@dataclass(frozen=True, slots=True)
class Naming:
    """What the mapping needs to know besides the payloads."""

    service: str
    links: Links
    tag_classification: str = "AirflowTags"
    ignore_owners: frozenset[str] = frozenset({"airflow"})

    def pipeline_fqn(self, dag_id: str) -> str:
        return fqn.build(self.service, dag_id)


def to_pipeline(dag: Dag, tasks: list[Task], naming: Naming) -> Pipeline:
    starts = [t.start_date for t in tasks if t.start_date is not None]
    return Pipeline(
        name=dag.dag_id,
        service=naming.service,
        display_name=_differs(dag.dag_display_name, dag.dag_id),
        description=dag.description or None,
        tags=[
            TagLabel(tag_fqn=fqn.build(naming.tag_classification, name))
            for name in sorted({t.name for t in dag.tags if t.name})
        ],
        owners=owners(dag.owners, naming.ignore_owners),
        source_url=naming.links.dag(dag.dag_id),
        updated_at=dag.last_parsed_time,
        schedule_interval=schedule_of(dag),
        # Tasks inherit the DAG's start date; the API lists it only with the DAG's details.
        start_date=min(starts) if starts else None,
        concurrency=dag.max_active_tasks,
        tasks=[to_task(dag.dag_id, task, naming) for task in tasks],
    )


def to_task(dag_id: str, task: Task, naming: Naming) -> PipelineTask:
    class_name = task.class_ref.class_name if task.class_ref else None
    return PipelineTask(
        name=task.task_id,
        display_name=_differs(task.task_display_name, task.task_id),
        description=task.doc_md or None,
        task_type=class_name or task.operator_name,
        downstream_tasks=task.downstream_task_ids,
        source_url=naming.links.task(dag_id, task.task_id),
        start_date=task.start_date,
        end_date=task.end_date,
        owners=owners((task.owner or "").split(","), naming.ignore_owners),
    )


def owners(names: Iterable[str], ignore: frozenset[str]) -> list[EntityReference]:
    """Airflow owners are free text: each name is taken for an OpenMetadata user's name."""
    kept = {n.strip() for n in names} - ignore - {""}
    return [EntityReference(type="user", fully_qualified_name=fqn.quote(n)) for n in sorted(kept)]


def schedule_of(dag: Dag) -> str | None:
    """A cron expression where Airflow has one, else the timetable's own summary."""
    if dag.timetable_summary is not None:
        return None if dag.timetable_summary in ("", "None") else dag.timetable_summary
    interval = dag.schedule_interval
    if interval is None:
        return None
    kind = interval.get("__type")
    if kind == "CronExpression":
        return str(interval.get("value")) or None
    if kind == "TimeDelta":
        return str(
            timedelta(
                days=_number(interval, "days"),
                seconds=_number(interval, "seconds"),
                microseconds=_number(interval, "microseconds"),
            )
        )
    return dag.timetable_description


# --- runs --------------------------------------------------------------------------------------


def to_status(run: DagRun, instances: list[TaskInstance], naming: Naming) -> PipelineStatus:
    """A finished run as a pipeline status, its timestamp the run's start (when it had one)."""
    if run.end_date is None or run.state not in _RUN_STATES:
        raise ValueError(f"run {run.dag_run_id} of {run.dag_id} has not finished")
    started = run.start_date or run.run_after or run.logical_date or run.queued_at or run.end_date
    return PipelineStatus(
        end_time=ms(run.end_date),
        pipeline=naming.pipeline_fqn(run.dag_id),
        timestamp=ms(started),
        execution_status=_RUN_STATES[run.state],
        task_status=_task_statuses(run, instances, naming.links),
    )


def _task_statuses(run: DagRun, instances: list[TaskInstance], links: Links) -> list[TaskStatus]:
    by_task: dict[str, list[TaskInstance]] = defaultdict(list)
    for ti in instances:
        by_task[ti.task_id].append(ti)
    statuses = []
    for task_id, tis in sorted(by_task.items()):
        # A mapped task has one instance per map index: one status, as bad as its worst.
        states = {_TASK_STATES.get(ti.state or "", "Pending") for ti in tis}
        starts = [ti.start_date for ti in tis if ti.start_date is not None]
        ends = [ti.end_date for ti in tis if ti.end_date is not None]
        statuses.append(
            TaskStatus(
                name=task_id,
                execution_status=next(s for s in _SEVERITY if s in states),
                start_time=ms(min(starts)) if starts else None,
                end_time=ms(max(ends)) if ends else None,
                log_link=links.log(run.dag_id, run.dag_run_id, task_id),
            )
        )
    return statuses


def ms(moment: datetime) -> int:
    """Milliseconds since the epoch, in integer arithmetic (a float would be off by one)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - EPOCH) // timedelta(milliseconds=1)


def from_ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


# --- lineage -----------------------------------------------------------------------------------


def table_fqn(uri: str, asset_services: dict[str, str]) -> str | None:
    """The table an asset URI names, if a configured prefix covers it.

    The URI's path is `/database/schema/table`; a two-part path is MySQL's `/database/table`
    (OpenMetadata puts those under the database `default`) or, for `bigquery://project/...`,
    `/dataset/table` in the project named by the host.
    """
    prefix = max((p for p in asset_services if _covers(p, uri)), key=len, default=None)
    if prefix is None:
        return None
    parts = urlsplit(uri)
    names = [unquote(s) for s in parts.path.split("/") if s]
    if len(names) == 2:
        names.insert(0, parts.netloc if parts.scheme == "bigquery" else "default")
    if len(names) != 3 or not all(names):
        return None
    return fqn.build(asset_services[prefix], *names)


def lineage_edges(
    assets: Iterable[Asset],
    kept: Callable[[str], bool],
    naming: Naming,
    asset_services: dict[str, str],
    dag_lineage: bool,
) -> list[LineageEdge]:
    """Edges from the DAGs that produce an asset to the DAGs that consume it, through the table
    the asset names when it names one; edges that several assets make are one edge."""
    # (type, fqn) of both ends -> the URIs of the assets that make the edge.
    via: dict[tuple[_End, _End], set[str]] = defaultdict(set)
    for asset in assets:
        producers = [_pipeline(naming, d) for d in sorted(asset.producers) if kept(d)]
        consumers = [_pipeline(naming, d) for d in sorted(asset.consumers) if kept(d)]
        table = table_fqn(asset.uri, asset_services)
        if table is not None:
            end: _End = ("table", table)
            pairs = [(p, end) for p in producers] + [(end, c) for c in consumers]
        elif dag_lineage:
            pairs = [(p, c) for p in producers for c in consumers if p != c]
        else:
            pairs = []
        for pair in pairs:
            via[pair].add(asset.uri)
    return [
        LineageEdge(
            from_entity=_reference(source),
            to_entity=_reference(target),
            source="PipelineLineage",
            description=_via(sorted(uris)),
        )
        for (source, target), uris in sorted(via.items(), key=lambda e: (e[0][0][1], e[0][1][1]))
    ]


def _via(uris: list[str]) -> str:
    return f"Airflow asset {uris[0]}" if len(uris) == 1 else f"Airflow assets {', '.join(uris)}"


def _pipeline(naming: Naming, dag_id: str) -> _End:
    return ("pipeline", naming.pipeline_fqn(dag_id))


def _reference(end: _End) -> EntityReference:
    return EntityReference(type=end[0], fully_qualified_name=end[1])


def _covers(prefix: str, uri: str) -> bool:
    base = prefix.rstrip("/")
    return uri == base or uri.startswith(f"{base}/")


def _differs(display: str | None, name: str) -> str | None:
    return display if display and display != name else None


def _number(values: dict[str, Any], key: str) -> float:
    value = values.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


def _q(part: str) -> str:
    return quote(part, safe="")
