"""The memory sink, now shipped for plug-in authors in `syncer.testing.doubles`; re-exported
here so that tests and workflow files naming `tests.support.sinks:MemorySink` keep working."""

from __future__ import annotations

from syncer.testing.doubles import MemorySink, MemorySinkConfig

__all__ = ["MemorySink", "MemorySinkConfig"]
