"""An in-process stand-in for Airflow's REST API, for the HTTP logic's tests (paging, version
detection, errors, auth). Its answers are hand-written in the shapes of Airflow 3's API v2 and
Airflow 2's API v1; the real API's shapes are checked against the recorded cassettes.

    with FakeAirflow() as airflow:
        airflow.route("GET", "/api/v2/version", Reply({"version": "3.1.0"}))
        ... airflow.url ...; airflow.requests[0].query
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.local_server import LocalServer


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # percent-decoded
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    raw_path: str  # as sent


@dataclass(frozen=True)
class Reply:
    body: Any = None  # sent as JSON unless `raw` is given
    status: int = 200
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Seen], Reply]


class FakeAirflow(LocalServer):
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Seen] = []
        super().__init__(_handler(self))

    @property
    def url(self) -> str:
        return self.origin

    def route(self, method: str, path: str, handler: Handler | Reply) -> None:
        self.routes[method, path] = handler if callable(handler) else (lambda _: handler)

    def paged(self, path: str, key: str, items: list[Any]) -> None:
        """A GET list that pages by `limit` and `offset`, as Airflow's lists do."""

        def answer(seen: Seen) -> Reply:
            limit = int(seen.query.get("limit", ["100"])[0])
            offset = int(seen.query.get("offset", ["0"])[0])
            page = items[offset : offset + limit]
            return Reply({key: page, "total_entries": len(items)})

        self.route("GET", path, answer)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]


def _handler(fake: FakeAirflow) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length) if length else b""
            seen = Seen(
                method,
                unquote(parts.path),
                parse_qs(parts.query),
                dict(self.headers.items()),
                json.loads(raw) if raw else None,
                parts.path,
            )
            fake.requests.append(seen)
            route = fake.routes.get((method, seen.path))
            reply = route(seen) if route else Reply({"detail": "Not Found"}, status=404)
            body = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
