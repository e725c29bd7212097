"""The openlineage source over a real inbox, filled with events that OpenLineage's own Python
client builds and serializes: an Airflow-like job with START/COMPLETE pairs, column lineage, a
FAIL, and a dataset whose namespace is mapped only later. Each case is a real run of the engine
into a state file, its changes caught by a memory sink."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    documentation_job,
    schema_dataset,
)
from openlineage.client.serde import Serde

from syncer.connectors.openlineage import Inbox, OpenLineageConfig, OpenLineageSource
from syncer.results import RunResult
from syncer.testing import MemorySink, run_source

PG = "postgres://db.internal:5432"
CRM = "mysql://crm.internal:3306"
JOB_NS = "airflow-prod"
JOB = "shop_etl.load_order_facts"
PIPELINE = 'openlineage."airflow-prod/shop_etl.load_order_facts"'
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def dataset(namespace: str, name: str, *, output: bool = False, **columns: list[str]) -> Any:
    """A dataset; for an output, `columns` maps each of its columns to input `table.column`s
    (of the postgres namespace) for the columnLineage facet."""
    if not output:
        return InputDataset(namespace=namespace, name=name)
    facets: dict[str, Any] = {
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(name=c, type="text") for c in columns]
        )
    }
    if columns:
        facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
            fields={
                column: column_lineage_dataset.Fields(
                    inputFields=[
                        column_lineage_dataset.InputField(
                            namespace=PG,
                            name=source.rsplit(".", 1)[0],
                            field=source.rsplit(".", 1)[1],
                        )
                        for source in sources
                    ]
                )
                for column, sources in columns.items()
            }
        )
    return OutputDataset(namespace=namespace, name=name, facets=facets)


def event(
    state: RunState,
    run_id: str,
    at: datetime,
    inputs: list[Any] | None = None,
    outputs: list[Any] | None = None,
    job: str = JOB,
) -> dict[str, Any]:
    built = RunEvent(
        eventType=state,
        eventTime=at.isoformat(),
        run=Run(runId=run_id),
        job=Job(
            namespace=JOB_NS,
            name=job,
            facets={"documentation": documentation_job.DocumentationJobFacet("Daily order facts")},
        ),
        inputs=inputs or [],
        outputs=outputs or [],
        producer="https://github.com/apache/airflow/tree/providers-openlineage/2.0.0",
    )
    parsed: dict[str, Any] = json.loads(Serde.to_json(built))
    return parsed


def a_run(
    state: RunState, at: datetime, inputs: list[Any], outputs: list[Any], job: str = JOB
) -> list[dict[str, Any]]:
    """A START and its end, the datasets on both, as Airflow's provider sends them."""
    run_id = str(uuid4())
    return [
        event(RunState.START, run_id, at, inputs, outputs, job),
        event(state, run_id, at + timedelta(minutes=5), inputs, outputs, job),
    ]


ORDERS = dataset(PG, "shop.public.orders")
CUSTOMERS = dataset(PG, "shop.public.customers")
ACCOUNTS = dataset(CRM, "crm.accounts")
FACTS = dataset(
    PG,
    "shop.analytics.order_facts",
    output=True,
    order_id=["shop.public.orders.id"],
    customer=["shop.public.customers.name", "shop.public.orders.customer_id"],
)


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    return Inbox(tmp_path / "inbox.sqlite", create=True)


def source(inbox: Inbox, **config: Any) -> OpenLineageSource:
    settings: dict[str, Any] = {"inbox": inbox.path, "namespaces": {PG: "warehouse"}, **config}
    return OpenLineageSource(OpenLineageConfig.model_validate(settings))


def sync(src: OpenLineageSource, tmp_path: Path, sink: MemorySink) -> RunResult:
    result = run_source(src, tmp_path / "state.duckdb", sinks=[("memory", sink)])
    assert result.status == "succeeded", result.error
    return result


def edges(sink: MemorySink, kind: str = "created") -> dict[str, dict[str, Any]]:
    return {c.key: c.payload for c in sink.written if c.entity_type == "lineage" and c.kind == kind}


