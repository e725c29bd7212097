"""`syncer ui` refuses what it cannot serve safely before it listens: another address without
a token reference, a token given as itself or too short, a state file that is not there."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncer.cli.app import cli
from tests.support.engine import Engine

TOKEN = "a-token-long-enough-for-the-view"


def ui(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = CliRunner().invoke(cli, ["ui", *args], env=env)
    return done.exit_code, done.output


def test_another_address_without_a_token_is_refused(shop: Engine) -> None:
    code, output = ui("--state", str(shop.state_path), "--host", "0.0.0.0")
    assert code == 2
    assert "--host 0.0.0.0 listens beyond this machine: pass --token" in output


def test_a_token_given_as_itself_is_refused_without_being_shown(shop: Engine) -> None:
    code, output = ui("--state", str(shop.state_path), "--host", "::", "--token", TOKEN)
    assert code == 2
    assert "--token takes a secret reference" in output and TOKEN not in output


def test_a_short_token_is_refused_without_being_shown(shop: Engine) -> None:
    env = {"SYNCER_UI_TOKEN": "Zq9x"}
    code, output = ui("--state", str(shop.state_path), "--token", "${env:SYNCER_UI_TOKEN}", env=env)
    assert code == 2
    assert "is shorter than 16 characters" in output and "Zq9x" not in output


def test_a_token_reference_to_a_missing_variable_is_refused_by_name(shop: Engine) -> None:
    code, output = ui("--state", str(shop.state_path), "--token", "${env:SYNCER_UI_NOPE}")
    assert code == 2
    assert "SYNCER_UI_NOPE" in output


def test_a_missing_state_file_is_refused_before_serving(tmp_path: Path) -> None:
    code, output = ui("--state", str(tmp_path / "none.duckdb"))
    assert code == 2
    assert "no state file at" in output


@pytest.mark.parametrize("feature", ["slowest-streams"])
def test_an_unknown_feature_is_refused_with_the_ones_there_are(shop: Engine, feature: str) -> None:
    code, output = ui("--state", str(shop.state_path), "--feature", feature)
    assert code == 2
    assert f"--feature {feature}: no experimental ui panel" in output
    assert "busiest-streams" in output


def test_a_port_in_use_is_refused_in_one_line(shop: Engine) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        code, output = ui("--state", str(shop.state_path), "--port", port)
    assert code == 2
    assert f"--host 127.0.0.1 --port {port}: cannot listen there" in output
    assert output.count("\n") == 1
