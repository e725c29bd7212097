"""A third-party panel, as another package would ship it and register under `syncer.ui`."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syncer.ui.context import ui


class HelloPanel:
    name = "hello"
    title = "Hello"
    experimental = False
    nav = "/hello"

    def routes(self) -> Sequence[BaseRoute]:
        return [Route("/hello", self.hello)]

    def hello(self, request: Request) -> Response:
        with ui(request).state(request) as connection:
            runs = connection.execute("SELECT count(*) FROM runs").fetchall()[0][0]
        return ui(request).page(request, "Hello", Markup(f"<p id='hello'>{runs} runs</p>"))


class NotAPanel:
    name = "broken"
