"""Our entities as OpenMetadata's create requests: the pure mapping, without a server."""

from __future__ import annotations

from typing import Any

import orjson

from syncer.models import (
    Column,
    DatabaseService,
    EntityReference,
    LineageEdge,
    Table,
    TestCase,
    TestCaseResult,
)
from syncer.sinks.openmetadata import api
from syncer.sinks.openmetadata.api import Naming, ServiceName

PLAIN = Naming()


def _payload(entity: Any) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(entity.model_dump_json(exclude_none=True))
    return value


ORDERS = Table(
    name="orders",
    database_schema="shop.main.sales",
    columns=[
        Column(name="id", data_type="BIGINT"),
        Column(name="email", data_type="VARCHAR"),
    ],
    owners=[EntityReference(type="user", fully_qualified_name="alice")],
    updated_at="2026-11-24T10:00:00Z",
)


def test_a_table_request_names_its_schema_by_fqn_and_carries_our_fingerprint() -> None:
    body = api.create_request("table", _payload(ORDERS), "ab" * 16, PLAIN)
    assert body["name"] == "orders"
    assert body["databaseSchema"] == "shop.main.sales"
    assert body["sourceHash"] == "ab" * 16
    assert "updatedAt" not in body  # an observation time of ours, not a CreateTable field
    assert "owners" not in body  # resolved to ids by the sink


def test_a_varchar_without_a_length_gets_the_length_openmetadata_requires() -> None:
    body = api.create_request("table", _payload(ORDERS), None, PLAIN)
    email = next(c for c in body["columns"] if c["name"] == "email")
    assert email["dataLength"] == 1
    assert "dataLength" not in next(c for c in body["columns"] if c["name"] == "id")


def test_a_renamed_service_renames_every_fqn_that_hangs_under_it() -> None:
    naming = Naming({"shop": ServiceName("warehouse.prod", "Postgres")})
    service = api.create_request(
        "databaseService",
        _payload(DatabaseService(name="shop", service_type="SQLite")),
        None,
        naming,
    )
    assert (service["name"], service["serviceType"]) == ("warehouse.prod", "Postgres")
    table = api.create_request("table", _payload(ORDERS), None, naming)
    assert table["databaseSchema"] == '"warehouse.prod".main.sales'


def test_a_column_test_case_links_to_its_column() -> None:
    case = TestCase(
        name="email_not_null",
        table="shop.main.sales.orders",
        column="email",
        test_definition="columnValuesToBeNotNull",
    )
    body = api.create_request("testCase", _payload(case), None, PLAIN)
    assert body["entityLink"] == "<#E::table::shop.main.sales.orders::columns::email>"
    assert body["testDefinition"] == "columnValuesToBeNotNull"
    assert "table" not in body and "column" not in body


def test_a_lineage_edge_becomes_add_lineage_between_ids_with_its_column_lineage() -> None:
    edge = LineageEdge(
        from_entity=EntityReference(type="table", fully_qualified_name="shop.main.sales.orders"),
        to_entity=EntityReference(type="table", fully_qualified_name="shop.main.sales.v_orders"),
        columns_lineage=[
            {
                "from_columns": ["shop.main.sales.orders.id"],
                "to_column": "shop.main.sales.v_orders.id",
            }
        ],
        source="ViewLineage",
        sql_query="select id from orders",
    )
    body = api.lineage_request(_payload(edge), "id-1", "id-2", PLAIN)
    assert body == {
        "edge": {
            "fromEntity": {"id": "id-1", "type": "table"},
            "toEntity": {"id": "id-2", "type": "table"},
            "lineageDetails": {
                "source": "ViewLineage",
                "sqlQuery": "select id from orders",
                "columnsLineage": [
                    {
                        "fromColumns": ["shop.main.sales.orders.id"],
                        "toColumn": "shop.main.sales.v_orders.id",
                    }
                ],
            },
        }
    }


THROUGH_AIRFLOW = LineageEdge(
    from_entity=EntityReference(type="table", fully_qualified_name="shop.main.sales.orders"),
    to_entity=EntityReference(type="table", fully_qualified_name="shop.main.sales.revenue"),
    source="PipelineLineage",
    pipeline=EntityReference(type="pipeline", fully_qualified_name="airflow.revenue"),
)


def test_a_lineage_edge_through_a_pipeline_names_that_pipeline_by_id_in_its_details() -> None:
    body = api.lineage_request(_payload(THROUGH_AIRFLOW), "id-1", "id-2", PLAIN, pipeline_id="id-3")
    assert body["edge"]["lineageDetails"] == {
        "source": "PipelineLineage",
        "pipeline": {"id": "id-3", "type": "pipeline"},
    }
    assert body["edge"]["fromEntity"] == {"id": "id-1", "type": "table"}


def test_the_pipeline_of_an_edge_is_looked_up_under_the_renamed_service() -> None:
    naming = Naming({"airflow": ServiceName("airflow_prod")})
    assert api.lineage_pipeline(_payload(THROUGH_AIRFLOW), naming) == (
        "pipeline",
        "airflow_prod.revenue",
    )


def test_an_edge_without_a_pipeline_has_none_to_look_up_and_sends_none() -> None:
    plain = THROUGH_AIRFLOW.model_copy(update={"pipeline": None})
    assert api.lineage_pipeline(_payload(plain), PLAIN) is None
    body = api.lineage_request(_payload(plain), "id-1", "id-2", PLAIN)
    assert "pipeline" not in body["edge"]["lineageDetails"]


def test_a_test_result_is_posted_under_its_test_case_fqn() -> None:
    result = TestCaseResult(
        test_case="shop.main.sales.orders.email.email_not_null",
        timestamp=1_764_000_000_000,
        test_case_status="Failed",
        result="3 nulls",
    )
    payload = _payload(result)
    assert api.test_result_path(payload, PLAIN) == (
        "dataQuality/testCases/testCaseResults/shop.main.sales.orders.email.email_not_null"
    )
    assert api.test_result_request(payload) == {
        "timestamp": 1_764_000_000_000,
        "testCaseStatus": "Failed",
        "result": "3 nulls",
        "testResultValue": [],
    }
