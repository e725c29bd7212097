"""A throw-away syncer workspace for end-to-end tests: a source file, a workflow YAML, and the
`syncer` command line run as a subprocess inside it.

Everything a workspace writes (state file, JSONL output) stays under its own directory, so two
workspaces can be compared file by file: that is how the crash tests check a killed-and-resumed
run against a clean one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from tests.support.runs import query_state

SYNCER = Path(sys.executable).with_name("syncer")
REPO = Path(__file__).resolve().parents[2]
FILE_SOURCE = "tests.support.sources:FileSource"
DOUBLES = "tests.support.step_doubles"
SERVICE = "warehouse"
DATABASE = f"{SERVICE}.analytics"


def syncer_env() -> dict[str, str]:
    """The environment for a `syncer` subprocess that can import the test helpers."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


# --- source documents -------------------------------------------------------------------------


def catalog(tables: int, *, schemas: int = 4, columns: int = 3, note: str = "") -> dict[str, Any]:
    """A FileSource document: one service, one database, `schemas` schemas, `tables` tables.

    `note` goes into every table's description, so a second document with another note
    updates every table.
    """
    schema_names = [f"s{i}" for i in range(schemas)]
    return {
        "streams": [
            _stream("services", "databaseService", [{"name": SERVICE, "serviceType": "Mysql"}]),
            _stream("databases", "database", [{"name": "analytics", "service": SERVICE}]),
            _stream(
                "schemas",
                "databaseSchema",
                [{"name": s, "database": DATABASE} for s in schema_names],
            ),
            _stream(
                "tables",
                "table",
                [
                    _table(i, f"{DATABASE}.{schema_names[i % schemas]}", columns, note)
                    for i in range(tables)
                ],
            ),
        ]
    }


def unreadable(message: str) -> dict[str, Any]:
    """A FileSource document whose one stream, `tables`, fails outright with `message`.

    `{password}` in `message` becomes the source's configured password.
    """
    return {"streams": [_stream("tables", "table", [{"raise": message}])]}


def _stream(name: str, entity_type: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "entity_type": entity_type, "records": records}


def _table(i: int, schema_fqn: str, columns: int, note: str) -> dict[str, Any]:
    return {
        "name": f"t{i:06d}",
        "databaseSchema": schema_fqn,
        "description": f"table {i}{note}",
        "columns": [
            {"name": f"c{j}", "dataType": "INT" if j == 0 else "VARCHAR", "ordinalPosition": j + 1}
            for j in range(columns)
        ],
    }


# --- the workspace ----------------------------------------------------------------------------


@dataclass
class Workspace:
    """A directory holding `source.json`, `workflow.yaml`, `state.duckdb` and `out.jsonl`."""

    root: Path
    env: dict[str, str]
    workflow: str = "shop"
    source_config: dict[str, Any] = field(default_factory=dict)
    source_type: str = FILE_SOURCE

    @property
    def config(self) -> Path:
        return self.root / "workflow.yaml"

    @property
    def source(self) -> Path:
        return self.root / "source.json"

    @property
    def state(self) -> Path:
        return self.root / "state.duckdb"

    @property
    def jsonl(self) -> Path:
        return self.root / "out.jsonl"

    def write_source(self, document: dict[str, Any]) -> None:
        self.source.write_bytes(orjson.dumps(document))

    def write_config(self, **overrides: Any) -> Path:
        """The workflow YAML: FileSource into the DuckDB catalog and a JSONL file."""
        spec: dict[str, Any] = {
            "workflow": self.workflow,
            "source": {
                "type": self.source_type,
                "config": {"path": str(self.source), **self.source_config},
            },
            "sinks": [{"type": "duckdb"}, {"type": "jsonl", "config": {"path": str(self.jsonl)}}],
            "state": {"path": str(self.state)},
        }
        spec.update(overrides)
        self.config.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        return self.config

    # --- running syncer -----------------------------------------------------------------------

    def syncer(
        self,
        *args: str | Path,
        timeout: float = 120,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `syncer ARGS` in the workspace (or in `cwd`); never raises on a non-zero exit."""
        return subprocess.run(
            [str(SYNCER), *map(str, args)],
            cwd=cwd or self.root,
            env=env or self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(self, *extra: str | Path) -> subprocess.CompletedProcess[str]:
        """`syncer run workflow.yaml`, asserting that it succeeded."""
        done = self.syncer("run", self.config, *extra)
        assert done.returncode == 0, f"syncer run failed:\n{done.stdout}\n{done.stderr}"
        return done

    @property
    def log(self) -> Path:
        return self.root / "stderr.log"

    def spawn(self, *args: str | Path) -> subprocess.Popen[bytes]:
        """Start `syncer ARGS` in the background, its JSON log lines going to `self.log`."""
        with self.log.open("wb") as log:
            return subprocess.Popen(
                [str(SYNCER), "--log-format", "json", "--log-level", "info", *map(str, args)],
                cwd=self.root,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def logged(self, event: str) -> bool:
        """Whether the spawned process has logged `event` (a substring of a log line)."""
        return self.log.exists() and event.encode() in self.log.read_bytes()

    def jsonl_size(self) -> int:
        return self.jsonl.stat().st_size if self.jsonl.exists() else 0

    def kill_when(
        self, process: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 60
    ) -> bool:
        """SIGKILL `process` once `ready()` holds; False if it had ended on its own first."""
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            if ready():
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.005)
        if process.poll() is None:
            process.kill()
            process.wait()
            raise AssertionError(f"the run never reached the kill point in {timeout} s")
        return False

    # --- what a user would look at ------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the state file."""
        return query_state(self.state, sql, params)

    def outcome(self) -> dict[str, Any]:
        """What a run leaves behind, free of run ids and timestamps, for comparing two runs."""
        return {
            "current_entities": self.query(
                "SELECT fqn, fingerprint FROM current_entities ORDER BY fqn"
            ),
            "change_log": self.query(
                "SELECT c.fqn, c.kind, e.fingerprint FROM change_log c "
                "JOIN changes e USING (seq) ORDER BY seq"
            ),
            "catalog.entities": self.query(
                "SELECT entity_type, fqn, name, fingerprint, payload::VARCHAR "
                "FROM catalog.entities ORDER BY ALL"
            ),
            "catalog.columns": self.query(
                'SELECT table_fqn, name, ordinal_position, data_type, "constraint" '
                "FROM catalog.columns ORDER BY ALL"
            ),
            "jsonl": self.jsonl_lines(),
        }

    def jsonl_lines(self) -> list[dict[str, Any]]:
        """The JSONL output, one dict per line, without the run id (it differs between runs) and
        the state file's id (it differs between workspaces)."""
        if not self.jsonl.exists():
            return []
        lines = []
        for raw in self.jsonl.read_bytes().splitlines():
            line = orjson.loads(raw)
            line.pop("runId")
            line.pop("state")
            lines.append(line)
        return lines

    def run_statuses(self) -> list[str]:
        return [row[0] for row in self.query("SELECT status FROM runs ORDER BY run_id")]
