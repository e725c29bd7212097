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

A change whose entity depends on a key (its parent, a lineage edge's ends) whose change this sink
refused and still holds pending waits: it is recorded pending with the reason, not sent, and
goes once that change is delivered, on a later run's retry (parents first, in log order). To
learn a parent's answer before its children are handed over, a write is cut where a change
depends on one handed over in the same write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from syncer import interrupts
from syncer.errors import describe
from syncer.secrets import redact
from syncer.state import StateStore, interrupted
from syncer.steps import ChangeBatch, ChangeLog, History, Refusal, Refusals, Sink, SinkContext

log = structlog.get_logger("syncer.delivery")


@dataclass
class DeliveryReport:
    sink: str
    delivered: int = 0
    refused: int = 0
    backlog: int = 0  # changes not yet offered because the sink failed
    error: str | None = None
    # Changes not sent because a change they depend on is refused: how many, by that one's key.
    waiting: dict[str, int] = field(default_factory=dict)

    @property
    def held(self) -> int:
        """Changes that wait for a refused one."""
        return sum(self.waiting.values())


_IN_STATE_PAGES = 10


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
    refused = _Refused()
    try:
        store.ensure_sink(workflow, name)
        _dead_letters(store, workflow, name, refused)
        sink.open(context(store, workflow, sink, histories))
        retry = store.pending(workflow, name)
        if retry:
            _write_page(store, workflow, name, sink, retry, histories, refused, report, retry=True)
        offset = store.offset(workflow, name)
        # A sink that writes into the state file reads a page's rows where they are, so its
        # pages cost no memory here, and fewer, larger ones commit less often.
        size = batch_size * _IN_STATE_PAGES if sink.writes_into_state else batch_size
        while offset < upto:
            page = store.changes_after(workflow, offset, upto, size)
            if not page:
                break
            offset = page.seqs[-1]
            _write_page(store, workflow, name, sink, page, histories, refused, report, retry=False)
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
    for key, count in report.waiting.items():  # once per refused change, not once per child
        log.warning("changes wait for a refused change", sink=name, key=key, waiting=count)
    return report


@dataclass
class _Refused:
    """The keys whose change a sink refused and still holds pending (dead letters included),
    as delivery goes: each pending seq of a key, with the key it ultimately waits for (its own,
    if the sink refused it)."""

    pending: dict[str, dict[int, str]] = field(default_factory=dict)

    def blocker(self, seq: int, depends_on: Sequence[str]) -> str | None:
        """The refused key a change at `seq` waits for: one it depends on, with a change pending
        from before it in the log; None if it may go."""
        for key in depends_on:
            seqs = self.pending.get(key)
            if seqs:
                first = min(seqs)
                if first < seq:
                    return seqs[first]
        return None

    def hold(self, seq: int, key: str, root: str) -> None:
        self.pending.setdefault(key, {})[seq] = root

    def release(self, seq: int, key: str) -> None:
        seqs = self.pending.get(key)
        if seqs is not None:
            seqs.pop(seq, None)
            if not seqs:
                del self.pending[key]


def _dead_letters(store: StateStore, workflow: str, name: str, refused: _Refused) -> None:
    """Dead letters are not offered, but what depends on them waits for them all the same."""
    dead = store.dead_letters(workflow, name)
    if not dead:
        return
    known = store.dependencies(workflow, dead)
    for seq in dead:
        if seq in known:
            key, depends_on = known[seq]
            refused.hold(seq, key, refused.blocker(seq, depends_on) or key)


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
    refused: _Refused,
    report: DeliveryReport,
    *,
    retry: bool,
) -> None:
    """Hand a page to the sink, one request's worth at a time if it sends requests, recording
    each acknowledgement before the next. A change that waits for a refused one is not handed
    over; a write ends before a change that depends on one in it, so that the sink's answer
    about the parent is known first. A retry of refused changes leaves the offset where it is;
    a page from the log moves it to the last change decided."""
    histories.start(page.seqs)
    kept = store.offset(workflow, name) if retry else 0
    size = max(1, sink.request_size or len(page))
    known = store.dependencies(workflow, page.seqs)
    keys = {seq: known[seq][0] for seq in page.seqs}
    part: list[int] = []  # positions in the page handed over next
    part_keys: set[str] = set()
    waits: dict[int, str] = {}  # recorded with the next acknowledgement

    def flush(last: int) -> None:
        interrupts.check()  # a stop that arrived where it could not raise stops here
        changes = _positions(page, part)
        offset = kept if retry else page.seqs[last]
        _write(store, workflow, name, sink, changes, offset, waits, keys, refused, report, retry)
        part.clear()
        part_keys.clear()
        waits.clear()

    for i, seq in enumerate(page.seqs):
        key, depends_on = known[seq]
        if part and (len(part) >= size or not part_keys.isdisjoint(depends_on)):
            flush(i - 1)
        root = refused.blocker(seq, depends_on)
        if root is not None:
            waits[seq] = f"waits for {root}, which sink {name} refused"
            refused.hold(seq, key, root)
            report.waiting[root] = report.waiting.get(root, 0) + 1
            continue
        part.append(i)
        part_keys.add(key)
    if part or waits:
        flush(len(page) - 1)


def _positions(page: ChangeBatch, positions: list[int]) -> ChangeBatch:
    """The changes at `positions` of a page, as a batch whose rows come from the page's."""
    positions = list(positions)  # the caller reuses its list
    if len(positions) == len(page):
        return page
    first = positions[0] if positions else 0
    if positions == list(range(first, first + len(positions))):
        return page.part(first, first + len(positions))
    return ChangeBatch([page.seqs[p] for p in positions], lambda: page.table.take(positions))


def _write(
    store: StateStore,
    workflow: str,
    name: str,
    sink: Sink,
    changes: ChangeBatch,
    offset: int,
    waits: dict[int, str],
    keys: Mapping[int, str],
    held: _Refused,
    report: DeliveryReport,
    retry: bool,
) -> None:
    """Hand `changes` (if any) to the sink and record its answer, with the changes that wait."""
    if sink.writes_into_state:
        with store.transaction():
            answer = sink.write(changes) if changes else {}
            refused = _acknowledge(
                store, workflow, name, sink, changes, offset, answer, waits, retry
            )
    else:
        # no state transaction is open while the sink waits
        answer = sink.write(changes) if changes else {}
        with store.transaction():
            refused = _acknowledge(
                store, workflow, name, sink, changes, offset, answer, waits, retry
            )
    for seq in changes.seqs:
        if seq in refused:
            held.hold(seq, keys[seq], keys[seq])
        else:
            held.release(seq, keys[seq])
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
    waits: dict[int, str],
    retry: bool,
) -> dict[int, str]:
    """Record a sink's answer to a batch: its offset, what it took, what it refused; and the
    changes that wait for a refused one (pending, as refused, but never handed over). What the
    sink refused is returned.

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
        {**refused, **waits},
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
