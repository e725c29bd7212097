"""Each pagination style reads every page of an endpoint once, and stops where the API says."""

from __future__ import annotations

from typing import Any

from syncer.connectors.rest import RestConfig, RestSource
from syncer.testing import http as fake
from tests.unit.connectors.rest.conftest import FAST_RETRY, errors, ids, make_source, read
from tests.unit.connectors.rest.fake_api import FakeApi, Reply, Seen

ITEMS = [{"id": i, "name": f"item{i}"} for i in range(1, 6)]


def _items(api: FakeApi, pagination: dict[str, Any], records: str = "items") -> list[Any]:
    source = make_source(
        api,
        {
            "name": "items",
            "path": "/items",
            "records": records,
            "primary_key": "id",
            "pagination": pagination,
        },
    )
    return ids(read(source, "items"))


def test_page_number_pagination_reads_pages_until_a_short_one(api: FakeApi) -> None:
    def pages(req: Seen) -> Reply:
        page, size = int(req.arg("page") or 0), int(req.arg("per_page") or 0)
        return Reply({"items": ITEMS[(page - 1) * size : page * size]})

    api.route("/items", pages)
    pagination = {"type": "page_number", "size_param": "per_page", "size": 2}
    assert _items(api, pagination) == [1, 2, 3, 4, 5]
    assert [(r.arg("page"), r.arg("per_page")) for r in api.requests] == [
        ("1", "2"),
        ("2", "2"),
        ("3", "2"),
    ]


def test_page_number_pagination_stops_at_total_pages_without_asking_for_more(api: FakeApi) -> None:
    def pages(req: Seen) -> Reply:
        page = int(req.arg("p") or 0)
        return Reply({"data": {"items": ITEMS[page * 3 : page * 3 + 3]}, "pages": 2})

    api.route("/items", pages)
    pagination = {"type": "page_number", "param": "p", "start": 0, "total_pages": "pages"}
    assert _items(api, pagination, records="data.items") == [1, 2, 3, 4, 5]
    assert [r.arg("p") for r in api.requests] == ["0", "1"]


def test_offset_pagination_moves_by_the_records_read_and_stops_at_the_total(api: FakeApi) -> None:
    def window(req: Seen) -> Reply:
        offset, limit = int(req.arg("skip") or 0), int(req.arg("take") or 0)
        return Reply({"items": ITEMS[offset : offset + limit], "count": len(ITEMS)})

    api.route("/items", window)
    pagination = {
        "type": "offset",
        "offset_param": "skip",
        "limit_param": "take",
        "limit": 2,
        "total": "count",
    }
    assert _items(api, pagination) == [1, 2, 3, 4, 5]
    assert [(r.arg("skip"), r.arg("take")) for r in api.requests] == [
        ("0", "2"),
        ("2", "2"),
        ("4", "2"),
    ]


def test_a_cursor_token_in_the_body_is_sent_back_until_there_is_none(api: FakeApi) -> None:
    def tokens(req: Seen) -> Reply:
        start = int(req.arg("page_token") or 0)
        nxt = str(start + 2) if start + 2 < len(ITEMS) else None
        return Reply({"items": ITEMS[start : start + 2], "next_page_token": nxt})

    api.route("/items", tokens)
    pagination = {"type": "cursor", "next_token": "next_page_token", "param": "page_token"}
    assert _items(api, pagination) == [1, 2, 3, 4, 5]
    assert [r.arg("page_token") for r in api.requests] == [None, "2", "4"]


def test_a_next_link_in_the_body_is_followed_relative_or_absolute(api: FakeApi) -> None:
    def links(req: Seen) -> Reply:
        start = int(req.arg("from") or 0)
        nxt = None
        if start == 0:
            nxt = "/items?from=2"  # relative to the API
        elif start == 2:
            nxt = f"{api.url}/items?from=4"
        return Reply({"items": ITEMS[start : start + 2], "links": {"next": nxt}})

    api.route("/items", links)
    assert _items(api, {"type": "next_link", "next_link": "links.next"}) == [1, 2, 3, 4, 5]
    assert [r.arg("from") for r in api.requests] == [None, "2", "4"]


