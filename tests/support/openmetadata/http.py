"""HTTP plumbing: the stdlib server and request handler that pass each request on, replies and
how they are sent, and the parsing of JSON bodies and HTTP Basic credentials."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import unquote_plus


class Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Final = Drop()
"""A scripted response that closes the connection without answering."""


@dataclass
class Reply:
    status: int
    body: Any = None  # sent as JSON, unless bytes or str; None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """OpenMetadata's error reply."""
    return Reply(status, {"code": status, "message": message}, headers or {})


def send(handler: BaseHTTPRequestHandler, reply: Reply | Drop) -> None:
    if isinstance(reply, Drop):
        handler.close_connection = True  # and nothing written: the client sees a closed socket
        return
    headers = {k.lower(): v for k, v in reply.headers.items()}
    if reply.body is None:
        payload = b""
    elif isinstance(reply.body, bytes | str):
        payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
    else:
        payload = json.dumps(reply.body).encode()
        headers.setdefault("content-type", "application/json")
    handler.send_response(reply.status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def parse_json(raw: bytes) -> tuple[Any, str | None]:
    """The parsed body (None if empty), and what is wrong with it if it is not JSON."""
    if not raw:
        return None, None
    try:
        return json.loads(raw), None
    except ValueError as e:
        return None, f"the body is not JSON: {e}"


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(client id, secret) from an HTTP Basic header, form-decoded as RFC 6749 (2.3.1) says."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


class _Handler(BaseHTTPRequestHandler):
    server: HTTPServer

    def do_GET(self) -> None:
        self.server.on_request(self)

    do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the recorded requests tell what happened."""


class HTTPServer(ThreadingHTTPServer):
    """Serves each request, whatever its method, by calling `on_request` with its handler."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], on_request: Callable[[BaseHTTPRequestHandler], None]
    ) -> None:
        self.on_request = on_request
        super().__init__(address, _Handler)
