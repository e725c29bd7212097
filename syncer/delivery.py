"""Delivery: every sink consumes the committed change log from its own offset.

A sink writes outside the state's transaction: while it waits on the network (retries can take
minutes) no DuckDB transaction is held open. What it acknowledged and refused is then recorded,
with its new offset, in one short transaction, so a crash between the write and that commit
re-sends the batch (sinks write idempotently by key) and never skips it. A sink that sends
requests (`Sink.request_size`: a webhook's batch, an MQTT group, one NATS message) is handed one
request's worth at a time and each acknowledgement is committed before the next request, so a
kill re-sends at most one request. Only a sink that writes into the state file itself (the
embedded catalog) writes inside that transaction, so its rows and its offset commit together.
A sink that is down keeps its backlog for the next run and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from state import StateStore, interrupted
from syncer import interrupts
from syncer.errors import describe
from syncer.secrets import redact
from syncer.steps import ChangeBatch, ChangeLog, History, Refusal, Refusals, Sink, SinkContext

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
    histories = _PageHistories(store.changelog)
    try:
        store.ensure_sink(workflow, name)
        sink.open(context(store, workflow, sink, histories))
        retry = store.pending(workflow, name)
        if retry:
            _write_page(store, workflow, name, sink, retry, histories, report, retry=True)
        offset = store.offset(workflow, name)
        while offset < upto:
            page = store.changes_after(workflow, offset, upto, batch_size)
            if not page:
                break
            offset = page.seqs[-1]
            _write_page(store, workflow, name, sink, page, histories, report, retry=False)
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
            if interrupted(exc):  # a stop that lands while a sink closes is not swallowed
                raise KeyboardInterrupt from None
            log.warning("sink close failed", sink=name, error=redact(str(exc)))
    return report


def context(
    store: StateStore, workflow: str, sink: Sink, changelog: ChangeLog | None = None
) -> SinkContext:
    """What a sink is given: the change log's reader, the state file's id, and the state file
    itself only if it writes into it."""
    return SinkContext(
        workflow,
        changelog or store.changelog,
        store.state_file if sink.writes_into_state else None,
        state_id=store.state_id,
    )


@dataclass
class _PageHistories:
    """The change log as a sink reads it during delivery: the histories of a whole page are
    read at once, so that a page handed over one request at a time costs one query, not one
    per request."""

    log: ChangeLog
    page: Sequence[int] = ()
    known: dict[int, History] = field(default_factory=dict)

    def start(self, page: Sequence[int]) -> None:
        self.page, self.known = page, {}

    def histories(self, seqs: Sequence[int]) -> Mapping[int, History]:
        missing = [seq for seq in seqs if seq not in self.known]
        if missing:
            self.known.update(self.log.histories(sorted({*missing, *self.page})))
            self.page = ()  # read: later misses are read on their own
        return {seq: self.known[seq] for seq in seqs if seq in self.known}


def _write_page(
    store: StateStore,
    workflow: str,
    name: str,
    sink: Sink,
    page: ChangeBatch,
    histories: _PageHistories,
    report: DeliveryReport,
    *,
    retry: bool,
) -> None:
    """Hand a page to the sink, one request's worth at a time if it sends requests, recording
    each acknowledgement before the next. A retry of refused changes leaves the offset where it
    is; a page from the log moves it to the last change acknowledged."""
    histories.start(page.seqs)
    kept = store.offset(workflow, name) if retry else 0
    size = max(1, sink.request_size or len(page))
    for start in range(0, len(page), size):
        interrupts.check()  # a stop that arrived where it could not raise stops here
        part = page if size >= len(page) else page.part(start, start + size)
        _write(store, workflow, name, sink, part, kept if retry else part.seqs[-1], report, retry)


def _write(
    store: StateStore,
    workflow: str,
    name: str,
    sink: Sink,
    changes: ChangeBatch,
    offset: int,
    report: DeliveryReport,
    retry: bool,
) -> None:
    if sink.writes_into_state:
        with store.transaction():
            answer = sink.write(changes)
            refused = _acknowledge(store, workflow, name, sink, changes, offset, answer, retry)
    else:
        answer = sink.write(changes)  # no state transaction is open while the sink waits
        with store.transaction():
            refused = _acknowledge(store, workflow, name, sink, changes, offset, answer, retry)
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
    retry: bool,
) -> dict[int, str]:
    """Record a sink's answer to a batch: its offset, what it took, what it refused.

    Only a retry can clear pending changes: a change is refused at or below the offset it is
    recorded with, so none after the offset is pending (and skipping that lookup halves the
    cost of the commit that follows each request)."""
    refusals = {seq: _refusal(value) for seq, value in answer.items()}
    # A refusal's reason is stored in the state: mask secrets a sink echoed back.
    refused = {seq: redact(r.reason) for seq, r in refusals.items()}
    store.record_delivery(
        workflow,
        name,
        offset,
        [seq for seq in changes.seqs if seq not in refused] if retry else [],
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
