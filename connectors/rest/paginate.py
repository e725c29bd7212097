"""Paginators: small state machines that read one page's answer and say what to ask for next.

Each starts with `first()`, then turns every page into the next request, or None at the end.
A next request either adds parameters to the endpoint's own (page number, offset, cursor
token) or is a link to follow as it is (a next link in the body or in the `Link` header).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field
from requests.utils import parse_header_links

from syncer.connectors.rest.expressions import JSON, Expression
from syncer.steps import StepConfig


class PageNumberPagination(StepConfig):
    """`?page=1`, `?page=2`, … until a page comes back short or empty (or `total_pages`)."""

    type: Literal["page_number"]
    """Page numbers."""
    param: str = "page"
    """The request parameter that carries the page number."""
    start: int = 1
    """The first page's number."""
    size_param: str | None = None
    """The request parameter that carries `size`, e.g. per_page."""
    size: int | None = Field(default=None, ge=1)
    """Records per page; a shorter page is the last."""
    total_pages: str | None = None
    """Expression: the number of pages, in the body."""


class OffsetPagination(StepConfig):
    """`?offset=0&limit=100`, `?offset=100&limit=100`, … until a page comes back short."""

    type: Literal["offset"]
    """Offsets."""
    offset_param: str = "offset"
    """The request parameter that carries the offset."""
    limit_param: str = "limit"
    """The request parameter that carries the limit."""
    limit: int = Field(default=100, ge=1)
    """Records per page; a shorter page is the last."""
    total: str | None = None
    """Expression: the number of records, in the body."""


class CursorPagination(StepConfig):
    """A token in each answer (`next_page_token`) sent back as a parameter (`page_token`)."""

    type: Literal["cursor"]
    """A token in each answer."""
    next_token: str
    """Expression: where the next page's token is in the body."""
    param: str
    """The request parameter that carries it."""


class NextLinkPagination(StepConfig):
    """The next page's URL in the body (`links.next`), absolute or relative."""

    type: Literal["next_link"]
    """A next link in the body."""
    next_link: str
    """Expression: where the next page's URL is in the body."""


class LinkHeaderPagination(StepConfig):
    """The next page's URL in the `Link` header (RFC 8288), as GitHub and many others send."""

    type: Literal["link_header"]
    """The Link header."""
    rel: str = "next"
    """The link relation of the next page."""


PaginationConfig = Annotated[
    PageNumberPagination
    | OffsetPagination
    | CursorPagination
    | NextLinkPagination
    | LinkHeaderPagination,
    Field(discriminator="type"),
]


class PaginationError(ValueError):
    """Pagination that cannot go on sensibly (a token that repeats)."""


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What to ask for: the endpoint with these extra parameters, or `url` as it is."""

    params: Mapping[str, Any] = field(default_factory=dict)
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """What one answer held: its body, its headers and how many records were selected."""

    body: JSON
    headers: Mapping[str, str]
    count: int


class Paginator(Protocol):
    def first(self) -> PageRequest: ...

    def next(self, page: Page) -> PageRequest | None: ...


class SinglePage:
    def first(self) -> PageRequest:
        return PageRequest()

    def next(self, page: Page) -> PageRequest | None:
        return None


class PageNumber:
    def __init__(self, config: PageNumberPagination) -> None:
        self.config = config
        self.number = config.start
        self.total = Expression(config.total_pages) if config.total_pages else None

    def first(self) -> PageRequest:
        return self._request()

    def next(self, page: Page) -> PageRequest | None:
        if page.count == 0 or (self.config.size and page.count < self.config.size):
            return None
        if self.total is not None:
            total = _integer(self.total.search(page.body))
            if total is not None and self.number - self.config.start + 1 >= total:
                return None
        self.number += 1
        return self._request()

    def _request(self) -> PageRequest:
        params: dict[str, Any] = {self.config.param: self.number}
        if self.config.size_param and self.config.size:
            params[self.config.size_param] = self.config.size
        return PageRequest(params)


class Offset:
    def __init__(self, config: OffsetPagination) -> None:
        self.config = config
        self.offset = 0
        self.total = Expression(config.total) if config.total else None

    def first(self) -> PageRequest:
        return self._request()

    def next(self, page: Page) -> PageRequest | None:
        if page.count < self.config.limit:
            return None
        self.offset += page.count
        if self.total is not None:
            total = _integer(self.total.search(page.body))
            if total is not None and self.offset >= total:
                return None
        return self._request()

    def _request(self) -> PageRequest:
        return PageRequest(
            {self.config.offset_param: self.offset, self.config.limit_param: self.config.limit}
        )


class Token:
    def __init__(self, config: CursorPagination) -> None:
        self.config = config
        self.token = Expression(config.next_token)
        self.seen: set[str] = set()

    def first(self) -> PageRequest:
        return PageRequest()

    def next(self, page: Page) -> PageRequest | None:
        value = self.token.search(page.body)
        if value is None or value == "":
            return None
        token = str(value)
        _once(self.seen, token, f"next page token `{self.config.next_token}`")
        return PageRequest({self.config.param: token})


class NextLink:
    def __init__(self, config: NextLinkPagination) -> None:
        self.config = config
        self.link = Expression(config.next_link)
        self.seen: set[str] = set()

    def first(self) -> PageRequest:
        return PageRequest()

    def next(self, page: Page) -> PageRequest | None:
        value = self.link.search(page.body)
        if not value:
            return None
        if not isinstance(value, str):
            raise PaginationError(f"next link `{self.config.next_link}` is not text: {value!r}")
        _once(self.seen, value, f"next link `{self.config.next_link}`")
        return PageRequest(url=value)


class LinkHeader:
    def __init__(self, config: LinkHeaderPagination) -> None:
        self.rel = config.rel
        self.seen: set[str] = set()

    def first(self) -> PageRequest:
        return PageRequest()

    def next(self, page: Page) -> PageRequest | None:
        header = page.headers.get("Link")
        if not header:
            return None
        for link in parse_header_links(header):
            if self.rel in str(link.get("rel", "")).split() and link.get("url"):
                _once(self.seen, link["url"], f"Link header rel={self.rel}")
                return PageRequest(url=link["url"])
        return None


def paginator(config: PaginationConfig | None) -> Paginator:
    """A fresh paginator for one pass over an endpoint."""
    if config is None:
        return SinglePage()
    if isinstance(config, PageNumberPagination):
        return PageNumber(config)
    if isinstance(config, OffsetPagination):
        return Offset(config)
    if isinstance(config, CursorPagination):
        return Token(config)
    if isinstance(config, NextLinkPagination):
        return NextLink(config)
    return LinkHeader(config)


def _once(seen: set[str], value: str, what: str) -> None:
    # A server that hands out the same token twice would have us read the same pages forever.
    if value in seen:
        raise PaginationError(f"{what} repeated a value it gave before; pagination stopped")
    seen.add(value)


def _integer(value: JSON) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
