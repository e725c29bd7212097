"""Running one workflow for an Airflow task, in the worker's process or as a `syncer run`
subprocess, and telling how it ended; no Airflow here.

Both ways end in a `RunReport`: the run's document (`syncer/schemas/run.schema.json`, what
`syncer run --format json` prints), its exit code by the CLI's rules (`syncer.results.outcome`),
and whether another try can help. Secrets never reach the report: syncer masks them in the
document and in its error messages, and the in-process run masks them once more here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncer import config as configs
from syncer import metrics
from syncer.errors import Expected, StateLockedError
from syncer.results import outcome, run_document
from syncer.secrets import redact
from syncer.statefile import open_state
from syncer.workflow import Workflow

# `syncer run` as this interpreter runs it: the same syncer as the worker's, whatever PATH says.
SYNCER = (sys.executable, "-c", "from syncer.cli import main; main()")
CONFIG_EXIT_CODE = 2  # a bad config or state file: the same on every try
LOCKED = "is in use by another process"
PARTIAL = (
    "records failed, or a sink did not take every change (see the run's warnings and "
    "deliveries); allow_partial=True lets such a run pass"
)  # StateLockedError's message: another try may find it free


@dataclass(frozen=True, slots=True)
class RunReport:
    """How a run ended. `document` is None when the run never started (a bad config)."""

    exit_code: int
    document: dict[str, Any] | None
    error: str | None = None  # one line: why the exit code is not 0
    retryable: bool = True

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def failure(self, config: str) -> str:
        """One line for the failed task: what ended how, and why."""
        status = self.document["status"] if self.document else "did not start"
        why = self.error or (self.document or {}).get("error") or f"exit {self.exit_code}"
        if status == "partial":
            why = PARTIAL
        return f"syncer run {config}: {status} (exit {self.exit_code}): {why}"


@dataclass(frozen=True, slots=True)
class RunRequest:
    config: Path
    state: Path | None = None
    full_refresh: bool = False
    allow_partial: bool = False

    def arguments(self) -> list[str]:
        """`syncer run`'s arguments for this request."""
        args = ["run", str(self.config), "--format", "json"]
        if self.state is not None:
            args += ["--state", str(self.state)]
        if self.full_refresh:
            args.append("--full-refresh")
        if self.allow_partial:
            args.append("--allow-partial")
        return args


def run_in_process(request: RunRequest) -> RunReport:
    """The run as `syncer run` does it, in this process: load, open the state, run, report."""
    started_at = time.time()
    try:
        loaded = configs.load(request.config, state_override=request.state)
        store = open_state(loaded.state_path, memory_limit=loaded.spec.state.memory_limit)
        try:
            result = Workflow(loaded, store, full_refresh=request.full_refresh).run()
        finally:
            store.close()
    except Expected as exc:
        retryable = exc.exit_code != CONFIG_EXIT_CODE or isinstance(exc, StateLockedError)
        return RunReport(exc.exit_code, None, redact(str(exc)), retryable=retryable)
    name = loaded.spec.workflow
    ended = outcome(result, allow_partial=request.allow_partial)
    document = run_document(
        result,
        name,
        exit_code=ended.exit_code,
        started_at=datetime.fromtimestamp(started_at, UTC),
        ended_at=datetime.now(UTC),
    )
    metrics.publish(loaded.spec.metrics, name, result, started_at)
    return RunReport(ended.exit_code, _masked(document), ended.reason)


def run_in_subprocess(
    request: RunRequest, started: Callable[[subprocess.Popen[str]], None] | None = None
) -> RunReport:
    """The run as `syncer run --format json` in a child process, whose stderr (its log, masked
    by the child) is passed on to this process's stderr; `started` is told the child, so that a
    killed task can stop it (SIGTERM: the run ends `interrupted`, its batches kept)."""
    child = subprocess.Popen(
        [*SYNCER, *request.arguments()], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if started is not None:
        started(child)
    stdout, stderr = child.communicate()
    sys.stderr.write(stderr)
    document = _last_document(stdout)
    code = child.returncode
    error = None if code == 0 else _last_line(stderr)
    return RunReport(code, document, error, retryable=_retryable(code, stderr))


def _retryable(exit_code: int, stderr: str) -> bool:
    # Exit 2 is a config or state file that another try would find the same, but a state file
    # held by another run (a try that Airflow lost track of) may be free next time.
    return exit_code != CONFIG_EXIT_CODE or LOCKED in stderr


def _last_document(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                document = json.loads(line)
            except ValueError:
                return None
            return document if isinstance(document, dict) else None
    return None


def _last_line(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else None


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value
