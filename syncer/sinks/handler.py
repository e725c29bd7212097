"""Calls a Python function with each change event: the smallest way to act on changes.

The handler is named `module:function` (or `module:Class.method`), or by its entry-point name in
the group `syncer.handlers`. An exception it raises refuses that event, with its message; the
event is offered again on the next run, and the other events go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

from pydantic import Field

from syncer import plugins
from syncer.errors import ConfigError
from syncer.sinks.eventsink import EventSink, EventSinkConfig, Outgoing
from syncer.steps import Refusal

HANDLER_GROUP = "syncer.handlers"
HANDLERS = plugins.PluginKind(
    "handler", HANDLER_GROUP, "handler", "a function as module:function", names_group=True
)
Handler = Callable[[dict[str, Any]], object]


class HandlerConfig(EventSinkConfig):
    handler: str = Field(min_length=1)
    """The function called with each event: module:function, or a `syncer.handlers` entry point."""


def find_handler(name: str) -> Handler:
    """The callable `name` points to; a ConfigError that says why when there is none."""
    target = plugins.find(HANDLERS, name, entry_points(group=HANDLER_GROUP))
    if not callable(target):
        raise ConfigError(f"handler {name}: is a {type(target).__name__}, not a function")
    handler: Handler = target
    return handler


def installed() -> dict[str, str]:
    """The handlers installed by entry point, with the function each points to."""
    return plugins.available(HANDLERS)


class HandlerSink(EventSink):
    config_model = HandlerConfig
    config: HandlerConfig

    def __init__(self, config: HandlerConfig) -> None:
        super().__init__(config)
        # Found when the config loads, so that a typo fails before any work is done.
        self._handler = find_handler(config.handler)

    def send(self, events: Sequence[Outgoing]) -> dict[int, Refusal]:
        refused: dict[int, Refusal] = {}
        for item in events:
            try:
                self._handler(item.event)
            except Exception as exc:  # the event's failure, not the run's
                refused[item.seq] = Refusal(f"handler {self.config.handler}: {_describe(exc)}")
        return refused


def _describe(exc: Exception) -> str:
    first = (str(exc).splitlines() or [""])[0].strip()
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