def test_a_job_its_runs_and_its_column_lineage_reach_the_catalog(
    inbox: Inbox, tmp_path: Path
) -> None:
    inbox.append(a_run(RunState.COMPLETE, T0, [ORDERS, CUSTOMERS], [FACTS]))
    inbox.append(a_run(RunState.FAIL, T0 + timedelta(days=1), [ORDERS, CUSTOMERS], [FACTS]))
    sink = MemorySink()

    sync(source(inbox), tmp_path, sink)

    by_type = {(c.entity_type, c.key): c.payload for c in sink.written}
    assert by_type["pipelineService", "openlineage"]["serviceType"] == "OpenLineage"
    pipeline = by_type["pipeline", PIPELINE]
    assert (pipeline["displayName"], pipeline["description"]) == (JOB, "Daily order facts")
    statuses = sorted(
        (p["timestamp"], p["executionStatus"], p["endTime"])
        for (kind, _), p in by_type.items()
        if kind == "pipelineStatus"
    )
    start = int(T0.timestamp() * 1000)
    day, five_minutes = 86_400_000, 300_000
    assert statuses == [
        (start, "Successful", start + five_minutes),
        (start + day, "Failed", start + day + five_minutes),
    ]
    found = edges(sink)
    facts = "warehouse.shop.analytics.order_facts"
    assert sorted(found) == [
        f"warehouse.shop.public.customers->{facts}",
        f"warehouse.shop.public.orders->{facts}",
    ]
    from_orders = found[f"warehouse.shop.public.orders->{facts}"]
    assert from_orders["source"] == "OpenLineage"
    assert from_orders["pipeline"] == {"type": "pipeline", "fullyQualifiedName": PIPELINE}
    orders = "warehouse.shop.public.orders"
    assert from_orders["columnsLineage"] == [
        {"fromColumns": [f"{orders}.customer_id"], "toColumn": f"{facts}.customer"},
        {"fromColumns": [f"{orders}.id"], "toColumn": f"{facts}.order_id"},
    ]
    assert found[f"warehouse.shop.public.customers->{facts}"]["columnsLineage"] == [
        {"fromColumns": ["warehouse.shop.public.customers.name"], "toColumn": f"{facts}.customer"}
    ]


def test_a_rerun_and_a_resent_event_send_nothing(inbox: Inbox, tmp_path: Path) -> None:
    events = a_run(RunState.COMPLETE, T0, [ORDERS], [FACTS])
    inbox.append(events)
    src = source(inbox)
    sync(src, tmp_path, MemorySink())

    assert inbox.append(events) == 0
    again = MemorySink()
    result = sync(src, tmp_path, again)

    assert again.written == []
    assert result.counters.created == result.counters.updated == result.counters.deleted == 0


def test_statuses_are_read_from_where_the_last_run_left_the_inbox(
    inbox: Inbox, tmp_path: Path
) -> None:
    for day in range(3):
        inbox.append(a_run(RunState.COMPLETE, T0 + timedelta(days=day), [ORDERS], [FACTS]))
    src = source(inbox)
    sync(src, tmp_path, MemorySink())
    inbox.append(a_run(RunState.COMPLETE, T0 + timedelta(days=3), [ORDERS], [FACTS]))

    result = sync(src, tmp_path, MemorySink())

    # The run at the watermark comes again (the bound is inclusive), then the new one.
    assert result.streams["pipeline_statuses"].scanned == 2
    assert result.streams["pipeline_statuses"].created == 1


def test_a_run_still_going_is_sent_once_it_ended(inbox: Inbox, tmp_path: Path) -> None:
    start, end = a_run(RunState.COMPLETE, T0, [ORDERS], [FACTS])
    inbox.append([start])
    src = source(inbox)
    first = MemorySink()
    sync(src, tmp_path, first)
    assert not [c for c in first.written if c.entity_type == "pipelineStatus"]

    inbox.append([end])
    second = MemorySink()
    sync(src, tmp_path, second)

    [status] = [c.payload for c in second.written if c.entity_type == "pipelineStatus"]
    assert status["executionStatus"] == "Successful"


def test_an_edge_to_an_unmapped_namespace_waits_until_the_namespace_is_mapped(
    inbox: Inbox, tmp_path: Path
) -> None:
    inbox.append(a_run(RunState.COMPLETE, T0, [ORDERS, ACCOUNTS], [FACTS]))
    first = MemorySink()
    sync(source(inbox), tmp_path, first)
    facts = "warehouse.shop.analytics.order_facts"
    # customers is not an input of the run, but the columnLineage facet names it.
    assert sorted(edges(first)) == [
        f"warehouse.shop.public.customers->{facts}",
        f"warehouse.shop.public.orders->{facts}",
    ]

    mapped = source(inbox, namespaces={PG: "warehouse", CRM: "crm.app"})
    later = MemorySink()
    sync(mapped, tmp_path, later)

    assert sorted(edges(later)) == [f"crm.app.crm.accounts->{facts}"]


