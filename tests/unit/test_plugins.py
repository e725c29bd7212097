"""Finding plug-ins by entry point or `module:attr`: one loader for steps and handlers, whose
every failure is a ConfigError that names what was asked for and how else to name it."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint, entry_points

import pytest

from syncer import plugins
from syncer.errors import ConfigError
from syncer.plugins import PluginKind
from syncer.sinks.handler import HANDLERS
from syncer.steps import Sink, Source
from tests.support import handlers

GROUP = "syncer.tests"
WIDGETS = PluginKind("widget", GROUP, "widget type", "a class as module:Class")


def installed(**points: str) -> list[EntryPoint]:
    return [EntryPoint(name, value, GROUP) for name, value in points.items()]


def test_an_installed_name_loads_its_entry_point() -> None:
    found = plugins.find(WIDGETS, "rec", installed(rec="tests.support.handlers:record"))
    assert found is handlers.record


def test_a_module_path_may_name_an_attribute_of_an_attribute() -> None:
    found = plugins.find(WIDGETS, "tests.support.handlers:Recorder.handle", installed())
    assert found is handlers.Recorder.handle


def test_an_unknown_name_lists_what_is_installed_and_the_other_way_to_name_one() -> None:
    with pytest.raises(ConfigError) as caught:
        plugins.find(WIDGETS, "nope", installed(b="m:B", a="m:A"))
    assert str(caught.value) == (
        "unknown widget type 'nope': installed are a, b; or name a class as module:Class"
    )


def test_a_kind_whose_users_install_their_own_names_the_group_to_install_in() -> None:
    with pytest.raises(ConfigError) as caught:
        plugins.find(HANDLERS, "nope", [])
    assert str(caught.value) == (
        "unknown handler 'nope': installed in syncer.handlers are none; "
        "or name a function as module:function"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_such_module:Widget", "widget no_such_module:Widget: cannot import no_such_module ("),
        (
            "tests.support.handlers:Recorder.nope",
            "widget tests.support.handlers:Recorder.nope: tests.support.handlers has no "
            "'Recorder.nope'",
        ),
    ],
)
def test_a_module_path_that_leads_nowhere_says_which_part_is_missing(
    name: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        plugins.find(WIDGETS, name, installed())
    assert str(caught.value).startswith(message)


def test_an_installed_entry_point_that_cannot_load_names_what_it_points_to() -> None:
    broken = installed(old="tests.support.handlers:renamed_long_ago")

    with pytest.raises(ConfigError) as caught:
        plugins.find(WIDGETS, "old", broken)

    assert str(caught.value).startswith(
        "widget old: cannot load tests.support.handlers:renamed_long_ago ("
    )


def test_a_built_in_step_whose_extra_is_not_installed_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "syncer.sinks.mqtt", raising=False)  # import it anew
    for module in [m for m in sys.modules if m.split(".")[0] == "paho"] + ["paho"]:
        monkeypatch.setitem(sys.modules, module, None)  # as if paho-mqtt were not installed
    mqtt = [ep for ep in entry_points(group="syncer.sinks") if ep.name == "mqtt"]

    with pytest.raises(ConfigError) as caught:
        plugins.find(plugins.STEPS["sinks"], "mqtt", mqtt)

    message = str(caught.value)
    assert message.startswith("sink mqtt: cannot load syncer.sinks.mqtt:MqttSink (")
    assert message.endswith("): pip install 'metadata-syncer[mqtt]'")


def test_a_step_must_be_a_subclass_of_its_base() -> None:
    with pytest.raises(ConfigError) as caught:
        plugins.load("sinks", "tests.support.handlers:Recorder", Sink)
    assert str(caught.value) == "tests.support.handlers:Recorder is not a Sink subclass"


def test_the_built_in_steps_are_installed_by_entry_point() -> None:
    assert plugins.available("sinks")["handler"] == "syncer.sinks.handler:HandlerSink"
    assert plugins.load("sources", "sql", Source).__name__ == "SqlSource"
