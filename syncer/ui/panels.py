"""Panels: the web view's pages, each a plug-in registered under the entry-point group
`syncer.ui` (the built-in ones too), so that installing a package adds one.

A panel is an object (or a class made without arguments) with a `name`, a `title`, whether it
is `experimental`, the path its navigation link goes to (`nav`, None for a page reached by
links only, such as one run), and one method, `routes()`: the Starlette routes it serves. A
route reads the state through `ui(request)` (`syncer.ui.context`). An experimental panel is
served only when its name is among the features turned on (`ui: {features: {NAME: true}}` in
the workflow config, or `syncer ui --feature NAME`), which is how OpenMetadata ships
experimental UI.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, runtime_checkable

import structlog
from starlette.routing import BaseRoute

from syncer.errors import ConfigError

GROUP = "syncer.ui"
log = structlog.get_logger("syncer.ui")


@runtime_checkable
class Panel(Protocol):
    name: str  # unique; what `--feature` names for an experimental one
    title: str  # its navigation link's text and its page's heading
    experimental: bool
    nav: str | None  # the path its navigation link opens; None: reached by links only

    def routes(self) -> Sequence[BaseRoute]: ...


def installed_panels(installed: Iterable[EntryPoint] | None = None) -> list[Panel]:
    """Every panel registered under `syncer.ui` (default: in this environment): the built-in
    ones first, in their order, then the others by name."""
    entries = list(entry_points(group=GROUP) if installed is None else installed)
    if installed is None and not any(ep.value.startswith("syncer.ui.") for ep in entries):
        # Installed metadata older than the web view (an editable install not refreshed):
        # the built-in panels are still syncer's own.
        from syncer.ui.pages import BUILT_IN

        entries = [*BUILT_IN, *entries]
    panels = [_load(ep) for ep in entries]
    names = [p.name for p in panels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(
            f"ui panels {', '.join(duplicates)} are registered twice in {GROUP}: uninstall "
            "one of the packages that provide them"
        )
    return sorted(panels, key=_place)


def _place(panel: Panel) -> tuple[int, str]:
    """Built-in panels in the order they are listed (runs first), then the others by name."""
    from syncer.ui.pages import BUILT_IN

    order = [ep.name for ep in BUILT_IN]
    own = type(panel).__module__.startswith("syncer.ui.") and panel.name in order
    return (order.index(panel.name) if own else len(order), panel.name)


def _load(entry: EntryPoint) -> Panel:
    try:
        found = entry.load()
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"ui panel {entry.name}: cannot load {entry.value} ({exc}): reinstall the package "
            "that provides it, or uninstall it"
        ) from None
    panel = found() if isinstance(found, type) else found
    if not isinstance(panel, Panel):
        raise ConfigError(
            f"ui panel {entry.name} ({entry.value}) is not a panel: it needs name, title, "
            "experimental, nav and routes()"
        )
    return panel


def enabled_panels(panels: Sequence[Panel], features: Collection[str]) -> list[Panel]:
    """The panels to serve: every stable one, and the experimental ones `features` names. A
    feature that names no experimental panel is refused, with the ones there are."""
    experimental = {p.name for p in panels if p.experimental}
    unknown = sorted(set(features) - experimental)
    if unknown:
        there = ", ".join(sorted(experimental)) or "none"
        raise ConfigError(
            f"--feature {', '.join(unknown)}: no experimental ui panel of that name "
            f"(there are: {there}); check the spelling in --feature or ui.features"
        )
    return [p for p in panels if not p.experimental or p.name in features]
