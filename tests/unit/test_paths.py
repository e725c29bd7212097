"""Relative paths in a config are taken from the config file's folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, field_validator

from syncer.connectors.dbt.config import DbtConfig
from syncer.paths import ConfigPath, context_for, database_url_beside_config

CONFIG = Path("/etc/syncer/pg.yaml")


class Paths(BaseModel):
    file: ConfigPath | None = None
    url: str = "postgresql://db/app"

    _url_file = field_validator("url")(database_url_beside_config)


def _validated(**values: str) -> Paths:
    return Paths.model_validate(values, context=context_for(CONFIG))


def test_a_relative_file_is_taken_from_the_config_folder() -> None:
    assert _validated(file="out/changes.jsonl").file == Path("/etc/syncer/out/changes.jsonl")
    assert _validated(file="../state/x.duckdb").file == Path("/etc/state/x.duckdb")


def test_an_absolute_file_or_one_under_home_is_kept() -> None:
    assert _validated(file="/var/lib/x.duckdb").file == Path("/var/lib/x.duckdb")
    assert _validated(file="~/x.duckdb").file == Path.home() / "x.duckdb"


def test_a_config_relative_to_the_current_directory_names_its_folder_absolutely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    checked = Paths.model_validate({"file": "x.jsonl"}, context=context_for(Path("conf/w.yaml")))
    assert checked.file == tmp_path / "conf" / "x.jsonl"


def test_without_a_config_a_relative_path_is_left_as_written() -> None:
    assert Paths.model_validate({"file": "x.jsonl"}).file == Path("x.jsonl")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/shop.sqlite", "sqlite:////etc/syncer/data/shop.sqlite"),
        (
            "duckdb:///wh.duckdb?access_mode=read_only",
            "duckdb:////etc/syncer/wh.duckdb?access_mode=read_only",
        ),
        ("sqlite:////srv/shop.sqlite", "sqlite:////srv/shop.sqlite"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("duckdb:///md:analytics", "duckdb:///md:analytics"),
        ("postgresql://u:p@db:5432/app", "postgresql://u:p@db:5432/app"),
    ],
)
def test_only_a_file_databases_relative_file_is_taken_from_the_config_folder(
    url: str, expected: str
) -> None:
    assert _validated(url=url).url == expected


def test_a_dbt_folder_is_taken_from_the_config_folder_and_a_url_is_not() -> None:
    def path_of(value: str) -> str:
        config = DbtConfig.model_validate(
            {"path": value, "service_name": "wh"}, context=context_for(CONFIG)
        )
        return config.path

    assert path_of("target") == "/etc/syncer/target"
    assert path_of("https://ci.example.com/dbt/target/") == "https://ci.example.com/dbt/target/"
