"""MQTT topics built from entity names: every character MQTT forbids in a topic (a newline, a
tab, NUL, noncharacters) is percent-encoded, so no name makes the broker drop the connection;
an entity whose topic would be too long is refused as a dead letter and the rest still goes; a
broker that closes the connection is reported as such, not as a timeout."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from syncer.errors import SinkError
from syncer.sinks.mqtt import MAX_TOPIC_BYTES, MqttConfig, MqttSink, topic_level
from syncer.steps import Change, Refusal


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("orders\nv2", "orders%0Av2"),
        ("tab\there", "tab%09here"),
        ("nul\x00", "nul%00"),
        ("del\x7f c1\x85", "del%7F c1%C2%85"),
        ("non\ufffe\uffff\ufdd0\U0010ffff", "non%EF%BF%BE%EF%BF%BF%EF%B7%90%F4%8F%BF%BF"),
        ("lone\ud800", "lone%ED%A0%80"),
        ('svc.db."a/b"+#%', 'svc.db."a%2Fb"%2B%23%25'),
        ("café ümlaut 表 \u2028", "café ümlaut 表 \u2028"),  # allowed as they are
    ],
)
def test_a_name_becomes_one_topic_level_mqtt_accepts_and_that_decodes_again(
    name: str, level: str
) -> None:
    assert topic_level(name) == level
    assert unquote(level, errors="surrogatepass") == name


@pytest.mark.parametrize("prefix", ["plant\n7", "plant/\t", "a\x00b", "x/+", "x/#"])
def test_a_topic_prefix_with_a_wildcard_or_control_character_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError, match=r"without wildcards .* or control characters"):
        MqttConfig(topic_prefix=prefix)


# --- send, against a client that records what it is asked to publish ----------------------------


@dataclass
class Info:
    mid: int
    published: bool = True

    def is_published(self) -> bool:
        return self.published

    def wait_for_publish(self, timeout: float | None = None) -> None:
        time.sleep(timeout or 0)


@dataclass
class Client:
    acknowledge: bool = True
    topics: list[str] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes, **options: Any) -> Info:
        topic.encode()  # paho sends UTF-8: a lone surrogate would raise here
        self.topics.append(topic)
        return Info(len(self.topics), published=self.acknowledge)


def change(seq: int, key: str) -> Change:
    return Change(
        seq=seq,
        run_id=1,
        workflow="shop",
        stream="tables",
        key=key,
        entity_type="table",
        kind="created",
        fingerprint="fp",
        old_fingerprint=None,
        changed_fields=[],
        payload_json='{"name": "t"}',
    )


def opened(client: Client, **config: Any) -> MqttSink:
    settings: dict[str, Any] = {"topic_prefix": "p", "retain_state": True, "timeout_seconds": 5}
    sink = MqttSink(MqttConfig.model_validate({**settings, **config}))
    sink.workflow = "shop"
    sink._client = client  # type: ignore[assignment]
    return sink


def test_names_with_control_characters_are_published_escaped_and_the_rest_flows() -> None:
    client = Client()
    sink = opened(client)

    refused = sink.write([change(1, "s.d.x.a\nb"), change(2, "s.d.x.tab\tc"), change(3, "s.d.x.d")])

    assert refused == {}
    assert client.topics == [
        "p/events/table",
        "p/entities/table/s.d.x.a%0Ab",
        "p/events/table",
        "p/entities/table/s.d.x.tab%09c",
        "p/events/table",
        "p/entities/table/s.d.x.d",
    ]


def test_an_entity_whose_topic_is_too_long_is_a_dead_letter_and_the_rest_goes() -> None:
    client = Client()
    sink = opened(client)
    long_key = "s.d.x." + "t" * MAX_TOPIC_BYTES

    refused = sink.write([change(1, long_key), change(2, "s.d.x.d")])

    assert set(refused) == {1}
    refusal = refused[1]
    assert isinstance(refusal, Refusal) and refusal.final
    assert refusal.reason.startswith(
        f"its topic would be {len('p/entities/table/') + len(long_key):,} bytes long, more "
        "than MQTT's 65,535: "
    )
    assert client.topics == ["p/events/table", "p/entities/table/s.d.x.d"]


def test_a_broker_that_drops_the_connection_is_reported_at_once_not_as_a_timeout() -> None:
    client = Client(acknowledge=False)
    sink = opened(client, timeout_seconds=30)
    dropped = ReasonCode(PacketTypes.DISCONNECT, "Malformed packet")
    sink._on_disconnect(client, None, None, dropped, None)  # type: ignore[arg-type]

    started = time.monotonic()
    with pytest.raises(SinkError) as caught:
        sink.write([change(1, "s.d.x.a")])

    assert time.monotonic() - started < 5
    assert str(caught.value) == (
        "MQTT broker localhost:1883 closed the connection (Malformed packet) before it "
        "acknowledged a publish to 'p/events/table'; the broker's log says why"
    )
