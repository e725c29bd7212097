"""The web view's ASGI app: the enabled panels' routes, the login form when a token guards it,
the stylesheet shipped in the package, and error pages of one line."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from syncer.ui import auth
from syncer.ui.context import Ui, Unavailable, templates, ui
from syncer.ui.panels import Panel, enabled_panels, installed_panels
from syncer.ui.snapshot import Snapshots


@dataclass(frozen=True, slots=True)
class Settings:
    state: Path
    token: str | None = None  # resolved: the value, never the reference
    features: Collection[str] = ()
    panels: Sequence[Panel] | None = None  # default: those installed under `syncer.ui`
    refresh_seconds: float = 2.0  # how often at most the file is looked at again
    # The Host headers answered (None: any). Served on a loopback address, only its names:
    # a web page elsewhere that points its own domain at 127.0.0.1 (DNS rebinding) is refused.
    allowed_hosts: Sequence[str] | None = None


def create_app(settings: Settings) -> Starlette:
    panels = enabled_panels(
        installed_panels() if settings.panels is None else settings.panels, settings.features
    )
    snapshots = Snapshots(settings.state, interval=settings.refresh_seconds)
    state = Ui(snapshots, panels, templates(), login=settings.token is not None)
    routes: list[BaseRoute] = [
        Route("/", _home),
        Route("/login", _login, methods=["GET", "POST"]),
        Route("/logout", _logout),
        Mount("/static", StaticFiles(packages=[("syncer.ui", "static")]), name="static"),
    ]
    for panel in panels:
        routes.extend(panel.routes())

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            snapshots.close()

    middleware = []
    if settings.allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts))
    if settings.token is not None:
        token = settings.token
        middleware.append(
            Middleware(auth.TokenGate, token=token, refuse=lambda r: _login_page(r, 401))
        )
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _error, Unavailable: _unavailable},
        lifespan=lifespan,
    )
    app.state.ui = state
    app.state.token = settings.token
    return app


def _home(request: Request) -> Response:
    return RedirectResponse("/runs", status_code=303)


async def _login(request: Request) -> Response:
    token: str | None = request.app.state.token
    if token is None:
        return RedirectResponse("/runs", status_code=303)
    if request.method == "GET":
        return _login_page(request, 200)
    form = await request.form()
    given = form.get("token")
    if not isinstance(given, str) or not auth.matches(given.strip(), token):
        return _login_page(request, 401, wrong=True)
    response = RedirectResponse("/runs", status_code=303)
    response.set_cookie(
        auth.COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE)
    return response


def _login_page(request: Request, status: int, *, wrong: bool = False) -> Response:
    return ui(request).render(
        request, "login.html", status_code=status, title="Log in", wrong=wrong
    )


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return ui(request).render(
        request,
        "error.html",
        status_code=exc.status_code,
        title="Not found" if exc.status_code == 404 else "Error",
        reason=exc.detail,
    )


async def _unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Unavailable)
    return ui(request).render(
        request, "unavailable.html", status_code=503, title="Waiting for the state"
    )
