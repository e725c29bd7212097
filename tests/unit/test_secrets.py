"""Secret references resolve before any work, and their values never leave the process."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import keyring
import pytest
import structlog

from syncer import logging as logs
from syncer import secrets
from syncer.config import load
from syncer.errors import ConfigError, SecretError
from tests.support.engine import catalog, tables
from tests.support.keyrings import LockedKeyring, MemoryKeyring
from tests.support.runs import run_workflow
from tests.support.sinks import MemorySink

PASSWORD = "pw-Zq7xK2mVr9"
TOKEN = "tok-8HcLw3Pn5s"


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """syncer's own log set-up (JSON lines on stderr), writing to a buffer instead."""
    buffer, stderr = io.StringIO(), sys.stderr
    sys.stderr = buffer  # configure() binds the stderr of the moment
    try:
        logs.configure("json", "debug")
    finally:
        sys.stderr = stderr
    yield buffer
    structlog.reset_defaults()


def test_an_env_reference_resolves_to_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCER_TEST_DB_PASSWORD", "env-value-1")
    config = {"url": "postgresql://u:${env:SYNCER_TEST_DB_PASSWORD}@h/db", "port": 5432}
    assert secrets.resolve(config) == {"url": "postgresql://u:env-value-1@h/db", "port": 5432}


def test_references_anywhere_in_lists_and_dicts_resolve(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    monkeypatch.setenv("SYNCER_TEST_A", "a-value")
    memory_keyring.set_password("warehouse", "loader", "kr-value-1")
    config = {"sinks": [{"headers": ["${env:SYNCER_TEST_A}", "${keyring:warehouse/loader}"]}]}
    assert secrets.resolve(config) == {"sinks": [{"headers": ["a-value", "kr-value-1"]}]}


def test_a_keyring_reference_reads_the_keyring(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password("openmetadata", "bot", "kr-value-2")
    assert secrets.resolve("Bearer ${keyring:openmetadata/bot}") == "Bearer kr-value-2"


def test_a_missing_env_variable_names_the_reference_and_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SYNCER_TEST_MISSING", raising=False)
    with pytest.raises(SecretError) as caught:
        secrets.resolve({"url": "${env:SYNCER_TEST_MISSING}"})
    assert caught.value.reference == "${env:SYNCER_TEST_MISSING}"
    assert str(caught.value) == (
        "secret ${env:SYNCER_TEST_MISSING}: environment variable SYNCER_TEST_MISSING is not set; "
        "export it"
    )


def test_a_missing_keyring_entry_names_the_reference_and_the_command_to_add_it(
    memory_keyring: MemoryKeyring,
) -> None:
    with pytest.raises(SecretError) as caught:
        secrets.resolve("${keyring:openmetadata/bot}")
    assert str(caught.value).startswith("secret ${keyring:openmetadata/bot}: no password")
    assert "keyring set openmetadata bot" in str(caught.value)


def test_a_locked_keyring_is_reported_without_a_traceback() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        with pytest.raises(SecretError, match=r"keyring failed \(KeyringLocked\)"):
            secrets.resolve("${keyring:openmetadata/bot}")
    finally:
        keyring.set_keyring(previous)


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("${keyring:openmetadata}", "must be ${keyring:service/username}"),
        ("${keyring:/bot}", "must be ${keyring:service/username}"),
        ("${env:}", "names no variable"),
        ("${vault:db/pw}", "unknown provider 'vault'; use env or keyring"),
    ],
)
def test_a_malformed_reference_is_refused(reference: str, reason: str) -> None:
    with pytest.raises(SecretError) as caught:
        secrets.resolve(reference)
    assert str(caught.value).startswith(f"secret {reference}: ")
    assert reason in str(caught.value)


def test_an_error_for_one_reference_never_shows_another_resolved_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNCER_TEST_USER_PW", "present-value-77")
    monkeypatch.delenv("SYNCER_TEST_MISSING", raising=False)
    with pytest.raises(SecretError) as caught:
        secrets.resolve("${env:SYNCER_TEST_USER_PW}:${env:SYNCER_TEST_MISSING}")
    assert "present-value-77" not in str(caught.value)


def test_redact_masks_every_resolved_value_longest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCER_TEST_SHORT", "abc-secret")
    monkeypatch.setenv("SYNCER_TEST_LONG", "abc-secret-and-more")
    secrets.resolve(["${env:SYNCER_TEST_SHORT}", "${env:SYNCER_TEST_LONG}"])
    assert secrets.redact("x abc-secret-and-more y abc-secret z") == "x *** y *** z"
    assert secrets.redact("nothing to hide") == "nothing to hide"


def test_a_remembered_value_is_redacted_and_an_empty_one_is_ignored() -> None:
    secrets.remember("session-cookie-xyz")
    secrets.remember("")
    assert secrets.redact("cookie=session-cookie-xyz;") == "cookie=***;"


