"""What `syncer` shows of a config's values: secrets masked in every form, the rest (a server's
URL from the environment) as it is; `test-connection` tries once; `${NAME}` is refused.

Each test runs the real `syncer` command line, as a user would, against servers on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import yaml

from tests.support.echo import EchoServer
from tests.support.workspace import SYNCER, syncer_env

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

TOKEN = "tok-Vb7/q+w'e\"é-z4"  # / and + URL-encoded, ' and " escaped, é as \u00e9 or bytes


class SlammingServer:
    """A server on 127.0.0.1 that accepts each connection and closes it at once, counting them:
    to a client, a server that is down in the worst way (every request fails after connecting)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def __enter__(self) -> SlammingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join()
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.close()


@pytest.fixture
def slamming() -> Iterator[SlammingServer]:
    with SlammingServer() as server:
        yield server


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    with EchoServer(401) as server:
        yield server


def syncer(
    tmp_path: Path, config: dict[str, Any] | str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """`syncer ARGS workflow.yaml` with `config` written as the workflow and `env` exported."""
    path = tmp_path / "workflow.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return subprocess.run(
        [str(SYNCER), *args, str(path)],
        env={**syncer_env(), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def rest_workflow(tmp_path: Path, auth: dict[str, Any] | None = None) -> dict[str, Any]:
    """A REST source with one endpoint, at the URL in $API_URL."""
    config: dict[str, Any] = {
        "base_url": "${env:API_URL}",
        "endpoints": [
            {"name": "teams", "path": "/api/v1/teams", "entity": "record", "primary_key": "id"}
        ],
    }
    if auth is not None:
        config["auth"] = auth
    return {
        "workflow": "teams",
        "source": {"type": "rest", "config": config},
        "state": {"path": str(tmp_path / "state.duckdb")},
    }


def forms(secret: str) -> list[str]:
    """The forms a secret must never be shown in."""
    return [
        secret,
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(secret.encode())[2:-1],
    ]


def test_test_connection_tries_a_server_that_is_down_once(
    tmp_path: Path, slamming: SlammingServer
) -> None:
    # the default retry policy would try six times, waiting between tries
    done = syncer(tmp_path, rest_workflow(tmp_path), "test-connection", API_URL=slamming.url)

    assert done.returncode == 1, done.stderr
    assert f"FAIL endpoint teams: GET {slamming.url}/api/v1/teams: cannot connect" in done.stdout
    assert "(tried once)" in done.stdout
    assert slamming.accepted == 1


def test_a_run_still_retries_a_server_that_is_down(
    tmp_path: Path, slamming: SlammingServer
) -> None:
    workflow = rest_workflow(tmp_path)
    workflow["source"]["config"]["retry"] = {
        "attempts": 3,
        "initial_wait_seconds": 0.01,
        "max_wait_seconds": 0.02,
    }
    done = syncer(tmp_path, workflow, "run", API_URL=slamming.url)

    assert done.returncode == 1
    assert slamming.accepted == 3


def test_a_url_from_the_environment_is_shown_and_a_token_is_not(
    tmp_path: Path, echo: EchoServer, slamming: SlammingServer
) -> None:
    workflow = rest_workflow(tmp_path, {"type": "bearer", "token": "${env:API_TOKEN}"})
    sink = {"server": "${env:OM_SERVER}", "token": "${env:OM_TOKEN}"}
    workflow["sinks"] = [{"type": "openmetadata", "config": sink}]
    server = f"{slamming.url}/api"
    done = syncer(
        tmp_path,
        workflow,
        "--log-format",
        "json",
        "--log-level",
        "debug",
        "test-connection",
        API_URL=echo.url,
        API_TOKEN=TOKEN + "\n",
        OM_SERVER=server,
        OM_TOKEN="om-" + TOKEN,
    )
    shown = done.stdout + done.stderr

    assert done.returncode == 1
    # the URLs, as the user gave them
    assert f"FAIL endpoint teams: GET {echo.url}/api/v1/teams: HTTP 401" in done.stdout
    assert f"FAIL sink openmetadata: server: {server}: GET {server}/v1/system/version" in shown
    # the token the echo server repeated back
    assert "Authorization=Bearer ***" in shown
    assert echo.received()[0].headers["Authorization"] == f"Bearer {TOKEN}"
    for form in [*forms(TOKEN), *forms("om-" + TOKEN)]:
        assert form not in shown, form


def test_a_url_password_is_masked_and_the_rest_of_the_url_is_shown(
    tmp_path: Path, echo: EchoServer
) -> None:
    password = "pw-Hk3/x"
    done = syncer(
        tmp_path,
        rest_workflow(tmp_path),
        "test-connection",
        API_URL=echo.url.replace("http://", f"http://reader:{quote(password, safe='')}@"),
    )
    shown = done.stdout + done.stderr
    basic = base64.b64encode(f"reader:{password}".encode()).decode()

    assert done.returncode == 1
    assert "http://reader:***@127.0.0.1:" in shown and "/api/v1/teams" in shown
    assert "Authorization=Basic ***" in shown  # requests sends a URL's user:password so
    for form in [*forms(password), basic]:
        assert form not in shown, form


def test_a_one_letter_key_is_masked_as_a_value_and_mangles_nothing_else(
    tmp_path: Path, echo: EchoServer
) -> None:
    auth = {"type": "api_key", "name": "X-Api-Key", "api_key": "${env:API_KEY}"}
    done = syncer(
        tmp_path, rest_workflow(tmp_path, auth), "test-connection", API_URL=echo.url, API_KEY="a"
    )

    assert done.returncode == 1
    assert f"FAIL endpoint teams: GET {echo.url}/api/v1/teams: HTTP 401: refused" in done.stdout
    assert "X-Api-Key=***" in done.stdout
    assert echo.received()[0].headers["X-Api-Key"] == "a"


def test_a_shell_style_reference_is_refused_with_the_one_syncer_reads(tmp_path: Path) -> None:
    config = (
        "workflow: pg\n"
        "source:\n"
        "  type: sql\n"
        "  config: {url: 'postgresql://u:${PG_PASSWORD}@db.internal/sales'}\n"
    )
    for command in ("test-connection", "run"):
        done = syncer(tmp_path, config, command, PG_PASSWORD="pw")

        assert done.returncode == 2
        assert done.stderr.strip() == (
            f"error: {tmp_path / 'workflow.yaml'}: source.config.url: `${{PG_PASSWORD}}` is not "
            "a reference syncer reads: write ${env:PG_PASSWORD}"
        )
        assert not (tmp_path / ".syncer").exists()
