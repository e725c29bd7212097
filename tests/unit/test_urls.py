"""The URL of every HTTP step is checked when the config is loaded: a URL no request can be sent
to (port 99999, no host, a space) is refused naming the key, instead of each request failing
and being retried as if the server were down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from syncer import config as configs
from syncer.errors import ConfigError
from syncer.urls import check_http_url

SOURCE = {"type": "tests.support.sources:FileSource", "config": {"path": "src.json"}}
REST_ENDPOINT = {
    "name": "models",
    "path": "/models",
    "entity": "mlmodel",
    "fields": {"name": "name", "algorithm": {"value": "unknown"}},
}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "https://api.example.com",
        "https://user:pass@api.example.com:443/v1?x=1",
        "http://[::1]:8080/",
        "http://host:/x",  # an empty port is the scheme's own
        "http://münchen.example/",
    ],
)
def test_a_usable_url_passes_as_it_is(url: str) -> None:
    assert check_http_url(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:99999/x", "port 99999 is out of range; a port is from 1 to 65535"),
        ("http://127.0.0.1:0/x", "port 0 is out of range; a port is from 1 to 65535"),
        ("http://127.0.0.1:http/x", "port 'http' is not a number; a port is from 1 to 65535"),
        ("http://:8080/x", "has no host"),
        ("ftp://files.example.com/x", "must be an http:// or https:// URL with a host, not ftp://"),
        ("api.example.com/v1", "must be an http:// or https:// URL with a host"),
        ("http://api example.com/", "must not hold spaces or control characters"),
        ("http://api.example.com/\n", "must not hold spaces or control characters"),
        ("http://[::1/x", "is not a valid URL"),
        ("http://[::g]:80/x", "is not a valid URL"),
        ("http://a..b/x", "host 'a..b' is not a valid host name or IP address"),
        ("http://a<b/x", "host 'a<b' is not a valid host name or IP address"),
    ],
)
def test_an_unusable_url_is_refused_saying_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace("[", r"\[")):
        check_http_url(url)


def test_a_password_in_a_refused_url_is_not_repeated() -> None:
    with pytest.raises(ValueError) as caught:
        check_http_url("http://user:hunter2secret@host:99999/")
    assert "hunter2secret" not in str(caught.value)


# Each HTTP step's config, with `url` where its URL goes: (section, config, key path).
CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "sink",
        {"type": "webhook", "config": {"url": "{url}", "secret": "${env:HOOK_SECRET}"}},
        "sinks.0.config.url",
    ),
    (
        "sink",
        {"type": "openmetadata", "config": {"server": "{url}", "token": "${env:OM_TOKEN}"}},
        "sinks.0.config.server",
    ),
    (
        "sink",
        {
            "type": "openmetadata",
            "config": {
                "server": "http://om.example.com/api",
                "auth": {
                    "provider": "client_credentials",
                    "token_url": "{url}",
                    "client_id": "syncer",
                    "client_secret": "${env:OM_TOKEN}",
                },
            },
        },
        "sinks.0.config.auth.client_credentials.token_url",
    ),
    (
        "source",
        {
            "type": "rest",
            "config": {
                "base_url": "{url}",
                "service": {"name": "ml"},
                "endpoints": [REST_ENDPOINT],
            },
        },
        "source.config.base_url",
    ),
    (
        "source",
        {"type": "mlflow", "config": {"tracking_uri": "{url}"}},
        "source.config.tracking_uri",
    ),
    ("source", {"type": "airflow", "config": {"host": "{url}"}}, "source.config.host"),
    (
        "source",
        {"type": "airflow", "config": {"host": "http://airflow:8080", "ui_url": "{url}"}},
        "source.config.ui_url",
    ),
    (
        "source",
        {"type": "dbt", "config": {"path": "{url}", "service_name": "warehouse"}},
        "source.config.path",
    ),
]


def _with_url(value: Any, url: str) -> Any:
    if isinstance(value, dict):
        return {k: _with_url(v, url) for k, v in value.items()}
    return url if value == "{url}" else value


def _write(tmp_path: Path, section: str, step: dict[str, Any], url: str) -> Path:
    document: dict[str, Any] = {"workflow": "w", "source": SOURCE, "sinks": []}
    if section == "sink":
        document["sinks"] = [_with_url(step, url)]
    else:
        document["source"] = _with_url(step, url)
    path = tmp_path / "workflow.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(("section", "step", "key"), CASES, ids=[c[2] for c in CASES])
def test_every_http_step_refuses_port_99999_at_load_naming_the_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    section: str,
    step: dict[str, Any],
    key: str,
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s" * 32)
    monkeypatch.setenv("OM_TOKEN", "t" * 32)
    good = _write(tmp_path, section, step, "http://127.0.0.1:8585/api")
    configs.load(good)  # the same config with a usable URL loads

    bad = _write(tmp_path, section, step, "http://127.0.0.1:99999/api")
    with pytest.raises(ConfigError) as caught:
        configs.load(bad)

    assert str(caught.value) == (
        f"{bad}: {key}: port 99999 is out of range; a port is from 1 to 65535"
    )
