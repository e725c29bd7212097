"""The `openmetadata` sink end to end: the bundled shop database through the processors into a
local OpenMetadata test server that checks every request against OpenMetadata's API schemas.

Set SYNCER_TEST_OPENMETADATA_URL (the API base, e.g. http://localhost:8585/api) and
SYNCER_TEST_OPENMETADATA_TOKEN (a bot's JWT) to also run `test_a_real_openmetadata_…` against
a real server.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from syncer.sinks.openmetadata import OpenMetadataSink
from syncer.sinks.openmetadata.config import OpenMetadataConfig
from syncer.steps import Change
from syncer.workflow import RunResult
from tests.support.engine import SCHEMA as ENGINE_SCHEMA
from tests.support.engine import Engine, catalog, table
from tests.support.openmetadata import OpenMetadataServer
from tests.support.runs import query_state, run_workflow
from tests.support.workspace import REPO, SYNCER, syncer_env

TOKEN = "om-bot-token-for-tests-6f1c"
SHOP_SQL = REPO / "examples" / "data" / "shop.sql"
SERVICE = "shop"
SCHEMA = "shop.shop.main"
TABLES = 7  # 5 tables and 2 views
EDGES = 5
FAST_RETRIES = {"attempts": 5, "initial_wait_seconds": 0.05, "max_wait_seconds": 0.2}

PROCESSORS: list[dict[str, Any]] = [
    {"type": "pii"},
    {
        "type": "assign",
        "config": {
            "rules": [
                {
                    "match": r"\.customers$",
                    "owners": [{"type": "user", "name": "alice"}],
                    "tier": "Tier1",
                }
            ]
        },
    },
]


class Shop:
    """The shop database, a workflow that sends it to OpenMetadata, and its state file."""

    def __init__(self, root: Path, server: str, **sink: Any) -> None:
        self.root = root
        self.db = root / "shop.sqlite"
        with sqlite3.connect(self.db) as con:
            con.executescript(SHOP_SQL.read_text())
        self.state = root / "state.duckdb"
        self.config = root / "workflow.yaml"
        self.write_config(server, **sink)

    def write_config(self, server: str, **sink: Any) -> None:
        config = {
            "workflow": "om",
            "source": {
                "type": "sql",
                "config": {"url": f"sqlite:///{self.db}", "service_name": SERVICE},
            },
            "processors": PROCESSORS,
            "sinks": [
                {
                    "type": "openmetadata",
                    "config": {
                        "server": server,
                        "token": "${env:SYNCER_TEST_OM_TOKEN}",
                        "retry": FAST_RETRIES,
                        **sink,
                    },
                }
            ],
            "state": {"path": str(self.state)},
        }
        self.config.write_text(yaml.safe_dump(config))

    def run(self) -> RunResult:
        return run_workflow(self.config)

    def execute(self, sql: str) -> None:
        with sqlite3.connect(self.db) as con:
            con.execute(sql)

    def pending(self) -> list[tuple[Any, ...]]:
        return query_state(self.state, "SELECT fqn, kind, last_error FROM pending_changes")

    def syncer(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**syncer_env(), "SYNCER_TEST_OM_TOKEN": os.environ["SYNCER_TEST_OM_TOKEN"]}
        return subprocess.run(
            [str(SYNCER), *args], capture_output=True, text=True, env=env, timeout=60
        )


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCER_TEST_OM_TOKEN", TOKEN)


@pytest.fixture
def om() -> Iterator[OpenMetadataServer]:
    with OpenMetadataServer(token=TOKEN, bulk=True, users=["alice", "bob"]) as server:
        yield server


@pytest.fixture
def shop(tmp_path: Path, om: OpenMetadataServer) -> Shop:
    return Shop(tmp_path, om.url)


def _sent(om: OpenMetadataServer) -> Counter[tuple[str, str]]:
    """How many times each entity was sent in a create-or-update request, by (path, name)."""
    names: Counter[tuple[str, str]] = Counter()
    for request in om.writes():
        if request.method != "PUT" or request.path == "/v1/lineage":
            continue
        bodies = request.body if isinstance(request.body, list) else [request.body]
        path = request.path.removesuffix("/bulk")
        names.update((path, str(body["name"])) for body in bodies)
    return names


def _first(om: OpenMetadataServer, prefix: str) -> int:
    return next(i for i, r in enumerate(om.requests) if r.path.startswith(prefix))


# --- the happy path ----------------------------------------------------------------------------


def test_a_first_sync_sends_every_entity_as_a_valid_request_parents_first(
    shop: Shop, om: OpenMetadataServer
) -> None:
    result = shop.run()

    assert result.status == "succeeded", result.error
    assert om.invalid == []
    assert [(r.sink, r.delivered, r.refused, r.error) for r in result.deliveries] == [
        ("openmetadata", 3 + TABLES + EDGES, 0, None)
    ]
    order = [
        _first(om, p)
        for p in ("/v1/services/databaseServices", "/v1/databases", "/v1/databaseSchemas")
    ]
    order += [_first(om, "/v1/tables"), _first(om, "/v1/lineage")]
    assert order == sorted(order)
    assert len(om.entities["table"]) == TABLES
    assert om.edge(f"{SCHEMA}.orders", f"{SCHEMA}.customer_orders") is not None
    archive = om.entity("table", f'{SCHEMA}."order.archive"')
    assert archive is not None and archive["sourceHash"]


def test_processors_shape_what_openmetadata_receives(shop: Shop, om: OpenMetadataServer) -> None:
    shop.run()

    customers = om.entity("table", f"{SCHEMA}.customers")
    assert customers is not None
    assert [o["name"] for o in customers["owners"]] == ["alice"]
    assert "Tier.Tier1" in {t["tagFQN"] for t in customers["tags"]}
    email = next(c for c in customers["columns"] if c["name"] == "email")
    assert "PII.Sensitive" in {t["tagFQN"] for t in email["tags"]}


def test_a_rerun_without_changes_sends_nothing(shop: Shop, om: OpenMetadataServer) -> None:
    shop.run()
    om.clear()

    result = shop.run()

    assert result.status == "succeeded"
    assert om.requests == []


def test_one_changed_table_sends_one_request(shop: Shop, om: OpenMetadataServer) -> None:
    shop.run()
    om.clear()
    shop.execute("ALTER TABLE products ADD COLUMN color VARCHAR(20)")

    shop.run()

    assert [(r.method, r.path) for r in om.requests] == [("PUT", "/v1/tables")]
    assert om.invalid == []
    products = om.entity("table", f"{SCHEMA}.products")
    assert products is not None and "color" in [c["name"] for c in products["columns"]]


def test_a_dropped_table_sends_one_soft_delete(shop: Shop, om: OpenMetadataServer) -> None:
    shop.run()
    archive = om.entity("table", f'{SCHEMA}."order.archive"')
    assert archive is not None
    om.clear()
    shop.execute('DROP TABLE "order.archive"')

    shop.run()

    deletes = [r for r in om.writes()]
    assert [(r.method, r.path, r.query) for r in deletes] == [
        ("DELETE", f"/v1/tables/{archive['id']}", {"hardDelete": "false", "recursive": "true"})
    ]
    assert om.entity("table", f'{SCHEMA}."order.archive"')["deleted"] is True  # type: ignore[index]
    assert om.invalid == []


def _stream(name: str, entity_type: str, *records: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "entity_type": entity_type, "records": list(records)}


SERVICE_TYPE = {"services": {"svc": {"type": "CustomDatabase"}}}  # the test catalog says Duckdb
DBT_TAG = {"tag_fqn": "dbtTags.finance", "label_type": "Automated"}
ORCHESTRATED = [
    *catalog([table("orders", tags=[DBT_TAG]), table("daily_revenue")]),
    _stream("pipeline_services", "pipelineService", {"name": "airflow", "service_type": "Airflow"}),
    _stream(
        "pipelines",
        "pipeline",
        {
            "name": "revenue",
            "service": "airflow",
            "schedule_interval": "@daily",
            "tasks": [
                {"name": "extract", "task_type": "PythonOperator", "downstream_tasks": ["load"]},
                {"name": "load", "task_type": "SQLExecuteQueryOperator"},
            ],
        },
    ),
    _stream(
        "runs",
        "pipelineStatus",
        {
            "pipeline": "airflow.revenue",
            "timestamp": 1_764_000_000_000,
            "execution_status": "Failed",
            "task_status": [
                {"name": "extract", "execution_status": "Successful"},
                {"name": "load", "execution_status": "Failed"},
            ],
        },
    ),
    _stream("model_services", "mlmodelService", {"name": "mlflow", "service_type": "Mlflow"}),
    _stream(
        "models",
        "mlmodel",
        {
            "name": "churn",
            "service": "mlflow",
            "algorithm": "sklearn",
            "ml_features": [{"name": "tenure", "data_type": "numerical"}],
            "ml_hyper_parameters": [{"name": "max_depth", "value": "6"}],
        },
    ),
    _stream(
        "tests",
        "testCase",
        {
            "name": "id_not_null",
            "table": f"{ENGINE_SCHEMA}.orders",
            "column": "id",
            "test_definition": "columnValuesToBeNotNull",
        },
        {
            "name": "customer_exists",
            "table": f"{ENGINE_SCHEMA}.orders",
            "column": "id",
            "test_definition": "dbtRelationships",
            "parameter_values": [{"name": "to", "value": "ref('customers')"}],
        },
    ),
    _stream(
        "results",
        "testCaseResult",
        {
            "test_case": f"{ENGINE_SCHEMA}.orders.id.id_not_null",
            "timestamp": 1_764_000_000_000,
            "test_case_status": "Failed",
            "result": "2 nulls",
        },
    ),
    _stream(
        "lineage",
        "lineage",
        {
            "from_entity": {"type": "table", "fully_qualified_name": f"{ENGINE_SCHEMA}.orders"},
            "to_entity": {"type": "pipeline", "fully_qualified_name": "airflow.revenue"},
            "source": "PipelineLineage",
        },
        {
            "from_entity": {"type": "pipeline", "fully_qualified_name": "airflow.revenue"},
            "to_entity": {
                "type": "table",
                "fully_qualified_name": f"{ENGINE_SCHEMA}.daily_revenue",
            },
            "source": "PipelineLineage",
        },
    ),
]


def test_pipelines_runs_models_test_cases_and_results_go_to_their_endpoints_valid(
    tmp_path: Path, om: OpenMetadataServer
) -> None:
    engine = Engine(tmp_path)
    engine.write(ORCHESTRATED)
    sink = OpenMetadataSink(
        OpenMetadataConfig.model_validate(
            {
                "server": om.url,
                "token": TOKEN,
                "retry": FAST_RETRIES,
                **SERVICE_TYPE,
            }
        )
    )

    result = engine.run(sinks={"openmetadata": sink})

    assert [(r.refused, r.error) for r in result.deliveries] == [(0, None)]
    assert om.invalid == []
    pipeline = om.entity("pipeline", "airflow.revenue")
    assert pipeline is not None
    assert {t["name"]: t.get("downstreamTasks") for t in pipeline["tasks"]}["extract"] == ["load"]
    assert om.entity("mlmodel", "mlflow.churn") is not None
    status = om.pipeline_statuses[("airflow.revenue", 1_764_000_000_000)]
    assert status["executionStatus"] == "Failed" and len(status["taskStatus"]) == 2
    [stored] = om.results(f"{ENGINE_SCHEMA}.orders.id.id_not_null")
    assert stored["testCaseStatus"] == "Failed"
    assert len(om.edges) == 2

    assert "dbtTags.finance" in om.tags and "dbtRelationships" in om.test_definitions

    om.clear()
    engine.run(sinks={"openmetadata": sink})
    assert om.requests == []  # a test result is sent once, never again

    # The pipeline goes, and its run and edges with it: the edges are deleted before it, and
    # its run is left to OpenMetadata's recursive delete.
    emptied = {"pipelines": [{"name": "other", "service": "airflow"}], "runs": [], "lineage": []}
    engine.write([{**s, "records": emptied.get(s["name"], s["records"])} for s in ORCHESTRATED])
    gone = engine.run(sinks={"openmetadata": sink}, deletions={"fail_safe_percent": 100})
    assert gone.counters.deleted == 4  # the pipeline, its run, its two edges
    writes = [(r.method, r.path.split("/")[2]) for r in om.writes()]
    assert writes == [
        ("PUT", "pipelines"),
        ("DELETE", "lineage"),
        ("DELETE", "lineage"),
        ("DELETE", "pipelines"),
    ]
    assert om.invalid == []


THROUGH_PIPELINE = [
    *catalog([table("orders"), table("daily_revenue")]),
    _stream("pipeline_services", "pipelineService", {"name": "airflow", "service_type": "Airflow"}),
    _stream("pipelines", "pipeline", {"name": "revenue", "service": "airflow"}),
    _stream(
        "lineage",
        "lineage",
        {
            "from_entity": {"type": "table", "fully_qualified_name": f"{ENGINE_SCHEMA}.orders"},
            "to_entity": {
                "type": "table",
                "fully_qualified_name": f"{ENGINE_SCHEMA}.daily_revenue",
            },
            "source": "OpenLineage",
            "pipeline": {"type": "pipeline", "fully_qualified_name": "airflow.revenue"},
        },
    ),
]


def _om_sink(om: OpenMetadataServer) -> OpenMetadataSink:
    config = {"server": om.url, "token": TOKEN, "retry": FAST_RETRIES, **SERVICE_TYPE}
    return OpenMetadataSink(OpenMetadataConfig.model_validate(config))


def _pipeline_of_edge(om: OpenMetadataServer) -> dict[str, Any]:
    edge = om.edge(f"{ENGINE_SCHEMA}.orders", f"{ENGINE_SCHEMA}.daily_revenue")
    assert edge is not None, "the edge did not reach OpenMetadata"
    pipeline: dict[str, Any] = edge["lineageDetails"]["pipeline"]
    return pipeline


def test_an_edge_through_a_pipeline_reaches_openmetadata_naming_that_pipeline(
    tmp_path: Path, om: OpenMetadataServer
) -> None:
    engine = Engine(tmp_path)
    engine.write(THROUGH_PIPELINE)

    result = engine.run(sinks={"openmetadata": _om_sink(om)})

    assert [(r.refused, r.error) for r in result.deliveries] == [(0, None)]
    assert om.invalid == []
    stored = om.entity("pipeline", "airflow.revenue")
    assert stored is not None
    pipeline = _pipeline_of_edge(om)
    assert (pipeline["id"], pipeline["type"]) == (stored["id"], "pipeline")
    assert pipeline["fullyQualifiedName"] == "airflow.revenue"
    [sent] = [r.body for r in om.writes() if r.path == "/v1/lineage"]
    assert sent["edge"]["lineageDetails"]["pipeline"] == {"id": stored["id"], "type": "pipeline"}


def test_an_edge_whose_pipeline_openmetadata_refused_waits_for_it_and_goes_once_it_is_there(
    tmp_path: Path, om: OpenMetadataServer
) -> None:
    engine = Engine(tmp_path)
    engine.write(THROUGH_PIPELINE)
    sink = _om_sink(om)
    om.refuse("airflow.revenue")

    first = engine.run(sinks={"openmetadata": sink})

    assert first.status == "partial" and first.deliveries[0].refused == 1
    assert first.deliveries[0].waiting == {"airflow.revenue": 1}
    assert om.edges == {}
    pending = query_state(
        engine.state_path, "SELECT entity_type, last_error FROM pending_changes ORDER BY seq"
    )
    assert [entity_type for entity_type, _ in pending] == ["pipeline", "lineage"]
    assert "airflow.revenue" in pending[1][1]

    del om.refusals["airflow.revenue"]
    second = engine.run(sinks={"openmetadata": sink})

    assert second.status == "succeeded", second.deliveries
    stored = om.entity("pipeline", "airflow.revenue")
    assert stored is not None and _pipeline_of_edge(om)["id"] == stored["id"]
    assert query_state(engine.state_path, "SELECT count(*) FROM pending_changes") == [(0,)]
    assert om.invalid == []


def test_a_tag_openmetadata_lacks_is_refused_by_name_when_the_sink_may_not_create_it(
    tmp_path: Path, om: OpenMetadataServer
) -> None:
    engine = Engine(tmp_path)
    engine.write(catalog([table("orders", tags=[DBT_TAG]), table("customers")]))
    config = {"server": om.url, "token": TOKEN, "create_tags": False, **SERVICE_TYPE}
    sink = OpenMetadataSink(OpenMetadataConfig.model_validate(config))

    result = engine.run(sinks={"openmetadata": sink})

    assert result.deliveries[0].refused == 1
    [(fqn, error)] = query_state(engine.state_path, "SELECT fqn, last_error FROM pending_changes")
    assert fqn == f"{ENGINE_SCHEMA}.orders"
    assert error.startswith("tag dbtTags.finance does not exist in OpenMetadata")
    assert om.entity("table", f"{ENGINE_SCHEMA}.customers") is not None


def test_a_refused_test_case_holds_back_its_results_until_it_is_delivered(
    tmp_path: Path, om: OpenMetadataServer
) -> None:
    om.test_definitions.discard("columnValuesToBeNotNull")
    om.test_definitions.add("dbtRelationships")
    engine = Engine(tmp_path)
    engine.write(ORCHESTRATED)
    config = {"server": om.url, "token": TOKEN, "create_test_definitions": False, **SERVICE_TYPE}
    sink = OpenMetadataSink(OpenMetadataConfig.model_validate(config))
    test_case = f"{ENGINE_SCHEMA}.orders.id.id_not_null"

    first = engine.run(sinks={"openmetadata": sink})

    [report] = first.deliveries
    assert (report.refused, report.waiting) == (1, {test_case: 1})
    assert first.status == "partial"
    # No result is sent for a test case OpenMetadata does not have: it waits, pending.
    assert not any("testCaseResults" in r.path for r in om.requests)
    assert om.entity("testCase", f"{ENGINE_SCHEMA}.orders.id.customer_exists") is not None
    pending = query_state(
        engine.state_path, "SELECT entity_type, last_error FROM pending_changes ORDER BY seq"
    )
    assert pending[0][0] == "testCase" and pending[0][1].startswith(
        "test definition columnValuesToBeNotNull does not exist in OpenMetadata"
    )
    assert pending[1:] == [
        ("testCaseResult", f"waits for {test_case}, which sink openmetadata refused")
    ]

    om.test_definitions.add("columnValuesToBeNotNull")
    om.clear()
    second = engine.run(sinks={"openmetadata": sink})

    assert second.status == "succeeded" and second.deliveries[0].waiting == {}
    writes = [(r.method, r.path.split("/")[3]) for r in om.writes()]
    assert writes == [("PUT", "testCases"), ("POST", "testCases")]  # the case, then its result
    [stored] = om.results(test_case)
    assert stored["testCaseStatus"] == "Failed"
    assert query_state(engine.state_path, "SELECT count(*) FROM pending_changes") == [(0,)]
    assert om.invalid == []


def _reassign_customers_to_bob(shop: Shop, om: OpenMetadataServer) -> None:
    """A person makes bob the owner in OpenMetadata; then the source changes the table."""
    customers = om.entity("table", f"{SCHEMA}.customers")
    assert customers is not None
    customers["owners"] = [{"id": om.users["bob"]["id"], "type": "user", "name": "bob"}]
    shop.execute("ALTER TABLE customers ADD COLUMN phone VARCHAR(20)")
    om.clear()


def test_owners_people_set_in_openmetadata_stay_unless_override_metadata_is_on(
    shop: Shop, om: OpenMetadataServer
) -> None:
    shop.run()
    _reassign_customers_to_bob(shop, om)

    shop.run()

    customers = om.entity("table", f"{SCHEMA}.customers")
    assert customers is not None and [o["name"] for o in customers["owners"]] == ["bob"]
    assert "phone" in [c["name"] for c in customers["columns"]]
    assert [r.method for r in om.writes()] == ["PUT"]


def test_override_metadata_puts_the_sources_owners_back(shop: Shop, om: OpenMetadataServer) -> None:
    shop.write_config(om.url, override_metadata=True)
    shop.run()
    _reassign_customers_to_bob(shop, om)

    shop.run()

    customers = om.entity("table", f"{SCHEMA}.customers")
    assert customers is not None and [o["name"] for o in customers["owners"]] == ["alice"]
    patch = om.writes()[-1]
    assert (patch.method, patch.headers["content-type"]) == ("PATCH", "application/json-patch+json")
    assert [op["path"] for op in patch.body] == ["/owners"]  # type: ignore[union-attr]
    assert om.invalid == []


# --- faults ------------------------------------------------------------------------------------


def test_a_429_with_retry_after_2_waits_about_two_seconds_then_succeeds(
    shop: Shop, om: OpenMetadataServer
) -> None:
    om.script(
        "PUT", "/v1/databases", (429, {"Retry-After": "2"}, {"code": 429, "message": "slow down"})
    )

    result = shop.run()

    assert result.status == "succeeded"
    first, second = [r for r in om.requests if r.path == "/v1/databases"]
    assert (first.status, second.status) == (429, 201)
    assert 1.9 <= second.time - first.time < 4
    assert len(om.entities["database"]) == 1


def test_a_burst_of_503s_is_retried_until_it_succeeds(shop: Shop, om: OpenMetadataServer) -> None:
    unavailable = (503, {}, {"code": 503, "message": "Service Unavailable"})
    om.script("PUT", "/v1/tables/bulk", unavailable, unavailable, unavailable)

    result = shop.run()

    assert result.status == "succeeded"
    assert [r.status for r in om.requests if r.path == "/v1/tables/bulk"] == [503, 503, 503, 200]
    assert len(om.entities["table"]) == TABLES


def test_a_400_for_one_table_leaves_the_others_delivered_and_that_one_pending(
    shop: Shop, om: OpenMetadataServer
) -> None:
    om.refuse(f"{SCHEMA}.products", 400, "columns[3].dataType is not valid")

    result = shop.run()

    assert result.deliveries[0].refused >= 1
    assert om.entity("table", f"{SCHEMA}.products") is None
    assert len(om.entities["table"]) == TABLES - 1
    [(_, kind, error)] = [p for p in shop.pending() if p[0] == f"{SCHEMA}.products"]
    assert (kind, error) == ("created", "HTTP 400: columns[3].dataType is not valid")
    listed = shop.syncer("changes", "--config", str(shop.config), "--pending")
    assert f"{SCHEMA}.products" in listed.stdout

    om.refusals.clear()
    om.clear()
    shop.run()

    assert om.entity("table", f"{SCHEMA}.products") is not None
    assert shop.pending() == []


def test_a_server_down_for_a_whole_run_gets_everything_next_run_once_each(
    shop: Shop, om: OpenMetadataServer
) -> None:
    om.down()
    down = shop.run()

    assert down.status == "partial"
    [report] = down.deliveries
    assert report.delivered == 0 and report.backlog == 3 + TABLES + EDGES
    assert "cannot connect" in (report.error or "")

    om.up()
    shop.run()

    assert om.invalid == []
    assert len(om.entities["table"]) == TABLES and len(om.edges) == EDGES
    sent = _sent(om)
    assert sent and set(sent.values()) == {1}, sent


# --- auth --------------------------------------------------------------------------------------


def test_a_wrong_token_fails_the_sink_and_never_shows_the_token(
    tmp_path: Path,
    om: OpenMetadataServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "wrong-token-value-93ab"
    monkeypatch.setenv("SYNCER_TEST_OM_TOKEN", wrong)
    shop = Shop(tmp_path, om.url)

    result = shop.run()

    [report] = result.deliveries
    assert report.error is not None and "refused the token (HTTP 401)" in report.error
    assert "wrong or expired" in report.error
    captured = capsys.readouterr()
    assert wrong not in captured.out + captured.err + report.error
    assert wrong.encode() not in shop.state.read_bytes()


def test_client_credentials_get_a_token_and_a_new_one_after_a_401(
    tmp_path: Path, om: OpenMetadataServer
) -> None:
    from syncer.steps import SinkContext

    sink = OpenMetadataSink(
        OpenMetadataConfig.model_validate(
            {
                "server": om.url,
                "auth": {
                    "provider": "client_credentials",
                    "token_url": om.token_url,
                    "client_id": "syncer",
                    "client_secret": "secret",
                },
            }
        )
    )
    sink.open(SinkContext("om", None))
    service = _change(1, "databaseService", SERVICE, {"name": SERVICE, "serviceType": "SQLite"})
    assert sink.write([service]) == {}
    om.expire_tokens()
    database = _change(2, "database", f"{SERVICE}.db", {"name": "db", "service": SERVICE})
    assert sink.write([database]) == {}
    sink.close()

    assert om.token_requests == 2
    assert [r.status for r in om.requests] == [201, 401, 201]


# --- test-connection ---------------------------------------------------------------------------


def test_test_connection_checks_the_server_the_token_and_its_rights(
    shop: Shop, om: OpenMetadataServer
) -> None:
    done = shop.syncer("test-connection", str(shop.config))

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"ok   sink openmetadata: server: OpenMetadata 1.6.2 at {om.url}" in lines
    assert "ok   sink openmetadata: token: accepted: bot ingestion-bot" in lines
    assert any(line.startswith("ok   sink openmetadata: rights: ") for line in lines)


def test_test_connection_names_the_rights_the_bot_lacks(shop: Shop, om: OpenMetadataServer) -> None:
    om.deny("table", "Delete")

    done = shop.syncer("test-connection", str(shop.config))

    assert done.returncode == 1
    [failed] = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert "rights: the token may not table: Delete" in failed


# --- a real OpenMetadata -----------------------------------------------------------------------


@pytest.mark.skipif(
    not os.environ.get("SYNCER_TEST_OPENMETADATA_URL"),
    reason="set SYNCER_TEST_OPENMETADATA_URL and SYNCER_TEST_OPENMETADATA_TOKEN to run "
    "against a real OpenMetadata",
)
def test_a_real_openmetadata_takes_the_sync_and_a_rerun_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = os.environ["SYNCER_TEST_OPENMETADATA_URL"].rstrip("/")
    token = os.environ["SYNCER_TEST_OPENMETADATA_TOKEN"]
    monkeypatch.setenv("SYNCER_TEST_OM_TOKEN", token)
    service = f"syncer_test_{uuid.uuid4().hex[:8]}"
    shop = Shop(tmp_path, url, services={SERVICE: {"name": service}})
    headers = {"Authorization": f"Bearer {token}"}
    try:
        first = shop.run()
        assert first.status == "succeeded", first.error
        found = requests.get(
            f"{url}/v1/tables/name/{service}.shop.main.orders", headers=headers, timeout=30
        )
        assert found.status_code == 200
        again = shop.run()
        assert again.deliveries[0].delivered == 0
    finally:
        response = requests.get(
            f"{url}/v1/services/databaseServices/name/{service}", headers=headers, timeout=30
        )
        if response.ok:
            requests.delete(
                f"{url}/v1/services/databaseServices/{response.json()['id']}",
                params={"hardDelete": "true", "recursive": "true"},
                headers=headers,
                timeout=60,
            )


def _change(seq: int, entity_type: str, key: str, payload: dict[str, Any]) -> Change:
    import orjson

    return Change(
        seq,
        1,
        "om",
        "s",
        key,
        entity_type,
        "created",
        None,
        None,
        [],
        orjson.dumps(payload).decode(),
    )
