"""The airflow source's config: defaults, and mistakes named by their key when the file loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from syncer import config as configs
from syncer.connectors.airflow import AirflowConfig
from syncer.errors import ConfigError


def _load(tmp: Path, **config: Any) -> configs.LoadedConfig:
    path = tmp / "workflow.yaml"
    source = {"type": "airflow", "config": {"host": "http://airflow.invalid:8080", **config}}
    path.write_text(yaml.safe_dump({"workflow": "w", "source": source}))
    return configs.load(path)


def test_a_host_is_all_it_takes() -> None:
    config = AirflowConfig.model_validate({"host": "http://airflow.internal:8080/"})
    assert config.base_url == "http://airflow.internal:8080"
    assert config.links_base == "http://airflow.internal:8080"
    assert (config.api_version, config.service_name, config.page_size) == ("auto", "airflow", 100)
    assert config.ignore_owners == ["airflow"]
    assert config.keeps("anything")


def test_include_and_exclude_patterns_pick_dags_by_id() -> None:
    config = AirflowConfig.model_validate(
        {"host": "http://a", "include": {"dags": ["^sales_"]}, "exclude": {"dags": ["_test$"]}}
    )
    assert config.keeps("sales_etl")
    assert not config.keeps("sales_etl_test")
    assert not config.keeps("marketing")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"include": {"dags": ["[unclosed"]}},
            "source.config.include.dags: '[unclosed' is not a valid regex",
        ),
        (
            {"asset_services": {"db.internal/sales": "warehouse"}},
            "source.config.asset_services: 'db.internal/sales' is not a URI prefix",
        ),
        ({"api_version": "v3"}, "source.config.api_version: Input should be 'auto', 'v1' or 'v2'"),
        ({"auth": {"type": "oauth"}}, "source.config.auth: Input tag 'oauth' found"),
        ({"hots": "x"}, "source.config.hots: unknown key"),
    ],
)
def test_a_mistake_is_named_by_its_key(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, **config)
    assert message in str(caught.value)
