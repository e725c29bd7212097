"""Appends committed changes to a JSON Lines file, one change per line.

Appending is not idempotent by itself, so the file is its own acknowledgement: on open the sink
drops a torn last line left by a crash and skips every change whose seq is already written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import orjson

from syncer.errors import SinkError
from syncer.steps import Change, Refusals, Sink, SinkContext, StepConfig


class JsonlConfig(StepConfig):
    path: Path
    fsync: bool = True  # make each batch durable before the offset moves past it


class JsonlSink(Sink):
    config_model = JsonlConfig
    config: JsonlConfig

    def __init__(self, config: JsonlConfig) -> None:
        super().__init__(config)
        self._file: IO[bytes] | None = None
        self._written_upto = 0

    def open(self, context: SinkContext) -> None:
        path = self.config.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a+b")
        except OSError as exc:
            raise SinkError(f"jsonl sink: cannot open {path} ({exc.strerror})") from None
        self._written_upto = _recover(self._file)

    def write(self, changes: Sequence[Change]) -> Refusals:
        assert self._file is not None, "open() first"
        lines = [_line(c) for c in changes if c.seq > self._written_upto]
        if lines:
            self._file.write(b"".join(lines))
            self._file.flush()
            if self.config.fsync:
                os.fsync(self._file.fileno())
            self._written_upto = max(c.seq for c in changes)
        return {}

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _line(change: Change) -> bytes:
    return (
        orjson.dumps(
            {
                "seq": change.seq,
                "runId": change.run_id,
                "workflow": change.workflow,
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


def _recover(file: IO[bytes]) -> int:
    """Truncate a torn last line; the seq of the last complete one (0 for an empty file)."""
    file.seek(0, os.SEEK_END)
    size = file.tell()
    if size == 0:
        return 0
    tail_start = max(0, size - (1 << 20))
    file.seek(tail_start)
    tail = file.read()
    end = tail.rfind(b"\n")
    if end != len(tail) - 1:
        file.truncate(tail_start + end + 1)
        file.seek(0, os.SEEK_END)
    complete = tail[: end + 1] if end >= 0 else b""
    last = complete.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if not last:
        return 0
    try:
        return int(orjson.loads(last)["seq"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise SinkError(
            f"jsonl sink: the last line of {file.name!r} is not a syncer change; "
            "point the sink at a file of its own"
        ) from None
