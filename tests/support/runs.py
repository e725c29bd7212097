"""One workflow run against a state file, and read-only queries on that file afterwards.

`run_workflow` does what one `syncer run` does in-process: load the config, open the state,
run the workflow and close the state again, even when the run raises. `query_state` reads the
state file afterwards, as a user auditing it with SQL would.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from syncer import config as configs
from syncer.config import LoadedConfig
from syncer.statefile import open_state
from syncer.workflow import RunResult, Workflow

# The tables of the state that a run writes (besides `schema_version`).
STATE_TABLES = (
    "runs",
    "run_streams",
    "watermarks",
    "entities",
    "changes",
    "deliveries",
    "pending_deliveries",
)


def run_workflow(
    config: Path | LoadedConfig,
    state_path: Path | None = None,
    *,
    read_only: bool = False,
    **workflow_options: Any,
) -> RunResult:
    """Run the workflow of `config` (a workflow file, or one already loaded) once.

    The state is `state_path`, or else the config's own; `workflow_options` go to `Workflow`.
    """
    loaded = config if isinstance(config, LoadedConfig) else configs.load(config)
    store = open_state(state_path or loaded.state_path, read_only=read_only)
    try:
        return Workflow(loaded, store, **workflow_options).run()
    finally:
        store.close()


def query_state(path: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of a read-only query on the state file at `path`, as a user auditing it would see."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()
