"""Secret references resolve before any work, and their values never leave the process."""

from __future__ import annotations

import base64
import io
import json
import logging as stdlib_logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, quote_plus

import duckdb
import keyring
import pytest
import structlog
from pydantic import BaseModel, Field, SecretStr

from syncer import logging as logs
from syncer import secrets
from syncer.config import load
from syncer.errors import BadResponse, ConfigError, SecretError
from syncer.http import (
    ERROR_TEXT_LIMIT,
    ApiKeyAuthConfig,
    BasicAuthConfig,
    BearerToken,
    HttpClient,
    authenticator,
    error_message,
    json_of,
)
from syncer.testing.http import FakeTransport, Reply
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
    """syncer's own log set-up (JSON lines, every processor that masks), writing to a buffer
    instead of stderr."""
    buffer = io.StringIO()
    logs.configure("json", "debug")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
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


def test_redact_masks_every_resolved_secret_longest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCER_TEST_SHORT", "abc-secret")
    monkeypatch.setenv("SYNCER_TEST_LONG", "abc-secret-and-more")
    secrets.resolve({"password": "${env:SYNCER_TEST_SHORT}", "token": "${env:SYNCER_TEST_LONG}"})
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


def test_a_setting_from_the_environment_is_shown_in_the_config_error_that_it_caused(
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
    assert "pat(tern-Kf93" in str(caught.value)  # a pattern is configuration, not a secret


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


# --- secrets in other clothes -----------------------------------------------------------------

# / and + are URL-encoded, ' and " escaped by repr and JSON, é escaped by JSON and bytes' repr.
ODD = "odd-Kx3/b+c'd\"é"


@pytest.mark.parametrize("variable", ["tok-9Wd2\n", "  tok-9Wd2\r\n", "\ttok-9Wd2 "])
def test_a_resolved_value_is_stripped_of_surrounding_whitespace(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv("SYNCER_TEST_FILE_TOKEN", variable)
    assert secrets.resolve("Bearer ${env:SYNCER_TEST_FILE_TOKEN}") == "Bearer tok-9Wd2"
    assert "tok-9Wd2" not in secrets.redact(repr(f"Bearer {variable}".encode()))


def test_a_keyring_value_is_stripped_too(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password("catalog", "bot", "kr-value-5\n")
    assert secrets.resolve("${keyring:catalog/bot}") == "kr-value-5"


def test_a_token_from_a_file_with_a_newline_makes_a_valid_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNCER_TEST_FILE_TOKEN", TOKEN + "\n")
    token = secrets.resolve("${env:SYNCER_TEST_FILE_TOKEN}")
    transport = FakeTransport(Reply(json={"ok": True}))
    client = HttpClient("https://api.example", auth=BearerToken(token), transport=transport)

    assert client.get_json("/things") == {"ok": True}
    assert transport.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("form", "shown"),
    [
        ("raw", ODD),
        ("quote", quote(ODD)),
        ("quote without safe characters", quote(ODD, safe="")),
        ("quote_plus", quote_plus(ODD)),
        ("quote_plus, lower-case hex", re.sub("%..", lambda m: m[0].lower(), quote_plus(ODD))),
        ("JSON", json.dumps(ODD)[1:-1]),
        ("JSON, utf-8", json.dumps(ODD, ensure_ascii=False)[1:-1]),
        ("JSON, escaped slash", json.dumps(ODD)[1:-1].replace("/", "\\/")),
        ("repr", repr(ODD)[1:-1]),
        ("repr of the utf-8 bytes", repr(ODD.encode())[2:-1]),
        ("repr of the latin-1 bytes", repr(ODD.encode("latin-1"))[2:-1]),
    ],
)
def test_a_secret_is_masked_in_every_form_it_may_be_shown_in(form: str, shown: str) -> None:
    secrets.remember(ODD)
    assert shown in f"<{shown}>"
    assert secrets.redact(f"said: <{shown}>") == "said: <***>", form


def test_a_repr_of_a_secret_with_a_newline_is_masked() -> None:
    secrets.remember("tok-9Wd2\n")
    assert secrets.redact("Invalid header value b'Bearer tok-9Wd2\\n'") == (
        "Invalid header value b'Bearer ***'"
    )


@pytest.mark.parametrize("text", ["it's-Kx3", 'say "it\'s-Kx3"'])
def test_a_quote_in_a_secret_is_masked_whichever_way_repr_escapes_it(text: str) -> None:
    secrets.remember("it's-Kx3")
    assert "Kx3" not in secrets.redact(repr(text))


@pytest.mark.parametrize("charset", ["latin-1", "utf-8"])
def test_a_basic_auth_pair_is_masked_as_its_base64(charset: str) -> None:
    secrets.remember_basic("m", ODD)
    header = base64.b64encode(f"m:{ODD}".encode(charset)).decode()

    assert secrets.redact(f"Authorization=Basic {header}") == "Authorization=Basic ***"
    assert secrets.redact(f"Basic%20{quote(header, safe='')}") == "Basic%20***"
    assert secrets.redact(ODD) == "***"


def test_the_http_clients_basic_auth_masks_the_header_a_server_echoes() -> None:
    auth = authenticator(BasicAuthConfig(type="basic", username="m", password=PASSWORD))
    transport = FakeTransport(
        lambda request: Reply(401, json={"message": f"bad {request.headers['Authorization']}"})
    )
    response = HttpClient("https://api.example", auth=auth, transport=transport).request(
        "GET", "/things"
    )

    assert error_message(response) == "HTTP 401: bad Basic ***"


def test_a_query_api_key_echoed_url_encoded_is_masked() -> None:
    auth = authenticator(
        ApiKeyAuthConfig(type="api_key", name="api_key", api_key=ODD, location="query")
    )
    transport = FakeTransport(lambda request: Reply(401, json={"message": f"no: {request.url}"}))
    response = HttpClient("https://api.example", auth=auth, transport=transport).request(
        "GET", "/things"
    )

    assert quote_plus(ODD) in str(transport.requests[0].url)
    assert error_message(response) == "HTTP 401: no: https://api.example/things?api_key=***"


def test_the_pairs_of_a_resolved_config_are_masked_as_basic_auth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNCER_TEST_DB_PW", "db-pw%2Fx")  # URL-encoded in the URL
    monkeypatch.setenv("SYNCER_TEST_BOT_PW", "bot-pw-4")
    config = secrets.resolve(
        {
            "source": {"url": "postgresql://reader:${env:SYNCER_TEST_DB_PW}@db:5432/sales"},
            "sinks": [{"auth": {"user": "bot", "password": "${env:SYNCER_TEST_BOT_PW}"}}],
            "other": {"username": "plain", "password": "not-from-a-reference"},
        }
    )
    secrets.remember_credentials(config)

    def basic(pair: str) -> str:
        return base64.b64encode(pair.encode()).decode()

    assert secrets.redact(basic("reader:db-pw/x")) == "***"  # as SQLAlchemy decodes it
    assert secrets.redact("db-pw/x") == "***"
    assert secrets.redact(basic("reader:db-pw%2Fx")) == "***"
    assert secrets.redact(basic("bot:bot-pw-4")) == "***"
    # a value the config wrote itself is not a secret syncer knows of
    assert secrets.redact(basic("plain:not-from-a-reference")) != "***"


def test_load_remembers_the_basic_auth_form_of_a_url_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCER_TEST_PASSWORD", PASSWORD + "\n")
    path = tmp_path / "workflow.yaml"
    path.write_text(
        "workflow: shop\n"
        "source: {type: sql, config: {url: 'postgresql://u:${env:SYNCER_TEST_PASSWORD}@db/shop'}}\n"
    )
    load(path)
    assert secrets.redact(base64.b64encode(f"u:{PASSWORD}".encode()).decode()) == "***"


def test_an_error_body_is_masked_then_cut_to_a_few_hundred_characters() -> None:
    # the secret straddles the cut: cutting first would show its first half
    body = "x" * (ERROR_TEXT_LIMIT - 15) + TOKEN + "y" * 5000  # after "HTTP 403: "
    secrets.remember(TOKEN)
    transport = FakeTransport([Reply(403, json={"message": body}), Reply(401, content=body)])
    client = HttpClient("https://api.example", transport=transport)

    for _ in range(2):
        response = client.request("GET", "/things")
        said = error_message(response)
        assert len(said) <= ERROR_TEXT_LIMIT + 1 and said.endswith("…")
        assert TOKEN[:5] not in said


def test_json_of_cuts_the_words_of_an_explain_too() -> None:
    transport = FakeTransport(Reply(422, json={"detail": "z" * 5000}))
    response = HttpClient("https://api.example", transport=transport).request("GET", "/dags")

    with pytest.raises(BadResponse) as caught:
        json_of(response, explain=lambda r: f"HTTP 422 ({r.json()['detail']})")

    assert "z" * (ERROR_TEXT_LIMIT + 1) not in str(caught.value)


def test_nested_values_objects_and_tracebacks_in_log_lines_are_masked(
    json_logs: io.StringIO,
) -> None:
    secrets.remember(ODD)
    log = structlog.get_logger("test")
    try:
        raise ValueError(f"Invalid header value {(ODD + chr(10)).encode()!r}")
    except ValueError as exc:
        log.error("failed", exc_info=True, detail={"urls": [f"https://x/?k={quote_plus(ODD)}"]})
        log.warning("object", error=exc, pair=(1, ODD))

    logged = json_logs.getvalue()
    assert "Traceback" in logged and logged.count("***") >= 4
    for form in (ODD, quote_plus(ODD), repr(ODD.encode())[2:-1], json.dumps(ODD)[1:-1]):
        assert form not in logged


def test_an_uncaught_error_prints_a_masked_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    secrets.remember(TOKEN)
    try:
        raise RuntimeError(f"token {TOKEN!r} refused")
    except RuntimeError as exc:
        logs.print_masked_traceback(type(exc), exc, exc.__traceback__)

    printed = capsys.readouterr().err
    assert "Traceback" in printed and "RuntimeError: token '***' refused" in printed
    assert TOKEN not in printed


# --- what is a secret, and what is configuration ---------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "token",
        "api_key",
        "apiKey",
        "private_key",
        "secret",
        "client_secret",
        "clientSecret",
        "credentials",
        "Authorization",
        "Proxy-Authorization",
        "X-Api-Key",
        "X-Auth-Token",
        "Cookie",
        "private_key_passphrase",
    ],
)
def test_a_key_that_names_a_credential_is_secret_bearing(key: str) -> None:
    assert secrets.is_secret_name(key)


