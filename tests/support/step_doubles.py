"""Steps that misbehave on purpose, for the command-line tests.

Named in a workflow YAML as `tests.support.step_doubles:Name`, like any custom step.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence
from pathlib import Path

from syncer.steps import Change, Refusals, Sink, SinkContext, StepConfig
from tests.support.sources import FileSource, FileSourceConfig


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


class BrokenSource(FileSource):
    """A plug-in with a bug: it fails while being built, outside any run."""

    def __init__(self, config: FileSourceConfig) -> None:
        raise RuntimeError("boom: a bug in a plug-in")
