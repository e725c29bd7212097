"""OpenLineage runs as OpenMetadata-shaped entities: pure functions over inbox events, no I/O.

A run's events (START, RUNNING, COMPLETE, FAIL, ABORT) are merged into one `MergedRun`: facets
accumulate, a later event's facet replacing an earlier one of the same name, and the last state
wins. A job becomes a pipeline, an ended run a pipeline status, and each input and output pair
of a run a lineage edge through the job, with column lineage from the output's `columnLineage`
facet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import PrivateAttr

from syncer import fqn
from syncer.connectors.openlineage.inbox import ENDED, InboxEvent
from syncer.connectors.openlineage.naming import Unresolved, column_fqn
from syncer.models import (
    ColumnLineage,
    EntityReference,
    ExecutionStatus,
    LineageEdge,
    Pipeline,
    PipelineStatus,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# RunEvent.eventType as OpenMetadata's execution status; OTHER carries facets, not a state.
RUN_STATES: dict[str, ExecutionStatus] = {
    "START": "Pending",
    "RUNNING": "Pending",
    "COMPLETE": "Successful",
    "FAIL": "Failed",
    "ABORT": "Failed",
}
Facets = dict[str, Any]
DatasetId = tuple[str, str]  # namespace, name
# An OpenLineage dataset's table FQN, or why it has none (`naming.table_fqn` with the config).
Resolver = Callable[[str, str], "str | Unresolved"]


@dataclass
class MergedRun:
    """One run of a job, its events merged in event time order."""

    job_namespace: str
    job_name: str
    run_id: str
    state: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    last_seq: int = 0
    job_facets: Facets = field(default_factory=dict)
    inputs: dict[DatasetId, Facets] = field(default_factory=dict)
    outputs: dict[DatasetId, Facets] = field(default_factory=dict)

    @property
    def has_ended(self) -> bool:
        return self.state in ENDED


def merge_run(events: list[InboxEvent]) -> MergedRun:
    """The events of one run (in event time order) as one run."""
    first = events[0]
    run = MergedRun(first.job_namespace or "", first.job_name or "", first.run_id or "")
    starts = [e.event_time for e in events if e.event_type == "START"]
    run.started = starts[0] if starts else first.event_time
    for event in events:
        run.last_seq = max(run.last_seq, event.seq)
        # The last state wins, but a run that ended stays ended: a RUNNING event stamped after
        # the COMPLETE (clocks differ between a job's workers) does not reopen it.
        if event.event_type in RUN_STATES and (event.event_type in ENDED or not run.has_ended):
            run.state = event.event_type
        if event.event_type in ENDED:
            run.ended = event.event_time
        body = event.body
        run.job_facets.update(_facets(body.get("job")))
        _accumulate(run.inputs, body.get("inputs"), "inputFacets")
        _accumulate(run.outputs, body.get("outputs"), "outputFacets")
    return run


def pipeline_name(job_namespace: str, job_name: str) -> str:
    """A job is known by its namespace and name together: one pipeline name of both."""
    return f"{job_namespace}/{job_name}"


def to_pipeline(run: MergedRun, service: str) -> Pipeline:
    """The job of a run as a pipeline, from the job facets the run carried."""
    facets = run.job_facets
    location = facets.get("sourceCodeLocation") or {}
    url = location.get("url") if isinstance(location, dict) else None
    return Pipeline(
        name=pipeline_name(run.job_namespace, run.job_name),
        display_name=run.job_name,
        service=service,
        description=_text(facets.get("documentation"), "description"),
        source_url=url if isinstance(url, str) and url else None,
    )


def to_status(run: MergedRun, pipeline: str) -> RunStatus:
    """An ended run as a pipeline status, stamped with its start (its first event otherwise)."""
    if not run.has_ended or run.state is None:
        raise ValueError(f"run {run.run_id} of {run.job_name} has not ended")
    started = run.started or run.ended or EPOCH
    status = RunStatus(
        pipeline=pipeline,
        timestamp=ms(started),
        execution_status=RUN_STATES[run.state],
        end_time=ms(run.ended) if run.ended else None,
    )
    status._inbox_seq = run.last_seq
    return status


class RunStatus(PipelineStatus):
    """A pipeline status that remembers the inbox position of its run's last event: the
    stream's cursor. It is a private attribute, so it is never stored, compared or sent."""

    _inbox_seq: int = PrivateAttr(default=0)

    @property
    def inbox_seq(self) -> int:
        return self._inbox_seq


@dataclass
class Edges:
    """Lineage edges found in runs, and the datasets that held some back."""

    edges: dict[tuple[str, str], LineageEdge] = field(default_factory=dict)
    pending: dict[DatasetId, Unresolved] = field(default_factory=dict)


