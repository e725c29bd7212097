"""Logging in to Airflow: credentials are secret references, Airflow 3 trades them for a JWT once,
and neither the password nor the token reaches a message."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml

from syncer import config as configs
from syncer.connectors.airflow import AirflowConfig, AirflowSource
from syncer.errors import BadResponse, ConfigError, CredentialsRefused, Unavailable
from syncer.secrets import redact
from syncer.testing import http as fake
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
    with pytest.raises(CredentialsRefused) as caught:
        list(source.api.dags())
    assert str(caught.value) == (
        f"POST {airflow.url}/auth/token: Airflow refused the username and password (HTTP 401); "
        "check source.config.auth.username and password"
    )
    assert (caught.value.url, caught.value.status) == (f"{airflow.url}/auth/token", 401)


def test_a_token_answer_without_a_token_says_what_to_check(airflow: FakeAirflow) -> None:
    airflow.route("POST", "/auth/token", Reply({"token": "x"}, status=201))
    with pytest.raises(BadResponse, match=r"without an access_token; check auth\.token_path") as e:
        list(source_for(airflow, auth=JWT).api.dags())
    assert (e.value.url, e.value.status) == (f"{airflow.url}/auth/token", 201)


# --- on a fake transport: the token is asked for where the API's requests go -----------------

HOST = "https://airflow.example"


def _on_fake(transport: fake.FakeTransport) -> AirflowSource:
    config = {"host": HOST, "retry": {"attempts": 1}, "auth": JWT}
    return AirflowSource(AirflowConfig.model_validate(config), transport=transport)


def test_the_token_is_fetched_through_the_sources_transport() -> None:
    transport = fake.FakeTransport(
        [
            fake.Reply(201, json={"access_token": "token-from-the-transport"}),
            fake.Reply(json={"version": "3.1.0"}),
            fake.Reply(json={"dags": [], "total_entries": 0}),
        ]
    )
    assert list(_on_fake(transport).api.dags()) == []

    login, version, listing = transport.requests
    assert (login.method, login.url) == ("POST", f"{HOST}/auth/token")
    assert login.body == b'{"username": "admin", "password": "pw-for-the-fake"}'
    assert "Authorization" not in login.headers
    assert version.url == f"{HOST}/api/v2/version"
    assert listing.url is not None and listing.url.startswith(f"{HOST}/api/v2/dags?")
    assert {r.headers["Authorization"] for r in (version, listing)} == {
        "Bearer token-from-the-transport"
    }


@pytest.mark.parametrize("status", [400, 403, 422])
def test_every_refusal_status_is_credentials_refused(status: int) -> None:
    transport = fake.FakeTransport([fake.Reply(status, json={"detail": "no"})])
    with pytest.raises(
        CredentialsRefused, match=rf"refused the username and password \(HTTP {status}\)"
    ):
        list(_on_fake(transport).api.dags())
    assert len(transport.requests) == 1  # the API is not asked without a token


def test_an_issuer_that_cannot_be_reached_is_unavailable_naming_the_token_url() -> None:
    transport = fake.FakeTransport([requests.ConnectionError("connection refused")])
    with pytest.raises(Unavailable) as caught:
        list(_on_fake(transport).api.dags())
    assert str(caught.value) == f"POST {HOST}/auth/token: cannot get a token (ConnectionError)"
    assert caught.value.url == f"{HOST}/auth/token"


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
