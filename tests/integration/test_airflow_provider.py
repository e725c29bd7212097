"""The Airflow provider on a real Airflow 3: DAGs built by `syncer_dags` run by `airflow dags test`
over the SQLite demo and a PostgreSQL schema; and the runner the operator calls, without Airflow.

Airflow lives in a venv of its own (`VENV`, reused while its marker says the same version),
pinned by Airflow's constraints file, or by `airflow-constraints.txt` beside this file where that
cannot be fetched; syncer is installed into it editable from this checkout, with the postgres
extra. When it cannot be installed the Airflow tests are skipped with what to run:
`make airflow-env` (which runs this file as a script) installs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import pytest

from syncer.airflow.pools import pools_document
from syncer.airflow.runner import RunRequest, run_in_process, run_in_subprocess
from syncer.airflow.workflows import find_workflows

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_VERSION = "3.3.2"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
VENV = Path(
    os.environ.get("SYNCER_TEST_AIRFLOW_VENV", Path.home() / ".cache/syncer-tests/airflow3")
)
CONSTRAINTS_URL = (
    "https://raw.githubusercontent.com/apache/airflow/"
    f"constraints-{AIRFLOW_VERSION}/constraints-{PYTHON}.txt"
)
PINNED = Path(__file__).with_name("airflow-constraints.txt")  # made on Python 3.11
RUN_SCHEMA = json.loads((REPO / "syncer/schemas/run.schema.json").read_text())
PG = ("127.0.0.1", int(os.environ.get("SYNCER_TEST_PG_PORT", "5432")))
PASSWORD_ENV = "SYNCER_TEST_AIRFLOW_PG_PASSWORD"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # the first install takes minutes


# --- the Airflow venv --------------------------------------------------------------------------


def install_airflow(say: Callable[[str], None] = print) -> Path:
    """The `airflow` command of `VENV`: Airflow installed once, syncer again whenever this
    checkout or its pyproject.toml differ from the ones installed."""
    python = VENV / "bin" / "python"
    marker = VENV / f".airflow-{AIRFLOW_VERSION}"
    constraints = _constraints()
    pip = [str(python), "-m", "pip", "install", "--quiet", *constraints]
    if not marker.exists():
        say(f"installing apache-airflow {AIRFLOW_VERSION} into {VENV} (a few minutes)")
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-U", "pip"], check=True)
        subprocess.run([*pip, f"apache-airflow=={AIRFLOW_VERSION}"], check=True)
        marker.touch()
    checkout = VENV / ".syncer-checkout"
    wanted = f"{REPO}\n{hashlib.sha256((REPO / 'pyproject.toml').read_bytes()).hexdigest()}\n"
    if not checkout.exists() or checkout.read_text() != wanted:
        say(f"installing syncer from {REPO} into {VENV}")
        subprocess.run([*pip, "--editable", f"{REPO}[postgres]"], check=True)
        checkout.write_text(wanted)
    return VENV / "bin" / "airflow"


def _constraints() -> list[str]:
    try:
        with urllib.request.urlopen(CONSTRAINTS_URL, timeout=10) as answer:
            if answer.status == 200:
                return ["--constraint", CONSTRAINTS_URL]
    except OSError:
        pass
    return ["--constraint", str(PINNED)] if PYTHON == "3.11" else []


# --- a local Airflow ---------------------------------------------------------------------------

DAG_FILE = """\
# Airflow parses a file only if it mentions both "airflow" and "dag".
from syncer.airflow import syncer_dags

globals().update(syncer_dags({workflows!r}, state_dir={states!r}))
"""


@dataclass
class Airflow:
    command: Path
    home: Path
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)  # every command's, to look for secrets

    @property
    def workflows(self) -> Path:
        return self.home / "workflows"

    @property
    def states(self) -> Path:
        return self.home / "state"

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.command), *args], env=self.env, capture_output=True, text=True, timeout=600
        )
        self.outputs.append(done.stdout + done.stderr)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    def python(self, code: str) -> Any:
        done = subprocess.run(
            [str(self.command.with_name("python")), "-c", code],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.splitlines()[-1])

    def dags_test(self, dag_id: str, on_line: Callable[[str], None] | None = None) -> int:
        """`airflow dags test DAG_ID`, each line of its output given to `on_line` as it comes."""
        child = subprocess.Popen(
            [str(self.command), "dags", "test", dag_id],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert child.stdout is not None
        lines = []
        for line in child.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line)
        code = child.wait(timeout=600)
        self.outputs.append("".join(lines))
        return code

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "airflow.db") as db:
            return db.execute(sql, params).fetchall()

    def summaries(self, dag_id: str) -> list[dict[str, Any]]:
        """The XCom return values of a DAG's `sync` task, oldest run first."""
        rows = self.query(
            "select value from xcom where dag_id = ? and task_id = 'sync' "
            "and key = 'return_value' order by timestamp",
            dag_id,
        )
        return [_json(value) for (value,) in rows]

    def tries(self, dag_id: str) -> list[list[tuple[int, str]]]:
        """(try number, state) of every try of the DAG's `sync` task, per DAG run, oldest first."""
        runs = self.query(
            "select run_id, try_number, state from task_instance where dag_id = ? "
            "order by start_date",
            dag_id,
        )
        history = self.query(
            "select run_id, try_number, state from task_instance_history where dag_id = ?", dag_id
        )
        return [
            sorted([*((n, s) for r, n, s in history if r == run_id), (number, state)])
            for run_id, number, state in runs
        ]


