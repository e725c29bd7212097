"""A config file that cannot be a workflow config is refused on one line naming the file, before
it costs memory or time: too big, not UTF-8, nested too deeply, aliases that expand without
bound or contain themselves. Aliases and merge keys within the bounds still work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from syncer.config import load, read_yaml
from syncer.errors import ConfigError
from syncer.yamlfile import MAX_BYTES, MAX_DEPTH

SOURCE = "tests.support.sources:FileSource"


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def billion_laughs(levels: int) -> str:
    """A YAML document of under 1 KB whose aliases expand to 9**(levels + 1) strings."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return "workflow: shop\n" + "\n".join(lines) + "\n"


def test_aliases_that_expand_without_bound_are_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(9))
    assert path.stat().st_size < 1024

    started = time.monotonic()
    message = error_of(path)

    assert time.monotonic() - started < 10
    assert message.startswith("aliases (*l")
    assert "expand the config beyond 1,000,000 values at line " in message
    assert message.endswith("; write the repeated parts out, or nest fewer aliases")


def test_an_alias_inside_the_block_it_names_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("workflow: shop\nsource: &s {type: x, config: {again: *s}}\n")

    assert error_of(path) == (
        "alias *s is inside the block it names at line 2, column 38; an alias cannot contain itself"
    )


def test_aliases_and_merge_keys_within_the_bounds_work(tmp_path: Path) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text(
        "common: &sink {type: jsonl}\n"
        f"workflow: shop\nsource: {{type: {SOURCE}, config: {{path: src.json}}}}\n"
        "sinks:\n"
        "  - {<<: *sink, name: a, config: {path: a.jsonl}}\n"
        "  - {<<: *sink, name: b, config: {path: b.jsonl}}\n"
    )
    data = read_yaml(path)
    assert [s["type"] for s in data["sinks"]] == ["jsonl", "jsonl"]
    assert billion_laughs(3)  # 9**4 values: well within the bound
    small = tmp_path / "small.yaml"
    small.write_text(billion_laughs(3))
    assert len(read_yaml(small)["l3"]) == 9


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_nesting_50000_deep_is_refused_naming_the_limit(tmp_path: Path, opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    path = tmp_path / "deep.yaml"
    path.write_text(f"workflow: {opening * 50_000}1{closing * 50_000}\n")

    message = error_of(path)

    assert message.startswith(f"lists and mappings nest deeper than {MAX_DEPTH} levels at line 1")
    assert message.endswith("; check brackets and indentation")


def test_a_config_of_another_encoding_is_refused_naming_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("workflow: shop\nsource: {type: caf\xe9}\n".encode("latin-1"))

    assert error_of(path) == "is not UTF-8 text (byte 0xe9 at line 2, column 19); save it as UTF-8"


def test_a_file_over_1_mb_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("workflow: shop\n# " + "x" * MAX_BYTES + "\n")

    assert error_of(path) == (
        "the file is larger than 1 MB, more than a workflow config can be; check that it is "
        "the right file"
    )


def test_a_nul_character_is_refused_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_text("workflow: shop\nsource: a\x00b\n")

    assert error_of(path) == (
        "character #x0000 at line 2, column 10 is not allowed in YAML; remove it"
    )


def test_an_impossible_date_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "date.yaml"
    path.write_text("workflow: shop\nsince: 2024-02-30\n")

    assert error_of(path) == (
        "a value cannot be read (day is out of range for month); quote it if it is text"
    )


def test_a_folder_is_not_a_config_file(tmp_path: Path) -> None:
    assert error_of(tmp_path) == "is a folder, not a config file"


def test_load_refuses_the_bomb_before_validating_anything(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(9).replace("workflow: shop\n", "workflow: [bad\n", 0))
    with pytest.raises(ConfigError, match=r"aliases \(\*l\d\) expand the config"):
        load(path)
