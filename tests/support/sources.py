"""A source that reads its streams from a JSON file, so tests can change it between runs; and
helpers that read any source's stream by name, as the engine would.

File shape: {"streams": [{"name", "entity_type", "cursor": {field, kind, ordering, lookback}?,
"records": [entity fields..., or {"error": "why"}, or {"raise": "why"}]}]}. A cursor stream yields
only records whose cursor value is >= `since`, like a real incremental API would. `{"error"}` is a
bad record; `{"raise"}` makes the source fail outright (a `SourceError`) at that point. In both,
`{password}` is replaced by the configured password, as a careless driver echoes its DSN.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from syncer.errors import SourceError
from syncer.models import ENTITY_TYPES
from syncer.steps import (
    Cursor,
    CursorValue,
    Either,
    Raw,
    Record,
    RecordError,
    Source,
    StepConfig,
    Stream,
)


def stream_named(source: Source, name: str) -> Stream:
    """One of a source's streams, by name; a name the source does not list fails the test."""
    found = {s.name: s for s in source.streams()}
    assert name in found, f"no stream {name!r}; the source lists {', '.join(found)}"
    return found[name]


def read_stream(source: Source, name: str, since: CursorValue | None = None) -> list[Either]:
    """Every record of one of a source's read streams, raw ones mapped."""
    stream = stream_named(source, name)
    assert stream.read is not None, f"stream {name!r} is derived: it is not read"
    return list(mapped(stream.read(since)))


def mapped(records: Iterable[Record]) -> Iterator[Either]:
    """Records as the engine maps them on a first run: a raw record is built."""
    for record in records:
        yield record.build() if isinstance(record, Raw) else record


class FileSourceConfig(StepConfig):
    path: Path
    password: str | None = None  # never used to connect; only echoed in errors


class FileSource(Source):
    config_model = FileSourceConfig
    config: FileSourceConfig

    def __init__(self, config: FileSourceConfig) -> None:
        super().__init__(config)
        # (stream, since) of every read, in order, for tests of what the engine asks for.
        self.reads: list[tuple[str, CursorValue | None]] = []

    def _doc(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.config.path.read_bytes())
        return data

    def streams(self) -> list[Stream]:
        streams = []
        for spec in self._doc()["streams"]:
            cursor = Cursor(**spec["cursor"]) if spec.get("cursor") else None
            derived = spec.get("derived", False)
            reader = (
                None if derived else partial(self._read, spec["name"], spec["entity_type"], cursor)
            )
            streams.append(
                Stream(spec["name"], spec["entity_type"], reader, cursor=cursor, derived=derived)
            )
        return streams

    def _read(
        self, name: str, entity_type: str, cursor: Cursor | None, since: CursorValue | None
    ) -> Iterator[Either]:
        """One stream's records, from the file as it is when the stream is read (a test may
        change it between runs)."""
        self.reads.append((name, since))
        spec = next(s for s in self._doc()["streams"] if s["name"] == name)
        model = ENTITY_TYPES[entity_type]
        for record in spec["records"]:
            if "raise" in record:
                raise SourceError(self._echo(record["raise"]))
            if "error" in record:
                yield RecordError(record.get("name", "?"), self._echo(record["error"]))
                continue
            entity = model.model_validate(record)
            if cursor and since is not None:
                value = getattr(entity, cursor.field)
                if isinstance(since, datetime) and value.tzinfo is None:
                    value = value.replace(tzinfo=since.tzinfo)
                if value < since:
                    continue
            yield entity

    def _echo(self, message: str) -> str:
        return message.replace("{password}", self.config.password or "")
