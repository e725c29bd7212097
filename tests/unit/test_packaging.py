"""What users install: the distribution's name (`syncer` on PyPI is an unrelated project), the
install hints that name it, the licence, and the container recipe's essentials. The image itself
is built by `make image`, not here: too slow for every test run."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

import syncer
from syncer.cli import cli
from syncer.state import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# `pip install syncer`, `pip install 'syncer[mysql]'`: the other project's name.
OLD_NAME = re.compile(r"""pip install ['"]?syncer\b""")


def test_the_version_is_that_of_the_installed_metadata_syncer_distribution() -> None:
    assert PROJECT["name"] == syncer.DISTRIBUTION == "metadata-syncer"
    assert syncer.__version__ == version("metadata-syncer")


def test_the_version_option_prints_the_state_schema_too() -> None:
    done = CliRunner().invoke(cli, ["--version"])

    assert done.exit_code == 0
    assert done.output == f"syncer {syncer.__version__} (state schema {SCHEMA_VERSION})\n"


def test_an_extra_that_names_the_project_itself_uses_the_distribution_name() -> None:
    own = [
        requirement
        for requirements in PROJECT["optional-dependencies"].values()
        for requirement in requirements
        if "syncer" in requirement
    ]
    assert own and all(requirement.startswith("metadata-syncer[") for requirement in own)


def test_no_install_hint_names_the_other_project() -> None:
    files = [ROOT / "README.md", ROOT / "Dockerfile", ROOT / "Makefile", ROOT / "mkdocs.yml"]
    files += (ROOT / "docs").rglob("*.md")
    for folder in ("syncer", "connectors", "state", "examples", "scripts"):
        files += (ROOT / folder).rglob("*.py")
        files += (ROOT / folder).rglob("*.yaml")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if OLD_NAME.search(line)
    ]
    assert found == []


def test_the_license_file_is_the_one_pyproject_declares() -> None:
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text


def test_the_image_runs_syncer_unprivileged_with_the_state_on_a_volume() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "VOLUME /state" in lines
    assert lines[-2:] == ['ENTRYPOINT ["syncer"]', 'CMD ["--help"]']


def test_the_image_bakes_in_no_secret_and_its_context_leaves_local_files_out() -> None:
    recipe = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"\w*(?:PASSWORD|TOKEN|SECRET|API_?KEY)\w*\s*=", recipe, re.I) == []
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    # Everything is left out unless allowed: a .env, the venv or a state file never goes in.
    assert "*" in ignored
    assert [line for line in ignored if line.startswith("!") and "env" in line] == []
