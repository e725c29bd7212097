"""`syncer schema`, `syncer connectors NAME` and `syncer validate`, as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.workspace import REPO, SYNCER, syncer_env

PUBLISHED = REPO / "syncer" / "schemas" / "workflow.schema.json"
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)


def workflow_files() -> list[Path]:
    """The example files that are workflows (a top-level `workflow:`), not other YAML."""
    found = []
    for path in sorted([*(REPO / "examples").rglob("*.yaml"), *(REPO / "examples").rglob("*.yml")]):
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        if len(documents) == 1 and isinstance(documents[0], dict) and "workflow" in documents[0]:
            found.append(path)
    return found


EXAMPLES = workflow_files()


def syncer(
    *args: str | Path, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SYNCER), *map(str, args)],
        env={**syncer_env(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write(tmp_path: Path, content: dict[str, Any], name: str = "workflow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return path


def sql_workflow(**settings: Any) -> dict[str, Any]:
    return {
        "workflow": "shop",
        "source": {"type": "sql", "config": {"url": "sqlite:///shop.sqlite", **settings}},
        "sinks": [{"type": "jsonl", "config": {"path": "out/changes.jsonl"}}],
    }


# --- syncer schema ------------------------------------------------------------------------------


def test_schema_prints_the_workflow_files_json_schema_with_a_branch_per_step() -> None:
    done = syncer("schema")

    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(printed)
    types = [b["properties"]["type"].get("const") for b in printed["properties"]["source"]["oneOf"]]
    assert {"sql", "dbt", "mlflow", "airflow", "rest"} <= set(types)


def test_schema_of_one_step_is_named_with_its_kind_or_alone() -> None:
    by_kind = syncer("schema", "sources/sql")
    alone = syncer("schema", "sql")

    assert by_kind.returncode == alone.returncode == 0, by_kind.stderr + alone.stderr
    assert json.loads(by_kind.stdout) == json.loads(alone.stdout)
    assert json.loads(alone.stdout)["required"] == ["url"]


def test_schema_of_a_step_that_is_not_installed_says_what_is() -> None:
    done = syncer("schema", "snowflake")

    assert done.returncode == 2
    assert "no installed step is named 'snowflake'; installed are sources/airflow" in done.stderr
    assert done.stderr.count("\n") == 1


def test_schema_of_an_unknown_kind_says_how_to_name_one() -> None:
    done = syncer("schema", "targets/sql")

    assert done.returncode == 2
    assert "write sources/NAME, processors/NAME or sinks/NAME" in done.stderr


# --- syncer connectors ----------------------------------------------------------------------------


def test_connectors_with_a_name_lists_its_keys_with_type_default_and_description() -> None:
    done = syncer("connectors", "sql")

    assert done.returncode == 0, done.stderr
    first = {line.split()[1]: line for line in done.stdout.splitlines() if line.startswith("│")}
    assert "required" in first["url"]
    assert "integer" in first["concurrency"] and "2" in first["concurrency"]
    assert "Derive lineage from view definitions." in done.stdout


def test_connectors_as_json_marks_the_secret_keys() -> None:
    done = syncer("connectors", "sinks/openmetadata", "--format", "json")

    assert done.returncode == 0, done.stderr
    keys = {key["name"]: key for key in json.loads(done.stdout)}
    assert keys["token"]["secret"] is True
    assert keys["server"] == {
        "name": "server",
        "type": "URL",
        "default": None,
        "required": True,
        "description": "The API base, e.g. https://openmetadata.example.com/api.",
        "secret": False,
    }


def test_connectors_without_a_name_lists_the_installed_steps_as_json_too() -> None:
    done = syncer("connectors", "--format", "json")

    assert done.returncode == 0, done.stderr
    listed = {(step["kind"], step["name"]) for step in json.loads(done.stdout)}
    assert {("source", "sql"), ("processor", "pii"), ("sink", "webhook")} <= listed


# --- syncer validate ------------------------------------------------------------------------------


def test_validate_passes_a_config_whose_secrets_are_not_set_here(tmp_path: Path) -> None:
    config = sql_workflow(
        url="postgresql+psycopg://syncer:${env:NOT_SET_HERE}@db:5432/sales",
        concurrency="${env:SQL_CONCURRENCY}",  # a number, once the variable is read
    )
    config["sinks"].append(
        {"type": "openmetadata", "config": {"server": "${env:OM_URL}", "token": "${env:OM_TOKEN}"}}
    )
    unset = ("NOT_SET_HERE", "SQL_CONCURRENCY", "OM_URL", "OM_TOKEN")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    path = write(tmp_path, config)

    done = subprocess.run(
        [str(SYNCER), "validate", str(path)],
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{path}: valid (workflow shop)\n"
    assert not (tmp_path / ".syncer").exists()  # no state file, nothing run


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            sql_workflow(colour="red"),
            "source.config.colour: unknown key; remove it or check its spelling",
        ),
        (sql_workflow(concurrency="many"), "source.config.concurrency: Input should be a valid"),
        (
            {**sql_workflow(), "source": {"type": "sqll"}},
            "source.type: unknown source type 'sqll': installed are airflow, dbt",
        ),
        (
            {
                **sql_workflow(),
                "sinks": [
                    {"type": "openmetadata", "config": {"server": "http://h/api", "token": "x1"}}
                ],
            },
            "sinks.0.config.token: a credential must not be written in the file; use ${env:NAME}",
        ),
        ({"workflow": "shop"}, "source: required key is missing"),
    ],
    ids=["unknown key", "wrong type", "unknown step type", "literal token", "no source"],
)
def test_validate_refuses_a_bad_config_with_the_message_a_run_gives(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    path = write(tmp_path, config)

    checked = syncer("validate", path)
    ran = syncer("run", path, cwd=tmp_path)

    assert checked.returncode == ran.returncode == 2
    assert f"error: {path}: " in checked.stderr
    assert message in checked.stderr
    assert checked.stderr.strip() in ran.stderr
    assert "x1" not in checked.stderr


def test_validate_checks_every_config_given_and_names_each_bad_one(tmp_path: Path) -> None:
    good = write(tmp_path, sql_workflow(), "good.yaml")
    bad = write(tmp_path, sql_workflow(colour="red"), "bad.yaml")

    done = syncer("validate", bad, good)

    assert done.returncode == 2
    assert done.stdout == f"{good}: valid (workflow shop)\n"
    assert done.stderr.startswith(f"error: {bad}: source.config.colour")


# --- the examples ---------------------------------------------------------------------------------


def test_the_examples_are_found() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(REPO)) for p in EXAMPLES])
def test_an_example_workflow_validates_against_the_published_schema(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    validator = jsonschema.Draft202012Validator(json.loads(PUBLISHED.read_text(encoding="utf-8")))

    problems = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(yaml.safe_load(text))]

    assert problems == []
    pointer = SCHEMA_LINE.search(text)
    if pointer is not None:  # the editor's schema is the published one
        assert (path.parent / pointer.group(1)).resolve() == PUBLISHED.resolve()


def test_syncer_validate_passes_every_example_workflow() -> None:
    done = syncer("validate", *EXAMPLES)

    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": valid (workflow ") == len(EXAMPLES)
