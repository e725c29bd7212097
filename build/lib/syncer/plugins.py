"""Finds plug-ins: step classes and event handlers, installed by entry point or named
`module:attr` (`attr` may be dotted: `module:Class.method`).

One loader serves every kind, so that a typo in any plug-in name fails the same way: a
`ConfigError` naming what was asked for, what is installed, and how else to name it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

from syncer import DISTRIBUTION
from syncer.errors import ConfigError

StepKind = Literal["sources", "processors", "sinks"]


@dataclass(frozen=True, slots=True)
class PluginKind:
    """One kind of plug-in: the entry-point group it is installed in, and its words in messages."""

    noun: str  # starts a message about one: "sink x:Y: cannot import x"
    group: str  # the entry-point group, e.g. "syncer.sinks"
    unknown: str  # what an unknown name is: "sink type", "handler"
    other_way: str  # how else to name one: "a class as module:Class"
    names_group: bool = False  # whether "installed ... are" says where they are installed

    def unknown_name(self, name: str, installed: Iterable[str]) -> ConfigError:
        names = ", ".join(sorted(installed)) or "none"
        where = f" in {self.group}" if self.names_group else ""
        return ConfigError(
            f"unknown {self.unknown} {name!r}: installed{where} are {names}; "
            f"or name {self.other_way}"
        )


STEPS: dict[StepKind, PluginKind] = {
    kind: PluginKind(kind[:-1], f"syncer.{kind}", f"{kind[:-1]} type", "a class as module:Class")
    for kind in ("sources", "processors", "sinks")
}


def available(kind: StepKind | PluginKind) -> dict[str, str]:
    """Installed plug-in names of a kind, with the object each points to."""
    group = (STEPS[kind] if isinstance(kind, str) else kind).group
    return {ep.name: ep.value for ep in entry_points(group=group)}


def load(kind: StepKind, type_name: str, base: type) -> type[Any]:
    """The class registered as `type_name`, or named `module:Class`; a ConfigError otherwise."""
    cls = find(STEPS[kind], type_name)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"{type_name} is not a {base.__name__} subclass")
    return cls


def find(kind: PluginKind, name: str, installed: Iterable[EntryPoint] | None = None) -> object:
    """What `name` points to: `module:attr` imported, or the entry point of that name loaded.

    `installed` is the kind's entry points (default: those of its group in this environment).
    Whether the object is of the right sort is the caller's to check.
    """
    if ":" in name:
        return _import(kind, name)
    entries = list(entry_points(group=kind.group) if installed is None else installed)
    found = [ep for ep in entries if ep.name == name]
    if not found:
        raise kind.unknown_name(name, (ep.name for ep in entries))
    try:
        return found[0].load()
    except (ImportError, AttributeError) as exc:
        # Installed, but its package is broken or outdated, or an extra is not installed: say
        # which object failed to load, and the extra that would bring what it lacks.
        raise ConfigError(
            f"{kind.noun} {name}: cannot load {found[0].value} ({exc}){_extra_hint(exc)}"
        ) from None


# The extra that installs a module our plug-ins import, by the module's top-level name.
_EXTRAS = {"paho": "mqtt", "nats": "nats", "psycopg": "postgres", "pymysql": "mysql"}


def _extra_hint(exc: ImportError | AttributeError) -> str:
    missing = exc.name if isinstance(exc, ImportError) else None
    extra = _EXTRAS.get(missing.split(".")[0]) if missing else None
    return f": pip install '{DISTRIBUTION}[{extra}]'" if extra else ""


def _import(kind: PluginKind, spec: str) -> object:
    module_name, _, path = spec.partition(":")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{kind.noun} {spec}: cannot import {module_name} ({exc})") from None
    for attr in path.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError:
            raise ConfigError(f"{kind.noun} {spec}: {module_name} has no {path!r}") from None
    return target
