"""Publishes change events to an MQTT broker (paho-mqtt 2), QoS 1, each acknowledged by it.

Events go to `<prefix>/events/<entityType>`; with `retain_state`, each entity's current state is
also kept as a retained message at `<prefix>/entities/<entityType>/<fqn>` (a deletion clears it;
a replay leaves it alone), so a client that subscribes later sees every live entity at once.
A name becomes one topic level with every character that MQTT forbids in a topic, or that would
split or widen it, percent-encoded (`topic_level`): a broker drops the connection of a client
that publishes to a topic with a control character in it, and with it every later event. An
entity whose topic would still be too long for MQTT is refused as a dead letter, with the reason.
QoS 1 delivers at least once: subscribers deduplicate by the event's `id` (in the payload, and as
the MQTT 5 user property `event-id`). A broker that cannot be reached, or does not acknowledge in
time, fails the sink and its backlog waits for the next run; a publish the broker refuses (an
MQTT 5 reason code, e.g. not authorized for the topic) refuses that event.
"""

from __future__ import annotations

import os
import re
import ssl
import threading
import time
from collections.abc import Sequence
from typing import Any, Literal

from paho.mqtt.client import Client, MQTTMessageInfo
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import Field, field_validator

from syncer.errors import SinkError
from syncer.events import encode
from syncer.http import TlsConfig
from syncer.secrets import redact, remember
from syncer.sinks.eventsink import EventSink, EventSinkConfig, Outgoing
from syncer.steps import Refusal

_PROTOCOLS = {"v5": MQTTProtocolVersion.MQTTv5, "v3.1.1": MQTTProtocolVersion.MQTTv311}
# What a topic must not hold (MQTT 5.0 section 1.5.4; Mosquitto drops a client that sends one):
# NUL and the other control characters, surrogates, and the Unicode noncharacters.
_FORBIDDEN = "\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17)
)
_UNSAFE_IN_PREFIX = re.compile(f"[+#{_FORBIDDEN}]")
# A level also must not split (/) or widen (+, #) the topic; % is the escape itself.
_UNSAFE_IN_LEVEL = re.compile(f"[%/+#{_FORBIDDEN}]")
MAX_TOPIC_BYTES = 65_535  # MQTT's limit on a topic name, in UTF-8 bytes


