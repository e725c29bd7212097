"""The MQTT and NATS sinks through real `syncer run` workflows against the local Mosquitto
(127.0.0.1:1883) and NATS JetStream (127.0.0.1:4222): events reach subscribers with their ids,
retained state follows entities, and a re-delivery is recognised by its id. Each test uses its
own topic prefix or stream and removes it afterwards; a server that does not answer skips.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncer.events import event_id
from tests.support import topics
from tests.support.receiver import free_port
from tests.support.workspace import SERVICE, Workspace, catalog

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

ENTITIES = 9  # service, database, four schemas, three tables
PASSWORD = "mqtt-password-7d41c0"
TOKEN = "nats-token-c93e5a10"
T2 = f"{SERVICE}.analytics.s2.t000002"


@pytest.fixture
def workspace(tmp_path: Path, subprocess_env: dict[str, str]) -> Workspace:
    ws = Workspace(tmp_path, {**subprocess_env, "MQTT_PASSWORD": PASSWORD, "NATS_TOKEN": TOKEN})
    ws.write_source(catalog(3))
    return ws


def configure(ws: Workspace, sink_type: str, **config: Any) -> Path:
    return ws.write_config(
        sinks=[{"type": sink_type, "config": config}], deletions={"fail_safe_percent": 100}
    )


def all_ids(ws: Workspace) -> set[str]:
    return {event_id(ws.workflow, seq) for (seq,) in ws.query("SELECT seq FROM changes")}


def drop_t2(ws: Workspace) -> None:
    document = catalog(3)
    del document["streams"][3]["records"][2]
    ws.write_source(document)


def assert_no_secret(ws: Workspace, *outputs: Any) -> None:
    for done in outputs:
        for secret in (PASSWORD, TOKEN):
            assert secret not in done.stdout + done.stderr
    for stored in (ws.state, ws.state.with_suffix(".duckdb.wal")):
        data = stored.read_bytes() if stored.exists() else b""
        assert PASSWORD.encode() not in data and TOKEN.encode() not in data


# --- MQTT ---------------------------------------------------------------------------------------


@pytest.fixture
def prefix() -> Iterator[str]:
    if not topics.reachable(topics.MQTT_PORT):
        pytest.skip(
            "MQTT broker not reachable on 127.0.0.1:1883: install mosquitto "
            "(apt-get install mosquitto) and start it"
        )
    name = f"syncer-test/{uuid.uuid4().hex[:12]}"
    yield name
    topics.clear_retained(f"{name}/#")


def mqtt(ws: Workspace, prefix: str, **config: Any) -> Path:
    return configure(
        ws,
        "mqtt",
        host=topics.HOST,
        topic_prefix=prefix,
        username="syncer",
        password="${env:MQTT_PASSWORD}",
        **config,
    )


def test_mqtt_subscribers_get_each_event_with_its_id(workspace: Workspace, prefix: str) -> None:
    mqtt(workspace, prefix)

    with topics.Subscriber(f"{prefix}/#") as subscriber:
        done = workspace.run()
        received = subscriber.wait_for(ENTITIES)

    assert len(received) == ENTITIES
    assert {m.event["id"] for m in received} == all_ids(workspace)
    for message in received:
        event = message.event
        assert message.topic == f"{prefix}/events/{event['entityType']}"
        assert message.user_properties == {"event-id": event["id"], "event-type": "entityCreated"}
    assert_no_secret(workspace, done)


def test_mqtt_retained_state_follows_entities_and_a_deletion_clears_it(
    workspace: Workspace, prefix: str
) -> None:
    mqtt(workspace, prefix, retain_state=True)
    workspace.run()

    kept = {m.topic: m for m in topics.retained(f"{prefix}/entities/#")}
    t2 = f"{prefix}/entities/table/{T2}"
    assert len(kept) == ENTITIES
    assert kept[t2].event["name"] == "t000002"  # the entity itself, not the event

    drop_t2(workspace)
    with topics.Subscriber(f"{prefix}/events/#") as subscriber:
        workspace.run()
        (deleted,) = subscriber.wait_for(1)
    assert (deleted.event["eventType"], deleted.event["entityFullyQualifiedName"]) == (
        "entitySoftDeleted",
        T2,
    )
    left = {m.topic for m in topics.retained(f"{prefix}/entities/#")}
    assert t2 not in left and len(left) == ENTITIES - 1


def test_mqtt_a_redelivered_event_carries_the_same_id_and_leaves_retained_state_alone(
    workspace: Workspace, prefix: str
) -> None:
    mqtt(workspace, prefix, retain_state=True)

    with topics.Subscriber(f"{prefix}/events/#") as events:
        workspace.run()
        with topics.Subscriber(f"{prefix}/entities/#") as states:
            replay = workspace.syncer(
                "events", "replay", workspace.config, "--sink", "mqtt", "--run", "1"
            )
            received = events.wait_for(2 * ENTITIES)
            republished = [m for m in states.wait_for(ENTITIES) if not m.retain]

    assert replay.returncode == 0, replay.stderr
    assert len(received) == 2 * ENTITIES
    # A subscriber that deduplicates by id sees every event once.
    assert all(m.user_properties["event-id"] == m.event["id"] for m in received)
    seen = [m.user_properties["event-id"] for m in received]
    assert len(set(seen)) == ENTITIES and set(seen) == all_ids(workspace)
    assert seen[:ENTITIES] == seen[ENTITIES:]
    assert republished == []  # a replay of old events does not set retained state back


def test_test_connection_reaches_the_broker_and_the_server(
    workspace: Workspace, prefix: str, stream: str
) -> None:
    workspace.write_config(
        sinks=[
            {"type": "mqtt", "config": {"host": topics.HOST, "topic_prefix": prefix}},
            {"type": "nats", "config": {"servers": [topics.NATS_URL], "stream": stream}},
        ]
    )

    done = workspace.syncer("test-connection", workspace.config)

    assert done.returncode == 0, done.stdout
    assert "ok   sink mqtt: connect: MQTT broker 127.0.0.1:1883: connected (MQTT v5)" in done.stdout
    assert (
        f"ok   sink nats: connect: NATS {topics.NATS_URL}: stream {stream} is created"
        in done.stdout
    )
    assert not topics.stream_exists(stream)  # a check creates nothing


def test_mqtt_a_broker_that_is_down_keeps_the_backlog(workspace: Workspace) -> None:
    configure(workspace, "mqtt", host=topics.HOST, port=free_port(), timeout_seconds=2)

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 1
    assert "FAILED: MQTT broker 127.0.0.1:" in done.stdout
    assert (
        "cannot be reached (Connection refused); start it, or check host and port; " in done.stdout
    )
    assert f"{ENTITIES} changes wait for the next run" in done.stdout


# --- NATS JetStream -----------------------------------------------------------------------------


@pytest.fixture
def stream() -> Iterator[str]:
    if not topics.reachable(4222):
        pytest.skip(
            "NATS not reachable on 127.0.0.1:4222: install nats-server and start it with "
            "JetStream (nats-server -js)"
        )
    name = f"syncer-test-{uuid.uuid4().hex[:12]}"
    yield name
    topics.delete_stream(name)


def nats_sink(ws: Workspace, stream: str, **config: Any) -> Path:
    return configure(
        ws,
        "nats",
        servers=[topics.NATS_URL],
        stream=stream,
        subject_prefix=f"syncertest.{stream}",
        token="${env:NATS_TOKEN}",
        **config,
    )


def test_nats_stores_each_event_once_however_often_it_is_sent(
    workspace: Workspace, stream: str
) -> None:
    nats_sink(workspace, stream)
    done = workspace.run()

    stored = topics.stream_messages(stream)
    assert len(stored) == ENTITIES
    assert {m.event["id"] for m in stored} == all_ids(workspace)
    for message in stored:
        assert message.headers["Nats-Msg-Id"] == message.event["id"]
        assert message.subject == f"syncertest.{stream}.events.{message.event['entityType']}"

    replay = workspace.syncer(
        "events", "replay", workspace.config, "--sink", "nats", "--since", "1h"
    )
    assert replay.returncode == 0, replay.stderr
    assert f"{ENTITIES} sent" in replay.stdout
    assert len(topics.stream_messages(stream)) == ENTITIES  # JetStream dropped the duplicates

    drop_t2(workspace)
    workspace.run()
    last = topics.stream_messages(stream)[-1].event
    assert (last["eventType"], last["entityFullyQualifiedName"]) == ("entitySoftDeleted", T2)
    assert_no_secret(workspace, done, replay)


def test_nats_a_missing_stream_is_not_created_when_told_not_to(
    workspace: Workspace, stream: str
) -> None:
    nats_sink(workspace, stream, create_stream=False)

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 1
    assert f"JetStream has no stream {stream}; create it, or set create_stream: true" in done.stdout
    assert not topics.stream_exists(stream)


def test_nats_a_server_that_is_down_keeps_the_backlog(workspace: Workspace) -> None:
    configure(workspace, "nats", servers=[f"nats://127.0.0.1:{free_port()}"], timeout_seconds=2)

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 1
    assert "FAILED: NATS nats://127.0.0.1:" in done.stdout
    assert "cannot be reached" in done.stdout
    assert f"{ENTITIES} changes wait for the next run" in done.stdout
