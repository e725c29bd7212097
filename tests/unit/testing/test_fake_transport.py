"""`syncer.testing.http.FakeTransport`, the in-process server that HTTP tests run against: it
answers from a function, one reply, or a script, keeps every request, and fails the test
loudly when a request comes that nobody scripted."""

from __future__ import annotations

import json

import pytest
import requests

from syncer.http import HttpClient, RetryPolicy
from syncer.testing.http import FakeTransport, Reply

API = "https://api.example"


def test_a_handler_answers_each_request_and_every_request_is_kept() -> None:
    transport = FakeTransport(lambda request: Reply(json={"path": request.path_url}))
    client = HttpClient(API, transport=transport)

    assert client.get_json("/a", params={"page": 2}) == {"path": "/a?page=2"}
    client.request("POST", "/b", json={"name": "x"})

    assert [(r.method, r.url) for r in transport.requests] == [
        ("GET", f"{API}/a?page=2"),
        ("POST", f"{API}/b"),
    ]
    assert json.loads(transport.requests[1].body or b"") == {"name": "x"}


def test_a_script_is_taken_in_order_and_its_exceptions_are_raised_as_the_transports() -> None:
    transport = FakeTransport([requests.ConnectionError("refused"), Reply(json=[1])])
    client = HttpClient(
        API, retry=RetryPolicy(attempts=2, initial_wait_seconds=0), transport=transport
    )

    assert client.get_json("/a") == [1]
    assert (len(transport.requests), transport.pending) == (2, 0)


def test_a_request_beyond_the_script_fails_the_test_naming_it_and_is_not_retried() -> None:
    transport = FakeTransport([Reply(json={})])
    client = HttpClient(API, retry=RetryPolicy(attempts=5), transport=transport)
    client.get_json("/a")

    with pytest.raises(AssertionError, match=r"nothing scripted for request 2 \(GET .*/b\)"):
        client.get_json("/b")
    assert len(transport.requests) == 2


def test_one_reply_answers_every_request() -> None:
    transport = FakeTransport(Reply(204))
    client = HttpClient(API, transport=transport)

    assert [client.request("DELETE", f"/x/{i}").status_code for i in range(3)] == [204] * 3


def test_a_reply_reads_back_as_requests_would_read_it_from_the_wire() -> None:
    transport = FakeTransport(
        Reply(418, content="<p>café</p>", headers={"Content-Type": "text/html; charset=utf-8"})
    )
    response = HttpClient(API, transport=transport).request("GET", "/tea")

    assert (response.status_code, response.reason, response.text) == (
        418,
        "I'm a Teapot",
        "<p>café</p>",
    )
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.url == f"{API}/tea"
    assert response.request.method == "GET"


def test_a_json_reply_says_it_is_json() -> None:
    response = HttpClient(API, transport=FakeTransport(Reply(json={"a": 1}))).request("GET", "/")
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"a": 1}


def test_no_request_reaches_the_network_for_either_scheme() -> None:
    transport = FakeTransport(Reply(json={}))
    for url in ("http://localhost:1/x", "https://example.invalid/y"):
        HttpClient(url, transport=transport).request("GET", url)
    assert len(transport.requests) == 2
