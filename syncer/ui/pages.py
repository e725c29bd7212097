"""The built-in panels: runs, one run, entities, lineage, sinks, policy violations, and the
experimental busiest-streams panel. Each is registered under `syncer.ui` in pyproject.toml,
as a third-party panel would be (`syncer.ui.panels`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Any

import duckdb
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syncer.describe import describe
from syncer.state import history
from syncer.ui import layout, lineage, queries, timeline
from syncer.ui.context import choice_param, int_param, paging, text_param, ui
from syncer.ui.panels import GROUP


@dataclass(frozen=True, slots=True)
class _Builtin:
    """A built-in panel: one page, served at `path` by `handler`."""

    name: str
    title: str
    nav: str | None
    path: str
    handler: Callable[[Request], Response]
    experimental: bool = False

    def routes(self) -> Sequence[BaseRoute]:
        return [Route(self.path, self.handler)]


# The runs table's counters (a run's page shows them all): what a reader scans a list for.
_RUNS_COUNTERS = ("scanned", "created", "updated", "deleted", "restored", "errors", "refused")


def _runs(request: Request) -> Response:
    page = paging(request)
    status = choice_param(request, "status", queries.RUN_STATUSES)
    workflow = text_param(request, "workflow")
    with ui(request).state(request) as connection:
        runs = queries.runs(
            connection, workflow=workflow, status=status, offset=page.offset, limit=page.limit
        )
        workflows = queries.workflows(connection)
    longest = max((r.duration_seconds or 0 for r in runs.items), default=0) or 1
    return ui(request).render(
        request,
        "runs.html",
        title="Runs",
        runs=runs,
        workflows=workflows,
        statuses=queries.RUN_STATUSES,
        workflow=workflow,
        status=status,
        longest=longest,
        counters=_RUNS_COUNTERS,
        timeline=timeline.timeline(runs.items),
    )


def _run(request: Request) -> Response:
    run_id: int = request.path_params["run_id"]
    page = paging(request)
    with ui(request).state(request) as connection:
        run = queries.run(connection, run_id)
        if run is None:
            raise HTTPException(404, f"run {run_id} is not in this state file: pick one on /runs")
        streams = queries.run_streams(connection, run_id)
        changes = queries.run_changes(connection, run_id, offset=page.offset, limit=page.limit)
        counts = queries.change_counts(connection, run_id)
        deliveries = queries.run_deliveries(connection, run_id, run.workflow)
        violations = queries.violations(connection, run_id=run_id, limit=page.limit)
    groups: dict[str, list[queries.ChangeRow]] = {}
    for change in changes.items:
        groups.setdefault(change.entity_type, []).append(change)
    return ui(request).render(
        request,
        "run.html",
        title=f"Run {run_id}",
        run=run,
        streams=streams,
        changes=changes,
        groups=groups,
        counts=counts,
        deliveries=deliveries,
        violations=violations,
        counters=queries.COUNTERS,
    )


def _entity(request: Request) -> Response:
    fqn = text_param(request, "fqn")
    if fqn is None:
        return _entity_search(request)
    workflow = text_param(request, "workflow")
    page = paging(request)
    first = int_param(request, "a", low=1)
    second = int_param(request, "b", low=1)
    with ui(request).state(request) as connection:
        versions = queries.entity_versions(
            connection, fqn, workflow, offset=page.offset, limit=page.limit
        )
        if not versions.items and page.offset == 0:
            raise _unknown_entity(connection, fqn, workflow)
        if second is None and versions.items:
            second = versions.items[0].seq
        if first is None and len(versions.items) > 1:
            first = versions.items[1].seq
        before = None if first is None else _version(connection, fqn, first, "a")
        after = None if second is None else _version(connection, fqn, second, "b")
    fields = describe(before, after) if before is not None and after is not None else None
    return ui(request).render(
        request,
        "entity.html",
        title=fqn,
        fqn=fqn,
        workflow=workflow,
        versions=versions,
        first=first,
        second=second,
        before=before,
        after=after,
        fields=fields,
    )


def _unknown_entity(
    connection: duckdb.DuckDBPyConnection, fqn: str, workflow: str | None
) -> HTTPException:
    close = history.similar_keys(connection, fqn, workflow)
    hint = f"did you mean {' or '.join(close)}?" if close else "search for it on /entity"
    return HTTPException(404, f"no entity {fqn} in this state file: {hint}")


def _version(
    connection: duckdb.DuckDBPyConnection, fqn: str, seq: int, name: str
) -> dict[str, Any]:
    payload = queries.version_payload(connection, fqn, seq)
    if payload is None:
        raise HTTPException(
            404, f"?{name}={seq} is not a version of {fqn}: pick one in its versions table"
        )
    return payload


def _entity_search(request: Request) -> Response:
    pattern = text_param(request, "q")
    page = paging(request)
    with ui(request).state(request) as connection:
        found = queries.current_entities(
            connection, containing=pattern, offset=page.offset, limit=page.limit
        )
    return ui(request).render(request, "entities.html", title="Entities", entities=found, q=pattern)


def _lineage(request: Request) -> Response:
    fqn = text_param(request, "fqn")
    hops = int_param(request, "hops", 2, low=1, high=lineage.MAX_HOPS) or 2
    level = choice_param(request, "level", ("table", "column")) or "table"
    as_of = int_param(request, "as_of", low=1)
    limit = int_param(request, "nodes", lineage.MAX_NODES, low=1, high=lineage.MAX_NODES)
    values: dict[str, Any] = {"fqn": fqn, "hops": hops, "level": level, "as_of": as_of}
    with ui(request).state(request) as connection:
        if as_of is not None and history.run_workflow(connection, as_of) is None:
            raise HTTPException(404, f"?as_of={as_of}: no run {as_of} in this state file")
        if fqn is None:
            return ui(request).render(
                request, "lineage.html", title="Lineage", graph=None, drawing=None, **values
            )
        if not queries.known_key(connection, fqn):
            raise _unknown_entity(connection, fqn, None)
        graph = lineage.neighbourhood(
            connection, fqn, hops=hops, as_of=as_of, limit=limit or lineage.MAX_NODES
        )
    if level == "column":
        nodes, edges = graph.column_graph()
    else:
        nodes, edges = graph.hops, list(graph.edges)
    return ui(request).render(
        request,
        "lineage.html",
        title=f"Lineage of {fqn}",
        graph=graph,
        drawing=layout.lay_out(nodes, edges),
        **values,
    )


def _sinks(request: Request) -> Response:
    page = paging(request)
    dead_only = choice_param(request, "show", ("all", "dead")) == "dead"
    with ui(request).state(request) as connection:
        sinks = queries.sinks(connection)
        refused = queries.refused_changes(
            connection, dead_only=dead_only, offset=page.offset, limit=page.limit
        )
    return ui(request).render(
        request, "sinks.html", title="Sinks", sinks=sinks, refused=refused, dead_only=dead_only
    )


def _violations(request: Request) -> Response:
    page = paging(request)
    action = choice_param(request, "action", ("warn", "drop", "fail"))
    run_id = int_param(request, "run", low=1)
    workflow = text_param(request, "workflow")
    with ui(request).state(request) as connection:
        found = queries.violations(
            connection,
            run_id=run_id,
            workflow=workflow,
            action=action,
            offset=page.offset,
            limit=page.limit,
        )
    return ui(request).render(
        request, "violations.html", title="Policy violations", violations=found, action=action
    )


def _streams(request: Request) -> Response:
    last = int_param(request, "runs", 20, low=1, high=1000) or 20
    with ui(request).state(request) as connection:
        streams = queries.busiest_streams(connection, last_runs=last)
    return ui(request).render(
        request, "streams.html", title="Busiest streams", streams=streams, last=last
    )


RUNS = _Builtin("runs", "Runs", "/runs", "/runs", _runs)
RUN = _Builtin("run", "Run", None, "/runs/{run_id:int}", _run)
ENTITY = _Builtin("entity", "Entities", "/entity", "/entity", _entity)
LINEAGE = _Builtin("lineage", "Lineage", "/lineage", "/lineage", _lineage)
SINKS = _Builtin("sinks", "Sinks", "/sinks", "/sinks", _sinks)
VIOLATIONS = _Builtin("violations", "Policy violations", "/violations", "/violations", _violations)
# Experimental: the streams that changed most lately (runs keep no per-stream time yet, so
# "busiest" stands in for "slowest").
BUSIEST_STREAMS = _Builtin(
    "busiest-streams", "Busiest streams", "/streams", "/streams", _streams, experimental=True
)

# The built-in panels as pyproject.toml registers them: used when the installed metadata
# predates them (`syncer.ui.panels.installed_panels`).
BUILT_IN = tuple(
    EntryPoint(panel.name, f"syncer.ui.pages:{attr}", GROUP)
    for attr, panel in (
        ("RUNS", RUNS),
        ("RUN", RUN),
        ("ENTITY", ENTITY),
        ("LINEAGE", LINEAGE),
        ("SINKS", SINKS),
        ("VIOLATIONS", VIOLATIONS),
        ("BUSIEST_STREAMS", BUSIEST_STREAMS),
    )
)
