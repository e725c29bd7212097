"""The dbt source's test helpers: the committed artifacts, and the real engine run over them.

`DbtRuns` writes a workflow for a folder (or URL) of artifacts, runs it against one state
file as `syncer run` would, and reads the state back as a user auditing it with SQL would.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import yaml

from syncer.workflow import RunResult
from tests.support.runs import query_state, run_workflow

REPO = Path(__file__).resolve().parents[4]
ARTIFACTS = REPO / "tests/fixtures/dbt/artifacts"
ARTIFACTS_V2 = REPO / "tests/fixtures/dbt/artifacts_v2"
SERVICE = "warehouse"


def load(name: str, folder: Path = ARTIFACTS) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((folder / name).read_bytes())
    return data


def copy_artifacts(source: Path, target: Path) -> Path:
    """A writable copy of a set of artifacts, to change between runs."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return target


def write_json(path: Path, data: Any) -> None:
    path.write_bytes(orjson.dumps(data))


class DbtRuns:
    """Runs of one dbt workflow against one state file in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.state_path = directory / "state.duckdb"
        self.config_path = directory / "workflow.yaml"

    def run(self, path: Path | str, *, full_refresh: bool = False, **config: Any) -> RunResult:
        self.config_path.write_text(
            yaml.safe_dump(
                {
                    "workflow": "dbt",
                    "source": {
                        "type": "dbt",
                        "config": {"path": str(path), "service_name": SERVICE, **config},
                    },
                    "sinks": [{"type": "duckdb"}],
                    "state": {"path": str(self.state_path)},
                }
            )
        )
        return run_workflow(self.config_path, self.state_path, full_refresh=full_refresh)

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return query_state(self.state_path, sql, params or [])

    def entities(self, entity_type: str) -> dict[str, dict[str, Any]]:
        """The current entities of a type, by FQN, as their payloads."""
        return {
            key: orjson.loads(payload)
            for key, payload in self.rows(
                "SELECT fqn, payload::VARCHAR FROM current_entities WHERE entity_type = ?",
                [entity_type],
            )
        }

    def changes(self, run_id: int) -> list[tuple[str, str, str]]:
        """(kind, entity type, FQN) of one run's changes."""
        return [
            (kind, entity_type, key)
            for kind, entity_type, key in self.rows(
                "SELECT kind, entity_type, fqn FROM change_log WHERE run_id = ? ORDER BY seq",
                [run_id],
            )
        ]

    def watermark(self, stream: str) -> str | None:
        found = self.rows("SELECT value FROM watermarks WHERE stream = ?", [stream])
        return str(found[0][0]) if found else None

    def change_count(self) -> int:
        return int(self.rows("SELECT count(*) FROM change_log")[0][0])