def test_the_link_header_next_relation_is_followed_to_the_last_page(api: FakeApi) -> None:
    def linked(req: Seen) -> Reply:
        page = int(req.arg("page") or 1)
        headers = {}
        if page * 2 < len(ITEMS):
            headers["Link"] = (
                f'<{api.url}/items?page={page + 1}&per_page=2>; rel="next", '
                f'<{api.url}/items?page=3&per_page=2>; rel="last"'
            )
        return Reply(ITEMS[(page - 1) * 2 : page * 2], headers=headers)

    api.route("/items", linked)
    source = make_source(
        api,
        {
            "name": "items",
            "path": "/items",
            "params": {"per_page": 2},
            "primary_key": "id",
            "pagination": {"type": "link_header"},
        },
    )
    assert ids(read(source, "items")) == [1, 2, 3, 4, 5]
    assert [(r.arg("page"), r.arg("per_page")) for r in api.requests] == [
        (None, "2"),
        ("2", "2"),
        ("3", "2"),
    ]


def test_pages_answered_in_process_by_a_fake_transport_are_asked_for_in_order() -> None:
    # No socket: a script of answers, one per request, and the requests kept to look at.
    api = "https://api.example"
    nxt = f'<{api}/items?cursor=c2>; rel="next"'
    transport = fake.FakeTransport(
        [
            fake.Reply(json=ITEMS[:2], headers={"Link": nxt}),
            fake.Reply(json=ITEMS[2:4], headers={"Link": nxt.replace("c2", "c3")}),
            fake.Reply(json=ITEMS[4:]),
        ]
    )
    endpoint = {
        "name": "items",
        "path": "/items",
        "params": {"per_page": 2},
        "primary_key": "id",
        "pagination": {"type": "link_header"},
    }
    config = RestConfig.model_validate(
        {"base_url": api, "retry": FAST_RETRY, "endpoints": [endpoint]}
    )
    assert ids(read(RestSource(config, transport=transport), "items")) == [1, 2, 3, 4, 5]
    assert [r.url for r in transport.requests] == [
        f"{api}/items?per_page=2",
        f"{api}/items?cursor=c2",
        f"{api}/items?cursor=c3",
    ]
    assert transport.pending == 0


def test_a_token_that_comes_back_again_stops_the_stream_with_an_error(api: FakeApi) -> None:
    api.route(
        "/items",
        lambda req: Reply(
            {"items": ITEMS[:2] if req.arg("t") is None else ITEMS[2:4], "next": "same"}
        ),
    )
    source = make_source(
        api,
        {
            "name": "items",
            "path": "/items",
            "records": "items",
            "primary_key": "id",
            "pagination": {"type": "cursor", "next_token": "next", "param": "t"},
        },
    )
    items = read(source, "items")
    [error] = errors(items)
    assert "endpoint items: page 2" in error.reason and "repeated" in error.reason
    assert len(api.requests) == 2


def test_a_page_number_the_api_ignores_is_caught_instead_of_read_forever(api: FakeApi) -> None:
    api.route("/items", Reply({"items": ITEMS[:2]}))
    source = make_source(
        api,
        {
            "name": "items",
            "path": "/items",
            "records": "items",
            "primary_key": "id",
            "pagination": {"type": "page_number", "size": 2},
        },
    )
    [error] = errors(read(source, "items"))
    assert "page 2" in error.reason and "same as page 1" in error.reason


def test_a_next_link_to_another_host_is_not_followed(api: FakeApi) -> None:
    api.route(
        "/items", Reply({"items": ITEMS[:2], "next": "http://elsewhere.invalid/items?page=2"})
    )
    source = make_source(
        api,
        {
            "name": "items",
            "path": "/items",
            "records": "items",
            "primary_key": "id",
            "pagination": {"type": "next_link", "next_link": "next"},
        },
        auth={"type": "bearer", "token": "s3cret-token"},
    )
    items = read(source, "items")
    [error] = errors(items)
    assert "http://elsewhere.invalid" in error.reason and "not followed" in error.reason
    assert len(api.requests) == 1
