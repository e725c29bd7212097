"""An in-process stand-in for an HTTP server: a `requests` transport that answers from Python.

`syncer.http.HttpClient` (and `ClientCredentials`) take a `transport`, any
`requests.adapters.BaseAdapter`. `FakeTransport` is one that never opens a socket: it answers
each request from a function, or from a script of answers taken in order, and keeps every
request it was sent. Retries, paging, auth and error messages are then tested as they run,
fast and deterministically, like httpx's `MockTransport`:

    transport = FakeTransport(lambda request: Reply(json={"items": []}))
    client = HttpClient("https://api.example", transport=transport)
    client.get_json("/items", params={"page": 1})
    assert transport.requests[0].url == "https://api.example/items?page=1"

    # a script: one answer per request, in order; an exception is raised as the transport's
    transport = FakeTransport([
        Reply(429, headers={"Retry-After": "2"}),
        requests.ConnectionError("connection refused"),
        Reply(json={"items": []}),
    ])

What only a real socket shows (a timeout cut by the clock, a refused port, TLS) stays with
tests against real servers.
"""

from __future__ import annotations

import json as jsonlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from io import BytesIO
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPResponse

__all__ = ["Answer", "FakeTransport", "Handler", "Reply"]


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer: a status, headers and a body given as JSON (`json`) or as it is sent
    (`content`, for an HTML error page or a truncated answer)."""

    status: int = 200
    json: Any = None  # encoded as the body, with Content-Type application/json; None: no JSON
    content: bytes | str | None = None  # the body as sent; takes precedence over `json`
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        if self.content is not None:
            return self.content.encode() if isinstance(self.content, str) else self.content
        return b"" if self.json is None else jsonlib.dumps(self.json).encode()

    def all_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        has_type = any(name.lower() == "content-type" for name in headers)
        if self.content is None and self.json is not None and not has_type:
            headers["Content-Type"] = "application/json"
        return headers


# What answers a request: a reply, or raises (say `requests.Timeout()`) as a transport would.
Handler = Callable[[requests.PreparedRequest], Reply]
# One step of a script: a reply, or an exception the transport raises for that request.
Answer = Reply | Exception


class FakeTransport(BaseAdapter):
    """A `requests` transport that answers in-process and records what it was sent.

    `answer` is a `Handler` called with each request; or one `Reply` for every request; or a
    script (any iterable of `Reply` and exceptions), one step per request. A request beyond the
    script fails the test with an `AssertionError` naming it, which no client retries.
    """

    def __init__(self, answer: Handler | Reply | Iterable[Answer]) -> None:
        super().__init__()
        self.requests: list[requests.PreparedRequest] = []  # every request sent, in order
        self._lock = threading.Lock()  # clients may send from several threads
        self._handler: Handler | None = None
        self._script: deque[Answer] = deque()
        if isinstance(answer, Reply):
            reply = answer
            self._handler = lambda _request: reply
        elif callable(answer):
            self._handler = answer
        else:
            self._script.extend(answer)

    @property
    def pending(self) -> int:
        """How many steps of the script no request has taken yet."""
        return len(self._script)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        answer = self._next(request)
        if isinstance(answer, Exception):
            raise answer
        return _response(request, answer)

    def close(self) -> None:
        """Nothing to release; a closed session's fake keeps answering and keeps its record."""

    def _next(self, request: requests.PreparedRequest) -> Answer:
        with self._lock:
            self.requests.append(request.copy())
            handler = self._handler
            if handler is None:
                if not self._script:
                    raise AssertionError(
                        f"FakeTransport: nothing scripted for request {len(self.requests)} "
                        f"({request.method} {request.url}); add a step to the script"
                    )
                return self._script.popleft()
        # Outside the lock: a handler may block, or send a request of its own.
        return handler(request)


def _response(request: requests.PreparedRequest, reply: Reply) -> requests.Response:
    """A `requests.Response` built as requests' own adapter builds one from the wire."""
    headers = reply.all_headers()
    response = requests.Response()
    response.status_code = reply.status
    try:
        response.reason = HTTPStatus(reply.status).phrase
    except ValueError:  # a status HTTP does not name
        response.reason = ""
    response.headers = CaseInsensitiveDict(headers)
    response.encoding = get_encoding_from_headers(response.headers)
    response.raw = HTTPResponse(
        body=BytesIO(reply.body()),
        headers=headers,
        status=reply.status,
        reason=response.reason,
        preload_content=False,
    )
    response.url = request.url or ""
    response.request = request
    return response
