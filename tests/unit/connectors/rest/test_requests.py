"""The rest source's requests and the answers it cannot use: auth, retries, errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from structlog.testing import capture_logs

from syncer.connectors.rest import RestConfig, RestSource
from syncer.models import MlModel
from syncer.testing import http as fake
from tests.unit.connectors.rest.conftest import FAST_RETRY, errors, ids, make_source, read
from tests.unit.connectors.rest.fake_api import FakeApi, Reply

SERVICE = {"type": "mlmodelService", "name": "models", "service_type": "Mlflow"}


def _models_endpoint(**extra: Any) -> dict[str, Any]:
    return {
        "name": "models",
        "path": "/models",
        "records": "models",
        "entity": "mlmodel",
        "fields": {"name": "name", "description": "about", "algorithm": {"value": "unknown"}},
        **extra,
    }


# --- auth ------------------------------------------------------------------------------------

KEY = "k3y-that-must-not-leak"


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"type": "bearer", "token": KEY}, ("authorization", f"Bearer {KEY}")),
        (
            {"type": "basic", "username": "reader", "password": KEY},
            ("authorization", "Basic " + base64.b64encode(f"reader:{KEY}".encode()).decode()),
        ),
        ({"type": "api_key", "name": "X-Api-Key", "api_key": KEY}, ("x-api-key", KEY)),
        ({"type": "api_key", "name": "key", "api_key": KEY, "location": "query"}, ("?key", KEY)),
    ],
    ids=["bearer", "basic", "api-key-header", "api-key-query"],
)
def test_every_auth_kind_is_sent_and_its_secret_never_reaches_an_error_or_a_log(
    api: FakeApi, auth: dict[str, Any], expected: tuple[str, str]
) -> None:
    api.route("/ok", Reply({"models": [{"name": "a"}]}))
    api.route(
        "/denied",
        lambda req: Reply(
            raw=f"<p>denied {req.url}</p>".encode(), status=403, content_type="text/html"
        ),
    )
    endpoints = [_models_endpoint(path="/ok"), {**_models_endpoint(path="/denied"), "name": "no"}]
    source = make_source(api, *endpoints, auth=auth, service=SERVICE)
    with capture_logs() as logs:
        assert ids(read(source, "models")) == ["a"]
        [error] = errors(read(source, "no"))
    where, value = expected
    sent = api.requests[0]
    assert (sent.arg(where[1:]) if where.startswith("?") else sent.headers.get(where)) == value
    assert "/denied" in error.reason and "HTTP 403" in error.reason
    assert KEY not in f"{error} {logs}"


# --- retries ---------------------------------------------------------------------------------


API = "https://api.example"


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts, taken instead of slept."""
    taken: list[float] = []
    monkeypatch.setattr("time.sleep", taken.append)
    return taken


def on_fake(transport: fake.FakeTransport, *endpoints: dict[str, Any]) -> RestSource:
    """A source whose requests the fake answers, in-process."""
    raw = {"base_url": API, "retry": FAST_RETRY, "endpoints": list(endpoints), "service": SERVICE}
    return RestSource(RestConfig.model_validate(raw), transport=transport)


def test_a_429_is_retried_after_the_pause_the_server_asks_for(pauses: list[float]) -> None:
    transport = fake.FakeTransport(
        [
            fake.Reply(429, json={"message": "slow down"}, headers={"Retry-After": "7"}),
            fake.Reply(json={"models": [{"name": "a"}]}),
        ]
    )
    source = on_fake(transport, _models_endpoint())
    assert ids(read(source, "models")) == ["a"]
    assert pauses == [7.0]
    assert [r.url for r in transport.requests] == [f"{API}/models"] * 2


def test_a_429_that_outlasts_the_retries_is_the_pages_error_naming_the_url(
    pauses: list[float],
) -> None:
    transport = fake.FakeTransport(fake.Reply(429, headers={"Retry-After": "3"}))
    source = on_fake(transport, _models_endpoint())
    [error] = errors(read(source, "models"))
    assert f"GET {API}/models: HTTP 429 after 2 attempts" in error.reason
    assert pauses == [3.0]
    assert len(transport.requests) == 2


