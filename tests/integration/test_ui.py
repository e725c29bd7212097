"""`syncer ui` as a user starts it, beside real `syncer run`s: runs started while it serves
succeed, a run in progress is shown as such, and the token rule for other addresses holds."""

from __future__ import annotations

import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.receiver import free_port
from tests.support.workspace import DOUBLES, SYNCER, Workspace, catalog

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
TOKEN = "integration-token-of-the-web-view"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def run_ids(html: str) -> list[str]:
    return re.findall(r'data-run-id="(\d+)"', html)


class Served:
    """A `syncer ui` subprocess serving one workspace's state, on a free port."""

    def __init__(self, ws: Workspace, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [str(SYNCER), "ui", "--state", str(ws.state), "--port", str(self.port), *args]
        self.process = subprocess.Popen(
            command, cwd=ws.root, env=env or ws.env, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.process.communicate()[1]
            try:
                get(f"{self.url}/static/ui.css")
                return
            except OSError:
                assert time.monotonic() < deadline, "syncer ui never answered"
                time.sleep(0.1)

    def page(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        return get(self.url + path, headers)

    def stop(self) -> str:
        self.process.terminate()
        return self.process.communicate(timeout=30)[1]


@pytest.fixture
def served(workspace: Workspace) -> Iterator[Served]:
    workspace.run()
    server = Served(workspace)
    try:
        yield server
    finally:
        server.stop()


def test_the_served_runs_page_shows_the_runs_of_the_state(served: Served) -> None:
    status, html = served.page("/runs")
    assert status == 200
    assert run_ids(html) == ["1"]


def test_runs_started_while_the_view_is_browsed_succeed(
    workspace: Workspace, served: Served
) -> None:
    stop = threading.Event()
    answers: list[int] = []

    def browse() -> None:
        while not stop.is_set():
            for path in ("/runs", "/runs/1", "/sinks", "/entity"):
                answers.append(served.page(path)[0])

    browser = threading.Thread(target=browse)
    browser.start()
    try:
        for tables in (6, 7, 8):
            workspace.write_source(catalog(tables))
            workspace.run()  # asserts that it succeeded
    finally:
        stop.set()
        browser.join(timeout=30)
    assert answers and set(answers) <= {200, 503}
    assert workspace.run_statuses() == ["succeeded"] * 4
    deadline = time.monotonic() + 10
    while run_ids(served.page("/runs")[1]) != ["4", "3", "2", "1"]:
        assert time.monotonic() < deadline, "the view never showed the last run"
        time.sleep(0.2)


def test_a_run_in_progress_is_shown_as_such_and_its_end_is_shown_after(
    workspace: Workspace, tmp_path: Path
) -> None:
    reached, release = tmp_path / "reached", tmp_path / "release"
    gate = {"reached": str(reached), "release": str(release)}
    workspace.write_config(sinks=[{"type": f"{DOUBLES}:GateSink", "config": gate}])
    release.touch()
    workspace.run()
    release.unlink()
    reached.unlink()
    server = Served(workspace)
    try:
        assert run_ids(server.page("/runs")[1]) == ["1"]
        workspace.write_source(catalog(6))
        run = workspace.spawn("run", workspace.config)
        while not reached.exists():
            assert run.poll() is None, "the run ended before it held the state"
            time.sleep(0.01)
        time.sleep(2.1)  # the view looks at the file again at most every 2 s
        status, html = server.page("/runs")
        assert status == 200
        assert 'id="busy-banner"' in html and "Showing the last finished state" in html
        assert run_ids(html) == ["1"]
        release.touch()
        assert run.wait(timeout=60) == 0
        time.sleep(2.1)
        html = server.page("/runs")[1]
        assert "busy-banner" not in html and run_ids(html) == ["2", "1"]
    finally:
        release.touch()
        server.stop()


def test_listening_beyond_localhost_needs_a_token_reference(workspace: Workspace) -> None:
    workspace.run()
    bare = workspace.syncer("ui", "--state", workspace.state, "--host", "0.0.0.0")
    assert bare.returncode == 2
    assert "--host 0.0.0.0 listens beyond this machine: pass --token" in bare.stderr
    raw = workspace.syncer("ui", "--state", workspace.state, "--host", "0.0.0.0", "--token", TOKEN)
    assert raw.returncode == 2
    assert "--token takes a secret reference" in raw.stderr and TOKEN not in raw.stderr


def test_a_token_guarded_view_lets_in_only_requests_that_carry_it(workspace: Workspace) -> None:
    workspace.run()
    env = {**workspace.env, "SYNCER_UI_TOKEN": TOKEN}
    server = Served(workspace, "--host", "0.0.0.0", "--token", "${env:SYNCER_UI_TOKEN}", env=env)
    try:
        assert server.page("/runs")[0] == 401
        assert server.page("/runs", {"Authorization": "Bearer wrong"})[0] == 401
        status, html = server.page("/runs", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and run_ids(html) == ["1"] and TOKEN not in html
    finally:
        stderr = server.stop()
    assert TOKEN not in stderr


def test_an_experimental_panel_is_turned_on_by_the_configs_ui_block(
    workspace: Workspace,
) -> None:
    workspace.write_config(ui={"features": {"busiest-streams": True}})
    workspace.run()
    server = Served(workspace, "--config", str(workspace.config))
    try:
        status, html = server.page("/streams")
    finally:
        server.stop()
    assert status == 200 and 'id="busiest-streams"' in html