def test_a_missing_secret_fails_the_config_before_any_step_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCER_TEST_MISSING", raising=False)
    path = tmp_path / "workflow.yaml"
    path.write_text(
        "workflow: shop\n"
        "source: {type: 'tests.support.sources:FileSource', config: {path: s.json, "
        "password: '${env:SYNCER_TEST_MISSING}'}}\n"
        f"state: {{path: '{tmp_path / 'state.duckdb'}'}}\n"
    )
    with pytest.raises(ConfigError, match=r"secret \$\{env:SYNCER_TEST_MISSING\}"):
        load(path)
    assert not (tmp_path / "state.duckdb").exists()


def test_a_secret_in_an_invalid_value_is_masked_in_the_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCER_TEST_PATTERN", "pat(tern-Kf93")
    path = tmp_path / "workflow.yaml"
    path.write_text(
        "workflow: shop\nsource: {type: 'tests.support.sources:FileSource', config: {path: s}}\n"
        "processors: [{type: filter, config: {exclude: ['${env:SYNCER_TEST_PATTERN}']}}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "processors.0.config.exclude" in str(caught.value)
    assert "pat(tern-Kf93" not in str(caught.value)


def write_leaky_workflow(tmp_path: Path) -> Path:
    """A workflow whose source and sinks echo their credentials in every error they make."""
    source = tmp_path / "source.json"
    bad = {"name": "broken", "error": "cannot read: postgres://u:{password}@db/shop"}
    import orjson

    source.write_bytes(orjson.dumps({"streams": catalog([*tables(3), bad])}))
    path = tmp_path / "workflow.yaml"
    path.write_text(
        f"""\
workflow: shop
source:
  type: tests.support.sources:FileSource
  config: {{path: '{source}', password: '${{env:SYNCER_TEST_PASSWORD}}'}}
sinks:
  - type: jsonl
    config: {{path: '{tmp_path / "out.jsonl"}'}}
  - name: picky
    type: tests.support.sinks:MemorySink
    config: {{refuse: [svc.db.sch.t01], token: '${{keyring:catalog/bot}}'}}
  - name: down
    type: tests.support.sinks:MemorySink
    config: {{down: true, token: '${{keyring:catalog/bot}}'}}
state: {{path: '{tmp_path / "state.duckdb"}'}}
"""
    )
    return path


def every_value_in(state_path: Path) -> str:
    con = duckdb.connect(str(state_path), read_only=True)
    try:
        names = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
        assert len(names) > 5
        return "\n".join(
            str(con.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall())
            for schema, name in names
        )
    finally:
        con.close()


def test_a_planted_secret_never_reaches_logs_errors_the_state_or_the_output(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    json_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNCER_TEST_PASSWORD", PASSWORD)
    memory_keyring.set_password("catalog", "bot", TOKEN)
    path = write_leaky_workflow(tmp_path)

    loaded = load(path)
    assert loaded.source.config.password == PASSWORD  # the source does get the value
    first = run_workflow(loaded)
    # and a second run in which the source fails outright with the password in its error
    (tmp_path / "source.json").write_bytes(
        b'{"streams": [{"name": "s", "entity_type": "table", "records": '
        b'[{"raise": "connection to postgres://u:{password}@db refused"}]}]}'
    )
    loaded = load(path)
    second = run_workflow(loaded)

    # the run did meet every leaky path
    assert first.status == "partial" and first.counters.errors == 1
    reports = {r.sink: r for r in first.deliveries}
    assert reports["picky"].refused == 1 and reports["down"].error is not None
    assert second.status == "failed" and second.error is not None

    logged, printed = json_logs.getvalue(), capsys.readouterr()
    assert "record failed" in logged and "sink refused a change" in logged
    texts = {
        "log output": logged + printed.out + printed.err,
        "run errors": f"{first.error} {second.error} {first.warnings} {second.warnings}",
        "sink reports": str(first.deliveries + second.deliveries),
        "state tables": every_value_in(loaded.state_path),
        "state file": (tmp_path / "state.duckdb").read_bytes().decode("latin-1"),
        "jsonl output": (tmp_path / "out.jsonl").read_text(),
    }
    for where, text in texts.items():
        for secret in (PASSWORD, TOKEN):
            assert secret not in text, f"{secret} found in {where}"
    assert "***" in texts["run errors"] and "***" in texts["state tables"]
    # the byte scan does see strings the state holds, so it would see a leaked one too
    assert "postgres://u:***@db refused" in texts["state file"]


def test_a_sink_built_from_a_resolved_config_holds_the_value(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("catalog", "bot", "kr-value-3")
    path = tmp_path / "workflow.yaml"
    path.write_text(
        "workflow: shop\nsource: {type: 'tests.support.sources:FileSource', config: {path: s}}\n"
        "sinks: [{type: 'tests.support.sinks:MemorySink', "
        "config: {token: '${keyring:catalog/bot}'}}]\n"
    )
    loaded = load(path)
    ((_, sink),) = loaded.sinks
    assert isinstance(sink, MemorySink) and sink.config.token == "kr-value-3"
    # the config fingerprint is of the references as written, never of their values
    memory_keyring.set_password("catalog", "bot", "kr-value-4")
    assert load(path).fingerprint == loaded.fingerprint
