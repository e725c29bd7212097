"""Appends committed changes to a JSON Lines file, one change per line.

Appending is not idempotent by itself, so the file is its own acknowledgement. Seqs are
numbered per state file (a new state file numbers from 1 again), so each line also names the
state file that wrote it (`state`: its id, a uuid made with the file) and the workflow. On open
the sink drops a torn last line left by a crash. Before it writes, it reads the file back from
the end, as far as the first change it is handed, and skips a change only if the file already
holds it: a line of the same state file and workflow with the same seq, fqn, kind and
fingerprint. So a re-delivery after a crash writes nothing twice, and nothing is skipped that
the file does not hold: not after the state file was deleted (the new one has a new id), nor
after it was restored from a backup (the lines written past the backup hold other changes under
the same seqs), nor when several state files or workflows append to one path (their lines
interleave, each change once).

Lines written before lines carried a state id (no `state` field) count as written by the first
state file that appended to the file after the upgrade: by the state file that is delivering,
unless a line of another state file follows them. A state file that re-derives the same change
under the same seq (as the file already holds it) skips it; any other change is written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO, Any

import orjson
from pydantic import Field

from syncer.errors import SinkError
from syncer.paths import ConfigPath
from syncer.steps import Change, Refusals, Sink, SinkContext, StepConfig

_CHUNK = 1 << 20  # bytes read at a time when the file is read back
_TAIL = 1 << 20  # bytes read on open to find (and repair) the last line
# What makes two lines the same change: seq, fqn, kind, fingerprint.
Identity = tuple[int, Any, Any, Any]


class JsonlConfig(StepConfig):
    path: ConfigPath = Field(examples=["out/changes.jsonl"])
    """The file changes are appended to, relative to the config file's folder."""
    fsync: bool = True
    """Make each batch durable before the offset moves past it."""


class JsonlSink(Sink):
    config_model = JsonlConfig
    config: JsonlConfig

    def __init__(self, config: JsonlConfig) -> None:
        super().__init__(config)
        self._file: IO[bytes] | None = None
        self._state: str | None = None
        self._readback: _Readback | None = None

    def open(self, context: SinkContext) -> None:
        path = self.config.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a+b")
        except OSError as exc:
            raise SinkError(f"jsonl sink: cannot open {path} ({exc.strerror})") from None
        self._state = context.state_id
        end = _recover(self._file)
        self._readback = _Readback(self._file, end, context.state_id, context.workflow)

    def write(self, changes: Sequence[Change]) -> Refusals:
        assert self._file is not None and self._readback is not None, "open() first"
        if not changes:
            return {}
        self._readback.down_to(min(c.seq for c in changes))
        lines = [_line(c, self._state) for c in changes if not self._readback.holds(c)]
        if lines:
            self._file.write(b"".join(lines))
            self._file.flush()
            if self.config.fsync:
                os.fsync(self._file.fileno())
        return {}

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._readback = None


def _line(change: Change, state: str | None) -> bytes:
    return (
        orjson.dumps(
            {
                "seq": change.seq,
                "runId": change.run_id,
                "workflow": change.workflow,
                "state": state,
                "kind": change.kind,
                "entityType": change.entity_type,
                "fqn": change.key,
                "fingerprint": change.fingerprint,
                "changedFields": change.changed_fields,
                "entity": orjson.Fragment(change.payload_json),
            }
        )
        + b"\n"
    )


def _identity(change: Change) -> Identity:
    return change.seq, change.key, change.kind, change.fingerprint


class _Readback:
    """The file's lines before `end`, read backwards as far as needed: the changes that one
    state file (`state`, None for lines without a state id) and workflow wrote into it.

    A state file appends its changes in seq order, so once a line of its own below a seq has
    been read, what lies before it holds nothing more at or above that seq that is still its
    history: lines there with higher seqs are from a timeline since given up (a state file
    restored from a backup), and are not counted.
    """

    def __init__(self, file: IO[bytes], end: int, state: str | None, workflow: str) -> None:
        self._fd = file.fileno()
        self._name = file.name
        self._pos = end  # the file is read back from here
        self._head = b""  # the start of a line whose beginning lies before `_pos`
        self._lines: list[bytes] = []  # complete lines read, not yet looked at, in file order
        self._state = state
        self._workflow = workflow
        self._later: str | None = None  # the state id of the earliest identified line read
        self._lowest: int | None = None  # the lowest seq of an own line read
        self._held: set[Identity] = set()

    def holds(self, change: Change) -> bool:
        return _identity(change) in self._held

    def down_to(self, seq: int) -> None:
        """Read back until a line of our own below `seq` is read, or the file's start."""
        while self._lowest is None or self._lowest >= seq:
            line = self._previous()
            if line is None:
                return
            self._take(line)

    def _take(self, line: bytes) -> None:
        record = _change_record(line, self._name)
        state = record.get("state")
        if state is not None:
            self._later = state
        # A line without a state id is the first identified writer's after it, or ours.
        owner = state if state is not None else (self._later or self._state)
        if owner != self._state or record.get("workflow") != self._workflow:
            return
        seq = record["seq"]
        self._held.add((seq, record.get("fqn"), record.get("kind"), record.get("fingerprint")))
        self._lowest = seq if self._lowest is None else min(self._lowest, seq)

    def _previous(self) -> bytes | None:
        """The line before the ones already read; None at the file's start."""
        while not self._lines:
            if self._pos == 0:
                line, self._head = self._head, b""
                return line or None
            size = min(_CHUNK, self._pos)
            self._pos -= size
            parts = (os.pread(self._fd, size, self._pos) + self._head).split(b"\n")
            self._head = parts.pop(0) if self._pos > 0 else b""
            self._lines = [part for part in parts if part]
        return self._lines.pop()


def _change_record(line: bytes, name: str) -> dict[str, Any]:
    """A line of the file as a change, or a SinkError if it is not one of syncer's."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("seq"), int):
        raise SinkError(
            f"jsonl sink: a line of {name!r} is not a syncer change; "
            "point the sink at a file of its own"
        )
    return record


def _recover(file: IO[bytes]) -> int:
    """Truncate a torn last line and check that the last complete one is a syncer change;
    where the complete lines end."""
    file.seek(0, os.SEEK_END)
    size = file.tell()
    if size == 0:
        return 0
    tail_start = max(0, size - _TAIL)
    file.seek(tail_start)
    tail = file.read()
    end = tail.rfind(b"\n")
    if end != len(tail) - 1:
        file.truncate(tail_start + end + 1)
        file.seek(0, os.SEEK_END)
    complete = tail[: end + 1] if end >= 0 else b""
    last = complete.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if last:
        _change_record(last, file.name)
    return tail_start + end + 1
