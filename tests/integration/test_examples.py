"""Every workflow file under examples/ runs as it is, with the real `syncer` command, against
the servers the tests use (or the recordings made of them), and does what its comment says:
the entities arrive in the sink, and a second run sends nothing.

Each example runs on a copy of examples/ in a temporary folder with a state file of its own
(`--state`), so that what it writes next to itself (JSON Lines, DuckDB files) never lands in
the repository. Every YAML file under examples/ (but the deployment recipes of examples/deploy/,
tested by test_schedules.py) is picked up, and one without a runner in `RUNNERS` fails. A
server that does not answer skips its example, naming what to start; an example that names a
fixed database, schema, topic or stream has it made (or cleared) before and removed after.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import psycopg
import pymysql
import pytest
import yaml
from openlineage.client.event_v2 import RunState

from syncer.connectors.openlineage import Inbox
from tests.contract.cases import airflow as recorded_airflow
from tests.contract.cases import mlflow as recorded_mlflow
from tests.support import topics
from tests.support.openmetadata import OpenMetadataServer
from tests.support.receiver import Receiver, verify
from tests.support.runs import query_state
from tests.support.workspace import REPO, SYNCER

EXAMPLES = REPO / "examples"
NOT_WORKFLOWS = {"deploy", "data"}  # top-level folders that hold no workflow of their own
SHOP_ENTITIES = 15  # the bundled shop: service, database, schema, 7 tables and views, 5 edges
SHOP_TABLES = 7


def example_names() -> list[str]:
    """Every workflow file under examples/, as a path relative to it."""
    found = [*EXAMPLES.rglob("*.yaml"), *EXAMPLES.rglob("*.yml")]
    names = (path.relative_to(EXAMPLES) for path in found)
    return sorted(name.as_posix() for name in names if name.parts[0] not in NOT_WORKFLOWS)


@dataclass
class Example:
    """One example file in a copy of examples/ (`root`), run from the copy's parent folder."""

    root: Path
    name: str
    env: dict[str, str]
    stderrs: list[str] = field(default_factory=list)  # of each run, in order
    secrets: list[str] = field(default_factory=list)  # values that must never be printed

    @property
    def path(self) -> Path:
        return self.root / self.name

    @property
    def out(self) -> Path:
        """Where the examples' `out/` folder (the repository root's) is in the copy."""
        return self.root.parent / "out"

    @property
    def state(self) -> Path:
        return self.root.parent / "state.duckdb"

    def secret(self, name: str, value: str) -> None:
        """Sets the variable a `${env:NAME}` reference of the example reads."""
        self.env[name] = value
        self.secrets.append(value)

    def run(self, replay: Path | None = None) -> dict[str, Any]:
        """`syncer run FILE --state … --format json` (its HTTP answered from `replay`, a
        cassette, if given); asserts it exited 0 without printing a secret, and returns its
        run document."""
        command = [str(SYNCER)]
        if replay is not None:
            command = [sys.executable, "-m", "tests.support.replay", str(replay)]
        done = subprocess.run(
            [*command, "run", str(self.path), "--state", str(self.state), "--format", "json"],
            cwd=self.root.parent,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"examples/{self.name} failed:\n{done.stdout}\n{done.stderr}"
        leaked = [s for s in self.secrets if s in done.stdout + done.stderr]
        assert leaked == [], f"examples/{self.name} printed a secret"
        self.stderrs.append(done.stderr)
        document: dict[str, Any] = orjson.loads(done.stdout)
        return document

    def run_twice(self, replay: Path | None = None) -> dict[str, Any]:
        """Two runs: the first creates entities and delivers them, the second finds nothing
        changed and sends nothing. Returns the first run's document."""
        first = self.run(replay)
        assert first["status"] == "succeeded", first
        assert first["total"]["created"] > 0, first["total"]
        assert all(d["error"] is None and d["backlog"] == 0 for d in first["deliveries"]), first
        second = self.run(replay)
        assert second["status"] == "succeeded", second
        changed = {k: second["total"][k] for k in ("created", "updated", "deleted", "restored")}
        assert changed == dict.fromkeys(changed, 0), second["total"]
        assert [d["delivered"] for d in second["deliveries"]] == [0] * len(second["deliveries"])
        return first

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return query_state(self.state, sql, params or [])

    def fqns(self, entity_type: str) -> set[str]:
        rows = self.query("SELECT fqn FROM current_entities WHERE entity_type = ?", [entity_type])
        return {fqn for (fqn,) in rows}


Runner = Callable[[Example], None]
RUNNERS: dict[str, Runner] = {}


def runs(name: str) -> Callable[[Runner], Runner]:
    """Registers the runner of examples/`name`."""

    def register(runner: Runner) -> Runner:
        RUNNERS[name] = runner
        return runner

    return register


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of examples/ without what earlier runs left there."""
    root = tmp_path / "examples"
    leftovers = shutil.ignore_patterns("deploy", ".syncer", "out", "__pycache__")
    shutil.copytree(EXAMPLES, root, ignore=leftovers)
    return root


def test_every_example_has_a_runner_here_and_every_runner_an_example() -> None:
    names = set(example_names())
    assert names - set(RUNNERS) == set(), "add a runner to RUNNERS in this file for these"
    assert set(RUNNERS) - names == set(), "these runners name examples that are gone"


SCHEMA_LINE = "# yaml-language-server: $schema="


@pytest.mark.parametrize("name", example_names())
def test_the_example_names_the_workflow_schema_for_editors_and_the_command_that_runs_it(
    name: str,
) -> None:
    path = EXAMPLES / name
    lines = path.read_text(encoding="utf-8").splitlines()
    header = list(itertools.takewhile(lambda line: line.startswith("#"), lines))
    assert header and header[0].startswith(SCHEMA_LINE), f"examples/{name}: start with it"
    schema = (path.parent / header[0].removeprefix(SCHEMA_LINE).strip()).resolve()
    assert schema == REPO / "syncer" / "schemas" / "workflow.schema.json"
    assert any("syncer run" in line for line in header[1:]), f"examples/{name}: say how"


@pytest.mark.slow  # `syncer` in a subprocess, twice
@pytest.mark.parametrize("name", example_names())
def test_the_example_runs_as_it_is_and_a_second_run_sends_nothing(
    name: str, copy: Path, subprocess_env: dict[str, str]
) -> None:
    if name not in RUNNERS:
        pytest.fail(f"examples/{name} has no runner: add one to RUNNERS in {Path(__file__).name}")
    RUNNERS[name](Example(copy, name, dict(subprocess_env)))


# --- the bundled shop (SQLite), no server -----------------------------------------------------


@runs("demo.yaml")
def _demo(example: Example) -> None:
    example.run_twice()
    assert example.query("SELECT count(*) FROM catalog.entities") == [(SHOP_ENTITIES,)]
    lines = (example.out / "demo-changes.jsonl").read_bytes().splitlines()
    assert len(lines) == SHOP_ENTITIES


@runs("processors.yaml")
def _processors(example: Example) -> None:
    first = example.run_twice()
    assert first["total"]["filtered"] == 1  # the archive table
    tables = {
        fqn: orjson.loads(payload)
        for fqn, payload in example.query(
            "SELECT fqn, payload::VARCHAR FROM current_entities WHERE entity_type = 'table'"
        )
    }
    assert 'shop.shop.main."order.archive"' not in tables
    customers = tables["shop.shop.main.customers"]
    email = next(c for c in customers["columns"] if c["name"] == "email")
    assert "PII.Sensitive" in {t["tagFQN"] for t in email["tags"]}
    assert "Tier.Tier1" in {t["tagFQN"] for t in customers["tags"]}
    assert customers["owners"] == [{"fullyQualifiedName": "data-platform", "type": "team"}]
    assert customers["domain"] == "Sales"
    broken = example.query("SELECT DISTINCT rule FROM violations ORDER BY rule")
    assert broken == [("sensitive-columns-are-described",), ("tables-are-described",)]


@runs("sinks/duckdb.yaml")
def _duckdb(example: Example) -> None:
    example.run_twice()
    with duckdb.connect(str(example.out / "shop-catalog.duckdb"), read_only=True) as catalog:
        tables = catalog.execute(
            "SELECT count(*) FROM catalog.entities WHERE entity_type = 'table'"
        ).fetchall()
        edges = catalog.execute("SELECT count(*) FROM catalog.lineage").fetchall()
    assert (tables, edges) == ([(SHOP_TABLES,)], [(5,)])


@runs("sinks/jsonl.yaml")
def _jsonl(example: Example) -> None:
    example.run_twice()
    lines = [orjson.loads(line) for line in (example.out / "shop-changes.jsonl").open("rb")]
    assert len(lines) == SHOP_ENTITIES
    assert {line["kind"] for line in lines} == {"created"}


@runs("sinks/handler.yaml")
def _handler(example: Example) -> None:
    # As the example's comment says: the handler's module must be importable.
    example.env["PYTHONPATH"] += os.pathsep + str(example.root / "sinks")
    example.run_twice()
    first, second = (
        [line for line in stderr.splitlines() if line.startswith("entity")]
        for stderr in example.stderrs
    )
    assert "entityCreated table shop.shop.main.customers" in first
    assert len(first) == SHOP_TABLES
    assert second == []


WEBHOOK_PORT = 8099  # what examples/sinks/webhook.yaml posts to
WEBHOOK_SECRET = "example-webhook-secret-3f9a"


@runs("sinks/webhook.yaml")
def _webhook(example: Example) -> None:
    try:
        receiver = Receiver(port=WEBHOOK_PORT)
    except OSError as exc:
        pytest.skip(f"port {WEBHOOK_PORT} is taken ({exc}): free it to run the webhook example")
    example.secret("WEBHOOK_SECRET", WEBHOOK_SECRET)
    with receiver:
        example.run_twice()
        requests = receiver.accepted()
    assert all(verify(WEBHOOK_SECRET.encode(), r.body, r.headers) for r in requests)
    events = [event for r in requests for event in r.events]
    assert len(events) == SHOP_TABLES  # tables only, each once: the re-run posted nothing
    assert {e["entityType"] for e in events} == {"table"}


# --- message brokers ----------------------------------------------------------------------------


MQTT_PREFIX = "syncer/shop"  # the topic_prefix of examples/sinks/mqtt.yaml
NATS_STREAM = "syncer-shop"  # the stream of examples/sinks/nats.yaml


@runs("sinks/mqtt.yaml")
def _mqtt(example: Example) -> None:
    if not topics.reachable(topics.MQTT_PORT):
        pytest.skip("no MQTT broker on 127.0.0.1:1883: apt-get install mosquitto, and start it")
    topics.clear_retained(f"{MQTT_PREFIX}/#")  # what an interrupted earlier test left
    try:
        with topics.Subscriber(f"{MQTT_PREFIX}/events/#") as subscriber:
            example.run_twice()
            events = subscriber.wait_for(SHOP_ENTITIES)
        assert len(events) == SHOP_ENTITIES
        retained = topics.retained(f"{MQTT_PREFIX}/entities/#")
        assert len(retained) == SHOP_ENTITIES  # a late subscriber sees every live entity
    finally:
        topics.clear_retained(f"{MQTT_PREFIX}/#")


@runs("sinks/nats.yaml")
def _nats(example: Example) -> None:
    if not topics.reachable(4222):
        pytest.skip("no NATS server on 127.0.0.1:4222: install nats-server, start it with -js")
    topics.delete_stream(NATS_STREAM)  # else JetStream would drop the events as repeats
    try:
        example.run_twice()
        stored = topics.stream_messages(NATS_STREAM)
        assert len(stored) == SHOP_ENTITIES
        assert {m.subject for m in stored} >= {"syncer.shop.events.table"}
    finally:
        topics.delete_stream(NATS_STREAM)


# --- OpenMetadata (the local test server) -------------------------------------------------------

OM_TOKEN = "example-om-bot-token-51c2"


@runs("openmetadata.yaml")
def _openmetadata(example: Example) -> None:
    with OpenMetadataServer(token=OM_TOKEN, bulk=True, users=["admin"]) as om:
        example.env["OPENMETADATA_URL"] = om.url
        example.secret("OPENMETADATA_BOT_TOKEN", OM_TOKEN)
        example.run()
        assert om.invalid == []
        assert len(om.entities["table"]) == SHOP_TABLES
        customers = om.entity("table", "shop.shop.main.customers")
        assert customers is not None
        assert [owner["name"] for owner in customers["owners"]] == ["admin"]  # from `assign`
        email = next(c for c in customers["columns"] if c["name"] == "email")
        assert [tag["tagFQN"] for tag in email["tags"]] == ["PII.Sensitive"]  # from `pii`
        om.clear()
        second = example.run()
        assert om.requests == []  # nothing changed: not one request
    assert second["total"]["created"] == second["total"]["updated"] == 0


# --- database servers ---------------------------------------------------------------------------


@runs("sources/postgres.yaml")
def _postgres(example: Example) -> None:
    example.secret("PGPASSWORD", "ignored-by-trust-auth")
    with _postgres_shop():
        example.run_twice()
    assert example.fqns("table") == {
        "postgres_local.test.shop.customers",
        "postgres_local.test.shop.orders",
        "postgres_local.test.shop.customer_orders",
    }
    assert len(example.fqns("lineage")) == 2  # the view reads both tables


@contextmanager
def _postgres_shop() -> Iterator[None]:
    """The schema `shop` of the database `test`, made by the example's SQL and dropped after."""
    if not topics.reachable(5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432: apt-get install postgresql")
    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"cannot connect to database test on 127.0.0.1:5432 ({exc}): createdb test")
    with conn:
        try:
            conn.execute((EXAMPLES / "data" / "postgres_shop.sql").read_bytes())
        except psycopg.errors.DuplicateSchema:
            pytest.skip("schema shop already exists in database test: drop it to run this test")
        try:
            yield
        finally:
            conn.execute("DROP SCHEMA shop CASCADE")


@runs("sources/mysql.yaml")
def _mysql(example: Example) -> None:
    example.env["MYSQL_PASSWORD"] = ""  # root has none on the test server
    with _mysql_shop():
        example.run_twice()
    assert example.fqns("table") == {
        "mariadb_local.default.shop.customers",
        "mariadb_local.default.shop.orders",
        "mariadb_local.default.shop.customer_orders",
    }


@contextmanager
def _mysql_shop() -> Iterator[None]:
    """The database `shop`, made by the example's SQL and dropped after."""
    if not topics.reachable(3306):
        pytest.skip("MariaDB is not running on 127.0.0.1:3306: apt-get install mariadb-server")
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    with conn, conn.cursor() as cursor:
        cursor.execute("SHOW DATABASES LIKE 'shop'")
        if cursor.fetchall():
            pytest.skip("database shop already exists on 127.0.0.1:3306: drop it to run this test")
        script = (EXAMPLES / "data" / "mysql_shop.sql").read_text()
        try:
            for statement in filter(str.strip, script.split(";\n")):
                cursor.execute(statement)
            yield
        finally:
            cursor.execute("DROP DATABASE IF EXISTS shop")


# --- files and recorded HTTP APIs ---------------------------------------------------------------

CASSETTES = REPO / "cassettes"


def recording(cassette: Path) -> Path:
    """`cassette`, or a skip naming how to record it."""
    if not cassette.exists():
        pytest.skip(f"no recording {cassette.relative_to(REPO)}: record it with `make cassettes`")
    return cassette


@runs("sources/dbt.yaml")
def _dbt(example: Example) -> None:
    example.run_twice()
    assert "warehouse.shop.main_marts.customer_orders" in example.fqns("table")
    assert example.fqns("testCase")
    assert example.fqns("testCaseResult")  # from run_results.json
    assert example.fqns("lineage")


@runs("sources/mlflow.yaml")
def _mlflow(example: Example) -> None:
    # The first sync and the re-run recorded right after it, as the contract suite replays them.
    both = example.root.parent / "mlflow-first-sync-and-rerun.yaml"
    interactions = recorded_mlflow.interactions(
        recording(recorded_mlflow.FIRST_SYNC), recording(recorded_mlflow.RERUN)
    )
    both.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}))
    example.run_twice(replay=both)
    assert len(example.fqns("mlmodel")) == 3
    assert len(example.fqns("record")) == 5  # the experiments


