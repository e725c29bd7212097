"""`SyncerRunOperator`: one syncer workflow run as an Airflow task (Airflow 3).

The task returns the run's document (`syncer run --format json`'s), which Airflow keeps as the
task's XCom `return_value`; a failed run, or a partial one unless `allow_partial`, fails the
task with that document still in XCom. Airflow's own retries re-run the workflow, and the state
makes a re-run send only what the failed try did not: nothing is lost or sent twice. A bad
config fails the task without retries, since every try would meet it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, Context

try:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 3.0 keeps them in airflow.exceptions only
    from airflow.exceptions import AirflowException, AirflowFailException

from syncer.airflow.runner import RunReport, RunRequest, run_in_process, run_in_subprocess
from syncer.airflow.spec import RunMode
from syncer.errors import ConfigError

MODES: tuple[RunMode, ...] = ("process", "subprocess")


class SyncerRunOperator(BaseOperator):
    """Runs the workflow of the file `config`, with the state file `state` (default: the
    config's `state.path`), in the worker's process or (`mode="subprocess"`) as `syncer run`."""

    template_fields: Sequence[str] = ("config", "state")
    ui_color = "#dbe9f6"

    def __init__(
        self,
        *,
        config: str | os.PathLike[str],
        state: str | os.PathLike[str] | None = None,
        full_refresh: bool = False,
        allow_partial: bool = False,
        mode: RunMode = "process",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ConfigError(
                f"SyncerRunOperator {kwargs.get('task_id')}: mode {mode!r} is not one of "
                f"{', '.join(MODES)}; choose one of them"
            )
        self.config = os.fspath(config)
        self.state = None if state is None else os.fspath(state)
        self.full_refresh = full_refresh
        self.allow_partial = allow_partial
        self.mode = mode
        self._child: subprocess.Popen[str] | None = None

    def execute(self, context: Context) -> dict[str, Any] | None:
        request = RunRequest(
            Path(self.config),
            None if self.state is None else Path(self.state),
            full_refresh=self.full_refresh,
            allow_partial=self.allow_partial,
        )
        if self.mode == "process":
            report = run_in_process(request)
        else:
            report = run_in_subprocess(request, started=self._remember)
        self._log_summary(report)
        if report.ok:
            return report.document
        if report.document is not None:
            # What a failed run did is as useful as what a good one did: kept for whoever looks.
            context["ti"].xcom_push(key="return_value", value=report.document)
        failure = AirflowException if report.retryable else AirflowFailException
        raise failure(report.failure(self.config))

    def on_kill(self) -> None:
        # SIGTERM, as `timeout` or Kubernetes would: the run ends `interrupted`, batches kept.
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()

    def _remember(self, child: subprocess.Popen[str]) -> None:
        self._child = child

    def _log_summary(self, report: RunReport) -> None:
        if report.document is None:
            return
        total = report.document.get("total", {})
        counts = ", ".join(f"{name} {value}" for name, value in total.items())
        self.log.info(
            "syncer run %s of workflow %s: %s (%s)",
            report.document.get("run_id"),
            report.document.get("workflow"),
            report.document.get("status"),
            counts,
        )
