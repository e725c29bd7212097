"""The mlflow source's config: sensible defaults, mistakes named by key before any request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from syncer import config as configs
from syncer.connectors.mlflow import MlflowConfig
from syncer.errors import ConfigError


def _load(tmp_path: Path, source_config: dict[str, Any]) -> configs.LoadedConfig:
    path = tmp_path / "workflow.yaml"
    path.write_text(
        yaml.safe_dump(
            {"workflow": "ml", "source": {"type": "mlflow", "config": source_config}, "sinks": []}
        )
    )
    return configs.load(path)


def test_defaults_read_every_model_by_its_latest_version_without_experiments() -> None:
    config = MlflowConfig.model_validate({"tracking_uri": "http://mlflow:5000/"})
    assert config.base_url == "http://mlflow:5000"
    assert config.service_name == "mlflow"
    assert (config.page_size, config.lookback_seconds) == (100, 60)
    assert config.version_alias is None and config.experiments is False
    assert config.tag_classification == "MLflow"
    assert config.keeps("anything")


def test_include_and_exclude_are_regexes_on_model_names() -> None:
    config = MlflowConfig.model_validate(
        {"tracking_uri": "http://m", "include": ["^churn", "fraud"], "exclude": ["-tmp$"]}
    )
    assert config.keeps("churn-classifier") and config.keeps("card-fraud")
    assert not config.keeps("churn-tmp") and not config.keeps("demand")


@pytest.mark.parametrize(
    ("source_config", "message"),
    [
        ({}, "source.config.tracking_uri: required key is missing"),
        ({"tracking_uri": "mlflow:5000"}, "source.config.tracking_uri"),
        ({"tracking_uri": "http://m", "page_size": 5000}, "source.config.page_size"),
        ({"tracking_uri": "http://m", "include": ["("]}, "is not a valid regex"),
        ({"tracking_uri": "http://m", "experiment": True}, "unknown key"),
    ],
)
def test_a_bad_config_fails_naming_the_key(
    tmp_path: Path, source_config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        _load(tmp_path, source_config)


def test_a_literal_password_is_refused_and_a_reference_is_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = {"type": "basic", "username": "reader", "password": "hunter2"}
    with pytest.raises(ConfigError, match="password"):
        _load(tmp_path, {"tracking_uri": "http://m", "auth": auth})
    monkeypatch.setenv("SYNCER_TEST_MLFLOW_PASSWORD", "s3cret")
    auth["password"] = "${env:SYNCER_TEST_MLFLOW_PASSWORD}"
    loaded = _load(tmp_path, {"tracking_uri": "http://m", "auth": auth})
    source_config = loaded.source.config
    assert isinstance(source_config, MlflowConfig)
    assert source_config.auth is not None
    assert source_config.auth.password == "s3cret"  # type: ignore[union-attr]
