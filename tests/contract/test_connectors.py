"""One contract suite over every connector: entities, FQNs, parents, lineage ends, re-runs.

A new connector joins with a module in `tests/contract/cases/` (see its docstring).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from syncer import fqn
from syncer.models import ENTITY_TYPES
from syncer.statefile import open_state
from syncer.workflow import RunResult
from tests.contract.cases import Case, all_cases
from tests.support.runs import query_state, run_workflow


class Synced:
    """A connector synced once into a fresh state file, with helpers to look at the result."""

    def __init__(self, tmp: Path, source: dict[str, Any], case: Case) -> None:
        self.case = case
        self.config_path = tmp / "workflow.yaml"
        self.state_path = tmp / "state.duckdb"
        self.config_path.write_text(
            yaml.safe_dump(
                {
                    "workflow": "contract",
                    "source": source,
                    "sinks": [{"type": "duckdb"}],
                    "state": {"path": str(self.state_path)},
                }
            )
        )
        self.first = self.run()

    def run(self) -> RunResult:
        return run_workflow(self.config_path, self.state_path)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        return query_state(self.state_path, query)

    def entities(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (t, key, orjson.loads(payload))
            for t, key, payload in self.rows(
                "SELECT entity_type, fqn, payload::VARCHAR FROM current_entities"
            )
        ]


CASES = all_cases()


@pytest.fixture(params=sorted(CASES))
def synced(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Synced]:
    case = CASES[request.param]
    with case.source(tmp_path) as source:
        yield Synced(tmp_path, source, case)


def test_a_first_run_succeeds_and_creates_entities(synced: Synced) -> None:
    assert synced.first.status == "succeeded", synced.first.error
    assert synced.first.counters.created > 0
    assert synced.first.counters.errors == 0


def test_every_entity_is_a_valid_model_of_a_known_type(synced: Synced) -> None:
    for entity_type, key, payload in synced.entities():
        assert entity_type in ENTITY_TYPES, key
        ENTITY_TYPES[entity_type].model_validate(payload)


def test_every_key_is_the_fqn_its_model_builds_and_splits_back(synced: Synced) -> None:
    for entity_type, key, payload in synced.entities():
        entity = ENTITY_TYPES[entity_type].model_validate(payload)
        assert entity.fqn == key
        if entity_type != "lineage":
            assert fqn.build(*fqn.split(key)) == key


def test_every_child_has_its_parent_and_every_edge_its_ends(synced: Synced) -> None:
    store = open_state(synced.state_path, read_only=True)
    try:
        assert store.orphans("contract") == []
    finally:
        store.close()
    assert synced.first.warnings == []


def test_lineage_edges_join_entities_of_the_source_with_its_lineage_source(
    synced: Synced,
) -> None:
    edges = synced.rows("SELECT from_fqn, to_fqn, source FROM lineage_edges")
    if synced.case.lineage is None:
        assert edges == []
        return
    assert edges, "the case's source declares lineage"
    keys = {key for t, key, _ in synced.entities() if t != "lineage"}
    for from_fqn, to_fqn, source in edges:
        assert from_fqn in keys and to_fqn in keys
        assert source == synced.case.lineage


def test_an_immediate_rerun_changes_and_sends_nothing(synced: Synced) -> None:
    changes_before = synced.rows("SELECT count(*) FROM change_log")[0][0]
    again = synced.run()
    counters = again.counters
    assert (counters.created, counters.updated, counters.deleted, counters.restored) == (0, 0, 0, 0)
    # A stream with a cursor re-reads only what is at or after its watermark.
    assert counters.unchanged == counters.scanned > 0
    assert synced.rows("SELECT count(*) FROM change_log")[0][0] == changes_before
    assert [r.delivered for r in again.deliveries] == [0]


def test_the_catalog_holds_exactly_the_current_entities(synced: Synced) -> None:
    state = set(synced.rows("SELECT entity_type, fqn, fingerprint FROM current_entities"))
    catalog = set(synced.rows("SELECT entity_type, fqn, fingerprint FROM catalog.entities"))
    assert catalog == state
