"""The contract case of the `openlineage` source: an inbox holding the runs of a job, as
OpenLineage's Python client builds them.

Its datasets' namespace is left unmapped, with `unknown_datasets: create`: mapped, the edges
would join tables that another source's workflow holds, which the suite's orphan check would
rightly flag, and held back they would be run warnings; created, each edge's two tables are this
workflow's own. The lineage is tested edge by edge in
tests/unit/connectors/openlineage/test_source.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import RunState

from syncer.connectors.openlineage import Inbox
from tests.contract.cases import Case
from tests.unit.connectors.openlineage import test_source as events


@contextmanager
def _inbox(tmp: Path) -> Iterator[dict[str, Any]]:
    path = tmp / "openlineage.sqlite"
    with Inbox(path, create=True) as inbox:
        inbox.append(events.a_run(RunState.COMPLETE, events.T0, [events.ORDERS], [events.FACTS]))
        later = events.T0 + timedelta(days=1)
        inbox.append(events.a_run(RunState.FAIL, later, [events.ORDERS], [events.FACTS]))
    yield {"type": "openlineage", "config": {"inbox": str(path), "unknown_datasets": "create"}}


CASES = {"openlineage": Case(_inbox, lineage="OpenLineage")}
