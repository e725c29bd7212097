"""The MQTT and NATS sinks' pure parts: FQNs as topic levels and subject tokens, config checks,
and a test-connection that reports a server that is down instead of raising."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from syncer.sinks.mqtt import MqttConfig, MqttSink, topic_level
from syncer.sinks.nats import NatsConfig, NatsSink, subject_token
from tests.support.receiver import free_port


def test_an_fqn_is_one_topic_level_that_can_be_decoded_again() -> None:
    assert topic_level('svc.db."a/b".t') == 'svc.db."a%2Fb".t'
    assert topic_level("a+b#c%d") == "a%2Bb%23c%25d"
    assert topic_level("svc.db.sch.a->svc.db.sch.b") == "svc.db.sch.a->svc.db.sch.b"


def test_a_name_becomes_one_subject_token() -> None:
    assert subject_token("databaseSchema") == "databaseSchema"
    assert subject_token("my.flow *>") == "my_flow___"


@pytest.mark.parametrize(
    ("model", "config", "message"),
    [
        (MqttConfig, {"topic_prefix": "syncer/#"}, "without wildcards"),
        (MqttConfig, {"qos": 0}, "Input should be 1 or 2"),
        (MqttConfig, {"protocol": "v4"}, "Input should be 'v5' or 'v3.1.1'"),
        (NatsConfig, {"stream": "my.stream"}, "only letters, digits, _ and -"),
        (NatsConfig, {"subject_prefix": "syncer.>"}, "without wildcards"),
        (NatsConfig, {"servers": []}, "at least 1 item"),
    ],
)
def test_a_config_is_refused_with_a_clear_message(
    model: type[MqttConfig | NatsConfig], config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        model.model_validate(config)


def test_a_trailing_slash_is_dropped_from_the_topic_prefix() -> None:
    assert MqttConfig(topic_prefix="plant/7/").topic_prefix == "plant/7"


def test_test_connection_reports_a_broker_that_is_down() -> None:
    port = free_port()
    report = MqttSink(MqttConfig(host="127.0.0.1", port=port, timeout_seconds=2)).test_connection()

    assert not report.ok
    (check,) = report.checks
    assert check[2] == (
        f"MQTT broker 127.0.0.1:{port} cannot be reached (Connection refused); start it, or "
        "check host and port"
    )


def test_test_connection_reports_a_nats_server_that_is_down() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    report = NatsSink(NatsConfig(servers=[url], timeout_seconds=2)).test_connection()

    assert not report.ok
    (check,) = report.checks
    assert check[2].startswith(f"NATS {url} cannot be reached (")
