"""The receiver: OpenLineage's HTTP transport into the inbox, and every refusal storing nothing."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import structlog
from openlineage.client.event_v2 import (
    DatasetEvent,
    Job,
    JobEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.serde import Serde
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from syncer.connectors.openlineage.inbox import Inbox
from syncer.connectors.openlineage.receiver import ENDPOINT, create_app, loopback_names
from tests.support.lineage_events import JOB, PRODUCER, run_event

TOKEN = "a-token-of-more-than-sixteen-characters"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 64 * 1024


def as_json(event: Any) -> dict[str, Any]:
    """The event as openlineage-python's transports serialize it."""
    parsed: dict[str, Any] = json.loads(Serde.to_json(event))
    return parsed


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    with Inbox(tmp_path / "inbox.sqlite", create=True) as opened:
        yield opened


@pytest.fixture
def client(inbox: Inbox) -> TestClient:
    app = create_app(inbox, token=TOKEN, max_body_bytes=LIMIT)
    return TestClient(app, base_url="http://127.0.0.1:5000")


def post(client: TestClient, body: Any, path: str = ENDPOINT, **headers: str) -> Any:
    return client.post(path, content=body, headers=AUTH | headers)


def test_a_start_and_a_complete_from_the_client_each_land_once(
    client: TestClient, inbox: Inbox
) -> None:
    run_id = str(uuid4())
    for state in (RunState.START, RunState.COMPLETE):
        answer = post(client, Serde.to_json(run_event(state, run_id)))
        assert (answer.status_code, answer.json()) == (201, {"received": 1, "stored": 1})
    [events] = list(inbox.runs_touched_since(0))
    assert [(e.seq, e.event_type, e.run_id) for e in events] == [
        (1, "START", run_id),
        (2, "COMPLETE", run_id),
    ]


def test_an_event_sent_again_is_answered_but_changes_nothing(
    client: TestClient, inbox: Inbox
) -> None:
    body = Serde.to_json(run_event(RunState.START, str(uuid4())))
    assert post(client, body).json()["stored"] == 1
    again = post(client, body)
    assert (again.status_code, again.json()["stored"]) == (201, 0)
    assert inbox.last_seq() == 1


def test_a_batch_stores_every_kind_of_event_in_one_request(
    client: TestClient, inbox: Inbox
) -> None:
    run_id = str(uuid4())
    batch = [
        as_json(run_event(RunState.START, run_id)),
        as_json(run_event(RunState.FAIL, run_id)),
        as_json(
            JobEvent(
                eventTime=datetime.now(UTC).isoformat(),
                job=Job(namespace="airflow", name=JOB),
                producer=PRODUCER,
            )
        ),
        as_json(
            DatasetEvent(
                eventTime=datetime.now(UTC).isoformat(),
                dataset=StaticDataset(namespace="postgres://db:5432", name="shop.public.x"),
                producer=PRODUCER,
            )
        ),
    ]
    answer = post(client, json.dumps(batch), f"{ENDPOINT}/batch")
    assert answer.status_code == 200
    assert answer.json()["summary"] == {"received": 4, "successful": 4, "failed": 0}
    assert inbox.last_seq() == 4
    [run] = list(inbox.runs_touched_since(0))
    assert [e.event_type for e in run] == ["START", "FAIL"]


def test_a_gzip_body_as_the_client_compresses_it_is_taken(client: TestClient, inbox: Inbox) -> None:
    body = gzip.compress(Serde.to_json(run_event(RunState.START, str(uuid4()))).encode())
    assert post(client, body, **{"Content-Encoding": "gzip"}).status_code == 201
    assert inbox.last_seq() == 1


def _refusal(client: TestClient, inbox: Inbox, answer: Any, status: int, reason: str) -> None:
    """Refused with a one-line JSON reason, nothing stored, and the next good event taken."""
    assert answer.status_code == status
    assert list(answer.json()) == ["error"] and "\n" not in answer.json()["error"]
    assert reason in answer.json()["error"]
    before = inbox.last_seq()
    good = Serde.to_json(run_event(RunState.START, str(uuid4())))
    assert post(client, good).status_code == 201
    assert inbox.last_seq() == before + 1


def test_a_body_that_is_not_json_is_refused(client: TestClient, inbox: Inbox) -> None:
    _refusal(client, inbox, post(client, b"{not json"), 400, "the body is not JSON")
    assert inbox.last_seq() == 1


