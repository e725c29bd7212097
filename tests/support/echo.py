"""A careless HTTP server for tests: a real server on 127.0.0.1 that refuses every request and
repeats back in its error body what it was sent (the Authorization header, the query string,
any API-key header and the start of the body), followed by a long filler.

Servers like this exist (a debugging proxy, a framework's default error page): whatever a client
puts in a request can come back in an error message, which syncer then prints and stores. Every
request is recorded, so a test can also check what reached the server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import orjson

from tests.support.local_server import LocalServer

# The filler after the echo: a body far longer than any error message should show.
FILLER = "~"
FILLER_LENGTH = 4000
# Requests under this path are answered 500 instead: a server that keeps failing.
FLAKY = "/flaky"
# Headers whose values are echoed first (besides Authorization): where API keys travel.
ECHOED_HEADERS = ("authorization", "x-api-key", "x-om-signature")


@dataclass(frozen=True)
class Echoed:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes


class EchoServer(LocalServer):
    """Answers every request with `status` (500 under `FLAKY`) and a JSON body echoing it."""

    def __init__(self, status: int = 401) -> None:
        self.status = status
        self.requests: list[Echoed] = []
        self._lock = threading.Lock()
        super().__init__(_handler(self))

    @property
    def url(self) -> str:
        return self.origin

    def received(self) -> list[Echoed]:
        with self._lock:
            return list(self.requests)

    def answer(self, request: Echoed) -> bytes:
        with self._lock:
            self.requests.append(request)
        said = [f"refused {request.method} {request.path}"]
        said += [
            f"{name}={value}"
            for name, value in request.headers.items()
            if name.lower() in ECHOED_HEADERS
        ]
        said.append(f"body={request.body[:200].decode('utf-8', 'replace')}")
        text = "; ".join(said) + " " + FILLER * FILLER_LENGTH
        # Every key an API's error body may use, so each client's parser finds the echo.
        return orjson.dumps({"message": text, "detail": text, "error": text})


def _handler(server: EchoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _echo(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = Echoed(self.command, self.path, dict(self.headers.items()), body)
            reply = server.answer(request)
            try:
                failing = request.path.startswith(FLAKY)
                self.send_response(500 if failing else server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:
                pass  # the client gave up

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _echo

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
