"""The docs site builds strictly (a broken link, a page left out of the nav, an unknown anchor
or config marker fails it), its generated parts cover the code, and the README's links land."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from mkdocs.exceptions import PluginError

from syncer.cli.app import COMMANDS

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def load_hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("syncer_docs_hooks", DOCS / "hooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}{done.stderr}"
    return out


def test_the_site_builds_strictly_and_every_page_is_built(site: Path) -> None:
    pages = [path.relative_to(DOCS) for path in DOCS.rglob("*.md")]
    missing = [
        str(page)
        for page in pages
        if not (site / page.with_suffix("") / "index.html").is_file()
        and not (site / page.parent / "index.html").is_file()
    ]
    assert len(pages) > 40 and missing == []


def test_the_cli_reference_documents_every_command_the_group_loads_lazily(site: Path) -> None:
    page = (site / "reference" / "cli" / "index.html").read_text()
    documented = set(re.findall(r'id="syncer-([a-z-]+)"', page))
    assert set(COMMANDS) - documented == set()
    assert "Sentinel" not in page  # click's marker for "no default", never shown by --help


def test_no_config_marker_is_left_in_the_built_site(site: Path) -> None:
    stale = [
        str(path.relative_to(site))
        for path in site.rglob("*.html")
        if "<!-- syncer-config" in path.read_text()
    ]
    assert stale == []


def test_the_changelog_page_includes_the_changelog_as_it_is(site: Path) -> None:
    page = (site / "changelog" / "index.html").read_text()
    assert "Unreleased" in page and "--8&lt;--" not in page


def test_a_marker_becomes_the_steps_key_table_with_its_secrets_marked() -> None:
    hooks = load_hooks()

    table = hooks.replace_markers("Keys:\n\n<!-- syncer-config: sinks/webhook -->\n", "p.md")

    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if "| `" in line}
    assert "`url`" in rows and "`secret`" in rows
    assert rows["`secret`"].rstrip(" |").endswith("yes")
    assert not rows["`url`"].rstrip(" |").endswith("yes")


def test_the_workflow_marker_lists_the_workflow_files_own_keys() -> None:
    table = load_hooks().replace_markers("<!-- syncer-config: workflow -->", "p.md")

    for key in ("workflow", "source.type", "state.path", "deletions.fail_safe_percent"):
        assert f"| `{key}` |" in table


@pytest.mark.parametrize(
    "marker",
    [
        "<!-- syncer-config: sources/no_such_source -->",
        "<!-- syncer-config: widgets/sql -->",
        "<!-- syncer-config sources/sql -->",
    ],
)
def test_a_marker_that_names_no_step_fails_the_build_naming_the_page(marker: str) -> None:
    with pytest.raises(PluginError, match=r"^how-to/example\.md: "):
        load_hooks().replace_markers(f"text\n\n{marker}\n", "how-to/example.md")


def test_a_marker_shown_in_a_code_block_is_left_as_it_is() -> None:
    page = "Mark a page:\n\n```markdown\n<!-- syncer-config: sources/my_api -->\n```\n"

    assert load_hooks().replace_markers(page, "extending/write-a-connector.md") == page


def test_a_pipe_stays_inside_its_cell_in_text_and_in_code() -> None:
    cell = load_hooks()._cell("skip | delete, or `a | b`\nacross lines")

    assert cell == "skip \\| delete, or `a | b` across lines"


def test_every_relative_link_of_the_readme_points_to_a_file() -> None:
    readme = (REPO / "README.md").read_text()
    links = re.findall(r"\]\((?!https?://|#|mailto:)([^)#\s]+)", readme)
    missing = [link for link in links if not (REPO / link).exists()]
    assert links and missing == []
