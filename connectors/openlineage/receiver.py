"""The receiver: OpenLineage's HTTP transport, into the inbox (`syncer serve`).

`POST /api/v1/lineage` takes one event, `POST /api/v1/lineage/batch` a JSON array of them (the
batch path of the spec's API). Every event is checked (syncer.connectors.openlineage.validation)
before any is stored, and a request's events are stored in one transaction that is on disk
before the answer leaves: a 2xx means the events survive a crash, a 4xx means nothing of the
request was stored. An event stored before is not stored again, so a client may resend.

Refusals are one-line JSON, `{"error": "..."}`: 400 (not JSON, not an event), 401 (no or a wrong
bearer token), 413 (a body over the limit, told by Content-Length or met while reading), 415 (an
unknown Content-Encoding), 503 (the inbox cannot be written; the client retries). Each request is
logged as one line without its body or headers, so neither events nor the token reach a log.
"""

from __future__ import annotations

import hmac
import json
import time
import zlib
from collections.abc import Sequence
from sqlite3 import Error as SqliteError
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncer.connectors.openlineage.config import is_loopback
from syncer.connectors.openlineage.inbox import Inbox
from syncer.connectors.openlineage.validation import InvalidEvent, check_event

__all__ = ["ENDPOINT", "Refused", "create_app", "loopback_names"]

ENDPOINT = "/api/v1/lineage"
log = structlog.get_logger("syncer.serve")


class Refused(Exception):
    """A request that is answered with a 4xx (or 503) and stores nothing."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def create_app(
    inbox: Inbox,
    *,
    token: str | None,
    max_body_bytes: int,
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The receiver's ASGI app. `allowed_hosts`: the Host headers to answer (a loopback
    listener's names, against DNS rebinding); None: any, which the token guards instead."""
    receiver = _Receiver(inbox, token, max_body_bytes)
    middleware = [Middleware(_RequestLog)]
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    routes = [
        Route(ENDPOINT, receiver.one, methods=["POST"]),
        Route(f"{ENDPOINT}/batch", receiver.batch, methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=middleware)


def loopback_names(host: str) -> list[str] | None:
    """The Host headers a loopback listener answers; None for any other address."""
    return ["127.0.0.1", "localhost", "[::1]"] if is_loopback(host) else None


class _Receiver:
    def __init__(self, inbox: Inbox, token: str | None, max_body_bytes: int) -> None:
        self._inbox = inbox
        self._token = token.encode() if token is not None else None
        self._limit = max_body_bytes

    async def one(self, request: Request) -> JSONResponse:
        return await self._receive(request, batch=False)

    async def batch(self, request: Request) -> JSONResponse:
        return await self._receive(request, batch=True)

    async def _receive(self, request: Request, *, batch: bool) -> JSONResponse:
        try:
            self._authorize(request)
            events = _events(await self._body(request), batch=batch)
            for i, event in enumerate(events):
                try:
                    check_event(event)
                except InvalidEvent as exc:
                    raise Refused(400, f"event {i}: {exc}" if batch else str(exc)) from None
            stored = await run_in_threadpool(self._store, events)
        except Refused as refused:
            headers = {"WWW-Authenticate": "Bearer"} if refused.status == 401 else None
            return JSONResponse({"error": refused.reason}, refused.status, headers=headers)
        request.state.events = len(events)
        request.state.stored = stored
        if not batch:
            return JSONResponse({"received": 1, "stored": stored}, 201)
        summary = {"received": len(events), "successful": len(events), "failed": 0}
        return JSONResponse(
            {"status": "success", "summary": summary, "stored": stored, "failed_events": []}
        )

    def _authorize(self, request: Request) -> None:
        if self._token is None:
            return
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        given = credentials.strip().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, self._token):
            raise Refused(401, "no or a wrong bearer token: send Authorization: Bearer TOKEN")

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            raise Refused(413, self._too_large())
        body = bytearray()
        # Counted while it arrives too: a chunked body declares no length.
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._limit:
                raise Refused(413, self._too_large())
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding == "gzip":  # openlineage-python's `compression: gzip`
            return self._gunzip(bytes(body))
        if encoding != "identity":
            raise Refused(415, f"Content-Encoding {encoding} is not supported: send gzip or none")
        return bytes(body)

    def _gunzip(self, body: bytes) -> bytes:
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        try:
            plain = inflater.decompress(body, self._limit + 1)
        except zlib.error:
            raise Refused(400, "the body is not valid gzip") from None
        if len(plain) > self._limit or inflater.unconsumed_tail:
            raise Refused(413, self._too_large())
        return plain

    def _too_large(self) -> str:
        return (
            f"the body is larger than {self._limit} bytes: send fewer events per request, or "
            "raise receiver.max_body_bytes"
        )

    def _store(self, events: list[dict[str, Any]]) -> int:
        try:
            return self._inbox.append(events)
        except SqliteError as exc:
            log.error("inbox_write_failed", inbox=str(self._inbox.path), error=str(exc))
            raise Refused(503, "the inbox cannot be written now: send the events again") from None


def _events(body: bytes, *, batch: bool) -> list[dict[str, Any]]:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = str(exc).splitlines()[0]
        raise Refused(400, f"the body is not JSON ({reason}): send one event as JSON") from None
    if batch:
        if not isinstance(value, list) or not value:
            raise Refused(400, "a batch is a non-empty JSON array of events")
        return value
    if isinstance(value, list):
        raise Refused(400, f"a JSON array is a batch: post it to {ENDPOINT}/batch")
    return [value]


class _RequestLog:
    """One log line per request: method, path, status, events, duration; no body, no headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            state = scope.get("state", {})
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                events=state.get("events"),
                stored=state.get("stored"),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
