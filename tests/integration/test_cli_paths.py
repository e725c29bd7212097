"""Where `syncer` finds the state and writes its files, whatever folder it is run from.

Relative paths in a config (`state.path`, a sink's file, a SQLite URL's file) are taken from
the config file's folder; `--state` (or `SYNCER_STATE`) from the current directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.workspace import REPO, SYNCER

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

SHOP = REPO / "examples" / "data" / "shop.sqlite"
ENTITIES = 15  # the shop database: service, database, schema, 7 tables and views, 5 edges
CONFIG = """\
workflow: shop
source:
  type: sql
  config: {url: "sqlite:///data/shop.sqlite", service_name: shop}
sinks:
  - type: duckdb
  - type: jsonl
    config: {path: out/changes.jsonl}
"""
RUNS = "select workflow, status from runs order by run_id"


class Folders:
    """`etc/` holds the config and the database it names; `home/` is another folder to run
    `syncer` from."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.etc = root / "etc"
        self.home = root / "home"
        self.env = {k: v for k, v in env.items() if not k.startswith("SYNCER_")}
        (self.etc / "data").mkdir(parents=True)
        self.home.mkdir()
        shutil.copy(SHOP, self.etc / "data" / "shop.sqlite")
        self.config = self.etc / "shop.yaml"
        self.config.write_text(CONFIG, encoding="utf-8")

    @property
    def jsonl(self) -> Path:
        return self.etc / "out" / "changes.jsonl"

    @property
    def state(self) -> Path:
        return self.etc / ".syncer" / "state.duckdb"

    def syncer(
        self, *args: str | Path, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SYNCER), *map(str, args)],
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def run(self, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
        done = self.syncer("run", *args, cwd=cwd)
        assert done.returncode == 0, f"syncer run failed:\n{done.stdout}\n{done.stderr}"
        return done


@pytest.fixture
def folders(tmp_path: Path, subprocess_env: dict[str, str]) -> Folders:
    return Folders(tmp_path, subprocess_env)


def _created_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if "created a new state file" in line]


def test_a_run_from_another_folder_finds_the_same_state_and_sends_nothing_again(
    folders: Folders,
) -> None:
    folders.run("shop.yaml", cwd=folders.etc)
    again = folders.run(folders.config, cwd=folders.home)

    assert "sink jsonl: 0 delivered" in again.stdout
    assert _created_lines(again) == []
    assert len(folders.jsonl.read_text(encoding="utf-8").splitlines()) == ENTITIES
    assert list(folders.home.iterdir()) == []  # nothing written where syncer was run from


def test_relative_paths_in_the_config_are_taken_from_its_folder(folders: Folders) -> None:
    folders.run(folders.config, cwd=folders.home)

    assert folders.state.is_file()
    assert len(folders.jsonl.read_text(encoding="utf-8").splitlines()) == ENTITIES
    assert list(folders.home.iterdir()) == []


def test_the_run_that_creates_the_state_file_says_where_and_later_runs_do_not(
    folders: Folders,
) -> None:
    console = ("--log-format", "console")
    first = folders.syncer(*console, "run", folders.config, cwd=folders.home)
    second = folders.syncer(*console, "run", folders.config, cwd=folders.home)

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert _created_lines(first) == [f"created a new state file at {folders.state}"]
    assert _created_lines(second) == []


def test_with_json_logs_the_new_state_file_is_a_json_event_naming_it(folders: Folders) -> None:
    done = folders.syncer("--log-format", "json", "run", folders.config, cwd=folders.home)

    assert done.returncode == 0, done.stderr
    [line] = _created_lines(done)
    event = json.loads(line)
    assert event["event"] == "created a new state file"
    assert event["path"] == str(folders.state)


def test_state_on_the_command_line_is_relative_to_the_current_directory(
    folders: Folders,
) -> None:
    done = folders.run(folders.config, "--state", "mine.duckdb", cwd=folders.home)

    assert (folders.home / "mine.duckdb").is_file()
    assert not folders.state.exists()
    [created] = _created_lines(done)
    assert str(folders.home / "mine.duckdb") in created


def test_a_read_command_that_finds_no_state_lists_the_state_files_there(
    folders: Folders,
) -> None:
    for name in ("pg", "demo"):
        folders.run(folders.config, "--state", f".syncer/{name}.duckdb", cwd=folders.home)

    done = folders.syncer("history", cwd=folders.home)

    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: no state file at .syncer/state.duckdb; found: .syncer/demo.duckdb, "
        ".syncer/pg.duckdb — pass --state or --config"
    )


def test_a_read_command_lists_the_state_files_beside_the_config_too(folders: Folders) -> None:
    folders.run(folders.config, "--state", folders.etc / ".syncer" / "old.duckdb", cwd=folders.home)

    done = folders.syncer("changes", "--config", folders.config, cwd=folders.home)

    assert done.returncode == 2
    assert f"no state file at {folders.state}; found: {folders.etc / '.syncer' / 'old.duckdb'}" in (
        done.stderr
    )


def test_a_read_command_with_no_state_file_anywhere_says_how_to_make_one(
    folders: Folders,
) -> None:
    done = folders.syncer("sql", "select 1", cwd=folders.home)

    assert done.returncode == 2
    assert "no state file at .syncer/state.duckdb: run `syncer run CONFIG` first" in done.stderr


def test_syncer_state_in_the_environment_stands_for_state(folders: Folders) -> None:
    mine = {"SYNCER_STATE": "mine.duckdb"}
    run = folders.syncer("run", folders.config, cwd=folders.home, env=mine)
    runs = folders.syncer("sql", RUNS, "--format", "csv", cwd=folders.home, env=mine)

    assert run.returncode == 0, run.stderr
    assert (folders.home / "mine.duckdb").is_file()
    assert runs.returncode == 0, runs.stderr
    assert runs.stdout.splitlines() == ["workflow,status", "shop,succeeded"]


def test_syncer_config_in_the_environment_stands_for_config(folders: Folders) -> None:
    folders.run(folders.config, cwd=folders.etc)

    done = folders.syncer(
        "sql", RUNS, "--format", "csv", cwd=folders.home, env={"SYNCER_CONFIG": str(folders.config)}
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["workflow,status", "shop,succeeded"]


def test_the_help_names_the_environment_variables(folders: Folders) -> None:
    top = folders.syncer("--help", cwd=folders.home).stdout
    history = folders.syncer("history", "--help", cwd=folders.home).stdout

    assert "SYNCER_LOG_FORMAT" in top and "SYNCER_LOG_LEVEL" in top
    assert "SYNCER_STATE" in history and "SYNCER_CONFIG" in history
