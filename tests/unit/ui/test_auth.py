"""The token that guards the web view: a bearer header or the login cookie, compared in
constant time, and never shown back."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from syncer import secrets
from syncer.ui import auth
from tests.support.engine import Engine
from tests.unit.ui.conftest import client_of

TOKEN = "s3cret-token-for-the-ui-0123456789"
PAGES = ("/runs", "/runs/1", "/entity", "/lineage", "/sinks", "/violations")


@pytest.fixture
def guarded(shop: Engine) -> Iterator[TestClient]:
    secrets.remember(TOKEN)  # as `syncer ui` does once it resolved the reference
    with client_of(shop.state_path, token=TOKEN) as client:
        yield client


@pytest.mark.parametrize("page", PAGES)
def test_a_request_without_the_token_is_refused_with_the_login_form(
    guarded: TestClient, page: str
) -> None:
    response = guarded.get(page)
    assert response.status_code == 401
    assert 'id="login-form"' in response.text


def test_a_wrong_token_is_refused_as_a_header_and_as_a_cookie(guarded: TestClient) -> None:
    assert guarded.get("/runs", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert guarded.get("/runs", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    guarded.cookies.set(auth.COOKIE, TOKEN + "x")
    assert guarded.get("/runs").status_code == 401


@pytest.mark.parametrize("page", PAGES)
def test_the_right_bearer_token_opens_every_page(guarded: TestClient, page: str) -> None:
    response = guarded.get(page, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert TOKEN not in response.text


def test_the_login_form_sets_a_cookie_that_opens_the_pages(guarded: TestClient) -> None:
    wrong = guarded.post("/login", data={"token": "guess"}, follow_redirects=False)
    assert wrong.status_code == 401 and 'id="login-wrong"' in wrong.text
    assert TOKEN not in wrong.text
    right = guarded.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert right.status_code == 303
    cookie = right.headers["set-cookie"]
    assert re.search(r"(?i)httponly", cookie) and re.search(r"(?i)samesite=strict", cookie)
    assert guarded.get("/runs").status_code == 200


def test_the_stylesheet_and_the_login_page_need_no_token(guarded: TestClient) -> None:
    assert guarded.get("/static/ui.css").status_code == 200
    assert guarded.get("/login").status_code == 200


def test_a_page_that_quotes_the_token_shows_it_masked(guarded: TestClient) -> None:
    # A link naming the token (pasted into the wrong place) comes back in the 404 reason.
    response = guarded.get(
        "/entity", params={"fqn": TOKEN}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 404
    assert TOKEN not in response.text


@pytest.mark.parametrize(
    ("host", "needed"),
    [
        ("127.0.0.1", False),
        ("localhost", False),
        ("::1", False),
        ("[::1]", False),
        ("0.0.0.0", True),
        ("192.168.1.5", True),
        ("::", True),
    ],
)
def test_only_a_loopback_address_is_served_without_a_token(host: str, needed: bool) -> None:
    assert auth.needs_token(host) is needed


def test_the_token_is_compared_whole() -> None:
    assert auth.authorized({"authorization": f"Bearer {TOKEN}"}, {}, TOKEN)
    assert auth.authorized({"authorization": f"bearer  {TOKEN}"}, {}, TOKEN)
    assert not auth.authorized({"authorization": f"Bearer {TOKEN[:-1]}"}, {}, TOKEN)
    assert not auth.authorized({}, {"token": ""}, TOKEN)


def test_served_on_loopback_a_request_for_another_host_name_is_refused(shop: Engine) -> None:
    names = auth.loopback_names("127.0.0.1")
    with client_of(shop.state_path, allowed_hosts=names) as client:
        assert client.get("/runs", headers={"Host": "127.0.0.1:8765"}).status_code == 200
        assert client.get("/runs", headers={"Host": "localhost:8765"}).status_code == 200
        assert client.get("/runs", headers={"Host": "[::1]:8765"}).status_code == 200
        # A page of rebound.example whose name now resolves to 127.0.0.1 (DNS rebinding).
        assert client.get("/runs", headers={"Host": "rebound.example:8765"}).status_code == 400
    assert auth.loopback_names("0.0.0.0") is None
