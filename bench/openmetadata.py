"""The OpenMetadata sink in the benchmark: requests and seconds per run, bulk on and off.

The synthetic source (N tables, default 2,000) is synced into the local OpenMetadata stand-in
the tests use (tests/support/openmetadata/), started in this process on a free port: a first
run, a no-change re-run (which should send no request at all) and a 1% changed re-run, once
against a server that offers `PUT /v1/<entities>/bulk` and once against one that does not.
The stand-in checks every body against OpenMetadata's JSON schemas and has no switch for it;
for timing, those checks are replaced by no-ops here (the tests keep them).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import TOKEN, TOKEN_ENV, WORKFLOW, Measurement, Scenario, measure_run, slug
from bench.synthetic import SOURCE_TYPE


@dataclass(frozen=True, slots=True)
class SinkRow:
    bulk: bool
    measurement: Measurement
    requests: int  # every request the sink sent during the run
    writes: int  # those other than GET


_TOKEN_REF = "${env:" + TOKEN_ENV + "}"  # the harness gives every child this variable


def _no_problems(*_args: Any, **_kwargs: Any) -> list[str]:
    return []


@contextmanager
def server(bulk: bool) -> Iterator[Any]:
    """The stand-in, its schema checks switched off (for this process only)."""
    from tests.support.openmetadata import OpenMetadataServer
    from tests.support.openmetadata import handlers as handlers_module
    from tests.support.openmetadata import server as server_module

    # Where the checks are looked up when a request is handled.
    patched = [
        (server_module, "body_problems"),
        (handlers_module, "schema_errors"),
        (handlers_module, "field_errors"),
    ]
    saved = [getattr(module, name) for module, name in patched]
    for module, name in patched:
        setattr(module, name, _no_problems)
    try:
        with OpenMetadataServer(token=TOKEN, bulk=bulk) as om:
            yield om
    finally:
        for (module, name), original in zip(patched, saved, strict=True):
            setattr(module, name, original)


def scenarios(tables: int) -> list[Scenario]:
    return [
        Scenario("first run", tables),
        Scenario("no-change re-run", tables),
        Scenario("1% changed re-run", tables, changed_percent=1, generation=1),
    ]


def workflow(scenario: Scenario, columns: int, url: str, state: Path) -> dict[str, Any]:
    return {
        "workflow": WORKFLOW,
        "source": {
            "type": SOURCE_TYPE,
            "config": {
                "tables": scenario.tables,
                "columns": columns,
                "changed_percent": scenario.changed_percent,
                "generation": scenario.generation,
            },
        },
        "sinks": [{"type": "openmetadata", "config": {"server": url, "token": _TOKEN_REF}}],
        "state": {"path": str(state)},
    }


def run(work: Path, tables: int, columns: int = 10) -> list[SinkRow]:
    rows: list[SinkRow] = []
    for bulk in (True, False):
        folder = work / f"openmetadata-bulk-{'on' if bulk else 'off'}"
        folder.mkdir(parents=True, exist_ok=True)
        with server(bulk) as om:
            for scenario in scenarios(tables):
                sys.stderr.write(f"OpenMetadata, bulk {'on' if bulk else 'off'}: {scenario.name}\n")
                before = len(om.requests)
                before_writes = len(om.writes())
                config = workflow(scenario, columns, om.url, folder / "state.duckdb")
                measurement = measure_run(scenario, config, folder)
                requests = len(om.requests) - before
                writes = len(om.writes()) - before_writes
                rows.append(SinkRow(bulk, measurement, requests, writes))
            if om.invalid:
                sys.stderr.write(f"{slug(folder.name)}: {len(om.invalid)} invalid requests\n")
    return rows
