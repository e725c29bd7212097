"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 in a thread.

It records every request and answers as the test scripts it: a queue of replies (status,
delay, headers) used in order, then a default. `verify` is the receiver snippet of the webhook
page (docs/sinks/webhook.md), kept word for word (a test compares them), so the tests check
signatures exactly as a user's receiver would.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import orjson
from requests.structures import CaseInsensitiveDict

from tests.support.local_server import LocalServer


# --- the webhook page's snippet (docs/sinks/webhook.md) --------------------------------------
def verify(secret: bytes, body: bytes, headers: Mapping[str, str], tolerance: int = 300) -> bool:
    """True if `body` was signed with `secret`, less than `tolerance` seconds ago."""
    signed = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signed, headers.get("X-OM-Signature", "")):
        return False
    header = headers.get("X-Syncer-Signature", "")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t = parts.get("t", "")
    timed = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = t.isdigit() and abs(time.time() - int(t)) <= tolerance
    return fresh and hmac.compare_digest(timed, parts.get("v1", ""))


# --- end of the snippet ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering


@dataclass
class Request:
    path: str
    headers: CaseInsensitiveDict[str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def events(self) -> list[dict[str, Any]]:
        data = orjson.loads(self.body)
        return data if isinstance(data, list) else [data]


class Receiver(LocalServer):
    """Records requests; answers with `script` replies in order, then with `default`."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.requests: list[Request] = []
        self.script: list[Reply] = []
        self.default = Reply()
        self._lock = threading.Lock()
        super().__init__(_handler(self), host, port)

    @property
    def url(self) -> str:
        return f"{self.origin}/hook"

    def accepted(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def events(self) -> list[dict[str, Any]]:
        """Every event of every request answered with 2xx, in arrival order."""
        return [event for request in self.accepted() for event in request.events]

    def _reply(self, request: Request) -> Reply:
        with self._lock:
            reply = self.script.pop(0) if self.script else self.default
            request.status = reply.status
            self.requests.append(request)
        return reply


def free_port() -> int:
    """A port nothing listens on (yet): where a receiver that is down would be."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = Request(self.path, CaseInsensitiveDict(self.headers.items()), body, 0)
            reply = receiver._reply(request)
            if reply.delay:
                time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                pass  # the client gave up waiting (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve(port: int, secret: bytes | None) -> None:
    """Receive until Ctrl-C, printing each event and whether its request's signatures hold."""
    with Receiver(port=port) as receiver:
        print(f"listening on {receiver.url}", flush=True)
        shown = 0
        try:
            while True:
                time.sleep(0.2)
                arrived = receiver.accepted()[shown:]
                shown += len(arrived)
                for request in arrived:
                    if secret is None:
                        check = "unchecked"
                    else:
                        check = "signed" if verify(secret, request.body, request.headers) else "BAD"
                    for event in request.events:
                        kind, entity = event["eventType"], event["entityType"]
                        fqn = event["entityFullyQualifiedName"]
                        print(f"{check} {kind} {entity} {fqn}", flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    # `python -m tests.support.receiver [--port 8099]`: the receiver examples/sinks/webhook.yaml
    # posts to; it checks signatures with the secret in $WEBHOOK_SECRET when that is set.
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m tests.support.receiver")
    parser.add_argument("--port", type=int, default=8099)
    options = parser.parse_args()
    key = os.environ.get("WEBHOOK_SECRET")
    serve(options.port, key.encode() if key else None)
