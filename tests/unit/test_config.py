"""A bad workflow config fails before any work, on one line naming the file and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from syncer import plugins
from syncer.config import load
from syncer.errors import ConfigError
from syncer.processors.filter import FilterProcessor
from syncer.sinks.jsonl import JsonlSink
from tests.support.sinks import MemorySink
from tests.support.sources import FileSource

SOURCE = "tests.support.sources:FileSource"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workflow.yaml"
    path.write_text(text)
    return path


def workflow(tmp_path: Path, extra: str = "", *, source_config: str = "{path: src.json}") -> Path:
    head = f"workflow: shop\nsource:\n  type: {SOURCE}\n  config: {source_config}\n"
    return write(tmp_path, head + textwrap.dedent(extra))


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_a_valid_config_builds_every_step(tmp_path: Path) -> None:
    path = workflow(
        tmp_path,
        """\
        processors:
          - type: filter
            config: {exclude: ["tmp_"]}
        sinks:
          - type: jsonl
            config: {path: out/changes.jsonl}
          - type: jsonl
            name: audit
            config: {path: out/audit.jsonl, fsync: false}
          - type: tests.support.sinks:MemorySink
        state: {path: st/state.duckdb}
        deletions: {fail_safe_percent: 5}
        """,
    )
    loaded = load(path)
    assert isinstance(loaded.source, FileSource)
    assert loaded.source.config.path == Path("src.json")
    assert [type(p) for p in loaded.processors] == [FilterProcessor]
    assert [(name, type(sink)) for name, sink in loaded.sinks] == [
        ("jsonl", JsonlSink),
        ("audit", JsonlSink),
        ("tests.support.sinks:MemorySink", MemorySink),
    ]
    assert loaded.state_path == tmp_path / "st/state.duckdb"  # beside the config
    assert loaded.sinks[0][1].config.path == tmp_path / "out/changes.jsonl"
    assert loaded.spec.deletions.fail_safe_percent == 5
    assert loaded.spec.batch_size == 5000


def test_defaults_put_the_state_under_dot_syncer_beside_the_config_with_a_20_percent_fail_safe(
    tmp_path: Path,
) -> None:
    loaded = load(workflow(tmp_path))
    assert loaded.state_path == tmp_path / ".syncer/state.duckdb"
    assert loaded.spec.deletions.fail_safe_percent == 20
    assert loaded.sinks == [] and loaded.processors == []


def test_the_state_path_can_be_overridden(tmp_path: Path) -> None:
    assert load(workflow(tmp_path), state_override=tmp_path / "x.duckdb").state_path == (
        tmp_path / "x.duckdb"
    )


def test_the_config_fingerprint_changes_with_the_config(tmp_path: Path) -> None:
    first = load(workflow(tmp_path)).fingerprint
    assert load(workflow(tmp_path)).fingerprint == first
    assert load(workflow(tmp_path, "batch_size: 10\n")).fingerprint != first


def test_the_mapping_fingerprint_follows_the_source_and_processors_but_not_the_sinks(
    tmp_path: Path,
) -> None:
    base = load(workflow(tmp_path)).mapping_fingerprint
    with_sink = load(workflow(tmp_path, "sinks: [{type: jsonl, config: {path: o.jsonl}}]"))
    with_processor = load(workflow(tmp_path, "processors: [{type: filter}]"))
    other_source = load(workflow(tmp_path, source_config="{path: other.json}"))

    assert with_sink.mapping_fingerprint == base
    assert base != with_processor.mapping_fingerprint
    assert base != other_source.mapping_fingerprint


def test_a_misspelt_key_in_a_sink_config_is_named_by_its_path(tmp_path: Path) -> None:
    path = workflow(tmp_path, "sinks:\n  - type: jsonl\n    config: {pathh: out.jsonl}\n")
    message = error_of(path)
    assert "sinks.0.config.pathh: unknown key; remove it or check its spelling" in message
    assert "sinks.0.config.path: required key is missing" in message


def test_a_misspelt_top_level_key_is_named(tmp_path: Path) -> None:
    assert error_of(workflow(tmp_path, "sink: []\n")) == (
        "sink: unknown key; remove it or check its spelling"
    )


def test_a_value_of_the_wrong_type_is_named_by_its_path(tmp_path: Path) -> None:
    message = error_of(workflow(tmp_path, "deletions: {fail_safe_percent: lots}\n"))
    assert message.startswith("deletions.fail_safe_percent: ")
    assert "number" in message


def test_a_wrong_type_in_a_step_config_is_named_by_its_path(tmp_path: Path) -> None:
    path = workflow(
        tmp_path, "sinks:\n  - type: jsonl\n    config: {path: o.jsonl, fsync: sometimes}\n"
    )
    assert error_of(path).startswith("sinks.0.config.fsync: ")


def test_a_missing_source_is_named(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, "workflow: shop\n")) == "source: required key is missing"


def test_a_bad_regex_in_a_processor_config_is_named(tmp_path: Path) -> None:
    message = error_of(
        workflow(tmp_path, 'processors:\n  - type: filter\n    config: {include: ["("]}\n')
    )
    assert message.startswith("processors.0.config.include: ")
    assert "'(' is not a valid regex" in message


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file") as caught:
        load(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(caught.value)


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "workflow: shop\nsource:\n  type: [sql\n  config: {}\n")
    message = error_of(path)
    assert "line 4" in message


def test_a_yaml_list_instead_of_a_mapping_is_refused(tmp_path: Path) -> None:
    assert "expected a mapping" in error_of(write(tmp_path, "- workflow: shop\n"))


def test_an_unknown_step_type_lists_the_installed_ones(tmp_path: Path) -> None:
    path = workflow(tmp_path, "sinks:\n  - type: kafka\n")
    message = error_of(path)
    assert message.startswith("sinks.0.type: unknown sink type 'kafka'")
    assert "installed are duckdb, handler, jsonl, mqtt, nats, openmetadata, webhook" in message
    assert "module:Class" in message


def test_an_unknown_source_type_lists_the_installed_sources(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "workflow: shop\nsource: {type: oracle}\n"))
    assert message.startswith("source.type: unknown source type 'oracle': installed are ")
    assert "sql" in message


def test_a_module_class_step_that_cannot_be_imported_is_named(tmp_path: Path) -> None:
    message = error_of(workflow(tmp_path, "sinks:\n  - type: no_such_module:Sink\n"))
    assert message.startswith(
        "sinks.0.type: sink no_such_module:Sink: cannot import no_such_module"
    )


def test_a_module_class_step_that_names_a_missing_class_is_named(tmp_path: Path) -> None:
    message = error_of(workflow(tmp_path, "sinks:\n  - type: tests.support.sinks:Nope\n"))
    assert (
        message == "sinks.0.type: sink tests.support.sinks:Nope: tests.support.sinks has no 'Nope'"
    )


def test_a_module_class_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    message = error_of(workflow(tmp_path, f"sinks:\n  - type: {SOURCE}\n"))
    assert message == f"sinks.0.type: {SOURCE} is not a Sink subclass"


def test_two_sinks_with_one_name_are_refused(tmp_path: Path) -> None:
    path = workflow(
        tmp_path,
        """\
        sinks:
          - {type: jsonl, config: {path: a.jsonl}}
          - {type: jsonl, config: {path: b.jsonl}}
        """,
    )
    assert error_of(path) == (
        "sinks.1: another sink is already named 'jsonl'; "
        "give each sink of the same type a distinct `name`"
    )


def test_an_invalid_workflow_name_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"workflow: 'my shop!'\nsource: {{type: '{SOURCE}'}}\n")
    assert error_of(path).startswith("workflow: ")


def test_shape_errors_are_reported_before_secrets_are_looked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCER_TEST_UNSET", raising=False)
    path = workflow(tmp_path, "sinkz: []\n", source_config="{path: '${env:SYNCER_TEST_UNSET}'}")
    assert error_of(path).startswith("sinkz: unknown key")


def test_no_step_is_built_when_the_config_is_invalid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    original = plugins.load
    monkeypatch.setattr(plugins, "load", lambda *a: built.append(a[1]) or original(*a))
    with pytest.raises(ConfigError):
        load(workflow(tmp_path, "batch_size: 0\n"))
    assert built == []


def test_a_token_written_in_the_file_is_refused_with_the_key_that_holds_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "literal.yaml"
    path.write_text(
        "workflow: w\nsource: {type: sql, config: {url: 'sqlite:///x.db'}}\n"
        "sinks:\n  - type: openmetadata\n"
        "    config: {server: 'http://om:8585/api', token: eyJhbGciOiJIUzI1NiJ9.literal}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load(path)
    message = str(raised.value)
    assert "sinks.0.config.token: a credential must not be written in the file" in message
    assert "eyJhbGciOiJIUzI1NiJ9" not in message


def test_the_openmetadata_example_loads_with_its_two_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENMETADATA_URL", "http://localhost:8585/api")
    monkeypatch.setenv("OPENMETADATA_BOT_TOKEN", "a-bot-token")
    loaded = load(Path(__file__).resolve().parents[2] / "examples" / "openmetadata.yaml")
    assert [name for name, _ in loaded.sinks] == ["openmetadata"]
    assert [type(p).__name__ for p in loaded.processors] == [
        "PiiProcessor",
        "RedactProcessor",
        "AssignProcessor",
        "PolicyProcessor",
    ]