def _json(value: Any) -> dict[str, Any]:
    document = json.loads(value)
    # Airflow may store a JSON document as a JSON string of it.
    result: dict[str, Any] = json.loads(document) if isinstance(document, str) else document
    return result


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    try:
        command = install_airflow()
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(
            f"Airflow {AIRFLOW_VERSION} could not be installed into {VENV} ({exc}): run "
            "`make airflow-env` where PyPI can be reached"
        )
    home = tmp_path_factory.mktemp("airflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "PATH": f"{command.parent}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            PASSWORD_ENV: f"pw-{secrets.token_hex(12)}",
        }
    )
    env.pop("VIRTUAL_ENV", None)
    instance = Airflow(command, home, env)
    (home / "dags").mkdir()
    instance.workflows.mkdir()
    (home / "dags" / "syncer_workflows.py").write_text(
        DAG_FILE.format(workflows=str(instance.workflows), states=str(instance.states))
    )
    instance.run("db", "migrate")
    return instance


def demo_workflow(folder: Path, airflow_block: str) -> Path:
    """examples/demo.yaml in `folder`, with its database, and an `airflow:` block."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "examples/data/shop.sqlite", folder / "data/shop.sqlite")
    path = folder / "demo.yaml"
    path.write_text((REPO / "examples/demo.yaml").read_text() + f"airflow: {airflow_block}\n")
    return path


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_airflow_registers_the_provider_and_the_factory_builds_a_dag_per_workflow(
    airflow: Airflow, tmp_path: Path
) -> None:
    folder = tmp_path / "fleet"
    demo_workflow(
        folder,
        '{schedule: "@hourly", tags: [shop], owner: data, retries: 3, '
        "retry_delay: 90, mode: subprocess}",
    )
    for name, database in [("sales", "sales"), ("crm", "crm")]:
        (folder / f"{name}.yaml").write_text(
            f"workflow: {name}\nsource: {{type: sql, config: "
            f'{{url: "postgresql+psycopg://ro:${{env:PW}}@db.internal/{database}"}}}}\n'
        )
    (folder / "compose.yaml").write_text("services: {db: {image: postgres}}\n")
    code = textwrap.dedent(
        f"""\
        import json
        from airflow.providers_manager import ProvidersManager
        from syncer.airflow import syncer_dags
        provider = ProvidersManager().providers["metadata-syncer"]
        dags = syncer_dags({str(folder)!r}, state_dir="/mnt/state")
        def task(dag):
            sync = dag.get_task("sync")
            return {{
                "schedule": dag.schedule, "tags": sorted(dag.tags),
                "max_active_runs": dag.max_active_runs, "catchup": dag.catchup,
                "owner": sync.owner, "retries": sync.retries,
                "retry_delay": sync.retry_delay.total_seconds(), "pool": sync.pool,
                "mode": sync.mode, "config": sync.config, "state": sync.state,
            }}
        print(json.dumps({{
            "provider": [provider.version, provider.data["name"]],
            "dags": {{dag_id: task(dag) for dag_id, dag in dags.items()}},
        }}))
        """
    )
    found = airflow.python(code)
    assert found["provider"][1] == "syncer"
    dags = found["dags"]
    assert sorted(dags) == ["crm", "demo", "sales"]
    assert dags["demo"] == {
        "schedule": "@hourly",
        "tags": ["shop", "syncer"],
        "max_active_runs": 1,
        "catchup": False,
        "owner": "data",
        "retries": 3,
        "retry_delay": 90.0,
        "pool": "default_pool",
        "mode": "subprocess",
        "config": str(folder / "demo.yaml"),
        "state": "/mnt/state/demo.duckdb",
    }
    # Two workflows reading one server share its pool; the defaults apply without a block.
    assert dags["sales"]["pool"] == dags["crm"]["pool"] == "syncer-db.internal-5432"
    assert (dags["sales"]["schedule"], dags["sales"]["retries"], dags["sales"]["mode"]) == (
        None,
        2,
        "process",
    )


def test_the_sqlite_demo_syncs_as_a_task_and_a_second_run_sends_nothing(airflow: Airflow) -> None:
    demo_workflow(airflow.workflows, "{tags: [demo], retries: 0}")
    assert airflow.dags_test("demo") == 0
    assert airflow.dags_test("demo") == 0

    first, second = airflow.summaries("demo")
    for summary in (first, second):
        jsonschema.validate(summary, RUN_SCHEMA)
        assert (summary["workflow"], summary["status"], summary["exit_code"]) == (
            "demo",
            "succeeded",
            0,
        )
    assert first["total"]["created"] > 0
    assert first["deliveries"] and all(d["backlog"] == 0 for d in first["deliveries"])
    assert second["total"]["created"] == second["total"]["updated"] == 0
    assert all(d["delivered"] == 0 for d in second["deliveries"])
    changes = jsonl(airflow.home / "out/demo-changes.jsonl")  # the demo's ../out/ from workflows/
    assert len(changes) == first["total"]["created"]
    assert (airflow.states / "demo.duckdb").is_file()  # the factory's state_dir


# --- PostgreSQL --------------------------------------------------------------------------------


class Forwarder:
    """A TCP port that refuses connections until `start`, then forwards them to PostgreSQL: a
    database that is down, then back."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()

    def start(self) -> None:
        if self._listener is not None:
            return
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.5)
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(PG)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with suppress(OSError):
        target.shutdown(socket.SHUT_WR)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    dsn = f"host={PG[0]} port={PG[1]} user=postgres dbname=test connect_timeout=5"
    try:
        connection = psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError:
        pytest.skip(f"no PostgreSQL at {PG[0]}:{PG[1]} (database test): start it there")
    schema = f"syncer_airflow_{secrets.token_hex(4)}"
    with connection:
        connection.execute(f"create schema {schema}".encode())
        for table in ("customers", "orders", "invoices"):
            connection.execute(
                f"create table {schema}.{table} (id int primary key, note text)".encode()
            )
        connection.execute(
            f"create view {schema}.big_orders as select * from {schema}.orders".encode()
        )
        try:
            yield schema
        finally:
            connection.execute(f"drop schema {schema} cascade".encode())


