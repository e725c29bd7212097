"""A stand-in for where metrics are sent (a MetricsReceiver, an OpenTelemetry collector) for tests:
a real HTTP server on 127.0.0.1 in a thread that records every request (method, path,
authorization, content type, body) and answers 200 with an empty body, as both do."""

from __future__ import annotations

from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.local_server import LocalServer


@dataclass(frozen=True)
class Push:
    method: str
    path: str  # /metrics/job/<job>/<label>/<value>...
    authorization: str | None
    content_type: str | None
    body: bytes

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every sample of a Prometheus push, by name and labels."""
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(self.body.decode())
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples().get((name, frozenset(labels.items())))


class MetricsReceiver(LocalServer):
    """Records what it receives; use as a context manager."""

    def __init__(self) -> None:
        self.pushes: list[Push] = []
        super().__init__(_handler(self))

    @property
    def url(self) -> str:
        return self.origin


def _handler(receiver: MetricsReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            auth, kind = self.headers.get("Authorization"), self.headers.get("Content-Type")
            receiver.pushes.append(Push(self.command, self.path, auth, kind, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_DELETE = _record

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
