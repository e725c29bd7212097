"""Delivery: every sink consumes the committed change log from its own offset.

A sink's offset advances in the same transaction that records what it refused, so a crash
between a write and that commit re-sends the batch (sinks write idempotently by key) and never
skips it. A sink that is down keeps its backlog for the next run and does not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from state.store import StateStore, interrupted
from syncer.errors import SyncerError
from syncer.secrets import redact
from syncer.steps import ChangeBatch, Refusal, Sink, SinkContext

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
        sink.open(SinkContext(workflow, store))
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
        message = str(exc) if isinstance(exc, SyncerError) else f"{type(exc).__name__}: {exc}"
        report.error = redact(message)
        report.backlog = upto - store.offset(workflow, name)
        log.error("sink failed", sink=name, error=report.error, backlog=report.backlog)
    finally:
        try:
            sink.close()
        except Exception as exc:
            log.warning("sink close failed", sink=name, error=redact(str(exc)))
    return report


def _write(
    store: StateStore,
    workflow: str,
    name: str,
    sink: Sink,
    changes: ChangeBatch,
    offset: int,
    report: DeliveryReport,
) -> None:
    with store.transaction():
        refusals = {seq: _refusal(value) for seq, value in sink.write(changes).items()}
        # A refusal's reason is stored in the state: mask secrets a sink echoed back.
        refused = {seq: redact(r.reason) for seq, r in refusals.items()}
        delivered = [seq for seq in changes.seqs if seq not in refused]
        store.record_delivery(
            workflow,
            name,
            offset,
            delivered,
            refused,
            final=[seq for seq, r in refusals.items() if r.final],
            dead_letter_after=sink.dead_letter_after,
        )
    report.delivered += len(delivered)
    report.refused += len(refused)
    for seq, reason in refused.items():
        log.warning("sink refused a change", sink=name, seq=seq, reason=redact(reason))


def _refusal(value: str | Refusal) -> Refusal:
    return value if isinstance(value, Refusal) else Refusal(value)
