"""Finding the workflow files of a folder, for the DAG factory; no Airflow here.

A workflow file is a YAML file whose top level has a `workflow:` key. Each is validated for its
shape only: secrets are not resolved and no server is reached, since Airflow parses DAG files
often and in a process that is not the one that runs the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from syncer import config as configs
from syncer import yamlfile
from syncer.errors import ConfigError

OnError = Literal["raise", "skip"]  # a broken workflow file: fail the DAG file, or log and skip
YAML_SUFFIXES = frozenset({".yaml", ".yml"})
log = structlog.get_logger("syncer.airflow")


@dataclass(frozen=True, slots=True)
class WorkflowFile:
    path: Path
    spec: configs.WorkflowConfig


def find_workflows(folder: Path, *, on_error: OnError = "raise") -> list[WorkflowFile]:
    """The workflow files under `folder` (recursively), in path order. Two files naming the same
    workflow are an error: they would be one DAG, and one workflow in a state file."""
    if not folder.is_dir():
        raise ConfigError(
            f"{folder}: no such folder; pass the folder that holds the workflow files"
        )
    found: dict[str, WorkflowFile] = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()):
        try:
            workflow = _read(path)
            if workflow is not None:
                _check_unique(workflow, found)
                found[workflow.spec.workflow] = workflow
        except ConfigError as exc:
            if on_error == "raise":
                raise
            log.error("skipped a workflow file", error=str(exc))
    return list(found.values())


def _read(path: Path) -> WorkflowFile | None:
    raw = yamlfile.read(path)
    if not isinstance(raw, dict) or "workflow" not in raw:
        return None  # another YAML file: not ours
    return WorkflowFile(path, configs.parse(path, raw))


def _check_unique(workflow: WorkflowFile, found: dict[str, WorkflowFile]) -> None:
    other = found.get(workflow.spec.workflow)
    if other is not None:
        raise ConfigError(
            f"{workflow.path}: workflow: {workflow.spec.workflow!r} is also the workflow of "
            f"{other.path}; give each workflow file its own `workflow` name"
        )
