"""The dbt source's config, as a user writing a workflow file meets it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from syncer import config as configs
from syncer.connectors.dbt import DbtConfig, DbtSource
from syncer.errors import ConfigError


def _load(tmp_path: Path, source_config: dict[str, Any]) -> configs.LoadedConfig:
    path = tmp_path / "workflow.yaml"
    path.write_text(
        yaml.safe_dump({"workflow": "dbt", "source": {"type": "dbt", "config": source_config}})
    )
    return configs.load(path)


def test_a_folder_and_a_service_are_all_it_needs(tmp_path: Path) -> None:
    loaded = _load(tmp_path, {"path": "target", "service_name": "warehouse"})
    assert isinstance(loaded.source, DbtSource)
    config = loaded.source.config
    assert isinstance(config, DbtConfig)
    assert (config.column_lineage, config.tag_classification, config.is_url) == (
        True,
        "dbtTags",
        False,
    )


def test_the_service_name_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"source\.config\.service_name: required key"):
        _load(tmp_path, {"path": "target"})


def test_a_url_other_than_http_is_refused_with_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, {"path": "s3://bucket/target", "service_name": "warehouse"})
    assert "source.config.path: s3:// is not read; give a local folder or an http(s)://" in str(
        caught.value
    )


def test_an_https_url_is_read_over_http(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path, {"path": "https://artifacts.example.com/shop/target/", "service_name": "w"}
    )
    assert isinstance(loaded.source.config, DbtConfig) and loaded.source.config.is_url
