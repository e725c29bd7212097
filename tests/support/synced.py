"""What a test reads back from a workflow's state file: runs, SQL, current payloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from syncer.workflow import RunResult
from tests.support.runs import query_state, run_workflow


class SyncedState:
    """Mixin for a test deployment that has `config_path` and `state_path`."""

    config_path: Path
    state_path: Path

    def run(self) -> RunResult:
        return run_workflow(self.config_path, self.state_path)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return query_state(self.state_path, sql)

    def payloads(self, entity_type: str) -> dict[str, dict[str, Any]]:
        """The current payload of each entity of a type, by FQN."""
        rows = self.query(
            f"SELECT fqn, payload FROM current_entities WHERE entity_type = '{entity_type}'"
        )
        return {fqn: orjson.loads(payload) for fqn, payload in rows}
