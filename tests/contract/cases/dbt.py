"""The contract cases of the `dbt` source: the shop project's artifacts, from a folder and
over HTTP (a local static file server, as a bucket's web endpoint would serve them)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.contract.cases import REPO, Case

ARTIFACTS = REPO / "tests/fixtures/dbt/artifacts"


@contextmanager
def _artifacts_folder(tmp: Path) -> Iterator[dict[str, Any]]:
    yield {"type": "dbt", "config": {"path": str(ARTIFACTS), "service_name": "warehouse"}}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _artifacts_over_http(tmp: Path) -> Iterator[dict[str, Any]]:
    handler = functools.partial(_Quiet, directory=str(ARTIFACTS))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        yield {"type": "dbt", "config": {"path": url, "service_name": "warehouse"}}
    finally:
        server.shutdown()
        server.server_close()


CASES = {
    "dbt-folder": Case(_artifacts_folder, lineage="DbtLineage"),
    "dbt-http": Case(_artifacts_over_http, lineage="DbtLineage"),
}