# --- bad answers -----------------------------------------------------------------------------


def test_a_missing_records_selector_names_the_endpoint_the_selector_and_what_came_back(
    api: FakeApi,
) -> None:
    api.route("/models", Reply({"data": [], "total": 0}))
    source = make_source(api, _models_endpoint(), service=SERVICE)
    [error] = errors(read(source, "models"))
    assert error.record == "models"
    assert error.reason.startswith(f"endpoint models: page 1 (GET {api.url}/models): ")
    assert "records selector `models` found nothing (the response has: data, total)" in (
        error.reason
    )


def test_an_api_that_leaves_out_an_empty_list_reads_as_empty_when_configured(api: FakeApi) -> None:
    api.route("/models", Reply({}))
    source = make_source(api, _models_endpoint(on_missing_records="empty"), service=SERVICE)
    assert read(source, "models") == []


def test_a_record_missing_a_mapped_field_fails_alone(api: FakeApi) -> None:
    api.route("/models", Reply({"models": [{"name": "a"}, {"title": "no name"}, {"name": "c"}]}))
    source = make_source(api, _models_endpoint(), service=SERVICE)
    items = read(source, "models")
    [error] = errors(items)
    assert error.record == "models #2"
    assert error.reason == "field name is mapped from `name`, which the record lacks"
    assert [m.name for m in items if isinstance(m, MlModel)] == ["a", "c"]


def test_an_expression_that_fails_on_one_record_is_that_records_error(api: FakeApi) -> None:
    api.route(
        "/models",
        Reply(
            {
                "models": [
                    {"name": "a", "tags": [{"key": "team"}]},
                    {"name": "b", "tags": [{"key": 7}]},
                ]
            }
        ),
    )
    team = {"path": "tags[?starts_with(key, 'te')].key | [0]"}
    source = make_source(
        api,
        _models_endpoint(fields={**_models_endpoint()["fields"], "description": team}),
        service=SERVICE,
    )
    items = read(source, "models")
    [error] = errors(items)
    assert error.record == "models b"
    assert "failed: In function starts_with(), invalid type for value: 7" in error.reason
    assert [m.description for m in items if isinstance(m, MlModel)] == ["team"]


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (
            Reply(raw=b'{"models": [{"name": "a"}, {"na', content_type="application/json"),
            "answered application/json, not JSON (HTTP 200)",
        ),
        (
            Reply(raw=b"<html>Bad gateway</html>", status=500, content_type="text/html"),
            "HTTP 500 after 2 attempts",
        ),
        (
            Reply(raw=b"<html>login</html>", content_type="text/html"),
            "answered text/html, not JSON (HTTP 200)",
        ),
    ],
    ids=["truncated-json", "500-html", "html-page"],
)
def test_an_answer_that_is_not_json_is_one_line_naming_the_url(
    api: FakeApi, reply: Reply, says: str
) -> None:
    api.route("/models", reply)
    source = make_source(api, _models_endpoint(), service=SERVICE)
    [error] = errors(read(source, "models"))
    assert f"GET {api.url}/models: " in error.reason and says in error.reason
    assert "\n" not in error.reason


def test_test_connection_reads_the_first_page_of_each_top_level_endpoint(api: FakeApi) -> None:
    api.route("/models", Reply({"models": [{"name": "a"}, {"name": "b"}]}))
    source = make_source(
        api,
        _models_endpoint(),
        {"name": "broken", "path": "/nothing-here", "primary_key": "id"},
        service=SERVICE,
    )
    report = source.test_connection()
    assert not report.ok
    assert report.checks[0] == ("endpoint models", True, "2 on page 1")
    assert report.checks[1][:2] == ("endpoint broken", False)
    assert "HTTP 404" in report.checks[1][2]
