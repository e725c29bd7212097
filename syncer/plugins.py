"""Finds step classes: built-ins and installed plug-ins by entry point, or `module:Class`."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Literal

from syncer.errors import ConfigError

StepKind = Literal["sources", "processors", "sinks"]


def available(kind: StepKind) -> dict[str, str]:
    """Installed step names of a kind, with the object each points to."""
    return {ep.name: ep.value for ep in entry_points(group=f"syncer.{kind}")}


def load(kind: StepKind, type_name: str, base: type) -> type[Any]:
    """The class registered as `type_name`, or named `module:Class`; a ConfigError otherwise."""
    if ":" in type_name:
        cls = _import(kind, type_name)
    else:
        found = [ep for ep in entry_points(group=f"syncer.{kind}") if ep.name == type_name]
        if not found:
            names = ", ".join(sorted(available(kind))) or "none"
            raise ConfigError(
                f"unknown {kind[:-1]} type {type_name!r}: installed are {names}, "
                "or name a class as module:Class"
            )
        cls = found[0].load()
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"{type_name} is not a {base.__name__} subclass")
    return cls


def _import(kind: StepKind, spec: str) -> object:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{kind[:-1]} {spec}: cannot import {module_name} ({exc})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{kind[:-1]} {spec}: {module_name} has no {attr!r}") from None
