"""A source that reads its streams from a JSON file, so tests can change it between runs.

File shape: {"streams": [{"name", "entity_type", "cursor": {field, kind, ordering, lookback}?,
"records": [entity fields..., or {"error": "why"}, or {"raise": "why"}]}]}. A cursor stream yields
only records whose cursor value is >= `since`, like a real incremental API would. `{"error"}` is a
bad record; `{"raise"}` makes the source fail outright (a `SourceError`) at that point. In both,
`{password}` is replaced by the configured password, as a careless driver echoes its DSN.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from syncer.errors import SourceError
from syncer.models import ENTITY_TYPES
from syncer.steps import Cursor, CursorValue, Either, RecordError, Source, StepConfig, Stream


class FileSourceConfig(StepConfig):
    path: Path
    password: str | None = None  # never used to connect; only echoed in errors


class FileSource(Source):
    config_model = FileSourceConfig
    config: FileSourceConfig

    def __init__(self, config: FileSourceConfig) -> None:
        super().__init__(config)
        self.reads: list[tuple[str, CursorValue | None]] = []

    def _doc(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.config.path.read_bytes())
        return data

    def streams(self) -> list[Stream]:
        return [
            Stream(
                name=s["name"],
                entity_type=s["entity_type"],
                cursor=Cursor(**s["cursor"]) if s.get("cursor") else None,
                derived=s.get("derived", False),
            )
            for s in self._doc()["streams"]
        ]

    def read(self, stream: Stream, since: CursorValue | None) -> Iterator[Either]:
        self.reads.append((stream.name, since))
        spec = next(s for s in self._doc()["streams"] if s["name"] == stream.name)
        model = ENTITY_TYPES[stream.entity_type]
        for record in spec["records"]:
            if "raise" in record:
                raise SourceError(self._echo(record["raise"]))
            if "error" in record:
                yield RecordError(record.get("name", "?"), self._echo(record["error"]))
                continue
            entity = model.model_validate(record)
            if stream.cursor and since is not None:
                value = getattr(entity, stream.cursor.field)
                if isinstance(since, datetime) and value.tzinfo is None:
                    value = value.replace(tzinfo=since.tzinfo)
                if value < since:
                    continue
            yield entity

    def _echo(self, message: str) -> str:
        return message.replace("{password}", self.config.password or "")