def test_an_event_that_breaks_the_schema_is_refused(client: TestClient, inbox: Inbox) -> None:
    event = as_json(run_event(RunState.START, str(uuid4())))
    cases = [
        (event | {"run": {"runId": "not-a-uuid"}}, "run.runId must be a UUID"),
        ({k: v for k, v in event.items() if k != "producer"}, "event.producer is required"),
        (event | {"eventTime": "Friday"}, "eventTime 'Friday' is not an ISO 8601"),
        (event | {"job": {"namespace": "airflow"}}, "job.name is required"),
        (event | {"inputs": "orders"}, "inputs must be a list"),
    ]
    for broken, reason in cases:
        _refusal(client, inbox, post(client, json.dumps(broken)), 400, reason)


def test_an_unknown_event_type_is_refused(client: TestClient, inbox: Inbox) -> None:
    event = as_json(run_event(RunState.START, str(uuid4())))
    answer = post(client, json.dumps(event | {"eventType": "FINISHED"}))
    _refusal(client, inbox, answer, 400, "eventType 'FINISHED' is not one of START")
    answer = post(client, json.dumps({"eventTime": event["eventTime"], "producer": PRODUCER}))
    _refusal(client, inbox, answer, 400, "unknown event type")


def test_a_batch_with_one_bad_event_stores_none_of_them(client: TestClient, inbox: Inbox) -> None:
    good = as_json(run_event(RunState.START, str(uuid4())))
    batch = [good, good | {"eventType": "FINISHED"}]
    answer = post(client, json.dumps(batch), f"{ENDPOINT}/batch")
    _refusal(client, inbox, answer, 400, "event 1: eventType 'FINISHED'")
    assert inbox.last_seq() == 1  # only the good event `_refusal` sent after


def test_an_array_sent_to_the_single_event_path_is_pointed_to_the_batch_path(
    client: TestClient, inbox: Inbox
) -> None:
    _refusal(client, inbox, post(client, b"[]"), 400, f"post it to {ENDPOINT}/batch")


def test_a_body_over_the_limit_is_refused_by_its_declared_length(
    client: TestClient, inbox: Inbox
) -> None:
    answer = post(client, b" " * (LIMIT + 1))
    _refusal(client, inbox, answer, 413, f"larger than {LIMIT} bytes")


def test_a_body_over_the_limit_is_refused_while_it_streams_without_a_length(
    client: TestClient, inbox: Inbox
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    answer = post(client, chunks())
    _refusal(client, inbox, answer, 413, "receiver.max_body_bytes")


def test_a_gzip_body_that_inflates_over_the_limit_is_refused(
    client: TestClient, inbox: Inbox
) -> None:
    bomb = gzip.compress(b" " * (LIMIT * 4))
    answer = post(client, bomb, **{"Content-Encoding": "gzip"})
    _refusal(client, inbox, answer, 413, "larger than")


def test_no_token_or_a_wrong_one_is_refused(client: TestClient, inbox: Inbox) -> None:
    body = Serde.to_json(run_event(RunState.START, str(uuid4())))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = client.post(ENDPOINT, content=body, headers=headers)
        _refusal(client, inbox, answer, 401, "bearer token")
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_loopback_receiver_answers_only_its_own_host_names(inbox: Inbox) -> None:
    app = create_app(inbox, token=None, max_body_bytes=LIMIT, allowed_hosts=loopback_names("::1"))
    body = Serde.to_json(run_event(RunState.START, str(uuid4())))
    rebound = TestClient(app, base_url="http://attacker.example:5000").post(ENDPOINT, content=body)
    assert rebound.status_code == 400 and inbox.last_seq() == 0
    local = TestClient(app, base_url="http://localhost:5000").post(ENDPOINT, content=body)
    assert local.status_code == 201 and inbox.last_seq() == 1
    assert loopback_names("0.0.0.0") is None


@pytest.fixture
def info_logged() -> Iterator[None]:
    """Info lines are kept, whatever level a command run in an earlier test configured."""
    before = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    yield
    structlog.configure(**before)


@pytest.mark.usefixtures("info_logged")
def test_each_request_is_logged_in_one_line_without_its_body_or_token(client: TestClient) -> None:
    body = Serde.to_json(run_event(RunState.START, str(uuid4())))
    with capture_logs() as logs:
        post(client, body)
        client.post(ENDPOINT, content=body, headers={"Authorization": "Bearer wrong-token"})
    assert [(line["status"], line["events"], line["stored"]) for line in logs] == [
        (201, 1, 1),
        (401, None, None),
    ]
    assert all(line["path"] == ENDPOINT for line in logs)
    assert TOKEN not in repr(logs) and "wrong-token" not in repr(logs)
    assert JOB not in repr(logs)


def test_an_inbox_that_cannot_be_written_answers_503_so_the_client_sends_again(
    client: TestClient, inbox: Inbox
) -> None:
    inbox.close()
    answer = post(client, Serde.to_json(run_event(RunState.START, str(uuid4()))))
    assert answer.status_code == 503
    assert answer.json() == {"error": "the inbox cannot be written now: send the events again"}
