"""Config mistakes are found when the workflow loads, each naming the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from syncer import config as configs
from syncer.errors import ConfigError

MODELS: dict[str, Any] = {
    "name": "models",
    "path": "/models",
    "entity": "mlmodel",
    "fields": {"name": "name", "algorithm": {"value": "unknown"}},
}


def _load(tmp_path: Path, **source: Any) -> configs.LoadedConfig:
    path = tmp_path / "workflow.yaml"
    config = {"base_url": "http://api.invalid", "service": {"name": "ml"}, **source}
    path.write_text(yaml.safe_dump({"workflow": "w", "source": {"type": "rest", "config": config}}))
    return configs.load(path)


def test_a_complete_config_loads_with_one_stream_per_endpoint_and_the_service(
    tmp_path: Path,
) -> None:
    loaded = _load(tmp_path, endpoints=[MODELS])
    assert [(s.name, s.entity_type) for s in loaded.source.streams()] == [
        ("services", "mlmodelService"),
        ("models", "mlmodel"),
    ]


@pytest.mark.parametrize(
    ("endpoint", "says"),
    [
        (
            {**MODELS, "fields": {**MODELS["fields"], "descripton": "d"}},
            "endpoints.0 (models): mlmodel has no field 'descripton'",
        ),
        (
            {**MODELS, "path": "/models/{parent.name}"},
            "endpoints.0 (models): path: {parent.name} needs a parent endpoint; set `parent:`",
        ),
        (
            {**MODELS, "records": "items["},
            "endpoints.0.records: 'items[' is not a valid JMESPath expression",
        ),
        ({**MODELS, "parent": "nowhere"}, "parent 'nowhere' is not an endpoint here"),
        (
            {**MODELS, "pagination": {"type": "pages"}},
            "endpoints.0.pagination: Input tag 'pages' found using 'type' does not match",
        ),
        (
            {**MODELS, "cursor": {"field": "t", "param": "q", "param_template": "t > 0"}},
            "endpoints.0.cursor: param_template must hold {since}",
        ),
        (
            {**MODELS, "cursor": {"field": "t", "format": "millis"}},
            "endpoints.0.cursor.format: 'millis' is not a time format",
        ),
    ],
)
def test_a_mistake_in_an_endpoint_names_the_key_and_what_to_do(
    tmp_path: Path, endpoint: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, endpoints=[endpoint])
    assert says in str(raised.value)
    assert str(raised.value).startswith(f"{tmp_path / 'workflow.yaml'}: source.config")


def test_an_api_key_written_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"auth.api_key: a credential must not be written"):
        _load(
            tmp_path,
            endpoints=[MODELS],
            auth={"type": "api_key", "name": "X-Key", "api_key": "plain"},
        )
