"""Regenerates the dbt artifacts the dbt source's tests replay, by running real dbt.

    .venv/bin/python scripts/dbt_artifacts.py

Creates `.cache/dbt-venv` with dbt-core 1.10 and dbt-duckdb (once), builds
`tests/fixtures/dbt/shop_project` on a DuckDB file under `.cache/dbt-work` and copies
`manifest.json`, `catalog.json` (`dbt docs generate`) and `run_results.json` (`dbt build`) to
`tests/fixtures/dbt/artifacts/`. Then it changes the project as a developer would (a model's
description, one more test), builds again and writes the second set to
`tests/fixtures/dbt/artifacts_v2/`. Local paths are replaced and dbt's own macros pruned, so
the committed files hold nothing of this machine and stay small.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "tests/fixtures/dbt/shop_project"
FIXTURES = REPO / "tests/fixtures/dbt"
VENV = REPO / ".cache/dbt-venv"
WORK = REPO / ".cache/dbt-work"
REQUIREMENTS = ["dbt-core~=1.10.0", "dbt-duckdb"]
# Written into the artifacts where dbt wrote this machine's paths.
PROJECT_PLACEHOLDER = "/dbt/shop_project"
REPO_PLACEHOLDER = "/dbt"


def main() -> int:
    dbt = ensure_dbt()
    if WORK.exists():
        shutil.rmtree(WORK)
    project = WORK / "shop_project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    write_profile(WORK)
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(WORK),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_VERSION_CHECK": "false",
        "DBT_PARTIAL_PARSE": "false",
        "DBT_USE_COLORS": "false",
    }
    build(dbt, project, env, FIXTURES / "artifacts")
    change_project(project)
    build(dbt, project, env, FIXTURES / "artifacts_v2")
    print(f"artifacts written to {FIXTURES / 'artifacts'} and {FIXTURES / 'artifacts_v2'}")
    return 0


def ensure_dbt() -> Path:
    """The dbt executable of `.cache/dbt-venv`, installing it there the first time."""
    dbt = VENV / "bin" / "dbt"
    if not dbt.exists():
        print(f"creating {VENV} with {' '.join(REQUIREMENTS)}")
        venv.create(VENV, with_pip=True)
        subprocess.run([str(VENV / "bin/pip"), "install", "-q", *REQUIREMENTS], check=True)
    return dbt


def write_profile(directory: Path) -> None:
    # The DuckDB file's stem is the database name dbt writes into every node: `shop`.
    database = directory / "shop.duckdb"
    (directory / "profiles.yml").write_text(
        "shop:\n"
        "  target: dev\n"
        "  outputs:\n"
        "    dev:\n"
        "      type: duckdb\n"
        f"      path: {json.dumps(str(database))}\n"
        "      threads: 1\n"
    )


def build(dbt: Path, project: Path, env: dict[str, str], out: Path) -> None:
    """`dbt build` (one test fails on purpose), then `dbt docs generate`; copy the artifacts."""
    target = project / "target"
    # A failing test makes dbt exit 1; anything else (2: dbt itself failed) stops here.
    run(dbt, project, env, ["build"], allowed={0, 1})
    run_results = json.loads((target / "run_results.json").read_text())
    # `docs generate` writes its own run_results.json (compile results), so keep build's first.
    run(dbt, project, env, ["docs", "generate"], allowed={0})
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    unlocal = _replacer(project)
    for name, artifact in (
        ("manifest.json", prune_manifest(manifest)),
        ("catalog.json", catalog),
        ("run_results.json", run_results),
    ):
        (out / name).write_text(json.dumps(unlocal(artifact), indent=1) + "\n")


def run(dbt: Path, project: Path, env: dict[str, str], args: list[str], allowed: set[int]) -> None:
    print(f"dbt {' '.join(args)}")
    done = subprocess.run([str(dbt), *args], cwd=project, env=env, check=False)
    if done.returncode not in allowed:
        sys.exit(f"dbt {' '.join(args)} exited {done.returncode}; see its output above")


def change_project(project: Path) -> None:
    """What a developer might change between two builds: a description, one more test."""
    _edit(
        project / "models/staging/staging.yml",
        "    description: Orders, cleaned.\n",
        "    description: Orders, cleaned; one row per order placed in the shop.\n",
    )
    _edit(
        project / "models/marts/marts.yml",
        "      - name: amount\n        description: Total paid, in the shop's currency.\n",
        "      - name: amount\n        description: Total paid, in the shop's currency.\n"
        "      - name: order_date\n        data_tests: [not_null]\n",
    )


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        sys.exit(f"{path}: cannot apply the second build's change; update change_project()")
    path.write_text(text.replace(old, new, 1))


def prune_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without dbt's and the adapter's own macros and docs (90% of its size);
    the source does not read them."""
    project = manifest["metadata"]["project_name"]
    for key in ("macros", "docs"):
        manifest[key] = {
            uid: item for uid, item in manifest[key].items() if item.get("package_name") == project
        }
    return manifest


def _replacer(project: Path) -> Callable[[Any], Any]:
    """Replaces this machine's paths in every string of an artifact with placeholders."""
    swaps = [(str(project), PROJECT_PLACEHOLDER), (str(REPO), REPO_PLACEHOLDER)]

    def unlocal(value: Any) -> Any:
        if isinstance(value, str):
            for old, new in swaps:
                value = value.replace(old, new)
            return value
        if isinstance(value, dict):
            return {k: unlocal(v) for k, v in value.items()}
        if isinstance(value, list):
            return [unlocal(v) for v in value]
        return value

    return unlocal


if __name__ == "__main__":
    sys.exit(main())
