"""A sink for tests: remembers what it was given, refuses chosen keys, or is down.

Its behaviour can be changed between runs (`refuse`, `down`), so a test can show a refused or
undelivered change being retried. With a `token`, its refusals and failures echo the token, as a
careless HTTP client echoes its credentials; the engine must keep that out of the state and logs.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from syncer.errors import SinkError
from syncer.steps import Change, Refusals, Sink, StepConfig


class MemorySinkConfig(StepConfig):
    refuse: list[str] = Field(default_factory=list)  # keys to refuse
    down: bool = False  # raise on every write, as a sink that cannot be reached
    token: str | None = None


class MemorySink(Sink):
    config_model = MemorySinkConfig
    config: MemorySinkConfig

    def __init__(self, config: MemorySinkConfig | None = None) -> None:
        super().__init__(config or MemorySinkConfig())
        self.refuse = set(self.config.refuse)
        self.down = self.config.down
        self.written: list[Change] = []  # accepted changes, in the order received
        self.offered: list[Change] = []  # every change offered, accepted or not

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.written]

    @property
    def kinds(self) -> list[tuple[str, str]]:
        return [(c.kind, c.key) for c in self.written]

    def write(self, changes: Sequence[Change]) -> Refusals:
        auth = f" (token {self.config.token})" if self.config.token else ""
        if self.down:
            raise SinkError(f"memory sink is down{auth}")
        self.offered.extend(changes)
        refused = {c.seq: f"refused {c.key}{auth}" for c in changes if c.key in self.refuse}
        self.written.extend(c for c in changes if c.seq not in refused)
        return refused
