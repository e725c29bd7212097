"""syncer installs one import name, `syncer`: its storage layer and connectors are
`syncer.state` and `syncer.connectors`, so a module called `state` or `connectors` beside it
(an Airflow DAG folder, a user's script) is neither shadowed nor taken for ours."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOP_LEVEL = {"state", "connectors"}  # the repository's folders, installed under syncer.


def test_syncer_works_beside_modules_called_state_and_connectors(tmp_path: Path) -> None:
    for name in TOP_LEVEL:
        (tmp_path / f"{name}.py").write_text("THE_USERS_OWN = True\n")
    probe = (
        "import state, connectors\n"
        "assert state.THE_USERS_OWN and connectors.THE_USERS_OWN\n"
        "from syncer.cli import cli\n"
        "from syncer.state import StateStore\n"
        "from syncer import plugins\n"
        "from syncer.steps import Source\n"
        "print(plugins.load('sources', 'sql', Source).__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "syncer.connectors.sql.source"


def test_no_code_imports_the_folders_by_their_top_level_names() -> None:
    offending = []
    for folder in ("syncer", "state", "connectors", "tests", "bench", "scripts"):
        for path in (REPO / folder).rglob("*.py"):
            if path.is_relative_to(REPO / "syncer" / "state") or path.is_relative_to(
                REPO / "syncer" / "connectors"
            ):
                continue  # the links: their files are walked under state/ and connectors/
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module]
                    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                    else []
                )
                offending += [
                    f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in TOP_LEVEL
                ]
    assert offending == []
