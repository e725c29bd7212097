"""Panels are plug-ins under the `syncer.ui` entry-point group; experimental ones show only
when their feature is turned on."""

from __future__ import annotations

import re
from importlib.metadata import EntryPoint

import pytest

from syncer.errors import ConfigError
from syncer.ui.pages import BUILT_IN
from syncer.ui.panels import GROUP, enabled_panels, installed_panels
from tests.support.engine import Engine
from tests.unit.ui.conftest import builtin_panels, client_of, registered

HELLO = EntryPoint("hello", "tests.unit.ui.panel_plugin:HelloPanel", GROUP)


def test_pyproject_registers_every_built_in_panel() -> None:
    assert {(ep.name, ep.value) for ep in registered()} == {(ep.name, ep.value) for ep in BUILT_IN}


def test_an_experimental_panel_is_hidden_without_its_feature(shop: Engine) -> None:
    with client_of(shop.state_path) as client:
        assert client.get("/streams").status_code == 404
        assert "nav-busiest-streams" not in client.get("/runs").text


def test_an_experimental_panel_is_shown_with_its_feature(shop: Engine) -> None:
    with client_of(shop.state_path, features=["busiest-streams"]) as client:
        html = client.get("/streams").text
        assert 'id="busiest-streams"' in html and 'data-stream="tables"' in html
        assert "nav-busiest-streams" in client.get("/runs").text


def test_a_feature_that_names_no_experimental_panel_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--feature runs, slowest: no experimental ui panel"):
        enabled_panels(builtin_panels(), ["slowest", "runs"])


def test_a_third_party_panel_installed_by_entry_point_is_served(shop: Engine) -> None:
    panels = installed_panels([*registered(), HELLO])
    assert [p.name for p in panels][-1] == "hello"  # after the built-in ones
    with client_of(shop.state_path, panels=panels) as client:
        html = client.get("/hello").text
        assert "<p id='hello'>2 runs</p>" in html
        assert 'class="nav-hello' in client.get("/runs").text


def test_an_entry_point_that_is_not_a_panel_is_refused_by_name() -> None:
    broken = EntryPoint("broken", "tests.unit.ui.panel_plugin:NotAPanel", GROUP)
    with pytest.raises(ConfigError, match=r"ui panel broken .* is not a panel: it needs"):
        installed_panels([broken])


def test_a_panel_that_cannot_be_imported_is_refused_by_name() -> None:
    missing = EntryPoint("gone", "tests.unit.ui.nowhere:Panel", GROUP)
    with pytest.raises(ConfigError, match=r"ui panel gone: cannot load tests.unit.ui.nowhere"):
        installed_panels([missing])


def test_two_panels_of_one_name_are_refused() -> None:
    twice = EntryPoint("runs", "syncer.ui.pages:RUNS", GROUP)
    with pytest.raises(ConfigError, match=r"ui panels runs are registered twice"):
        installed_panels([*registered(), twice])


def test_the_navigation_lists_the_built_in_pages_in_their_order_then_the_others(
    shop: Engine,
) -> None:
    panels = installed_panels([HELLO, *registered()])
    with client_of(shop.state_path, panels=panels, features=["busiest-streams"]) as client:
        html = client.get("/runs").text
    assert re.findall(r'<a class="nav-([a-z-]+)', html) == [
        "runs",
        "entity",
        "lineage",
        "sinks",
        "violations",
        "busiest-streams",
        "hello",
    ]
