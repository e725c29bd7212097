"""A unique value planted in every credential of every source and sink never shows, in any form,
anywhere syncer prints or stores anything.

Each source and sink is run by the real `syncer` command line against servers that refuse it
(401s that echo the request back: its Authorization header, query string, API-key header and
body, then a long filler) or that are down. Then the output of `run` (JSON logs at debug level,
`--debug`), `test-connection`, `plan`, `state show`, `history`, `changes` and `events`, the
state file (every table as text, and its bytes) and every sink's output are searched for each
credential as it is, URL-encoded (`quote`, `quote_plus`), JSON-escaped, in Python's `repr` of
its text and bytes, and, for a username and password, as HTTP basic auth's base64 of the pair.

The scenarios run once for the module; each credential is then a test of its own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from queue import Empty, Queue
from typing import Any
from urllib.parse import quote, quote_plus

import duckdb
import pytest

from tests.support.echo import FILLER, FLAKY, Echoed, EchoServer
from tests.support.receiver import free_port
from tests.support.workspace import Workspace, catalog, syncer_env

pytestmark = pytest.mark.slow  # every scenario runs `syncer` in subprocesses

# Short retries: a refused or unreachable server fails each scenario within a second.
RETRY = {"attempts": 2, "initial_wait_seconds": 0.01, "max_wait_seconds": 0.02}
# Characters that each form writes differently: / and + (URL-encoding), ' and " (repr, JSON),
# é (JSON's \u escape, the bytes' repr, latin-1 or utf-8 in basic auth).
SPECIAL = "/b+c'd\"é"
# An error message shows at most a few hundred characters of a server's body.
LONGEST_FILLER = FILLER * 400


@dataclass(frozen=True)
class Credential:
    """A value planted in one credential, through the environment variable `env`."""

    id: str
    env: str
    user: str | None = None  # the other half of a basic-auth pair, if it is one
    newline: bool = False  # the variable ends with a newline, as a secret mounted as a file
    sent: bool = True  # sent to the echo server (not: a server that is down, an HMAC key)

    @property
    def secret(self) -> str:
        return f"{self.id.replace('.', '-')}-Zq7{SPECIAL}x9"

    @property
    def reference(self) -> str:
        return "${env:" + self.env + "}"

    @property
    def variable(self) -> str:
        return self.secret + ("\n" if self.newline else "")

    def forms(self) -> dict[str, str]:
        """Every form the secret must never be shown in, by name."""
        s = self.secret
        found = {
            "raw": s,
            "quote": quote(s),
            "quote (no safe)": quote(s, safe=""),
            "quote_plus": quote_plus(s),
            "JSON": json.dumps(s)[1:-1],
            "JSON (utf-8)": json.dumps(s, ensure_ascii=False)[1:-1],
            "repr": repr(s)[1:-1],
            "repr of utf-8 bytes": repr(s.encode())[2:-1],
            "repr of latin-1 bytes": repr(s.encode("latin-1"))[2:-1],
            "repr with newline": repr(self.variable)[1:-1],
        }
        if self.user is not None:
            for charset in ("latin-1", "utf-8"):
                pair = f"{self.user}:{s}".encode(charset)
                found[f"basic auth ({charset})"] = base64.b64encode(pair).decode()
        return found

    def sent_in(self, request: Echoed) -> bool:
        """Whether `request` carried the secret, in any form."""
        body = request.body.decode("utf-8", "replace")
        carried = " ".join([request.path, *request.headers.values(), body])
        return any(form in carried for form in self.forms().values())


@dataclass
class Scenario:
    """One workflow: a source and sinks holding some of the credentials."""

    name: str
    credentials: list[Credential]
    source: dict[str, Any] | None = None  # None: a FileSource that reads three tables
    sinks: list[dict[str, Any]] = field(default_factory=list)
    # What its commands printed, by command and stream.
    texts: dict[str, str] = field(default_factory=dict)


def rest(echo: str, auth: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "rest",
        "config": {
            "base_url": echo,
            "auth": auth,
            "retry": RETRY,
            "endpoints": [
                {"name": "teams", "path": "/teams", "entity": "record", "primary_key": "id"}
            ],
        },
    }


def scenarios(echo: str, down: str) -> list[Scenario]:
    """Every credential of every source and sink, each in the workflow that uses it."""
    sql_pw = Credential("sql.password", "LEAK_SQL_PASSWORD", user="reader", sent=False)
    bearer = Credential("rest.bearer", "LEAK_REST_BEARER", newline=True)
    rest_basic = Credential("rest.basic", "LEAK_REST_BASIC", user="restuser")
    rest_query = Credential("rest.api_key.query", "LEAK_REST_KEY_QUERY")
    rest_header = Credential("rest.api_key.header", "LEAK_REST_KEY_HEADER")
    mlflow_token = Credential("mlflow.token", "LEAK_MLFLOW_TOKEN")
    mlflow_basic = Credential("mlflow.basic", "LEAK_MLFLOW_BASIC", user="m")
    airflow_basic = Credential("airflow.basic", "LEAK_AIRFLOW_BASIC", user="admin")
    airflow_jwt = Credential("airflow.jwt", "LEAK_AIRFLOW_JWT", user="admin")
    dbt_basic = Credential("dbt.basic", "LEAK_DBT_BASIC", user="ci")
    hook = Credential("webhook.secret", "LEAK_HOOK_SECRET", sent=False)
    om_token = Credential("openmetadata.token", "LEAK_OM_TOKEN")
    om_client = Credential("openmetadata.client_secret", "LEAK_OM_CLIENT", user="syncer-bot")
    mqtt_pw = Credential("mqtt.password", "LEAK_MQTT_PASSWORD", user="syncer", sent=False)
    nats_pw = Credential("nats.password", "LEAK_NATS_PASSWORD", user="syncer", sent=False)
    mlflow = {"tracking_uri": echo, "retry": RETRY, "mlmodel_files": False}
    airflow = {"host": echo, "api_version": "v1", "retry": RETRY}
    return [
        Scenario(
            "sql",
            [sql_pw],
            {
                "type": "sql",
                "config": {
                    "url": f"postgresql+psycopg://reader:{sql_pw.reference}@{down}/sales",
                    "statement_timeout_seconds": 5,
                },
            },
        ),
        Scenario(
            "rest-bearer", [bearer], rest(echo, {"type": "bearer", "token": bearer.reference})
        ),
        Scenario(
            "rest-basic",
            [rest_basic],
            rest(echo, {"type": "basic", "username": "restuser", "password": rest_basic.reference}),
        ),
        Scenario(
            "rest-query-key",
            [rest_query],
            rest(
                echo,
                {
                    "type": "api_key",
                    "name": "api_key",
                    "api_key": rest_query.reference,
                    "location": "query",
                },
            ),
        ),
        Scenario(
            "rest-header-key",
            [rest_header],
            rest(  # a server that keeps failing: retried, then given up on
                echo + FLAKY,
                {"type": "api_key", "name": "X-Api-Key", "api_key": rest_header.reference},
            ),
        ),
        Scenario(
            "mlflow-token",
            [mlflow_token],
            {
                "type": "mlflow",
                "config": {**mlflow, "auth": {"type": "bearer", "token": mlflow_token.reference}},
            },
        ),
        Scenario(
            "mlflow-basic",
            [mlflow_basic],
            {
                "type": "mlflow",
                "config": {
                    **mlflow,
                    "auth": {"type": "basic", "username": "m", "password": mlflow_basic.reference},
                },
            },
        ),
        Scenario(
            "airflow-basic",
            [airflow_basic],
            {
                "type": "airflow",
                "config": {
                    **airflow,
                    "auth": {
                        "type": "basic",
                        "username": "admin",
                        "password": airflow_basic.reference,
                    },
                },
            },
        ),
        Scenario(
            "airflow-jwt",
            [airflow_jwt],
            {
                "type": "airflow",
                "config": {
                    **airflow,
                    "api_version": "v2",
                    "auth": {"type": "jwt", "username": "admin", "password": airflow_jwt.reference},
                },
            },
        ),
        Scenario(
            "dbt-basic",
            [dbt_basic],
            {
                "type": "dbt",
                "config": {
                    "path": f"{echo}/target",
                    "service_name": "warehouse",
                    "retry": RETRY,
                    "auth": {"type": "basic", "username": "ci", "password": dbt_basic.reference},
                },
            },
        ),
        Scenario(
            "sinks",
            [hook, om_token, om_client, mqtt_pw, nats_pw],
            None,
            [  # in this order: `test-connection` stops at refused client credentials
                {
                    "type": "mqtt",
                    "config": {
                        "host": down.split(":")[0],
                        "port": int(down.split(":")[1]),
                        "username": "syncer",
                        "password": mqtt_pw.reference,
                        "timeout_seconds": 1,
                    },
                },
                {
                    "type": "nats",
                    "config": {
                        "servers": [f"nats://{down}"],
                        "user": "syncer",
                        "password": nats_pw.reference,
                        "timeout_seconds": 1,
                    },
                },
                {
                    "type": "webhook",
                    "config": {"url": f"{echo}/hook", "secret": hook.reference, "retry": RETRY},
                },
                {
                    "type": "openmetadata",
                    "name": "om-token",
                    "config": {
                        "server": f"{echo}/api",
                        "token": om_token.reference,
                        "retry": RETRY,
                    },
                },
                {
                    "type": "openmetadata",
                    "name": "om-client",
                    "config": {
                        "server": f"{echo}/api",
                        "retry": RETRY,
                        "auth": {
                            "provider": "client_credentials",
                            "token_url": f"{echo}/oauth/token",
                            "client_id": "syncer-bot",
                            "client_secret": om_client.reference,
                        },
                    },
                },
            ],
        ),
    ]


CREDENTIALS = [c for s in scenarios("http://echo", "127.0.0.1:1") for c in s.credentials]


# --- running every scenario ---------------------------------------------------------------------

DEBUG_LOGS = ("--debug", "--log-format", "json", "--log-level", "debug")


def prepare(scenario: Scenario, root: Path, state: Path, env: dict[str, str]) -> Workspace:
    """The scenario's workflow, writing to the shared state file and a JSONL file of its own."""
    root.mkdir()
    ws = Workspace(root, {**env, **{c.env: c.variable for c in scenario.credentials}})
    ws.workflow = scenario.name
    ws.write_source(catalog(3))
    jsonl = {"type": "jsonl", "config": {"path": str(ws.jsonl)}}
    overrides: dict[str, Any] = {"sinks": [*scenario.sinks, jsonl]}
    if scenario.source is not None:
        overrides["source"] = scenario.source
    ws.write_config(**overrides, state={"path": str(state)}, deletions={"fail_safe_percent": 100})
    return ws