@pytest.mark.parametrize(
    "key",
    ["url", "host", "server", "database_name", "token_url", "token_path", "primary_key", "name"],
)
def test_a_key_that_names_configuration_is_not(key: str) -> None:
    assert not secrets.is_secret_name(key)


def test_configuration_from_the_environment_is_shown_and_credentials_are_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {
        "SYNCER_TEST_URL": "https://catalog.internal:8585/api",
        "SYNCER_TEST_HOST": "db.internal",
        "SYNCER_TEST_DB": "sales",
        "SYNCER_TEST_TOKEN": TOKEN,
        "SYNCER_TEST_PW": PASSWORD,
        "SYNCER_TEST_HEADER": "hdr-Kq81xx",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    secrets.resolve(
        {
            "server": "${env:SYNCER_TEST_URL}",
            "host": "${env:SYNCER_TEST_HOST}",
            "database_name": "${env:SYNCER_TEST_DB}",
            "auth": {"type": "bearer", "token": "${env:SYNCER_TEST_TOKEN}"},
            "nested": [{"password": "${env:SYNCER_TEST_PW}"}],
            "headers": {"Authorization": "Token ${env:SYNCER_TEST_HEADER}"},
        }
    )
    message = (
        "GET https://catalog.internal:8585/api/v1/system/version on db.internal (sales): "
        f"refused {TOKEN} {PASSWORD} Token hdr-Kq81xx"
    )
    assert secrets.redact(message) == (
        "GET https://catalog.internal:8585/api/v1/system/version on db.internal (sales): "
        "refused *** *** Token ***"
    )


def test_a_keyring_value_is_a_secret_wherever_it_is(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password("catalog", "host", "kr-host-Pq4")
    secrets.resolve({"host": "${keyring:catalog/host}"})
    assert secrets.redact("cannot reach kr-host-Pq4") == "cannot reach ***"


def test_only_the_password_of_a_url_from_the_environment_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNCER_TEST_DSN", "postgresql://reader:pw%2FKx9@db.internal:5432/sales")
    secrets.resolve({"url": "${env:SYNCER_TEST_DSN}"})
    assert secrets.redact("postgresql://reader:pw%2FKx9@db.internal:5432/sales refused") == (
        "postgresql://reader:***@db.internal:5432/sales refused"
    )
    assert secrets.redact("password pw/Kx9") == "password ***"  # as the driver decodes it


class _Auth(BaseModel):
    user: str
    signature: str = Field(json_schema_extra={"secret": True})


class _Marked(BaseModel):
    dsn: SecretStr
    keys: list[SecretStr] = Field(default_factory=list)
    token: str = Field(default="", json_schema_extra={"secret": False})  # a name, not a token
    auth: Annotated[_Auth | None, Field(default=None)]
    options: dict[str, str] = Field(default_factory=dict)


@pytest.mark.parametrize(
    ("where", "declared"),
    [
        (("dsn",), True),
        (("keys", 0), True),
        (("token",), False),
        (("auth", "signature"), True),
        (("auth", "user"), None),
        (("options", "Authorization"), None),  # the key's name decides
        (("unknown",), None),
    ],
)
def test_a_config_model_declares_its_secret_fields(
    where: secrets.Where, declared: bool | None
) -> None:
    assert secrets.declared_secret(_Marked, where) is declared


def test_what_a_model_declares_outweighs_the_keys_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCER_TEST_SIGNATURE", "sig-Wm52")
    monkeypatch.setenv("SYNCER_TEST_TOKEN_NAME", "nightly-loader")
    secrets.resolve(
        {
            "auth": {"signature": "${env:SYNCER_TEST_SIGNATURE}"},
            "token": "${env:SYNCER_TEST_TOKEN_NAME}",
        },
        lambda where: secrets.declared_secret(_Marked, where),
    )
    assert secrets.redact("nightly-loader signed sig-Wm52") == "nightly-loader signed ***"


def test_load_masks_what_a_connectors_config_holds_as_credentials_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCER_TEST_OM", "http://catalog.internal:8585/api")
    monkeypatch.setenv("SYNCER_TEST_OM_TOKEN", TOKEN)
    monkeypatch.setenv("SYNCER_TEST_CLIENT", "client-Rt62")
    path = tmp_path / "workflow.yaml"
    path.write_text(
        "workflow: shop\n"
        "source: {type: 'tests.support.sources:FileSource', config: {path: s}}\n"
        "sinks:\n"
        "  - {type: openmetadata, config: {server: '${env:SYNCER_TEST_OM}',"
        " token: '${env:SYNCER_TEST_OM_TOKEN}'}}\n"
        "  - name: om2\n"
        "    type: openmetadata\n"
        "    config:\n"
        "      server: '${env:SYNCER_TEST_OM}'\n"
        "      auth: {provider: client_credentials, token_url: 'http://idp/token',"
        " client_id: syncer, client_secret: '${env:SYNCER_TEST_CLIENT}'}\n"
    )
    load(path)
    assert secrets.redact(f"http://catalog.internal:8585/api {TOKEN} client-Rt62") == (
        "http://catalog.internal:8585/api *** ***"
    )


# --- short secrets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "GET http://127.0.0.1:8018/api/v1/teams: cannot connect",
        "error: a server is down",
        "data catalog",
    ],
)
def test_a_one_letter_secret_does_not_mangle_messages(text: str) -> None:
    secrets.remember("a")
    assert secrets.redact(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("a", "***"),
        ("X-Api-Key=a; body=", "X-Api-Key=***; body="),
        ("https://x/teams?api_key=a&page=2", "https://x/teams?api_key=***&page=2"),
        ("postgresql://u:a@db/sales", "postgresql://u:***@db/sales"),
        ("Authorization: Bearer a", "Authorization: Bearer ***"),
        ("key 'a' refused", "key '***' refused"),
        ('{"api_key": "a"}', '{"api_key": "***"}'),
    ],
)
def test_a_one_letter_secret_is_masked_where_it_stands_as_a_value(text: str, masked: str) -> None:
    secrets.remember("a")
    assert secrets.redact(text) == masked


