"""`syncer serve` as a user starts it, fed by the real openlineage-python client over HTTP:
every event lands in the inbox once, an answered event survives a SIGKILL, bad input is
refused while the server keeps serving, and SIGTERM stops it cleanly."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import yaml
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import RunState
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpConfig, HttpTransport

from syncer.connectors.openlineage.inbox import Inbox
from tests.support.lineage_events import JOB, run_event
from tests.support.receiver import free_port
from tests.support.workspace import SYNCER

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
TOKEN = "integration-token-of-the-lineage-receiver"
ENDPOINT = "/api/v1/lineage"


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Served:
    """A `syncer serve` subprocess on a workflow whose source is openlineage; `source_config`
    adds keys to the source's config (the workflow file is `config`, its JSONL sink `out`)."""

    def __init__(self, root: Path, env: dict[str, str], **source_config: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.inbox = root / "lineage" / "inbox.sqlite"
        self.config = root / "workflow.yaml"
        self.out = root / "out.jsonl"
        self.env = env | {"LINEAGE_TOKEN": TOKEN}
        receiver = {"port": self.port, "token": "${env:LINEAGE_TOKEN}"}
        self.base: dict[str, Any] = {"inbox": "lineage/inbox.sqlite", "receiver": receiver}
        self.write_config(**source_config)
        self.process = subprocess.Popen(
            [str(SYNCER), "serve", str(self.config)],
            cwd=root,
            env=self.env,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not self.answers():
            assert self.process.poll() is None, self.process.communicate()[1]
            assert time.monotonic() < deadline, "syncer serve never answered"
            time.sleep(0.1)

    def write_config(self, **source_config: Any) -> None:
        """The workflow file, its source's config the inbox and receiver plus these keys."""
        spec = {
            "workflow": "lineage",
            "source": {"type": "openlineage", "config": self.base | source_config},
            "sinks": [{"type": "jsonl", "config": {"path": self.out.name}}],
        }
        self.config.write_text(yaml.safe_dump(spec), encoding="utf-8")

    def answers(self) -> bool:
        try:
            post(self.url + ENDPOINT, b"{}", {})
        except OSError:
            return False
        return True

    def client(self) -> OpenLineageClient:
        config = HttpConfig.from_dict(
            {"url": self.url, "auth": {"type": "api_key", "apiKey": TOKEN}, "timeout": 10}
        )
        return OpenLineageClient(transport=HttpTransport(config))

    def post(self, body: bytes, path: str = ENDPOINT, **headers: str) -> tuple[int, Any]:
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        return post(self.url + path, body, auth | headers)

    def declare_too_large(self) -> int:
        """Announce a body over the 5 MB default and send none of it: the length alone is
        refused, before the body is read."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.putrequest("POST", ENDPOINT)
            connection.putheader("Authorization", f"Bearer {TOKEN}")
            connection.putheader("Content-Length", str(5 * 1024 * 1024 + 1))
            connection.endheaders()
            return connection.getresponse().status
        finally:
            connection.close()

    def stored(self) -> int:
        with Inbox(self.inbox) as inbox:
            return inbox.last_seq()

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=30)
        return self.process.returncode, stderr


@pytest.fixture
def served(tmp_path: Path, subprocess_env: dict[str, str]) -> Iterator[Served]:
    server = Served(tmp_path, subprocess_env)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.communicate()


def test_the_clients_events_land_once_each_and_sigterm_stops_the_server_cleanly(
    served: Served,
) -> None:
    client = served.client()
    finished, failed = str(uuid4()), str(uuid4())
    client.emit(run_event(RunState.START, finished))
    client.emit(run_event(RunState.COMPLETE, finished))
    client.emit(run_event(RunState.START, failed))
    fail = run_event(RunState.FAIL, failed)
    client.emit(fail)
    client.emit(fail)  # sent again, as a client that timed out would
    batch = [json.loads(Serde.to_json(run_event(RunState.START, str(uuid4())))) for _ in "ab"]
    status, answer = served.post(json.dumps(batch).encode(), f"{ENDPOINT}/batch")
    assert (status, answer["summary"]["received"], answer["stored"]) == (200, 2, 2)

    with Inbox(served.inbox) as inbox:
        runs = {run[0].run_id: [e.event_type for e in run] for run in inbox.runs_touched_since(0)}
        assert inbox.last_seq() == 6
    assert runs[finished] == ["START", "COMPLETE"]
    assert runs[failed] == ["START", "FAIL"]
    assert len(runs) == 4

    code, stderr = served.stop()
    assert code == 0, stderr
    assert stderr.rstrip().endswith("stopped by SIGTERM")
    request_lines = [line for line in stderr.splitlines() if '"request"' in line]
    assert len(request_lines) >= 7
    assert TOKEN not in stderr and JOB not in stderr


def test_an_answered_event_survives_a_sigkill_right_after_the_answer(served: Served) -> None:
    body = Serde.to_json(run_event(RunState.COMPLETE, str(uuid4()))).encode()
    status, _ = served.post(body)
    os.kill(served.process.pid, signal.SIGKILL)
    assert status == 201
    served.process.wait(timeout=30)
    assert served.stored() == 1


def test_bad_input_is_refused_and_the_server_keeps_serving(served: Served) -> None:
    good = json.loads(Serde.to_json(run_event(RunState.START, str(uuid4()))))
    bad: list[tuple[bytes, dict[str, str], int]] = [
        (b"{oops", {}, 400),
        (json.dumps(good | {"job": "orders"}).encode(), {}, 400),
        (json.dumps(good | {"eventType": "FINISHED"}).encode(), {}, 400),
        (json.dumps(good).encode(), {"Authorization": ""}, 401),
        (json.dumps(good).encode(), {"Authorization": "Bearer not-the-token"}, 401),
    ]
    for body, headers, expected in bad:
        status, answer = served.post(body, **headers)
        assert status == expected, answer
        assert list(answer) == ["error"]
        assert served.stored() == 0
    assert served.declare_too_large() == 413
    assert served.stored() == 0
    assert served.post(json.dumps(good).encode())[0] == 201
    assert served.stored() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "needs a workflow CONFIG whose source is openlineage, or --inbox PATH"),
        (("--inbox", "in.sqlite", "--host", "0.0.0.0"), "receiver: host 0.0.0.0 listens beyond"),
        (("--inbox", "in.sqlite", "--token", "plain-text-token"), "takes a secret reference"),
        (("--inbox", "in.sqlite", "--token", "${env:SHORT}"), "shorter than 16 characters"),
    ],
)
def test_a_command_line_that_cannot_serve_fails_at_once_with_the_fix(
    tmp_path: Path, subprocess_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    done = subprocess.run(
        [str(SYNCER), "serve", *args],
        cwd=tmp_path,
        env=subprocess_env | {"SHORT": "abc"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert not (tmp_path / "in.sqlite").exists()


def test_a_workflow_whose_source_is_not_openlineage_is_refused(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    config = tmp_path / "workflow.yaml"
    source = {"type": "dbt", "config": {"manifest": "target/manifest.json"}}
    config.write_text(yaml.safe_dump({"workflow": "w", "source": source}), encoding="utf-8")
    done = subprocess.run(
        [str(SYNCER), "serve", str(config)],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "source.type: is dbt, so there is nothing to receive" in done.stderr
