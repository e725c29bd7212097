"""`state/` (installed as `syncer.state`) is a storage layer below the engine: it must not reach
up into the rest of `syncer` (or into the connectors), or the engine's models would leak back
into SQL about rows."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from syncer import state

STATE = Path(state.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement is (functions and
    TYPE_CHECKING blocks too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _ours_above_state(module: str) -> bool:
    return module.split(".")[0] == "syncer" and not module.startswith("syncer.state")


def test_the_state_package_imports_nothing_from_the_engine_or_connectors() -> None:
    modules = sorted(STATE.rglob("*.py"))
    offending = {
        f"{path.relative_to(STATE)} imports {name}"
        for path in modules
        for name in imported_modules(path)
        if _ours_above_state(name)
    }

    assert len(modules) > 5  # the walk found the package
    assert offending == set()


def _loaded_after(imports: str, kept: str) -> str:
    """The modules a fresh interpreter has loaded after `imports`, those whose name `m` passes
    the expression `kept`, as a printed sorted list."""
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {imports}; print(sorted(m for m in sys.modules if {kept}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def test_importing_the_state_package_loads_no_engine_or_connector_module() -> None:
    loaded = _loaded_after(
        "syncer.state, syncer.state.spool",
        "m.startswith('syncer.') and not m.startswith('syncer.state')",
    )
    assert loaded == "[]"


def test_a_run_imports_no_pyarrow() -> None:
    # pyarrow costs a run about 40 MB of peak memory; the store hands DuckDB plain lists.
    loaded = _loaded_after(
        "syncer.cli.runs, syncer.state, syncer.sinks.duckdb_catalog",
        "m.split('.')[0] == 'pyarrow'",
    )
    assert loaded == "[]"
