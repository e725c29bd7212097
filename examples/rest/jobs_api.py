"""A small in-house-style job catalog API, served from `jobs_api.json`, for the rest source's
second example (`jobs.yaml`) and its recordings.

    JOBS_API_KEY=dev-key python examples/rest/jobs_api.py --port 8008

It speaks like many in-house services do: an `X-Api-Key` header; jobs as a bare JSON list,
newest change last, filtered by `updated_since` (ISO 8601) and paged by the `Link` header;
each job's runs paged by offset/limit; teams paged by page number.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

DATA = Path(__file__).with_name("jobs_api.json")


class JobsApi:
    """The API over a data document that callers may change between requests."""

    def __init__(self, data: dict[str, Any], api_key: str, port: int = 0) -> None:
        self.data = data
        self.api_key = api_key
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> JobsApi:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "jobs"] and len(parts) == 3:
            return self._jobs(query)
        if parts[:3] == ["api", "v1", "jobs"] and len(parts) == 5 and parts[4] == "runs":
            runs = self.data["runs"].get(parts[3])
            if runs is None and not any(j["id"] == parts[3] for j in self.data["jobs"]):
                return 404, {"message": f"no job {parts[3]}"}, {}
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 50))
            return (
                200,
                {"data": (runs or [])[offset : offset + limit], "total": len(runs or [])},
                {},
            )
        if parts == ["api", "v1", "teams"]:
            teams = self.data["teams"]
            page, size = int(query.get("page", 1)), int(query.get("size", 50))
            pages = max(1, math.ceil(len(teams) / size))
            items = teams[(page - 1) * size : page * size]
            return 200, {"items": items, "page": page, "pages": pages}, {}
        return 404, {"message": f"no route {path}"}, {}

    def _jobs(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        jobs = sorted(self.data["jobs"], key=lambda j: (j["updated_at"], j["id"]))
        since = query.get("updated_since")
        if since:
            bound = datetime.fromisoformat(since)
            jobs = [j for j in jobs if datetime.fromisoformat(j["updated_at"]) >= bound]
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 30))
        headers: dict[str, str] = {}
        if page * per_page < len(jobs):
            # Like GitHub: the next page's link repeats every parameter of this one.
            args = {**query, "page": str(page + 1)}
            headers["Link"] = f'<{self.url}/api/v1/jobs?{urlencode(args)}>; rel="next"'
        return 200, jobs[(page - 1) * per_page : page * per_page], headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, body, headers = api.answer(parts.path, query)
                if self.headers.get("X-Api-Key") != api.api_key:
                    status, body, headers = 401, {"message": "missing or wrong API key"}, {}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8008)
    args = parser.parse_args()
    api = JobsApi(load(), os.environ.get("JOBS_API_KEY", "dev-key"), args.port)
    print(f"serving the jobs API on {api.url} (Ctrl-C stops)")
    try:
        api._server.serve_forever()
    except KeyboardInterrupt:
        api.stop()


if __name__ == "__main__":
    main()