def test_a_short_password_is_still_masked_as_basic_auths_base64() -> None:
    secrets.remember_basic("admin", "pw")
    header = base64.b64encode(b"admin:pw").decode()
    assert secrets.redact(f"Authorization=Basic {header}; pwd=/home") == (
        "Authorization=Basic ***; pwd=/home"
    )


# --- references syncer does not read ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown", "fix"),
    [
        ("${PG_PASSWORD}", "${PG_PASSWORD}", "${env:PG_PASSWORD}"),
        ("postgresql://u:${PG_PASSWORD}@h/db", "${PG_PASSWORD}", "${env:PG_PASSWORD}"),
        ("${PG_PASSWORD:-changeme}", "${PG_PASSWORD:-changeme}", "${env:PG_PASSWORD}"),
        ("${}", "${}", "${env:NAME}"),
    ],
)
def test_a_shell_style_reference_is_refused_at_load(
    tmp_path: Path, value: str, shown: str, fix: str
) -> None:
    path = tmp_path / "pg.yaml"
    path.write_text(
        "workflow: pg\nsource: {type: 'tests.support.sources:FileSource', config: {path: s,"
        f" password: '{value}'}}}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value) == (
        f"{path}: source.config.password: `{shown}` is not a reference syncer reads: write {fix}"
    )
    assert caught.value.exit_code == 2


def test_what_other_libraries_log_is_masked_and_shown_as_a_syncer_event(
    json_logs: io.StringIO,
) -> None:
    secrets.remember("pool-secret-42")
    pool = stdlib_logging.getLogger("sqlalchemy.pool.impl.QueuePool")
    try:
        pool.warning("closing postgresql://u:%s@db/shop failed", "pool-secret-42")
    finally:
        root = stdlib_logging.getLogger()
        root.handlers = [h for h in root.handlers if type(h).__name__ != "_OtherLibraries"]

    logged = json_logs.getvalue()
    event = json.loads(logged.splitlines()[-1])
    assert "pool-secret-42" not in logged
    assert event["event"] == "closing postgresql://u:***@db/shop failed"
    assert (event["logger"], event["level"]) == ("sqlalchemy.pool.impl.QueuePool", "warning")