def test_a_postgres_workflow_fails_while_down_and_its_retry_delivers_everything_once(
    airflow: Airflow, pg_schema: str
) -> None:
    database = Forwarder()
    path = airflow.workflows / "pg_shop.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            workflow: pg_shop
            source:
              type: sql
              config:
                url: "postgresql+psycopg://postgres:${{env:{PASSWORD_ENV}}}@127.0.0.1:{database.port}/test"
                include: {{schemas: [{pg_schema}]}}
            sinks:
              - type: jsonl
                config: {{path: out/pg_shop.jsonl}}
            airflow: {{tags: [pg], retries: 1, retry_delay: 2, mode: subprocess}}
            """
        )
    )
    # The pool the factory names after the server, made as the docs say.
    pools = airflow.home / "pools.json"
    pools.write_text(
        json.dumps(pools_document([w.spec for w in find_workflows(airflow.workflows)], 2))
    )
    airflow.run("pools", "import", str(pools))
    assert f"syncer-127.0.0.1-{database.port}" in airflow.run("pools", "list")

    def back_after_the_first_failure(line: str) -> None:
        if "syncer run" in line and ": failed (exit 1)" in line:
            database.start()

    try:
        assert airflow.dags_test("pg_shop", on_line=back_after_the_first_failure) == 0
        first_try_output = airflow.outputs[-1]
        assert airflow.dags_test("pg_shop") == 0
    finally:
        database.stop()

    assert "AirflowException: syncer run" in first_try_output
    assert "Connection refused" in first_try_output
    # The first try failed the task, Airflow's retry succeeded; the next DAG run needed one try.
    assert airflow.tries("pg_shop") == [[(1, "failed"), (2, "success")], [(1, "success")]]
    retried, again = airflow.summaries("pg_shop")
    jsonschema.validate(retried, RUN_SCHEMA)
    assert retried["status"] == "succeeded" and retried["run_id"] == 2  # run 1 was the failed try
    assert retried["total"]["created"] > 0
    assert again["status"] == "succeeded"
    assert again["total"]["created"] == again["total"]["updated"] == 0
    changes = jsonl(airflow.workflows / "out/pg_shop.jsonl")
    entities = [change["fqn"] for change in changes]  # each once, from the try that worked
    assert len(entities) == retried["total"]["created"] == len(set(entities))
    assert {change["runId"] for change in changes} == {2}
    with duckdb.connect(str(airflow.states / "pg_shop.duckdb"), read_only=True) as state:
        runs = state.execute(
            "select status from runs where workflow = 'pg_shop' order by run_id"
        ).fetchall()
    assert runs == [("failed",), ("succeeded",), ("succeeded",)]

    password = airflow.env[PASSWORD_ENV]
    logs = [p.read_text(errors="replace") for p in airflow.home.rglob("*.log") if p.is_file()]
    xcoms = [str(v) for (v,) in airflow.query("select value from xcom")]
    assert not [text for text in [*airflow.outputs, *logs, *xcoms] if password in text]


# --- the runner the operator calls, without Airflow ---------------------------------------------


def test_the_runner_reports_a_run_as_syncer_run_does_in_either_mode(tmp_path: Path) -> None:
    config = demo_workflow(tmp_path, "{retries: 0}")
    state = tmp_path / "state.duckdb"
    first = run_in_process(RunRequest(config, state))
    second = run_in_subprocess(RunRequest(config, state, full_refresh=True))
    for report in (first, second):
        assert report.ok and report.document is not None, report
        jsonschema.validate(report.document, RUN_SCHEMA)
    assert first.document is not None and second.document is not None
    assert first.document["total"]["created"] > 0
    assert second.document["total"]["created"] == second.document["total"]["updated"] == 0
    assert second.document["total"]["scanned"] == first.document["total"]["scanned"]


def test_a_bad_config_is_reported_without_a_document_and_is_not_tried_again(
    tmp_path: Path,
) -> None:
    config = demo_workflow(tmp_path, "{retries: 0, colour: blue}")
    for run in (run_in_process, run_in_subprocess):
        report = run(RunRequest(config, tmp_path / "state.duckdb"))
        assert (report.exit_code, report.document, report.retryable) == (2, None, False)
        assert report.error is not None and "airflow.colour: unknown key" in report.error
        assert report.failure(str(config)).startswith(
            f"syncer run {config}: did not start (exit 2)"
        )


def test_a_state_file_held_by_another_run_is_worth_another_try(tmp_path: Path) -> None:
    config = demo_workflow(tmp_path, "{retries: 0}")
    state = tmp_path / "state.duckdb"
    assert run_in_process(RunRequest(config, state)).ok
    holder = duckdb.connect(str(state))  # this process holds the file's lock now
    try:
        report = run_in_subprocess(RunRequest(config, state))
    finally:
        holder.close()
    assert (report.exit_code, report.retryable) == (2, True)
    assert report.error is not None and "in use by another process" in report.error


def test_a_source_that_cannot_be_read_fails_the_run_with_its_document(tmp_path: Path) -> None:
    config = demo_workflow(tmp_path, "{retries: 0}")
    (tmp_path / "data/shop.sqlite").write_bytes(b"not a database")
    report = run_in_process(RunRequest(config, tmp_path / "state.duckdb"))
    assert (report.exit_code, report.retryable) == (1, True)
    assert report.document is not None and report.document["status"] == "failed"
    assert report.failure(str(config)).startswith(f"syncer run {config}: failed (exit 1): ")


def test_a_partial_run_fails_unless_partial_runs_are_allowed(tmp_path: Path) -> None:
    config = demo_workflow(tmp_path / "workflows", "{retries: 0}")
    (tmp_path / "out/demo-changes.jsonl").mkdir(parents=True)  # the JSONL sink cannot write
    refused = run_in_process(RunRequest(config, tmp_path / "state.duckdb"))
    allowed = run_in_subprocess(RunRequest(config, tmp_path / "state.duckdb", allow_partial=True))
    assert refused.document is not None and refused.document["status"] == "partial"
    assert (refused.exit_code, refused.retryable) == (1, True)
    assert "allow_partial=True lets such a run pass" in refused.failure(str(config))
    assert allowed.ok and allowed.document is not None and allowed.document["status"] == "partial"


if __name__ == "__main__":  # `make airflow-env`
    print(install_airflow())
