"""Entity names that MQTT forbids in a topic, through a real `syncer run` against the local
Mosquitto (127.0.0.1:1883): a table whose name holds a newline or a tab no longer makes the
broker drop the connection on every run; its retained state goes to an escaped topic and every
other entity is delivered with it. A broker that does not answer skips."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.support import topics
from tests.support.workspace import DATABASE, Workspace, catalog

pytestmark = pytest.mark.slow  # runs `syncer` in a subprocess

NAMES = ["orders\nv2", "tab\tname", "nul\x00name", "t000001"]
SCHEMA = f"{DATABASE}.s0"


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


@pytest.fixture
def workspace(tmp_path: Path, subprocess_env: dict[str, str], prefix: str) -> Workspace:
    ws = Workspace(tmp_path, subprocess_env)
    document = catalog(1, schemas=1)
    tables = document["streams"][3]["records"]
    tables[:] = [{**tables[0], "name": name} for name in NAMES]
    ws.write_source(document)
    ws.write_config(
        sinks=[
            {
                "type": "mqtt",
                "config": {
                    "host": topics.HOST,
                    "topic_prefix": prefix,
                    "retain_state": True,
                    "timeout_seconds": 5,
                },
            }
        ]
    )
    return ws


def test_names_with_control_characters_reach_escaped_topics_and_nothing_is_held_up(
    workspace: Workspace, prefix: str
) -> None:
    entities = 3 + len(NAMES)  # service, database, schema, the tables

    with topics.Subscriber(f"{prefix}/events/#") as subscriber:
        done = workspace.syncer("run", workspace.config, timeout=60)
        events = subscriber.wait_for(entities)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"sink mqtt: {entities} delivered" in done.stdout
    assert len(events) == entities
    kept = {m.topic for m in topics.retained(f"{prefix}/entities/table/#")}
    assert kept == {
        f"{prefix}/entities/table/{SCHEMA}.orders%0Av2",
        f"{prefix}/entities/table/{SCHEMA}.tab%09name",
        f"{prefix}/entities/table/{SCHEMA}.nul%00name",
        f"{prefix}/entities/table/{SCHEMA}.t000001",
    }
    assert {unquote(t.rsplit("/", 1)[1]) for t in kept} == {f"{SCHEMA}.{n}" for n in NAMES}
    assert workspace.query("SELECT count(*) FROM pending_changes") == [(0,)]

    again = workspace.syncer("run", workspace.config, timeout=60)  # and the next run too
    assert again.returncode == 0, again.stdout + again.stderr