def lineage_edges(
    runs: Iterable[MergedRun], pipeline: EntityReference, resolve: Resolver, found: Edges
) -> None:
    """Add to `found` an edge from each input to each output of the runs of one job, through
    that job, with the column lineage of the output's `columnLineage` facet. An edge that an
    unresolved dataset ends is held back, and the dataset noted in `found.pending`."""
    for run in runs:
        tables: dict[DatasetId, str] = {}
        for dataset in (*run.inputs, *run.outputs):
            resolved = resolve(*dataset)
            if isinstance(resolved, Unresolved):
                found.pending[dataset] = resolved
            else:
                tables[dataset] = resolved
        for output, facets in run.outputs.items():
            for source in (*run.inputs, *_column_sources(facets, run.inputs, tables, resolve)):
                if source == output or source not in tables or output not in tables:
                    continue
                edge = _edge(tables[source], tables[output], source, facets, pipeline)
                found.edges[edge.ends] = _union(found.edges.get(edge.ends), edge)


def _column_sources(
    facets: Facets,
    inputs: dict[DatasetId, Facets],
    tables: dict[DatasetId, str],
    resolve: Resolver,
) -> list[DatasetId]:
    """Datasets that only the output's `columnLineage` facet names (dbt-ol names the seeds a
    model reads there, not among its inputs): sources too, when they resolve. One that does not
    (an ephemeral model's CTE) is left out quietly: it is a column hint, not a dataset."""
    facet = facets.get("columnLineage")
    fields = facet.get("fields") if isinstance(facet, dict) else None
    found: list[DatasetId] = []
    for spec in fields.values() if isinstance(fields, dict) else []:
        for item in (spec.get("inputFields") if isinstance(spec, dict) else None) or []:
            if not isinstance(item, dict):
                continue
            dataset = (item.get("namespace"), item.get("name"))
            if not all(isinstance(part, str) for part in dataset):
                continue
            source: DatasetId = (str(dataset[0]), str(dataset[1]))
            if source in inputs or source in found:
                continue
            resolved = resolve(*source)
            if not isinstance(resolved, Unresolved):
                tables[source] = resolved
                found.append(source)
    return found


def _edge(
    source_fqn: str,
    target_fqn: str,
    source: DatasetId,
    facets: Facets,
    pipeline: EntityReference,
) -> LineageEdge:
    return LineageEdge(
        from_entity=EntityReference(type="table", fully_qualified_name=source_fqn),
        to_entity=EntityReference(type="table", fully_qualified_name=target_fqn),
        columns_lineage=column_lineage(facets.get("columnLineage"), source, source_fqn, target_fqn),
        source="OpenLineage",
        pipeline=pipeline,
    )


def column_lineage(
    facet: Any, source: DatasetId, source_fqn: str, target_fqn: str
) -> list[ColumnLineage]:
    """The columns of `target_fqn` that the `columnLineage` facet derives from columns of the
    dataset `source`: `fields.<column>.inputFields[]` with namespace, name and field."""
    fields = facet.get("fields") if isinstance(facet, dict) else None
    if not isinstance(fields, dict):
        return []
    found = []
    for column, spec in sorted(fields.items()):
        inputs = spec.get("inputFields") if isinstance(spec, dict) else None
        names = sorted(
            {
                item["field"]
                for item in inputs or []
                if isinstance(item, dict)
                and (item.get("namespace"), item.get("name")) == source
                and isinstance(item.get("field"), str)
                and item["field"]
            }
        )
        if names and column:
            found.append(
                ColumnLineage(
                    from_columns=[column_fqn(source_fqn, n) for n in names],
                    to_column=column_fqn(target_fqn, column),
                )
            )
    return found


def _union(known: LineageEdge | None, edge: LineageEdge) -> LineageEdge:
    """One edge that several runs made: the column lineage of them all, so a column mapping
    lasts as long as one of the last runs still shows it."""
    if known is None:
        return edge
    columns: dict[str, set[str]] = {}
    for item in (*known.columns_lineage, *edge.columns_lineage):
        columns.setdefault(item.to_column, set()).update(item.from_columns)
    merged = [
        ColumnLineage(from_columns=sorted(names), to_column=target)
        for target, names in sorted(columns.items())
    ]
    return known.model_copy(update={"columns_lineage": merged})


def pipeline_reference(service: str, job_namespace: str, job_name: str) -> EntityReference:
    return EntityReference(
        type="pipeline",
        fully_qualified_name=fqn.build(service, pipeline_name(job_namespace, job_name)),
    )


def ms(moment: datetime) -> int:
    """Milliseconds since the epoch, in integer arithmetic (a float would be off by one)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - EPOCH) // timedelta(milliseconds=1)


def _accumulate(into: dict[DatasetId, Facets], datasets: Any, io_facets: str) -> None:
    for dataset in datasets if isinstance(datasets, list) else []:
        if not isinstance(dataset, dict):
            continue
        namespace, name = dataset.get("namespace"), dataset.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str):
            continue
        facets = into.setdefault((namespace, name), {})
        facets.update(_facets(dataset))
        facets.update(_facets(dataset, io_facets))


def _facets(holder: Any, key: str = "facets") -> Facets:
    facets = holder.get(key) if isinstance(holder, dict) else None
    return dict(facets) if isinstance(facets, dict) else {}


def _text(facet: Any, key: str) -> str | None:
    value = facet.get(key) if isinstance(facet, dict) else None
    return value if isinstance(value, str) and value else None
