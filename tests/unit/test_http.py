"""The shared HTTP client: what is retried and how long it waits, what a failure says, auth, and
`json_of`'s reading of an answer. Against `syncer.testing.http.FakeTransport`, in-process; only
what a real socket shows (a refused port, a read that times out) uses one."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from syncer.errors import BadResponse, CredentialsRefused, Unavailable
from syncer.http import ClientCredentials, HttpClient, RetryPolicy, json_of, retry_after
from syncer.testing.http import FakeTransport, Reply
from tests.support.receiver import free_port

API = "https://api.example/v1"
TOKEN_URL = "https://issuer.example/oauth/token"


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts, taken instead of slept."""
    taken: list[float] = []
    monkeypatch.setattr("time.sleep", taken.append)
    return taken


def client(transport: FakeTransport, **retry: float) -> HttpClient:
    policy = RetryPolicy.model_validate({"attempts": 3, "initial_wait_seconds": 0.5, **retry})
    return HttpClient(API, retry=policy, transport=transport)


# --- retries --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_a_retryable_status_is_sent_again_until_it_succeeds(
    pauses: list[float], status: int
) -> None:
    transport = FakeTransport([Reply(status), Reply(status), Reply(json={"ok": True})])

    assert client(transport).get_json("/things") == {"ok": True}
    assert len(transport.requests) == 3
    assert len(pauses) == 2


def test_a_status_that_keeps_failing_is_unavailable_naming_the_url_without_its_query(
    pauses: list[float],
) -> None:
    transport = FakeTransport(Reply(503))

    with pytest.raises(Unavailable) as caught:
        client(transport, attempts=4).get_json("/things", params={"api_key": "s3cret"})

    assert str(caught.value) == f"GET {API}/things: HTTP 503 after 4 attempts"
    assert (caught.value.url, caught.value.status) == (f"{API}/things", 503)
    assert len(transport.requests) == 4


def test_a_429_waits_as_long_as_retry_after_asks(pauses: list[float]) -> None:
    transport = FakeTransport([Reply(429, headers={"Retry-After": "7"}), Reply(json={"items": []})])

    assert client(transport).get_json("/things") == {"items": []}
    assert pauses == [7.0]


def test_a_retry_after_longer_than_the_cap_waits_only_the_cap(pauses: list[float]) -> None:
    transport = FakeTransport([Reply(503, headers={"Retry-After": "3600"}), Reply(json={})])

    client(transport, max_retry_after_seconds=20).get_json("/things")

    assert pauses == [20.0]


def test_without_retry_after_waits_grow_exponentially_with_jitter_up_to_the_maximum(
    pauses: list[float],
) -> None:
    transport = FakeTransport(Reply(500))

    with pytest.raises(Unavailable):
        client(transport, attempts=5, initial_wait_seconds=0.5, max_wait_seconds=3).get_json("/")

    # initial * 2**n, plus up to `initial` of jitter, never more than the maximum.
    low, high = [0.5, 1.0, 2.0, 3.0], [1.0, 1.5, 2.5, 3.0]
    assert len(pauses) == 4
    assert all(lo <= wait <= hi for lo, wait, hi in zip(low, pauses, high, strict=True)), pauses


def test_a_transport_failure_is_retried_and_then_named_by_its_kind(pauses: list[float]) -> None:
    transport = FakeTransport(
        [requests.ConnectionError("refused"), requests.Timeout("slow"), requests.Timeout("slow")]
    )

    with pytest.raises(Unavailable) as caught:
        client(transport).request("GET", "/things")

    assert str(caught.value) == f"GET {API}/things: timed out after 3 attempts"
    assert caught.value.status is None
    assert len(transport.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_another_error_status_is_answered_at_once_for_the_caller_to_judge(
    pauses: list[float], status: int
) -> None:
    transport = FakeTransport(Reply(status, json={"message": "no"}))

    assert client(transport).request("GET", "/things").status_code == status
    assert (len(transport.requests), pauses) == (1, [])


def test_a_redirect_is_returned_not_followed(pauses: list[float]) -> None:
    transport = FakeTransport(Reply(302, headers={"Location": "https://elsewhere.example/"}))

    response = client(transport).request("GET", "/things")

    assert (response.status_code, response.headers["Location"]) == (
        302,
        "https://elsewhere.example/",
    )
    assert [r.url for r in transport.requests] == [f"{API}/things"]


def test_every_request_names_syncer_and_carries_the_configured_headers() -> None:
    transport = FakeTransport(Reply(json={}))
    HttpClient(API, headers={"X-Team": "data"}, transport=transport).get_json("/things")

    (sent,) = transport.requests
    assert sent.headers["User-Agent"].startswith("syncer/")
    assert sent.headers["X-Team"] == "data"


# --- real sockets -----------------------------------------------------------------------------


def test_a_port_nothing_listens_on_cannot_connect() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Unavailable, match=r"GET http://127\.0\.0\.1:\d+/x: cannot connect after 1"):
        HttpClient(url, retry=RetryPolicy(attempts=1)).request("GET", "/x")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_a_server_slower_than_the_timeout_is_cut_off(silent_server: str) -> None:
    slow = HttpClient(silent_server, timeout=0.2, retry=RetryPolicy(attempts=1))
    with pytest.raises(Unavailable, match="timed out after 1 attempts"):
        slow.request("GET", "/x")


# --- client credentials ---------------------------------------------------------------------


