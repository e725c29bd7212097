"""Datasets in namespaces that no `namespaces` entry maps, end to end: the real OpenLineage
client sends a job's runs to `syncer serve`, and `syncer run` (the command line, a JSONL sink)
either makes each dataset a table of its own (`unknown_datasets: create`) or holds its edges
back and says so in the run's warnings (`pending`)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset

from tests.integration.test_openlineage_serve import Served
from tests.support.workspace import SYNCER

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
PG = "postgres://db.internal:5432"
CRM = "mysql://crm.internal:3306"
PG_SERVICE = "openlineage_postgres_db_internal_5432"
CRM_SERVICE = "openlineage_mysql_crm_internal_3306"
ORDERS = f"{PG_SERVICE}.shop.public.orders"
DAILY = f"{PG_SERVICE}.shop.public.daily"
ACCOUNTS = f"{CRM_SERVICE}.default.crm.accounts"


def fields(**types: str) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in types.items()]
    )


def daily_totals(state: RunState, run_id: str) -> RunEvent:
    """A job that reads orders (postgres) and accounts (mysql) and writes daily totals."""
    lineage = column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            "total": column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=PG, name="shop.public.orders", field="amount"
                    )
                ]
            )
        }
    )
    return RunEvent(
        eventType=state,
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=run_id),
        job=Job(namespace="airflow", name="shop.daily_totals"),
        producer="https://github.com/apache/airflow/tree/providers-openlineage/2.0.0",
        inputs=[
            InputDataset(
                namespace=PG,
                name="shop.public.orders",
                facets={"schema": fields(id="integer", amount="numeric(10,2)")},
            ),
            InputDataset(
                namespace=CRM, name="crm.accounts", facets={"schema": fields(id="int unsigned")}
            ),
        ],
        outputs=[
            OutputDataset(
                namespace=PG,
                name="shop.public.daily",
                facets={
                    "schema": fields(day="date", total="numeric"),
                    "columnLineage": lineage,
                },
            )
        ],
    )


@pytest.fixture
def served(tmp_path: Path, subprocess_env: dict[str, str]) -> Iterator[Served]:
    server = Served(tmp_path, subprocess_env, unknown_datasets="create")
    try:
        run_id = str(uuid4())
        client = server.client()
        client.emit(daily_totals(RunState.START, run_id))
        client.emit(daily_totals(RunState.COMPLETE, run_id))
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.communicate()


def sync(served: Served, *args: str) -> dict[str, Any]:
    """`syncer run --format json` on the served workflow, while the receiver keeps serving."""
    done = subprocess.run(
        [str(SYNCER), "run", str(served.config), "--format", "json", *args],
        cwd=served.config.parent,
        env=served.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def changes(served: Served) -> list[dict[str, Any]]:
    if not served.out.exists():
        return []
    lines = served.out.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def of(found: list[dict[str, Any]], kind: str, entity_type: str) -> dict[str, dict[str, Any]]:
    return {
        c["fqn"]: c["entity"] for c in found if c["kind"] == kind and c["entityType"] == entity_type
    }


def test_unmapped_datasets_become_tables_with_columns_and_their_edges_reach_the_sink(
    served: Served,
) -> None:
    document = sync(served)

    assert document["status"] == "succeeded"
    assert document["warnings"] == []
    found = changes(served)
    services = of(found, "created", "databaseService")
    assert {name: s["serviceType"] for name, s in services.items()} == {
        PG_SERVICE: "Postgres",
        CRM_SERVICE: "Mysql",
    }
    assert sorted(of(found, "created", "databaseSchema")) == [
        f"{CRM_SERVICE}.default.crm",
        f"{PG_SERVICE}.shop.public",
    ]
    tables = of(found, "created", "table")
    assert sorted(tables) == [ACCOUNTS, DAILY, ORDERS]
    assert [(c["name"], c["dataType"]) for c in tables[ORDERS]["columns"]] == [
        ("id", "INT"),
        ("amount", "NUMERIC"),
    ]
    assert [(c["name"], c["dataType"]) for c in tables[ACCOUNTS]["columns"]] == [("id", "INT")]
    edges = of(found, "created", "lineage")
    assert sorted(edges) == [f"{ACCOUNTS}->{DAILY}", f"{ORDERS}->{DAILY}"]
    assert edges[f"{ORDERS}->{DAILY}"]["columnsLineage"] == [
        {"fromColumns": [f"{ORDERS}.amount"], "toColumn": f"{DAILY}.total"}
    ]
    assert [c["entityType"] for c in found].index("lineage") > max(
        i for i, c in enumerate(found) if c["entityType"] == "table"
    )

    again = sync(served)

    assert {k: again["total"][k] for k in ("created", "updated", "deleted")} == {
        "created": 0,
        "updated": 0,
        "deleted": 0,
    }
    assert changes(served) == found


def test_a_namespace_mapped_later_retires_its_created_tables(served: Served) -> None:
    sync(served)
    before = len(changes(served))
    served.write_config(unknown_datasets="create", namespaces={PG: "warehouse"})

    refused = sync(served)  # two of three tables, half the services: past the fail-safe
    assert refused["total"]["deleted"] == 0
    assert any("deletions refused" in w for w in refused["warnings"]), refused["warnings"]
    assert of(changes(served)[before:], "deleted", "table") == {}
    document = sync(served, "--fail-safe-percent", "100")

    assert document["status"] == "succeeded"
    later = changes(served)[before:]
    assert sorted(of(later, "deleted", "table")) == [DAILY, ORDERS]
    assert list(of(later, "deleted", "databaseService")) == [PG_SERVICE]
    assert sorted(of(later, "created", "lineage")) == [
        f"{ACCOUNTS}->warehouse.shop.public.daily",
        "warehouse.shop.public.orders->warehouse.shop.public.daily",
    ]
    assert of(later, "created", "table") == {}


def test_mapping_the_last_namespace_too_retires_every_created_table(served: Served) -> None:
    sync(served)
    before = len(changes(served))
    served.write_config(unknown_datasets="create", namespaces={PG: "warehouse", CRM: "crm"})

    document = sync(served, "--fail-safe-percent", "100")

    assert document["status"] == "succeeded"
    later = changes(served)[before:]
    assert sorted(of(later, "deleted", "table")) == [ACCOUNTS, DAILY, ORDERS]
    assert sorted(of(later, "deleted", "databaseService")) == [CRM_SERVICE, PG_SERVICE]


def test_with_pending_the_run_warns_of_each_held_back_dataset_and_sends_no_edge(
    served: Served,
) -> None:
    served.write_config(namespaces={PG: "warehouse"})

    document = sync(served)

    held_back = [w for w in document["warnings"] if "held back" in w]
    assert held_back == [
        f"stream lineage: lineage of dataset {CRM}/crm.accounts is held back: its namespace "
        f"{CRM} is not mapped: add it to the source's namespaces with the service name our sql "
        "source gives that server, or set unknown_datasets: create"
    ]
    assert sorted(of(changes(served), "created", "lineage")) == [
        "warehouse.shop.public.orders->warehouse.shop.public.daily"
    ]
