"""The webhook sink through real `syncer run` workflows against a real HTTP receiver on
127.0.0.1: signed events with OpenMetadata's types and change descriptions, a receiver that is
down, failing, gone, slow or redirecting, a run killed between commit and delivery, replays,
filters, dead letters, and a secret that never leaks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncer.events import event_id
from tests.support.receiver import Receiver, Reply, free_port, verify
from tests.support.workspace import DOUBLES, SERVICE, Workspace, catalog

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

SECRET = "integration-hook-secret-5c2e8f1a"
ENTITIES = 9  # service, database, four schemas, three tables
FAST_RETRY = {"attempts": 3, "initial_wait_seconds": 0.01, "max_wait_seconds": 0.05}
T1 = f"{SERVICE}.analytics.s1.t000001"
T2 = f"{SERVICE}.analytics.s2.t000002"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def workspace(tmp_path: Path, subprocess_env: dict[str, str]) -> Workspace:
    ws = Workspace(tmp_path, {**subprocess_env, "HOOK_SECRET": SECRET})
    ws.write_source(catalog(3))
    return ws


def configure(ws: Workspace, url: str, *before: dict[str, Any], **hook: Any) -> Path:
    """The workflow: FileSource into the webhook sink `hook` (after any `before` sinks)."""
    config = {"url": url, "secret": "${env:HOOK_SECRET}", "retry": FAST_RETRY, **hook}
    return ws.write_config(
        sinks=[*before, {"type": "webhook", "name": "hook", "config": config}],
        deletions={"fail_safe_percent": 100},
    )


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events]


def all_ids(ws: Workspace) -> set[str]:
    return {event_id(ws.workflow, seq) for (seq,) in ws.query("SELECT seq FROM changes")}


def listed(ws: Workspace, *args: str) -> list[dict[str, Any]]:
    done = ws.syncer("events", "--config", ws.config, "--format", "jsonl", *args)
    assert done.returncode == 0, done.stderr
    return [orjson.loads(line) for line in done.stdout.splitlines()]


def edit_table(ws: Workspace, index: int, **changes: Any) -> None:
    document = catalog(3)
    document["streams"][3]["records"][index].update(changes)
    ws.write_source(document)


# --- events of runs -----------------------------------------------------------------------------


def test_the_events_of_each_run_arrive_signed_with_their_types_and_descriptions(
    workspace: Workspace, receiver: Receiver
) -> None:
    configure(workspace, receiver.url)
    workspace.run()
    created = receiver.events()

    assert all(verify(SECRET.encode(), r.body, r.headers) for r in receiver.requests)
    assert [e["eventType"] for e in created] == ["entityCreated"] * ENTITIES
    assert set(ids(created)) == all_ids(workspace)

    columns = catalog(3)["streams"][3]["records"][1]["columns"]
    columns[1]["dataType"] = "TEXT"
    edit_table(workspace, 1, columns=columns)
    workspace.run()
    (updated,) = receiver.events()[ENTITIES:]
    assert (updated["eventType"], updated["entityFullyQualifiedName"]) == ("entityUpdated", T1)
    assert updated["changeDescription"]["fieldsUpdated"] == [
        {"name": "columns.c1.dataType", "oldValue": "VARCHAR", "newValue": "TEXT"}
    ]
    assert (updated["previousVersion"], updated["currentVersion"]) == (0.1, 0.2)

    document = catalog(3)
    document["streams"][3]["records"][1]["columns"] = columns
    del document["streams"][3]["records"][2]
    workspace.write_source(document)
    workspace.run()
    (deleted,) = receiver.events()[ENTITIES + 1 :]
    assert (deleted["eventType"], deleted["entityFullyQualifiedName"]) == ("entitySoftDeleted", T2)
    assert deleted["entity"]["name"] == "t000002"

    # `syncer events` lists exactly what the receiver got.
    assert listed(workspace) == receiver.events()
    assert [e["eventType"] for e in listed(workspace, "--run", "3")] == ["entitySoftDeleted"]


def test_a_receiver_that_is_down_for_a_run_gets_everything_on_the_next(
    workspace: Workspace,
) -> None:
    port = free_port()
    configure(workspace, f"http://127.0.0.1:{port}/hook")

    down = workspace.syncer("run", workspace.config)

    assert down.returncode == 1
    assert "sink hook: 0 delivered; FAILED: POST http://127.0.0.1:" in down.stdout
    assert f"cannot connect after 3 attempts; {ENTITIES} changes wait" in down.stdout
    with Receiver(port) as back:
        workspace.run()
        assert set(ids(back.events())) == all_ids(workspace)
        assert len(back.events()) == ENTITIES


def test_a_receiver_failing_twice_then_answering_gets_each_event_with_one_id(
    workspace: Workspace, receiver: Receiver
) -> None:
    receiver.script = [Reply(500), Reply(503)]
    configure(workspace, receiver.url)

    workspace.run()

    first, second, third = receiver.requests[:3]
    assert (first.status, second.status, third.status) == (500, 503, 200)
    assert first.body == second.body == third.body
    assert first.headers["X-Syncer-Event-Id"] == third.headers["X-Syncer-Event-Id"]
    assert sorted(ids(receiver.events())) == sorted(all_ids(workspace))


def test_410_dead_letters_an_event_until_it_is_retried(
    workspace: Workspace, receiver: Receiver
) -> None:
    receiver.script = [Reply(410, b'{"message": "no such subscriber"}')]
    configure(workspace, receiver.url)
    workspace.run("--allow-partial")  # a dead letter makes a run partial
    gone = receiver.requests[0].events[0]

    failed = workspace.syncer("events", "--config", workspace.config, "--failed")
    assert failed.returncode == 0
    assert SERVICE in failed.stdout and "HTTP 410: no such subscriber" in failed.stdout
    [dead] = listed(workspace, "--failed")
    assert (dead["sink"], dead["attempts"], dead["event"]["id"]) == ("hook", 1, gone["id"])
    pending = workspace.syncer("changes", "--config", workspace.config, "--pending")
    assert "HTTP 410" in pending.stdout and "hook" in pending.stdout

    # a dead letter is not offered again by itself, nor what depends on it (every other entity
    # depends on the service)
    workspace.run("--allow-partial")
    assert ids(receiver.events()) == []  # taken events: none yet

    retry = workspace.syncer("events", "retry", workspace.config, "--sink", "hook")
    assert retry.returncode == 0, retry.stderr
    assert "1 dead letters of sink hook of shop revived" in retry.stdout
    workspace.run()
    # the revived one goes first, then what waited for it
    assert ids(receiver.events())[-ENTITIES] == gone["id"]
    assert len(set(ids(receiver.events()))) == ENTITIES
    assert listed(workspace, "--failed") == []


def test_a_receiver_slower_than_the_timeout_is_cut_off(
    workspace: Workspace, receiver: Receiver
) -> None:
    receiver.default = Reply(200, delay=3)
    configure(workspace, receiver.url, timeout_seconds=0.3, retry={"attempts": 1})

    started = time.monotonic()
    done = workspace.syncer("run", workspace.config)

    assert time.monotonic() - started < 3
    assert done.returncode == 1
    assert "timed out after 1 attempts" in done.stdout
    assert f"{ENTITIES} changes wait for the next run" in done.stdout


def test_a_redirect_to_another_host_is_not_followed(
    workspace: Workspace, receiver: Receiver
) -> None:
    with Receiver(host="127.0.0.2") as elsewhere:
        receiver.default = Reply(302, headers={"Location": elsewhere.url})
        configure(workspace, receiver.url)
        workspace.run("--allow-partial")

        assert elsewhere.requests == []
    pending = workspace.query(
        "SELECT DISTINCT last_error FROM pending_changes WHERE last_error NOT LIKE 'waits for %'"
    )
    assert pending == [
        (
            f"webhook {receiver.url} redirected (HTTP 302) to {elsewhere.url}; redirects are "
            "not followed: set `url` to the new address if you trust it",
        )
    ]


def test_a_run_killed_between_commit_and_delivery_loses_no_event(
    workspace: Workspace, receiver: Receiver
) -> None:
    reached, release = workspace.root / "reached", workspace.root / "release"
    gate = {
        "type": f"{DOUBLES}:GateSink",
        "config": {"reached": str(reached), "release": str(release)},
    }
    configure(workspace, receiver.url, gate)

    process = workspace.spawn("run", workspace.config)
    assert workspace.kill_when(process, reached.exists)
    assert receiver.requests == []  # committed, not delivered

    release.touch()
    workspace.run()
    assert set(ids(receiver.events())) == all_ids(workspace)
    assert len(all_ids(workspace)) == ENTITIES


def test_a_run_killed_while_delivering_resends_only_the_request_in_flight_with_its_id(
    workspace: Workspace, receiver: Receiver
) -> None:
    receiver.default = Reply(200, delay=0.05)
    configure(workspace, receiver.url)

    process = workspace.spawn("run", workspace.config)
    assert workspace.kill_when(process, lambda: len(receiver.accepted()) >= 3)
    before = ids(receiver.events())
    receiver.default = Reply(200)
    workspace.run()

    after = ids(receiver.events())[len(before) :]
    assert set(before) | set(after) == all_ids(workspace)
    # each acknowledged request was recorded before the next went out: only the one in
    # flight (one event here) is sent again, with the id it had
    assert len(set(before) & set(after)) <= 1


# --- replay, filters, secrets -------------------------------------------------------------------


def test_a_replay_resends_events_with_their_ids_and_moves_no_offset(
    workspace: Workspace, receiver: Receiver
) -> None:
    configure(workspace, receiver.url)
    workspace.run()
    first = ids(receiver.events())
    offsets = workspace.query('SELECT sink, "offset" FROM deliveries')

    done = workspace.syncer("events", "replay", workspace.config, "--sink", "hook", "--since", "1h")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"replayed to sink hook: {ENTITIES} sent, 0 refused"
    assert ids(receiver.events())[ENTITIES:] == first
    assert workspace.query('SELECT sink, "offset" FROM deliveries') == offsets

    tables = workspace.syncer(
        "events", "replay", workspace.config, "--sink", "hook", "--run", "1",
        "--type", "entityCreated", "--entity-type", "table", "--fqn", "*.s1.*",
    )  # fmt: skip
    assert tables.returncode == 0, tables.stderr
    assert [e["entityFullyQualifiedName"] for e in receiver.events()[2 * ENTITIES :]] == [T1]


def test_a_filter_sends_only_matching_events_and_acknowledges_the_rest(
    workspace: Workspace, receiver: Receiver
) -> None:
    configure(
        workspace,
        receiver.url,
        filter={"event_types": ["entityCreated"], "entity_types": ["table"], "fqn": "*.s1.*"},
    )

    done = workspace.run()

    assert [e["entityFullyQualifiedName"] for e in receiver.events()] == [T1]
    assert f"sink hook: {ENTITIES} delivered" in done.stdout
    assert workspace.query("SELECT count(*) FROM pending_changes") == [(0,)]


def test_batches_are_signed_json_arrays(workspace: Workspace, receiver: Receiver) -> None:
    configure(workspace, receiver.url, batch_size=4)
    workspace.run()

    # a batch ends before an event whose entity depends on one in it: the service, the
    # database, its four schemas, their three tables
    assert [len(r.events) for r in receiver.requests] == [1, 1, 4, 3]
    assert all(verify(SECRET.encode(), r.body, r.headers) for r in receiver.requests)


def test_the_secret_never_reaches_output_state_or_events(
    workspace: Workspace, receiver: Receiver
) -> None:
    receiver.default = Reply(401, f"signature does not match secret {SECRET}".encode())
    configure(workspace, receiver.url)

    outputs = [
        workspace.syncer("--log-level", "debug", "run", workspace.config),
        workspace.syncer("changes", "--config", workspace.config, "--pending", "--format", "json"),
        workspace.syncer("events", "--config", workspace.config, "--format", "jsonl"),
        workspace.syncer("events", "--config", workspace.config, "--failed", "--format", "json"),
    ]

    assert "signature does not match secret ***" in outputs[1].stdout
    for done in outputs:
        assert SECRET not in done.stdout + done.stderr
    for stored in (workspace.state, workspace.state.with_suffix(".duckdb.wal")):
        assert not stored.exists() or SECRET.encode() not in stored.read_bytes()
    assert SECRET.encode() not in b"".join(r.body for r in receiver.requests)


# --- command-line mistakes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("events", "--type", "created"), "error: --type: Input should be 'entityCreated'"),
        (("events", "--since", "yesterday"), "error: time 'yesterday': use an ISO date"),
        (("events", "--sink", "hook"), "error: --sink goes with --failed"),
        (("events", "replay", "{config}", "--sink", "hook"), "error: say what to replay"),
        (
            ("events", "replay", "{config}", "--sink", "nope", "--run", "1"),
            "no sink named 'nope' (it has: hook)",
        ),
        (("events", "retry", "{config}", "--sink", "nope"), "no sink named 'nope' (it has: hook)"),
    ],
)
def test_a_mistaken_events_command_exits_2_with_one_line_before_any_work(
    workspace: Workspace, receiver: Receiver, args: tuple[str, ...], message: str
) -> None:
    configure(workspace, receiver.url)
    config = str(workspace.config)
    arguments = [a.format(config=config) for a in args]
    if arguments[0] == "events" and "replay" not in arguments and "retry" not in arguments:
        arguments += ["--config", config]

    done = workspace.syncer(*arguments)

    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_replay_to_a_sink_that_sends_no_events_exits_2(
    workspace: Workspace, receiver: Receiver
) -> None:
    configure(workspace, receiver.url, {"type": "jsonl", "config": {"path": "out.jsonl"}})
    workspace.run()

    done = workspace.syncer("events", "replay", workspace.config, "--sink", "jsonl", "--run", "1")

    assert done.returncode == 2
    assert "sink 'jsonl' does not send events" in done.stderr