class MqttConfig(EventSinkConfig):
    host: str = "localhost"
    """The broker's host."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """The broker's port; default 1883, or 8883 with `tls`."""
    tls: TlsConfig | None = None
    """Present (even `{}`) to connect with TLS."""
    username: str | None = None
    """The user the broker knows."""
    password: str | None = None
    """Its password, as a secret reference."""
    client_id: str | None = None
    """The MQTT client id; default syncer-<workflow>-<pid>."""
    topic_prefix: str | None = None
    """What every topic starts with; default syncer/<workflow>."""
    qos: Literal[1, 2] = 1
    """MQTT quality of service of each publish (1: at least once)."""
    retain_state: bool = False
    """Also keep each entity's current state as a retained message under <prefix>/entities/."""
    protocol: Literal["v5", "v3.1.1"] = "v5"
    """The MQTT protocol version."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """How long to wait for the broker to connect or acknowledge."""
    keepalive_seconds: int = Field(default=60, ge=5, le=3600)
    """The MQTT keepalive interval."""

    @field_validator("topic_prefix")
    @classmethod
    def _plain_topic(cls, prefix: str | None) -> str | None:
        if prefix is None:
            return None
        prefix = prefix.rstrip("/")
        if not prefix or _UNSAFE_IN_PREFIX.search(prefix):
            raise ValueError(
                "must be a topic without wildcards (+, #) or control characters, e.g. syncer/shop"
            )
        return prefix


def topic_level(name: str) -> str:
    """`name` as one topic level: `/`, `+`, `#`, `%` and every character MQTT forbids in a
    topic (control characters such as a newline or a tab, noncharacters) percent-encoded as
    their UTF-8 bytes (a newline is %0A), so that a name never splits into levels, turns into a
    wildcard or makes the broker drop the connection; `urllib.parse.unquote` decodes it."""
    return _UNSAFE_IN_LEVEL.sub(_percent_encoded, name)


def _percent_encoded(found: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in found.group().encode("utf-8", "surrogatepass"))


class MqttSink(EventSink):
    config_model = MqttConfig
    config: MqttConfig
    # Publishes are pipelined: a group is published, then every acknowledgement awaited.
    group_size = 500

    def __init__(self, config: MqttConfig) -> None:
        super().__init__(config)
        remember(config.password or "")  # masked everywhere, also when built in code
        self._client: Client | None = None
        self._connected = threading.Event()
        self._connack: ReasonCode | None = None
        self._dropped: ReasonCode | str | None = None  # why the broker closed the connection
        self._acks: dict[int, ReasonCode] = {}

    @property
    def prefix(self) -> str:
        return self.config.topic_prefix or f"syncer/{self.workflow}"

    @property
    def _where(self) -> str:
        port = self.config.port or (8883 if self.config.tls else 1883)
        return f"MQTT broker {self.config.host}:{port}"

    def connect(self) -> None:
        config = self.config
        v5 = config.protocol == "v5"
        client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"syncer-{self.workflow}-{os.getpid()}",
            protocol=_PROTOCOLS[config.protocol],
            # Only acknowledged publishes count: nothing of an earlier session is kept.
            clean_session=None if v5 else True,
            reconnect_on_failure=False,
        )
        client.connect_timeout = config.timeout_seconds
        client.max_inflight_messages_set(100)
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        if config.tls is not None:
            client.tls_set(
                ca_certs=str(config.tls.ca_bundle) if config.tls.ca_bundle else None,
                cert_reqs=ssl.CERT_REQUIRED if config.tls.verify else ssl.CERT_NONE,
            )
            client.tls_insecure_set(not config.tls.verify)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect
        self._connected.clear()
        self._dropped = None
        self._acks = {}
        port = config.port or (8883 if config.tls else 1883)
        try:
            client.connect(config.host, port, keepalive=config.keepalive_seconds)
        except (OSError, ssl.SSLError) as exc:
            reason = redact(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
            raise SinkError(
                f"{self._where} cannot be reached ({reason}); start it, or check host and port"
            ) from None
        self._client = client
        client.loop_start()
        if not self._connected.wait(config.timeout_seconds):
            raise SinkError(
                f"{self._where} did not accept the connection within "
                f"{config.timeout_seconds:g} s; check host, port and tls"
            )
        if self._connack is not None and self._connack.is_failure:
            raise SinkError(
                f"{self._where} refused the connection ({self._connack}); "
                "check username, password and client_id"
            )

    def disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def probe(self) -> str:
        self.connect()
        return f"{self._where}: connected (MQTT {self.config.protocol})"

    def send(self, events: Sequence[Outgoing]) -> dict[int, Refusal]:
        client = self._client
        assert client is not None, "open() first"
        sent: list[tuple[int, str, MQTTMessageInfo]] = []
        refused: dict[int, Refusal] = {}
        for item in events:
            messages = self._messages(item)
            too_long = _too_long(messages)
            if too_long is not None:
                refused[item.seq] = Refusal(too_long, final=True)  # no run can send it
                continue
            for topic, payload, retain in messages:
                info = client.publish(
                    topic,
                    payload,
                    qos=self.config.qos,
                    retain=retain,
                    properties=self._properties(item),
                )
                sent.append((item.seq, topic, info))
        deadline = time.monotonic() + self.config.timeout_seconds
        for seq, topic, info in sent:
            self._await(info, topic, deadline)
            reason = self._acks.pop(info.mid, None)
            if reason is not None and reason.is_failure and seq not in refused:
                refused[seq] = Refusal(f"{self._where} refused a publish to {topic}: {reason}")
        return refused

    def _messages(self, item: Outgoing) -> list[tuple[str, bytes, bool]]:
        entity_type = item.change.entity_type
        messages = [(f"{self.prefix}/events/{topic_level(entity_type)}", encode(item.event), False)]
        if self.config.retain_state and not self.replaying:
            topic = (
                f"{self.prefix}/entities/{topic_level(entity_type)}/{topic_level(item.change.key)}"
            )
            # An empty retained message clears what the broker kept for the topic.
            state = b"" if item.change.kind == "deleted" else item.change.payload_json.encode()
            messages.append((topic, state, True))
        return messages

    def _properties(self, item: Outgoing) -> Properties | None:
        if self.config.protocol != "v5":
            return None
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.UserProperty = [("event-id", item.id), ("event-type", item.event["eventType"])]
        properties.ContentType = "application/json"
        return properties

    def _await(self, info: MQTTMessageInfo, topic: str, deadline: float) -> None:
        """Wait for the broker to acknowledge a publish; a broker that closes the connection
        meanwhile is reported as such at once, not as a timeout."""
        while not info.is_published():
            if self._dropped is not None:
                raise SinkError(
                    f"{self._where} closed the connection ({self._dropped}) before it "
                    f"acknowledged a publish to {topic!r}; the broker's log says why"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SinkError(
                    f"{self._where} did not acknowledge a publish within "
                    f"{self.config.timeout_seconds:g} s; raise timeout_seconds if it is busy"
                )
            try:
                info.wait_for_publish(min(0.05, remaining))
            except (RuntimeError, ValueError) as exc:
                if self._dropped is not None:
                    continue  # reported above, with the broker's reason
                raise SinkError(f"{self._where}: publish failed ({exc})") from None

    def _on_connect(
        self, client: Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        self._connack = reason
        self._connected.set()

    def _on_disconnect(
        self,
        client: Client,
        userdata: Any,
        flags: Any,
        reason: ReasonCode,
        properties: Any,
    ) -> None:
        if self._client is not None:  # not our own disconnect()
            self._dropped = reason if reason.is_failure else "without a reason"

    def _on_publish(
        self, client: Client, userdata: Any, mid: int, reason: ReasonCode, properties: Any
    ) -> None:
        self._acks[mid] = reason


def _too_long(messages: list[tuple[str, bytes, bool]]) -> str | None:
    """Why an event cannot be published (a topic longer than MQTT allows), or None."""
    for topic, _, _ in messages:
        size = len(topic.encode())
        if size > MAX_TOPIC_BYTES:
            return (
                f"its topic would be {size:,} bytes long, more than MQTT's {MAX_TOPIC_BYTES:,}: "
                f"{topic[:80]!r}...; shorten topic_prefix, or leave retain_state off"
            )
    return None