def test_an_edge_a_job_stopped_producing_for_n_runs_is_retired(
    inbox: Inbox, tmp_path: Path
) -> None:
    # Enough edges that retiring one stays under the deletion fail-safe (20%).
    inputs = [dataset(PG, f"shop.public.t{i}") for i in range(5)]
    target = dataset(PG, "shop.analytics.order_facts", output=True)
    src = source(inbox, retire_after_runs=2)
    inbox.append(a_run(RunState.COMPLETE, T0, [*inputs, ORDERS], [target]))
    sync(src, tmp_path, MemorySink())
    retired = "warehouse.shop.public.orders->warehouse.shop.analytics.order_facts"

    inbox.append(a_run(RunState.COMPLETE, T0 + timedelta(days=1), inputs, [target]))
    one_run_later = MemorySink()
    sync(src, tmp_path, one_run_later)
    assert edges(one_run_later, "deleted") == {}

    inbox.append(a_run(RunState.COMPLETE, T0 + timedelta(days=2), inputs, [target]))
    two_runs_later = MemorySink()
    sync(src, tmp_path, two_runs_later)
    assert list(edges(two_runs_later, "deleted")) == [retired]


def test_a_missing_inbox_fails_the_connection_test_and_names_the_fix(tmp_path: Path) -> None:
    src = OpenLineageSource(OpenLineageConfig(inbox=tmp_path / "nowhere.sqlite"))

    report = src.test_connection()

    assert not report.ok
    assert "start `syncer serve` to create it" in report.checks[0][2]


# `dbt-ol build` (openlineage-dbt 1.54, dbt-core 1.10, dbt-duckdb) run on
# tests/fixtures/dbt/shop_project with a file transport, the DuckDB file's path replaced by
# /dbt/shop.duckdb: 28 events, one FAIL (a test that fails on purpose).
DBT_OL_EVENTS = Path(__file__).parents[3] / "fixtures/openlineage/dbt_ol_shop_build.jsonl"


def test_a_dbt_ol_build_of_the_shop_project_gives_its_model_lineage_edge_by_edge(
    inbox: Inbox, tmp_path: Path
) -> None:
    lines = DBT_OL_EVENTS.read_text(encoding="utf-8").splitlines()
    assert inbox.append([json.loads(line) for line in lines]) == len(lines)
    src = source(inbox, namespaces={"duckdb:///dbt/shop.duckdb": "warehouse"})
    sink = MemorySink()

    sync(src, tmp_path, sink)

    found = edges(sink)
    shop = "warehouse.shop"
    # The seeds (raw_*) and stg_payments (read through an ephemeral model) are named only by
    # the columnLineage facet, not among the runs' inputs.
    assert sorted(found) == [
        f"{shop}.main.int_order_payments->{shop}.main_marts.orders",
        f"{shop}.main.stg_customers->{shop}.main_marts.customer_orders",
        f"{shop}.main.stg_orders->{shop}.main_marts.orders",
        f"{shop}.main.stg_orders->{shop}.main_snapshots.orders_snapshot",
        f"{shop}.main.stg_payments->{shop}.main_marts.orders",
        f"{shop}.main_marts.orders->{shop}.main_marts.customer_orders",
        f"{shop}.main_raw.raw_customers->{shop}.main.stg_customers",
        f"{shop}.main_raw.raw_orders->{shop}.main.stg_orders",
        f"{shop}.payments.payments->{shop}.main.stg_payments",
    ]
    assert {
        "fromColumns": [
            f"{shop}.main_raw.raw_customers.first_name",
            f"{shop}.main_raw.raw_customers.last_name",
        ],
        "toColumn": f"{shop}.main.stg_customers.full_name",
    } in found[f"{shop}.main_raw.raw_customers->{shop}.main.stg_customers"]["columnsLineage"]
    failed = [
        c.key
        for c in sink.written
        if c.entity_type == "pipelineStatus" and c.payload["executionStatus"] == "Failed"
    ]
    assert len(failed) == 2  # the failing test, and the dbt run it failed


# --- datasets in unmapped namespaces ----------------------------------------------------------

CRM_SERVICE = "openlineage_mysql_crm_internal_3306"
ACCOUNTS_TABLE = f"{CRM_SERVICE}.default.crm.accounts"
FACTS_TABLE = "warehouse.shop.analytics.order_facts"


def notices(result: RunResult) -> list[str]:
    """The run's warnings that came from a stream's reader (the others name the tables of
    another workflow, which this one never emits)."""
    return [w for w in result.warnings if w.startswith("stream ")]


