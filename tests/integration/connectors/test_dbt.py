"""The dbt source reading artifacts over HTTP, from a local static file server in the test.

The server serves a folder as a bucket's web endpoint or an artifacts server would, records
every request, and can be told to answer a path with an error page instead.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.unit.connectors.dbt.runs import ARTIFACTS, ARTIFACTS_V2, DbtRuns, copy_artifacts

TOKEN = "dbt-artifacts-token-5f2c"


@dataclass
class Served:
    """The server's folder (`root/target/`), its URL, what it was asked, and its overrides."""

    root: Path
    url: str
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    # path -> (status, content type, body): answered instead of the file
    overrides: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)

    @property
    def target(self) -> Path:
        return self.root / "target"

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]


class _Handler(SimpleHTTPRequestHandler):
    served: Served

    def do_GET(self) -> None:
        self.served.requests.append(("GET", self.path, dict(self.headers)))
        override = self.served.overrides.get(self.path)
        if override is None:
            super().do_GET()
            return
        status, content_type, body = override
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "www"
    copy_artifacts(ARTIFACTS, root / "target")
    state = Served(root, "")
    handler = type("Handler", (_Handler,), {"served": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/target/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def runs(tmp_path: Path) -> DbtRuns:
    return DbtRuns(tmp_path)


# Fail fast: the error pages below are retried once, without waiting.
ONE_RETRY: dict[str, Any] = {
    "retry": {"attempts": 2, "initial_wait_seconds": 0, "max_wait_seconds": 0}
}


def test_artifacts_over_http_sync_the_same_entities_as_the_folder(
    served: Served, runs: DbtRuns, tmp_path: Path
) -> None:
    result = runs.run(served.url)
    assert result.status == "succeeded", result.error
    assert served.paths() == [
        "/target/manifest.json",
        "/target/catalog.json",
        "/target/run_results.json",
    ]
    local = DbtRuns(tmp_path / "local")
    local.directory.mkdir()
    local.run(ARTIFACTS)
    query = "SELECT entity_type, fqn, fingerprint FROM current_entities ORDER BY fqn"
    assert runs.rows(query) == local.rows(query)


def test_a_changed_project_over_http_adds_only_the_new_results(
    served: Served, runs: DbtRuns
) -> None:
    runs.run(served.url)
    copy_artifacts(ARTIFACTS_V2, served.target)
    second = runs.run(served.url)
    assert second.streams["test_results"].created == 17
    assert second.streams["tables"].updated == 1
    assert runs.run(served.url).counters.changed == 0


def test_a_bearer_token_reaches_the_server_and_never_the_state(
    served: Served, runs: DbtRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBT_ARTIFACTS_TOKEN", TOKEN)
    auth = {"type": "bearer", "token": "${env:DBT_ARTIFACTS_TOKEN}"}
    result = runs.run(served.url, auth=auth)
    assert result.status == "succeeded", result.error
    assert {headers.get("Authorization") for _, _, headers in served.requests} == {
        f"Bearer {TOKEN}"
    }
    assert TOKEN.encode() not in runs.state_path.read_bytes()


def test_a_500_page_in_place_of_the_manifest_fails_the_run_naming_the_url(
    served: Served, runs: DbtRuns
) -> None:
    runs.run(served.url)
    before = runs.change_count()
    served.overrides["/target/manifest.json"] = (500, "text/html", b"<h1>Internal error</h1>")
    result = runs.run(served.url, **ONE_RETRY)
    assert result.status == "failed"
    assert result.error == f"GET {served.url}manifest.json: HTTP 500 after 2 attempts"
    assert runs.change_count() == before
    assert served.paths().count("/target/manifest.json") == 3  # one good run, two attempts


def test_an_html_page_in_place_of_the_manifest_is_named_as_not_json(
    served: Served, runs: DbtRuns
) -> None:
    served.overrides["/target/manifest.json"] = (200, "text/html", b"<html>Sign in</html>")
    result = runs.run(served.url)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith(
        f"GET {served.url}manifest.json: answered text/html, not JSON (HTTP 200)"
    )


def test_a_truncated_manifest_over_http_names_the_url(served: Served, runs: DbtRuns) -> None:
    body = (ARTIFACTS / "manifest.json").read_bytes()[:4096]
    served.overrides["/target/manifest.json"] = (200, "application/json", body)
    result = runs.run(served.url)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith(f"{served.url}manifest.json: is not valid JSON (")


def test_a_missing_catalog_over_http_is_no_error(served: Served, runs: DbtRuns) -> None:
    (served.target / "catalog.json").unlink()
    result = runs.run(served.url)
    assert result.status == "succeeded", result.error
    assert result.warnings == []


def test_a_500_for_the_run_results_fails_only_the_results(served: Served, runs: DbtRuns) -> None:
    served.overrides["/target/run_results.json"] = (503, "text/plain", b"busy")
    result = runs.run(served.url, **ONE_RETRY)
    assert result.status == "partial"
    assert result.streams["test_results"].errors == 1
    assert result.streams["tables"].created == 9
    assert runs.watermark("test_results") is None