def command(texts: dict[str, str], what: str, ws: Workspace, *args: str | Path) -> None:
    """Run `syncer ARGS` in `ws`; keep what it printed in `texts`."""
    done = ws.syncer(*args, timeout=60)
    texts[f"{what}: stdout"] = done.stdout
    texts[f"{what}: stderr"] = done.stderr


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    with EchoServer(401) as server:
        yield server


@pytest.fixture(scope="module")
def played(
    echo: EchoServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Scenario], dict[str, str]]:
    """Every scenario played, and the texts they share (the state file and what reads it)."""
    root = tmp_path_factory.mktemp("leaks")
    state = root / "state.duckdb"
    every = scenarios(echo.url, f"127.0.0.1:{free_port()}")
    env = syncer_env()
    spaces = [(s, prepare(s, root / s.name, state, env)) for s in every]
    shared: dict[str, str] = {}
    # Commands that read no state file (a plan of a first run reads none) go into a queue that
    # two lanes take from; one process at a time holds the state file, so the runs go one
    # after another in a lane of their own, then the commands that read what they stored.
    independent: Queue[Callable[[], None]] = Queue()
    for scenario, ws in spaces:
        check: list[str | Path] = [*DEBUG_LOGS, "test-connection", ws.config]
        first: list[str | Path] = ["plan", ws.config, "--state", ws.root / "no-state.duckdb"]
        independent.put(partial(command, scenario.texts, "test-connection", ws, *check))
        independent.put(partial(command, scenario.texts, "plan", ws, *first))

    def drain() -> None:
        while True:
            try:
                independent.get_nowait()()
            except Empty:
                return

    def write_and_read_the_state() -> None:
        for scenario, ws in spaces:
            command(scenario.texts, "run", ws, *DEBUG_LOGS, "run", ws.config)
        ws = spaces[0][1]
        for what, args in {
            "state show": ["state", "show"],
            "history": ["history", "--format", "json"],
            "changes": ["changes", "--pending", "--format", "json"],
            "events": ["events", "--format", "json"],
            "dead letters": ["events", "--failed", "--format", "json"],
        }.items():
            command(shared, what, ws, *args, "--state", state)
        drain()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for lane in [pool.submit(write_and_read_the_state), pool.submit(drain)]:
            lane.result()
    files = [state, state.with_suffix(".duckdb.wal"), *(ws.jsonl for _, ws in spaces)]
    for stored in files:
        if stored.exists():
            data = stored.read_bytes()
            shared[f"{stored.parent.name}/{stored.name}"] = data.decode("latin-1")
            shared[f"{stored.parent.name}/{stored.name} (utf-8)"] = data.decode("utf-8", "replace")
    shared["state tables"] = every_value_in(state)
    shared["echo server: bodies sent to it"] = "\n".join(
        r.body.decode("utf-8", "replace")
        for r in echo.received()
        if not r.path.endswith("/token")  # logging in sends the credentials, by design
    )
    return every, shared


