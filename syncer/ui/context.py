"""What every page shares: the state it reads (the snapshot), the templates, the navigation,
and the query parameters read with a 400 for a bad one.

    ui(request)      the `Ui` of the app that serves the request
    Ui.state(...)    a read-only connection to the state shown (503 while there is none yet)
    Ui.render(...)   a template in the page layout (navigation, the busy banner)
    Ui.page(...)     HTML of a plug-in's own in the page layout
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import jinja2
from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from syncer.secrets import redact
from syncer.ui import filters
from syncer.ui.panels import Panel
from syncer.ui.snapshot import Snapshots, View

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class Unavailable(Exception):
    """No copy of the state could be taken yet: a run holds the file, or it cannot be read."""

    def __init__(self, view: View) -> None:
        super().__init__(view.busy or view.problem or "no state yet")
        self.view = view


@dataclass
class Ui:
    snapshots: Snapshots
    panels: Sequence[Panel]
    templates: jinja2.Environment
    login: bool  # whether a token guards the pages (the navigation offers to log out)

    @contextmanager
    def state(self, request: Request) -> Iterator[duckdb.DuckDBPyConnection]:
        view = self.snapshots.view()
        request.state.view = view
        if view.copy is None:
            raise Unavailable(view)
        with view.connection() as connection:
            yield connection

    def render(
        self, request: Request, template: str, *, status_code: int = 200, **values: Any
    ) -> HTMLResponse:
        view: View | None = getattr(request.state, "view", None)
        html = self.templates.get_template(template).render(
            request=request,
            nav=[p for p in self.panels if p.nav],
            view=view,
            login=self.login,
            **values,
        )
        # Stored errors were masked when written; this masks what this process knows besides
        # (the token), in case a page quotes one back.
        return HTMLResponse(redact(html), status_code=status_code)

    def page(self, request: Request, title: str, body: Markup | str) -> HTMLResponse:
        """A plug-in's HTML in the layout: `body` is escaped unless it is `Markup`."""
        return self.render(request, "panel.html", title=title, body=body)


def ui(request: Request) -> Ui:
    found: Ui = request.app.state.ui
    return found


def templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("syncer.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(filters.FILTERS)
    environment.globals.update(with_query=filters.with_query, link=filters.link)
    return environment


# --- query parameters -------------------------------------------------------------------------


def int_param(
    request: Request, name: str, default: int | None = None, *, low: int = 0, high: int = 2**62
) -> int | None:
    """Query parameter `name` as a whole number within [low, high]; 400 for anything else."""
    text = request.query_params.get(name, "").strip()
    if not text:
        return default
    if not text.lstrip("-").isdigit() or not low <= int(text) <= high:
        raise HTTPException(
            400, f"?{name}={text[:40]} is not a whole number from {low} to {high}: fix the link"
        )
    return int(text)


def choice_param(request: Request, name: str, choices: Sequence[str]) -> str | None:
    """Query parameter `name`, one of `choices` (or absent); 400 for anything else."""
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    if text not in choices:
        raise HTTPException(
            400, f"?{name}={text[:40]} is not one of {', '.join(choices)}: pick one of them"
        )
    return text


def text_param(request: Request, name: str, *, required: bool = False) -> str | None:
    text = request.query_params.get(name, "").strip()
    if not text and required:
        raise HTTPException(400, f"?{name}= is missing: name the {name} to show")
    return text or None


@dataclass(frozen=True, slots=True)
class Paging:
    offset: int
    limit: int


def paging(request: Request) -> Paging:
    """`?page=` (from 1) and `?size=` (at most `MAX_PAGE_SIZE`) as an offset and a limit."""
    size = int_param(request, "size", PAGE_SIZE, low=1, high=MAX_PAGE_SIZE) or PAGE_SIZE
    page = int_param(request, "page", 1, low=1, high=1_000_000) or 1
    return Paging((page - 1) * size, size)
