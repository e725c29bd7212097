"""What every event sink (webhook, handler, MQTT, NATS) shares: changes become `ChangeEvent`s,
are filtered, and go out in log order, with an entity's later events held back while an
earlier one of it is refused, so that no receiver sees an entity's history out of order.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from syncer.errors import SyncerError
from syncer.events import EventFilter, History, build_event
from syncer.secrets import redact
from syncer.steps import (
    Change,
    ChangeLog,
    ConnectionReport,
    Refusal,
    Refusals,
    Sink,
    SinkContext,
    StepConfig,
)

EntityKey = tuple[str, str, str]  # workflow, stream, key


class EventSinkConfig(StepConfig):
    filter: EventFilter = Field(default_factory=EventFilter)
    """Which events this sink takes; unset: all."""
    max_attempts: int | None = Field(default=10, ge=1)
    """Runs in which an event may be refused before it becomes a dead letter; null: never."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An event on its way out, with the change it was built from."""

    change: Change
    event: dict[str, Any]

    @property
    def seq(self) -> int:
        return self.change.seq

    @property
    def id(self) -> str:
        return str(self.event["id"])


class EventSink(Sink):
    """A sink that sends events; subclasses implement `send` and, if they connect, the hooks."""

    config: EventSinkConfig
    # Events handed to one `send`. Above 1, a refusal inside a group does not hold back a later
    # event of the same entity in that group (a webhook batch is refused or taken whole).
    group_size = 1

    def __init__(self, config: EventSinkConfig) -> None:
        super().__init__(config)
        self.dead_letter_after = config.max_attempts
        self.workflow = ""
        # A replay re-sends events; sinks that also keep state (MQTT retained messages) leave
        # it alone, since a replay of old events would set it back.
        self.replaying = False
        self._log: ChangeLog | None = None
        self._held: dict[EntityKey, int] = {}  # entity -> seq of its event that was refused

    @property
    def request_size(self) -> int:
        """One request carries one group (`group_size` events): delivery hands the sink a
        group's worth of changes at a time and records each acknowledgement, so a kill
        re-sends at most one group."""
        return self.group_size

    def open(self, context: SinkContext) -> None:
        self.workflow = context.workflow
        self._log = context.changelog
        self._held = {}
        self.connect()

    def close(self) -> None:
        self.disconnect()

    def connect(self) -> None:
        """Reach the receiver; raise `SinkError` if it cannot be reached (the backlog waits)."""

    def disconnect(self) -> None:
        pass

    def probe(self) -> str:
        """Check that the receiver can be reached, without sending an event; what was found."""
        return "nothing to check"

    def test_connection(self) -> ConnectionReport:
        try:
            found = self.probe()
        except SyncerError as exc:
            return ConnectionReport(ok=False, checks=[("connect", False, redact(str(exc)))])
        finally:
            self.disconnect()
        return ConnectionReport(ok=True, checks=[("connect", True, found)])

    @abstractmethod
    def send(self, events: Sequence[Outgoing]) -> dict[int, Refusal]:
        """Send events in order; the refused ones by seq. Raise if the receiver is down."""

    def write(self, changes: Sequence[Change]) -> Refusals:
        # Filtered-out changes are acknowledged: the sink has nothing to send for them.
        wanted = [c for c in changes if self.config.filter.accepts_change(c)]
        known = self._histories([c.seq for c in wanted])
        refusals: Refusals = {}
        group: list[Outgoing] = []
        for change in wanted:
            blocker = self._held.get(_entity(change))
            if blocker is not None:
                refusals[change.seq] = Refusal(
                    f"held back behind event seq {blocker} of the same entity, which was "
                    "refused; it goes out after that one"
                )
                continue
            group.append(Outgoing(change, build_event(change, known.get(change.seq))))
            if len(group) >= self.group_size:
                refusals.update(self._send(group))
                group = []
        if group:
            refusals.update(self._send(group))
        return refusals

    def _send(self, group: list[Outgoing]) -> dict[int, Refusal]:
        refused = self.send(group)
        for item in group:
            if item.seq in refused:
                self._held.setdefault(_entity(item.change), item.seq)
        return refused

    def _histories(self, seqs: list[int]) -> dict[int, History]:
        if self._log is None or not seqs:
            return {}
        return dict(self._log.histories(seqs))


def _entity(change: Change) -> EntityKey:
    return change.workflow, change.stream, change.key


@dataclass
class ReplayReport:
    matched: int  # changes selected for the replay
    skipped: int  # of them, left out by the sink's own filter
    refused: dict[int, Refusal]

    @property
    def sent(self) -> int:
        return self.matched - self.skipped - len(self.refused)


def replay(
    sink: EventSink, context: SinkContext, changes: Sequence[Change], chunk: int = 500
) -> ReplayReport:
    """Send `changes` to `sink` again, outside delivery: no offset moves, nothing is recorded."""
    skipped = sum(not sink.config.filter.accepts_change(c) for c in changes)
    report = ReplayReport(len(changes), skipped, {})
    sink.replaying = True
    sink.open(context)
    try:
        for start in range(0, len(changes), chunk):
            for seq, refusal in sink.write(changes[start : start + chunk]).items():
                report.refused[seq] = refusal if isinstance(refusal, Refusal) else Refusal(refusal)
    finally:
        sink.close()
    return report
