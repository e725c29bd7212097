"""The token that guards the web view when it listens beyond this machine.

A request is let in with `Authorization: Bearer TOKEN` or the `token` cookie that the login
form sets; both are compared in constant time. The login page and the stylesheet are open.
The token is never written into a page, a log line or an error.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "token"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_OPEN = ("/login", "/static/")


def needs_token(host: str) -> bool:
    """Whether listening on `host` reaches beyond this machine, so that a token is required."""
    return host.strip("[]") not in LOOPBACK


def loopback_names(host: str) -> list[str] | None:
    """The Host headers to answer when listening on `host`: a loopback address's names (with
    the port a browser adds, which Starlette leaves out of the comparison); None for any other
    address, which a token guards instead."""
    if needs_token(host):
        return None
    return ["127.0.0.1", "localhost", "[::1]"]


def matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def authorized(headers: Mapping[str, str], cookies: Mapping[str, str], token: str) -> bool:
    """Whether a request carries the token, as a bearer header or as the login cookie."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and matches(credentials.strip(), token):
        return True
    return matches(cookies.get(COOKIE), token)


class TokenGate:
    """ASGI middleware: requests without the token get `refuse(request)` (a 401 page)."""

    def __init__(self, app: ASGIApp, token: str, refuse: Callable[[Request], Response]) -> None:
        self.app = app
        self._token = token
        self._refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_OPEN):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if authorized(request.headers, request.cookies, self._token):
            await self.app(scope, receive, send)
            return
        await self._refuse(request)(scope, receive, send)
