"""Logging in to Airflow: credentials are secret references, Airflow 3 trades them for a JWT once,
and neither the password nor the token reaches a message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from syncer import config as configs
from syncer.errors import ConfigError, SourceError
from syncer.secrets import redact
from tests.unit.connectors.airflow.conftest import source_for
from tests.unit.connectors.airflow.fake_airflow import FakeAirflow, Reply

JWT = {"type": "jwt", "username": "admin", "password": "pw-for-the-fake"}


def test_airflow_3_credentials_are_traded_once_for_a_token_sent_as_bearer(
    airflow: FakeAirflow,
) -> None:
    airflow.route("POST", "/auth/token", Reply({"access_token": "token-from-fake"}, status=201))
    source = source_for(airflow, auth=JWT)
    list(source.api.dags())
    list(source.api.finished_runs(None))

    (login,) = airflow.seen("/auth/token")
    assert login.body == {"username": "admin", "password": "pw-for-the-fake"}
    api_calls = [r for r in airflow.requests if r.path.startswith("/api/")]
    assert {r.headers["Authorization"] for r in api_calls} == {"Bearer token-from-fake"}
    assert redact("token-from-fake and pw-for-the-fake") == "*** and ***"


def test_refused_credentials_fail_naming_the_token_url_and_the_keys_to_check(
    airflow: FakeAirflow,
) -> None:
    airflow.route("POST", "/auth/token", Reply({"detail": "Invalid credentials"}, status=401))
    source = source_for(airflow, auth=JWT)
    with pytest.raises(SourceError) as caught:
        list(source.api.dags())
    assert str(caught.value) == (
        f"POST {airflow.url}/auth/token: Airflow refused the username and password (HTTP 401); "
        "check source.config.auth.username and password"
    )


def test_a_token_answer_without_a_token_says_what_to_check(airflow: FakeAirflow) -> None:
    airflow.route("POST", "/auth/token", Reply({"token": "x"}, status=201))
    with pytest.raises(SourceError, match=r"without an access_token; check auth\.token_path"):
        list(source_for(airflow, auth=JWT).api.dags())


def test_airflow_2_takes_basic_auth(airflow: FakeAirflow) -> None:
    auth = {"type": "basic", "username": "viewer", "password": "pw-for-the-fake"}
    list(source_for(airflow, auth=auth).api.dags())
    assert airflow.requests[-1].headers["Authorization"].startswith("Basic ")


def test_a_password_written_in_the_workflow_file_is_refused(tmp_path: Path) -> None:
    path = _workflow(tmp_path, {**JWT, "password": "hunter2"})
    with pytest.raises(ConfigError) as caught:
        configs.load(path)
    assert "source.config.auth.password: a credential must not be written in the file" in str(
        caught.value
    )
    assert "hunter2" not in str(caught.value)


def test_a_password_given_as_a_secret_reference_is_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_TEST_PW", "from-the-environment")
    loaded = configs.load(_workflow(tmp_path, {**JWT, "password": "${env:AIRFLOW_TEST_PW}"}))
    assert loaded.source.config.auth.password == "from-the-environment"  # type: ignore[attr-defined]


def _workflow(tmp: Path, auth: dict[str, str]) -> Path:
    path = tmp / "workflow.yaml"
    source = {"type": "airflow", "config": {"host": "http://airflow.invalid:8080", "auth": auth}}
    path.write_text(yaml.safe_dump({"workflow": "w", "source": source}))
    return path
