"""Clients of the local MQTT broker and NATS server for the topic sinks' tests: what a
subscriber receives, what a JetStream stream holds, and cleaning both up afterwards."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import nats
import orjson
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

HOST = "127.0.0.1"
MQTT_PORT = 1883
NATS_URL = f"nats://{HOST}:4222"


def reachable(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# --- MQTT ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    user_properties: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.payload)
        return data


class Subscriber:
    """An MQTT 5 client subscribed to `topic` (QoS 1), keeping what it receives."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *args: self._subscribed.set()

    def __enter__(self) -> Subscriber:
        self._client.connect(HOST, MQTT_PORT)
        self._client.loop_start()
        self._client.subscribe(self.topic, qos=1)
        assert self._subscribed.wait(5), f"could not subscribe to {self.topic}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def wait_for(self, count: int, timeout: float = 10) -> list[Message]:
        """The messages received once there are `count` of them (or after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    break
            time.sleep(0.02)
        with self._lock:
            return list(self.messages)

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        properties = dict(getattr(message.properties, "UserProperty", None) or [])
        with self._lock:
            self.messages.append(
                Message(message.topic, message.payload, bool(message.retain), properties)
            )


def retained(topic: str, quiet: float = 0.3, timeout: float = 5) -> list[Message]:
    """The retained messages under `topic` (a filter), as a subscriber arriving now gets them:
    collected until none has come for `quiet` seconds."""
    with Subscriber(topic) as late:
        deadline = time.monotonic() + timeout
        seen, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = len(late.messages)
            if count != seen:
                seen, last_change = count, time.monotonic()
            elif time.monotonic() - last_change >= quiet:
                break
            time.sleep(0.02)
        return [m for m in late.messages if m.retain]


def clear_retained(topic: str) -> None:
    """Empty every retained message under `topic`, leaving the broker as it was."""
    for _ in range(3):
        stale = retained(topic)
        if not stale:
            return
        client = Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        client.connect(HOST, MQTT_PORT)
        client.loop_start()
        try:
            for message in stale:
                client.publish(message.topic, b"", qos=1, retain=True).wait_for_publish(5)
        finally:
            client.disconnect()
            client.loop_stop()
    raise AssertionError(f"retained messages under {topic} would not clear")


# --- NATS JetStream -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    subject: str
    headers: dict[str, str]
    data: bytes

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.data)
        return data


def stream_messages(stream: str) -> list[Stored]:
    """Every message a JetStream stream holds, in order."""

    async def read() -> list[Stored]:
        client = await nats.connect(NATS_URL)
        try:
            manager = client.jetstream()
            info = await manager.stream_info(stream)
            stored = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                raw = await manager.get_msg(stream, seq)
                stored.append(Stored(raw.subject or "", dict(raw.headers or {}), raw.data or b""))
            return stored
        finally:
            await client.close()

    return asyncio.run(read())


def stream_exists(stream: str) -> bool:
    async def check() -> bool:
        client = await nats.connect(NATS_URL)
        try:
            await client.jetstream().stream_info(stream)
            return True
        except nats.js.errors.NotFoundError:
            return False
        finally:
            await client.close()

    return asyncio.run(check())


def delete_stream(stream: str) -> None:
    async def delete() -> None:
        client = await nats.connect(NATS_URL)
        try:
            await client.jetstream().delete_stream(stream)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await client.close()

    asyncio.run(delete())
