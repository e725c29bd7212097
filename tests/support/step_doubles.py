"""Sources and sinks that misbehave on purpose, for the command-line tests.

Named in a workflow YAML as `tests.support.step_doubles:Name`, like any custom step.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from syncer.errors import SourceError
from syncer.steps import (
    Change,
    CursorValue,
    Either,
    RecordError,
    Refusals,
    Sink,
    SinkContext,
    Source,
    StepConfig,
    Stream,
)
from tests.support.sources import FileSource, FileSourceConfig


class FailingSourceConfig(StepConfig):
    reason: str = "connection refused"


class FailingSource(Source):
    """A system that cannot be read at all: every read raises SourceError with `reason`."""

    config_model = FailingSourceConfig
    config: FailingSourceConfig

    def streams(self) -> list[Stream]:
        return [Stream(name="tables", entity_type="table")]

    def read(self, stream: Stream, since: CursorValue | None) -> Iterator[Either]:
        raise SourceError(f"cannot read {stream.name}: {self.config.reason}")


class TokenFileSourceConfig(FileSourceConfig):
    token: str


class TokenFileSource(FileSource):
    """FileSource behind a token, written carelessly: one record error quotes the token."""

    config_model = TokenFileSourceConfig
    config: TokenFileSourceConfig

    def read(self, stream: Stream, since: CursorValue | None) -> Iterator[Either]:
        yield from super().read(stream, since)
        if stream.entity_type == "table":
            yield RecordError("audit_log", f"request with token {self.config.token} was refused")


class GateSinkConfig(StepConfig):
    reached: Path  # touched when delivery reaches this sink
    release: Path  # the sink waits until this file exists


class GateSink(Sink):
    """Holds a run between commit and delivery until the test lets it go (or kills it)."""

    config_model = GateSinkConfig
    config: GateSinkConfig

    def open(self, context: SinkContext) -> None:
        self.config.reached.touch()
        while not self.config.release.exists():
            time.sleep(0.01)

    def write(self, changes: Sequence[Change]) -> Refusals:
        return {}


class RefusingSinkConfig(StepConfig):
    refuse: str  # FQN glob of the changes to refuse
    reason: str = "rejected by the catalog"


class RefusingSink(Sink):
    """Acknowledges every change except those whose FQN matches `refuse`."""

    config_model = RefusingSinkConfig
    config: RefusingSinkConfig

    def write(self, changes: Sequence[Change]) -> Refusals:
        return {
            c.seq: self.config.reason for c in changes if fnmatch.fnmatch(c.key, self.config.refuse)
        }
