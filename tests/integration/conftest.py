"""What the command-line tests share: a workspace to run `syncer` in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.workspace import Workspace, catalog


@pytest.fixture
def workspace(tmp_path: Path, subprocess_env: dict[str, str]) -> Workspace:
    """A workspace with five tables and a workflow that syncs them to the catalog and JSONL
    (test modules that need another source override it)."""
    ws = Workspace(tmp_path, subprocess_env)
    ws.write_source(catalog(5))
    ws.write_config()
    return ws
