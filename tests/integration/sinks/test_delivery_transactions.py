"""A sink that waits on the network holds no state transaction: a webhook receiver that stalls
must not keep the state file's write transaction open, nor make the state's other commits
wait for it or conflict with it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from syncer.sinks.jsonl import JsonlConfig, JsonlSink
from syncer.sinks.webhook import WebhookConfig, WebhookSink
from syncer.statefile import open_state
from syncer.workflow import RunResult, Workflow
from tests.support.engine import Engine, tables
from tests.support.receiver import Receiver, Reply

STALL = 1.5  # seconds the receiver waits before it answers


def test_no_state_transaction_is_open_while_a_webhook_receiver_stalls(tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    engine.write_tables(tables(3))
    with Receiver() as receiver:
        receiver.default = Reply(delay=STALL)
        hook = WebhookSink(WebhookConfig(url=receiver.url, secret="s" * 32, batch_size=100))
        jsonl = JsonlSink(JsonlConfig(path=tmp_path / "changes.jsonl"))
        config = engine.config(sinks={"jsonl": jsonl, "hook": hook})
        store = open_state(engine.state_path)
        results: list[RunResult] = []
        run = threading.Thread(target=lambda: results.append(Workflow(config, store).run()))
        run.start()
        try:
            deadline = time.monotonic() + 30
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.01)
            assert receiver.requests, "the webhook was never called"
            # The receiver is stalling now: the run waits on it, holding nothing in the state.
            assert not store.in_transaction
            # Another writer of the same file commits in the meantime (the jsonl sink's offset,
            # committed before the webhook was called, is already visible to it) ...
            other = store.connection.cursor()
            other.execute("BEGIN TRANSACTION")
            other.execute(
                "UPDATE deliveries SET updated_at = now() WHERE sink IN ('jsonl', 'hook')"
            )
            other.execute("COMMIT")
            acked = other.execute(
                "SELECT \"offset\" FROM deliveries WHERE sink = 'jsonl'"
            ).fetchall()
            other.close()
        finally:
            run.join(timeout=60)
            store.close()
    # ... and the webhook's acknowledgement, recorded after the wait, does not conflict with it.
    (result,) = results
    assert acked == [(6,)]
    assert [(r.sink, r.delivered, r.error) for r in result.deliveries] == [
        ("jsonl", 6, None),
        ("hook", 6, None),
    ]
    assert result.status == "succeeded"
    assert engine.rows('SELECT sink, "offset" FROM deliveries ORDER BY sink') == [
        ("hook", 6),
        ("jsonl", 6),
    ]
