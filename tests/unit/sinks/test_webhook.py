"""The webhook sink against a real HTTP receiver in the test process: what each answer means
for the events of a request, what a request carries, and what its config refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from requests.adapters import BaseAdapter

from syncer.events import event_id
from syncer.http import Unavailable
from syncer.secrets import remember
from syncer.sinks.webhook import WebhookConfig, WebhookSink
from syncer.steps import Change, Refusal, SinkContext
from syncer.testing import http as fake
from tests.support.receiver import Receiver, Reply, free_port, verify

SECRET = "unit-test-webhook-secret-3f9a"
FAST = {"attempts": 2, "initial_wait_seconds": 0.01, "max_wait_seconds": 0.02}


def change(seq: int, key: str = "svc.db.sch.t", kind: str = "created") -> Change:
    return Change(
        seq=seq,
        run_id=1,
        workflow="shop",
        stream="tables",
        key=key,
        entity_type="table",
        kind=kind,  # type: ignore[arg-type]
        fingerprint="fp",
        old_fingerprint=None,
        changed_fields=[],
        payload_json=f'{{"name": "t{seq}"}}',
    )


def sink(url: str, transport: BaseAdapter | None = None, **config: Any) -> WebhookSink:
    webhook = WebhookSink(
        WebhookConfig.model_validate({"url": url, "secret": SECRET, "retry": FAST, **config}),
        transport=transport,
    )
    webhook.open(SinkContext("shop", None))
    return webhook


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


# --- answers ------------------------------------------------------------------------------------


def test_2xx_delivers_one_signed_event_per_request(receiver: Receiver) -> None:
    refused = sink(receiver.url).write([change(1), change(2, key="svc.db.sch.u")])

    assert refused == {}
    assert [r.events[0]["id"] for r in receiver.requests] == [
        event_id("shop", 1),
        event_id("shop", 2),
    ]
    first = receiver.requests[0]
    assert verify(SECRET.encode(), first.body, first.headers)
    assert first.headers["X-Syncer-Event-Id"] == event_id("shop", 1)
    assert first.headers["Idempotency-Key"] == event_id("shop", 1)
    assert first.headers["X-Syncer-Workflow"] == "shop"
    assert first.headers["Content-Type"] == "application/json"


def test_a_batch_size_above_1_sends_json_arrays_in_log_order(receiver: Receiver) -> None:
    keys = [f"svc.db.sch.t{i}" for i in range(5)]

    sink(receiver.url, batch_size=2).write([change(i + 1, key) for i, key in enumerate(keys)])

    assert [len(orjson.loads(r.body)) for r in receiver.requests] == [2, 2, 1]
    assert [e["entityFullyQualifiedName"] for e in receiver.events()] == keys
    assert "X-Syncer-Event-Id" not in receiver.requests[0].headers


def test_410_dead_letters_at_once(receiver: Receiver) -> None:
    receiver.default = Reply(410, b'{"message": "this hook was removed"}')

    refused = sink(receiver.url).write([change(1)])

    assert refused == {
        1: Refusal("HTTP 410: this hook was removed (gone: dead-lettered at once)", final=True)
    }


def test_another_4xx_refuses_with_the_receivers_message(receiver: Receiver) -> None:
    receiver.default = Reply(422, b'{"message": "entity too large"}')

    assert sink(receiver.url).write([change(1)]) == {1: Refusal("HTTP 422: entity too large")}


def test_a_redirect_is_not_followed_and_says_where_it_pointed(receiver: Receiver) -> None:
    with Receiver() as elsewhere:
        receiver.default = Reply(307, headers={"Location": f"{elsewhere.url}?token=abc"})

        refused = sink(receiver.url).write([change(1)])

    (refusal,) = refused.values()
    assert not refusal.final
    assert refusal.reason == (
        f"webhook {receiver.url} redirected (HTTP 307) to {elsewhere.url}; redirects are not "
        "followed: set `url` to the new address if you trust it"
    )
    assert elsewhere.requests == []


def test_5xx_is_retried_with_the_same_event_then_fails_the_sink(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "https://hooks.example/in"
    transport = fake.FakeTransport(fake.Reply(503))
    pauses: list[float] = []
    monkeypatch.setattr("time.sleep", pauses.append)

    with pytest.raises(Unavailable) as caught:
        sink(url, transport).write([change(1)])

    assert str(caught.value) == f"POST {url}: HTTP 503 after 2 attempts"
    assert (caught.value.url, caught.value.status) == (url, 503)
    first, again = transport.requests
    assert again.body == first.body and orjson.loads(first.body or b"")["id"] == event_id("shop", 1)
    assert again.headers["Idempotency-Key"] == first.headers["Idempotency-Key"]
    [pause] = pauses
    assert 0 < pause <= FAST["max_wait_seconds"]


def test_a_receiver_that_is_down_fails_the_sink() -> None:
    with pytest.raises(Unavailable, match="cannot connect after 2 attempts"):
        sink(f"http://127.0.0.1:{free_port()}/hook").write([change(1)])


def test_a_receiver_slower_than_the_timeout_is_cut_off(receiver: Receiver) -> None:
    receiver.default = Reply(200, delay=1.0)

    with pytest.raises(Unavailable, match="timed out after 1 attempts"):
        sink(receiver.url, timeout_seconds=0.2, retry={"attempts": 1}).write([change(1)])


def test_a_refused_event_holds_back_later_events_of_its_entity(receiver: Receiver) -> None:
    receiver.script = [Reply(400, b"bad"), Reply(200), Reply(200)]
    webhook = sink(receiver.url)

    refused = webhook.write(
        [change(1, "svc.db.sch.a"), change(2, "svc.db.sch.b"), change(3, "svc.db.sch.a")]
    )

    assert refused[1] == Refusal("HTTP 400: bad")
    assert refused[3].reason.startswith("held back behind event seq 1 of the same entity")  # type: ignore[union-attr]
    assert [e["entityFullyQualifiedName"] for e in receiver.events()] == ["svc.db.sch.b"]


def test_filtered_out_events_are_acknowledged_without_a_request(receiver: Receiver) -> None:
    webhook = sink(receiver.url, filter={"event_types": ["entitySoftDeleted"]})

    assert webhook.write([change(1), change(2, kind="deleted")]) == {}
    assert [e["eventType"] for e in receiver.events()] == ["entitySoftDeleted"]


def test_a_secret_the_receiver_echoes_is_masked_in_the_refusal(receiver: Receiver) -> None:
    remember(SECRET)
    receiver.default = Reply(401, f"bad signature for secret {SECRET}".encode())

    (refusal,) = sink(receiver.url).write([change(1)]).values()

    assert SECRET not in refusal.reason  # type: ignore[union-attr]
    assert "***" in refusal.reason  # type: ignore[union-attr]


def test_extra_headers_are_sent(receiver: Receiver) -> None:
    sink(receiver.url, headers={"X-Team": "data"}).write([change(1)])

    assert receiver.requests[0].headers["X-Team"] == "data"


# --- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"url": "ftp://files.example.com/in"}, "url\n  Value error, must be an http:// or"),
        ({"url": "hooks.example.com/in"}, "must be an http:// or https:// URL with a host"),
        ({"secret": "short"}, "at least 16 characters"),
        ({"headers": {"X-OM-Signature": "x"}}, "X-OM-Signature: syncer sets this header"),
        ({"headers": {"X-Evil": "a\r\nb"}}, "X-Evil: a header may not contain a line break"),
        ({"batch_size": 0}, "greater than or equal to 1"),
    ],
)
def test_a_config_is_refused_with_a_clear_message(config: dict[str, Any], message: str) -> None:
    base = {"url": "https://hooks.example.com/in", "secret": SECRET}

    with pytest.raises(ValidationError, match=message):
        WebhookConfig.model_validate({**base, **config})


def test_the_secret_is_required() -> None:
    with pytest.raises(ValidationError, match="secret\n  Field required"):
        WebhookConfig.model_validate({"url": "https://hooks.example.com/in"})


# --- test-connection ----------------------------------------------------------------------------


def test_test_connection_reaches_the_endpoint_without_sending_an_event(
    receiver: Receiver,
) -> None:
    webhook = WebhookSink(WebhookConfig(url=receiver.url, secret=SECRET))

    report = webhook.test_connection()

    assert report.ok
    assert report.checks == [("connect", True, f"{receiver.url} answers (HTTP 501)")]
    assert receiver.requests == []  # http.server answers OPTIONS itself; no POST was made


def test_test_connection_fails_on_a_receiver_that_is_down() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    report = WebhookSink(WebhookConfig(url=url, secret=SECRET)).test_connection()

    assert not report.ok
    assert report.checks == [("connect", False, f"OPTIONS {url}: cannot connect after 1 attempts")]
