"""Delivery: every sink consumes the committed change log from its own offset.

A sink writes outside the state's transaction: while it waits on the network (retries can take
minutes) no DuckDB transaction is held open. What it acknowledged and refused is then recorded,
with its new offset, in one short transaction, so a crash between the write and that commit
re-sends the batch (sinks write idempotently by key) and never skips it. Only a sink that
writes into the state file itself (the embedded catalog) writes inside that transaction, so its
rows and its offset commit together. A sink that is down keeps its backlog for the next run and
does not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from state import StateStore, interrupted
from syncer.errors import describe
from syncer.secrets import redact
from syncer.steps import ChangeBatch, Refusal, Refusals, Sink, SinkContext

log = structlog.get_logger("syncer.delivery")


@dataclass
class DeliveryReport:
    sink: str
    delivered: int = 0
    refused: int = 0
    backlog: int = 0  # changes not yet offered because the sink failed
    error: str | None = None


def deliver(
    store: StateStore, workflow: str, sinks: list[tuple[str, Sink]], batch_size: int = 2_000
) -> list[DeliveryReport]:
    return [_deliver_one(store, workflow, name, sink, batch_size) for name, sink in sinks]


def _deliver_one(
    store: StateStore, workflow: str, name: str, sink: Sink, batch_size: int
) -> DeliveryReport:
    report = DeliveryReport(name)
    upto = store.last_seq(workflow)
    try:
        store.ensure_sink(workflow, name)
        sink.open(context(store, workflow, sink))
        retry = store.pending(workflow, name)
        if retry:
            _write(store, workflow, name, sink, retry, store.offset(workflow, name), report)
        offset = store.offset(workflow, name)
        while offset < upto:
            chunk = store.changes_after(workflow, offset, upto, batch_size)
            if not chunk:
                break
            offset = chunk.seqs[-1]
            _write(store, workflow, name, sink, chunk, offset, report)
    except Exception as exc:  # any failure of a sink is that sink's, never the run's
        if interrupted(exc):
            raise KeyboardInterrupt from None
        report.error = redact(describe(exc))
        report.backlog = upto - store.offset(workflow, name)
        log.error("sink failed", sink=name, error=report.error, backlog=report.backlog)
    finally:
        try:
            sink.close()
        except Exception as exc:
            log.warning("sink close failed", sink=name, error=redact(str(exc)))
    return report


def context(store: StateStore, workflow: str, sink: Sink) -> SinkContext:
    """What a sink is given: the change log's reader, and the state file only if it writes
    into it."""
    return SinkContext(
        workflow, store.changelog, store.state_file if sink.writes_into_state else None
    )


def _write(
    store: StateStore,
    workflow: str,
    name: str,
    sink: Sink,
    changes: ChangeBatch,
    offset: int,
    report: DeliveryReport,
) -> None:
    if sink.writes_into_state:
        with store.transaction():
            answer = sink.write(changes)
            refused = _acknowledge(store, workflow, name, sink, changes, offset, answer)
    else:
        answer = sink.write(changes)  # no state transaction is open while the sink waits
        with store.transaction():
            refused = _acknowledge(store, workflow, name, sink, changes, offset, answer)
    report.delivered += len(changes) - len(refused)
    report.refused += len(refused)
    for seq, reason in refused.items():
        log.warning("sink refused a change", sink=name, seq=seq, reason=reason)


def _acknowledge(
    store: StateStore,
    workflow: str,
    name: str,
    sink: Sink,
    changes: ChangeBatch,
    offset: int,
    answer: Refusals,
) -> dict[int, str]:
    """Record a sink's answer to a batch: its offset, what it took, what it refused."""
    refusals = {seq: _refusal(value) for seq, value in answer.items()}
    # A refusal's reason is stored in the state: mask secrets a sink echoed back.
    refused = {seq: redact(r.reason) for seq, r in refusals.items()}
    store.record_delivery(
        workflow,
        name,
        offset,
        [seq for seq in changes.seqs if seq not in refused],
        refused,
        final=[seq for seq, r in refusals.items() if r.final],
        dead_letter_after=sink.dead_letter_after,
    )
    return refused


def _refusal(value: str | Refusal) -> Refusal:
    return value if isinstance(value, Refusal) else Refusal(value)


def reset(store: StateStore, workflow: str, sinks: list[tuple[str, Sink]]) -> None:
    """Forget a workflow (`syncer state reset`): the state's rows, and in the same transaction
    the rows of each sink that writes into the state file. Other sinks keep nothing here."""

    def forget() -> None:
        for _, sink in sinks:
            if sink.writes_into_state:
                sink.open(context(store, workflow, sink))
                try:
                    sink.forget(workflow)
                finally:
                    sink.close()

    store.reset(workflow, along=forget)