def test_a_401_with_client_credentials_fetches_a_new_token_and_sends_once_more() -> None:
    tokens = iter(["first", "second"])

    def answer(request: requests.PreparedRequest) -> Reply:
        if request.url == TOKEN_URL:
            return Reply(json={"access_token": next(tokens), "expires_in": 3600})
        if request.headers["Authorization"] == "Bearer first":
            return Reply(401, json={"message": "token expired"})
        return Reply(json={"ok": True})

    transport = FakeTransport(answer)
    auth = ClientCredentials(TOKEN_URL, "syncer", "client-s3cret", transport=transport)
    api = HttpClient(API, auth=auth, transport=transport)

    assert api.get_json("/things") == {"ok": True}
    assert [(r.method, r.url) for r in transport.requests] == [
        ("POST", TOKEN_URL),
        ("GET", f"{API}/things"),
        ("POST", TOKEN_URL),
        ("GET", f"{API}/things"),
    ]


def test_refused_client_credentials_are_a_config_error_naming_the_issuer() -> None:
    transport = FakeTransport(Reply(401, json={"error": "invalid_client"}))
    auth = ClientCredentials(TOKEN_URL, "syncer", "client-s3cret", transport=transport)

    with pytest.raises(CredentialsRefused) as caught:
        HttpClient(API, auth=auth, transport=transport).request("GET", "/things")

    assert str(caught.value) == (
        f"token issuer {TOKEN_URL} refused the client credentials (HTTP 401); "
        "check client_id and client_secret"
    )
    assert (caught.value.url, caught.value.status) == (TOKEN_URL, 401)


def test_an_issuer_answer_without_a_token_is_a_bad_response() -> None:
    transport = FakeTransport(Reply(200, content="<html>login</html>"))
    auth = ClientCredentials(TOKEN_URL, "syncer", "client-s3cret", transport=transport)

    with pytest.raises(BadResponse, match=r"without an access_token; check token_url$"):
        HttpClient(API, auth=auth, transport=transport).request("GET", "/things")


# --- json_of ----------------------------------------------------------------------------------


def answered(reply: Reply, method: str = "GET") -> requests.Response:
    return HttpClient(API, transport=FakeTransport(reply)).request(method, "/dags?limit=1")


def test_an_error_status_is_the_servers_words_and_the_callers_hint_for_that_status() -> None:
    response = answered(Reply(403, json={"message": "Forbidden"}))

    with pytest.raises(BadResponse) as caught:
        json_of(response, hints={403: "the user needs the Viewer role"})

    assert (
        str(caught.value) == f"GET {API}/dags: HTTP 403: Forbidden; the user needs the Viewer role"
    )
    assert (caught.value.url, caught.value.status) == (f"{API}/dags", 403)


def test_an_error_status_without_a_hint_is_the_servers_words_alone() -> None:
    with pytest.raises(BadResponse) as caught:
        json_of(answered(Reply(404, json={"error": "no such DAG"})), hints={403: "unused"})
    assert str(caught.value) == f"GET {API}/dags: HTTP 404: no such DAG"


def test_a_caller_may_tell_the_servers_words_its_own_way() -> None:
    response = answered(Reply(422, json={"detail": "limit too big"}))

    with pytest.raises(BadResponse, match=r"dags: HTTP 422 \(limit too big\)$"):
        json_of(response, explain=lambda r: f"HTTP {r.status_code} ({r.json()['detail']})")


def test_a_redirect_names_where_it_pointed_without_the_query_and_ends_with_the_hint() -> None:
    location = "https://login.example/sso?next=/dags&token=abc"
    response = answered(Reply(302, headers={"Location": location}))

    with pytest.raises(BadResponse) as caught:
        json_of(response, hint="check host and auth")

    assert str(caught.value) == (
        f"GET {API}/dags: redirected to https://login.example/sso (HTTP 302); check host and auth"
    )


def test_an_html_page_is_not_json_and_names_its_content_type() -> None:
    response = answered(Reply(content="<h1>Sign in</h1>", headers={"Content-Type": "text/html"}))

    with pytest.raises(BadResponse) as caught:
        json_of(response, hint="check base_url")

    assert (
        str(caught.value)
        == f"GET {API}/dags: answered text/html, not JSON (HTTP 200); check base_url"
    )


def test_truncated_json_says_so_and_where_it_broke_naming_the_method_sent() -> None:
    response = answered(
        Reply(content=b'{"dags": [{"dag_id": "a"', headers={"Content-Type": "application/json"}),
        method="POST",
    )

    with pytest.raises(BadResponse) as caught:
        json_of(response)

    message = str(caught.value)
    assert message.startswith(
        f"POST {API}/dags: broken or truncated JSON: answered application/json"
    )
    assert "line 1 column" in message
    assert message.endswith("; check the URL points at the API")


# --- Retry-After --------------------------------------------------------------------------------


def _response(**headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    return response


def test_retry_after_in_seconds_is_taken_as_given() -> None:
    assert retry_after(_response(**{"Retry-After": "2"})) == 2.0


def test_retry_after_as_an_http_date_is_the_time_until_then() -> None:
    now = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    asked = retry_after(_response(**{"Retry-After": "Tue, 24 Nov 2026 10:00:07 GMT"}), now=now)
    assert asked == 7.0


def test_a_retry_after_date_in_the_past_asks_for_no_wait() -> None:
    now = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    assert retry_after(_response(**{"Retry-After": "Tue, 24 Nov 2026 09:00:00 GMT"}), now=now) == 0


def test_an_unreadable_or_missing_retry_after_is_ignored() -> None:
    assert retry_after(_response(**{"Retry-After": "soon"})) is None
    assert retry_after(_response()) is None
    assert retry_after(None) is None
