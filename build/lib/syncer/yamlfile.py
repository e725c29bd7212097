"""Reading a workflow config's YAML, bounded: what a config can be, and no more.

A config is a few KB of plain mappings and lists. Anything else is refused on one line naming
the file, before it can cost memory or time: a file over `MAX_BYTES`, text that is not UTF-8,
lists and mappings nested deeper than `MAX_DEPTH`, and aliases that expand the document beyond
`MAX_VALUES` values (a "billion laughs" document of 1 KB expands to gigabytes) or that contain
themselves. Aliases and merge keys within those bounds work as YAML defines them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import Node

from syncer.errors import ConfigError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "read"]

MAX_BYTES = 1_000_000
MAX_DEPTH = 100  # nested lists and mappings
MAX_VALUES = 1_000_000  # scalars, lists and mappings, with every alias expanded


def read(path: Path) -> Any:
    """The YAML document in the config file at `path`; `ConfigError` if it cannot be one."""
    raw = _read_bytes(path)
    text = _decode(path, raw)
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader, bounded
    except _Refused as exc:
        raise ConfigError(f"{path}: {exc.problem}{_at(exc.mark)}; {exc.fix}") from None
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position)
        raise ConfigError(
            f"{path}: character #x{exc.character:04x} at line {line}, column {column} is not "
            "allowed in YAML; remove it"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: {problem}{_at(mark)}") from None
    except RecursionError:
        raise ConfigError(
            f"{path}: lists and mappings nest too deeply to read; check brackets and indentation"
        ) from None
    except (ValueError, OverflowError) as exc:  # a date such as 2024-02-30
        raise ConfigError(
            f"{path}: a value cannot be read ({exc}); quote it if it is text"
        ) from None


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)  # no further: the file may be huge, or endless
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(
            f"{path}: the file is larger than {MAX_BYTES // 1_000_000} MB, more than a workflow "
            "config can be; check that it is the right file"
        )
    return raw


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{path}: is not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}, column "
            f"{column}); save it as UTF-8"
        ) from None


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _at(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


class _Refused(Exception):
    def __init__(self, problem: str, mark: Any, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.mark, self.fix = problem, mark, fix


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that counts, while it composes the document, how deep it nests and
    how many values it holds with every alias expanded; beyond the bounds it stops."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._values = 0  # so far, aliases expanded
        self._sizes: dict[int, int] = {}  # an anchored node's values, aliases expanded

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:  # its anchor's block is still being read: it contains the alias
                raise _Refused(
                    f"alias *{event.anchor} is inside the block it names",
                    event.start_mark,
                    "an alias cannot contain itself",
                )
            self._count(size, event.start_mark, f"*{event.anchor}")
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(
                f"lists and mappings nest deeper than {MAX_DEPTH} levels",
                event.start_mark,
                "check brackets and indentation",
            )
        before = self._values
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._count(1, event.start_mark, None)
        if getattr(event, "anchor", None) is not None:
            self._sizes[id(node)] = self._values - before
        return node

    def _count(self, values: int, mark: Any, alias: str | None) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            raise _Refused(
                f"aliases{f' ({alias})' if alias else ''} expand the config beyond "
                f"{MAX_VALUES:,} values",
                mark,
                "write the repeated parts out, or nest fewer aliases",
            )