def described(namespace: str, name: str, **types: str) -> Any:
    """An input whose `schema` facet gives its columns and their types."""
    fields = [schema_dataset.SchemaDatasetFacetFields(name=c, type=t) for c, t in types.items()]
    facets: dict[str, Any] = {"schema": schema_dataset.SchemaDatasetFacet(fields=fields)}
    return InputDataset(namespace=namespace, name=name, facets=facets)


def test_a_held_back_dataset_is_a_run_warning_that_names_the_namespace_to_add(
    inbox: Inbox, tmp_path: Path
) -> None:
    inbox.append(a_run(RunState.COMPLETE, T0, [ORDERS, ACCOUNTS], [FACTS]))

    result = sync(source(inbox), tmp_path, MemorySink())

    assert notices(result) == [
        f"stream lineage: lineage of dataset {CRM}/crm.accounts is held back: its namespace "
        f"{CRM} is not mapped: add it to the source's namespaces with the service name our sql "
        "source gives that server, or set unknown_datasets: create"
    ]
    assert result.streams["lineage"].scanned == 2 and result.streams["lineage"].errors == 0


def test_with_create_an_unmapped_dataset_gets_a_table_with_its_columns_and_its_edge_at_once(
    inbox: Inbox, tmp_path: Path
) -> None:
    accounts = described(CRM, "crm.accounts", id="int unsigned", owner="varchar(80)")
    inbox.append(a_run(RunState.COMPLETE, T0, [ORDERS, accounts], [FACTS]))
    sink = MemorySink()

    result = sync(source(inbox, unknown_datasets="create"), tmp_path, sink)

    assert notices(result) == []
    made = {(c.entity_type, c.key): c.payload for c in sink.written if c.kind == "created"}
    assert made["databaseService", CRM_SERVICE]["serviceType"] == "Mysql"
    assert ("database", f"{CRM_SERVICE}.default") in made
    assert ("databaseSchema", f"{CRM_SERVICE}.default.crm") in made
    columns = made["table", ACCOUNTS_TABLE]["columns"]
    assert [(c["name"], c["dataType"]) for c in columns] == [("id", "INT"), ("owner", "VARCHAR")]
    assert [k for t, k in made if t == "table"] == [ACCOUNTS_TABLE]  # mapped ones are not made
    assert f"{ACCOUNTS_TABLE}->{FACTS_TABLE}" in edges(sink)
    order = [c.entity_type for c in sink.written]
    assert order.index("table") < order.index("lineage")


def test_with_create_a_dataset_only_column_lineage_names_gets_no_table(
    inbox: Inbox, tmp_path: Path
) -> None:
    hinted = dataset(PG, "shop.analytics.order_facts", output=True, order_id=["cte.x.id"])
    facet = hinted.facets["columnLineage"]
    facet.fields["order_id"].inputFields[0].namespace = "dbt://ephemeral"
    inbox.append(a_run(RunState.COMPLETE, T0, [ORDERS], [hinted]))
    sink = MemorySink()

    sync(source(inbox, unknown_datasets="create"), tmp_path, sink)

    assert not [c for c in sink.written if c.entity_type == "table"]
    assert list(edges(sink)) == [f"warehouse.shop.public.orders->{FACTS_TABLE}"]


def test_with_create_a_rerun_sends_nothing_and_a_new_column_updates_the_table(
    inbox: Inbox, tmp_path: Path
) -> None:
    inbox.append(a_run(RunState.COMPLETE, T0, [described(CRM, "crm.accounts", id="int")], [FACTS]))
    src = source(inbox, unknown_datasets="create")
    sync(src, tmp_path, MemorySink())

    again = MemorySink()
    sync(src, tmp_path, again)
    assert again.written == []

    wider = described(CRM, "crm.accounts", id="int", region="text")
    inbox.append(a_run(RunState.COMPLETE, T0 + timedelta(days=1), [wider], [FACTS]))
    later = MemorySink()
    sync(src, tmp_path, later)
    [table] = [c for c in later.written if c.entity_type == "table"]
    assert (table.kind, table.key) == ("updated", ACCOUNTS_TABLE)
    assert [c["name"] for c in table.payload["columns"]] == ["id", "region"]


def test_with_pending_the_source_has_no_table_streams(inbox: Inbox) -> None:
    names = [s.name for s in source(inbox).streams()]
    created = [s.name for s in source(inbox, unknown_datasets="create").streams()]

    assert names == ["services", "pipelines", "pipeline_statuses", "lineage"]
    assert created == [
        "services",
        "pipelines",
        "pipeline_statuses",
        "database_services",
        "databases",
        "database_schemas",
        "tables",
        "lineage",
    ]