def every_value_in(state: Path) -> str:
    con = duckdb.connect(str(state), read_only=True)
    try:
        names = con.execute(
            "SELECT table_catalog, table_schema, table_name FROM information_schema.tables"
        ).fetchall()
        assert len(names) > 5
        return "\n".join(
            f"{schema}.{name}: "
            + str(con.execute(f'SELECT * FROM "{db}"."{schema}"."{name}"').fetchall())
            for db, schema, name in names
        )
    finally:
        con.close()


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("credential", CREDENTIALS, ids=lambda c: c.id)
def test_no_form_of_a_planted_secret_is_shown_or_stored(
    played: tuple[list[Scenario], dict[str, str]], echo: EchoServer, credential: Credential
) -> None:
    every, shared = played
    texts = {f"{s.name}: {where}": text for s in every for where, text in s.texts.items()}
    texts.update(shared)
    leaks = [
        f"{form} form in {where}"
        for form, shown in credential.forms().items()
        for where, text in texts.items()
        if shown in text
    ]
    assert not leaks, f"{credential.id}: " + "; ".join(leaks)
    if credential.sent:  # the scenario did send it to the server that echoes it back
        assert any(credential.sent_in(r) for r in echo.received()), f"{credential.id} unused"


def test_an_error_body_is_cut_to_a_few_hundred_characters(
    played: tuple[list[Scenario], dict[str, str]],
) -> None:
    every, shared = played
    texts = {f"{s.name}: {where}": text for s in every for where, text in s.texts.items()}
    texts.update(shared)
    whole = sorted(where for where, text in texts.items() if LONGEST_FILLER in text)
    assert not whole, f"the whole of an error body is in {whole}"
    assert any(FILLER * 10 in text for text in texts.values()), "no error body was shown"