@runs("sources/airflow.yaml")
def _airflow(example: Example) -> None:
    recorded_airflow.recorded_source()  # skips when there is no recording
    example.secret("AIRFLOW_PASSWORD", "replayed-the-recording-takes-any")
    example.run_twice(replay=recorded_airflow.FIRST_SYNC)
    assert example.fqns("pipeline") == {
        "airflow.sales_etl",
        "airflow.sales_report",
        "airflow.warehouse_maintenance",
    }
    assert example.fqns("pipelineStatus")


@runs("sources/openlineage.yaml")
def _openlineage(example: Example) -> None:
    from tests.unit.connectors.openlineage import test_source as events

    # What `syncer serve` would have stored: two runs of a job, as OpenLineage's client sends
    # them, in the inbox the example names (beside the state, in the copy).
    inbox = Inbox(example.root.parent / ".syncer" / "openlineage.sqlite", create=True)
    with inbox:
        for day in range(2):
            at = events.T0 + timedelta(days=day)
            inbox.append(events.a_run(RunState.COMPLETE, at, [events.ORDERS], [events.FACTS]))
    example.run_twice()
    assert example.fqns("pipeline") == {events.PIPELINE}
    assert len(example.fqns("pipelineStatus")) == 2
    facts = "warehouse.shop.analytics.order_facts"
    # customers is not an input, but the output's columnLineage facet reads it.
    assert example.fqns("lineage") == {
        f"warehouse.shop.public.orders->{facts}",
        f"warehouse.shop.public.customers->{facts}",
    }


@runs("rest/jobs.yaml")
def _rest_jobs(example: Example) -> None:
    example.secret("JOBS_API_KEY", "replayed-the-key-is-not-recorded")
    # Its next-page links name the API's host, which the recording's sanitizer replaced: put
    # back the example's, which links must stay on.
    recorded = recording(CASSETTES / "rest" / "jobs_first_sync.yaml").read_text()
    cassette = example.root.parent / "jobs_first_sync.yaml"
    cassette.write_text(recorded.replace("http://jobs.invalid:8008", "http://127.0.0.1:8008"))
    example.run_twice(replay=cassette)
    assert example.fqns("pipeline")
    assert example.fqns("record")


@runs("rest/mlflow.yaml")
def _rest_mlflow(example: Example) -> None:
    example.run_twice(replay=recording(CASSETTES / "rest" / "mlflow_first_sync.yaml"))
    assert example.fqns("mlmodel")
