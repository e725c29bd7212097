"""The local OpenMetadata server: it accepts what OpenMetadata accepts, and records the rest."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.support.openmetadata import DROP, OpenMetadataServer

TOKEN = "test-token"
INCLUDE = ["all", "deleted", "non-deleted"]
TAG = {
    "tagFQN": "PII.Sensitive",
    "source": "Classification",
    "labelType": "Manual",
    "state": "Confirmed",
}


@pytest.fixture
def om() -> Iterator[OpenMetadataServer]:
    with OpenMetadataServer(token=TOKEN, bulk=True, users=["alice"], teams=["finance"]) as server:
        yield server


def call(
    om: OpenMetadataServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = TOKEN,
    content_type: str | None = None,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        headers["Content-Type"] = content_type or "application/json"
        data = body if isinstance(body, str) else json.dumps(body)
    return requests.request(method, om.url + path, data=data, headers=headers, timeout=5)


def stored(om: OpenMetadataServer, entity_type: str, name: str) -> dict[str, Any]:
    entity = om.entity(entity_type, name)
    assert entity is not None, f"no {entity_type} {name}"
    return entity


def table(name: str = "orders", schema: str = "shop.db.main", **fields: Any) -> dict[str, Any]:
    columns = [
        {"name": "id", "dataType": "INT", "constraint": "PRIMARY_KEY"},
        {"name": "total", "dataType": "DECIMAL", "precision": 10, "scale": 2},
    ]
    return {"name": name, "databaseSchema": schema, "columns": columns, **fields}


def hierarchy(om: OpenMetadataServer) -> None:
    """Service `shop`, database `shop.db`, schema `shop.db.main`."""
    for path, body in [
        ("/v1/services/databaseServices", {"name": "shop", "serviceType": "SQLite"}),
        ("/v1/databases", {"name": "db", "service": "shop"}),
        ("/v1/databaseSchemas", {"name": "main", "database": "shop.db"}),
    ]:
        assert call(om, "PUT", path, body).status_code == 201


@pytest.fixture
def shop(om: OpenMetadataServer) -> OpenMetadataServer:
    hierarchy(om)
    assert call(om, "PUT", "/v1/tables", table()).status_code == 201
    return om


# -- create or update ----------------------------------------------------------------------------


def test_a_valid_create_request_is_stored_with_id_fqn_version_and_column_fqns(
    om: OpenMetadataServer,
) -> None:
    hierarchy(om)
    response = call(
        om, "PUT", "/v1/tables", table(tags=[TAG], sourceHash="a" * 32, tableType="View")
    )

    assert response.status_code == 201
    entity = response.json()
    assert entity["fullyQualifiedName"] == "shop.db.main.orders"
    assert entity["version"] == 0.1
    assert entity["deleted"] is False
    assert uuid.UUID(entity["id"])
    assert entity["href"] == f"{om.url}/v1/tables/{entity['id']}"
    assert entity["databaseSchema"]["fullyQualifiedName"] == "shop.db.main"
    assert [c["fullyQualifiedName"] for c in entity["columns"]] == [
        "shop.db.main.orders.id",
        "shop.db.main.orders.total",
    ]
    assert om.entity("table", "shop.db.main.orders") == entity
    assert om.invalid == []


def test_putting_a_request_again_answers_200_and_changes_the_version_only_on_a_change(
    shop: OpenMetadataServer,
) -> None:
    same = call(shop, "PUT", "/v1/tables", table())
    changed = call(shop, "PUT", "/v1/tables", table(description="Orders placed"))

    assert (same.status_code, same.json()["version"]) == (200, 0.1)
    assert (changed.status_code, changed.json()["version"]) == (200, 0.2)
    assert changed.json()["id"] == same.json()["id"]


def test_a_name_with_a_dot_is_quoted_in_the_fqn(shop: OpenMetadataServer) -> None:
    response = call(shop, "PUT", "/v1/tables", table("order.archive"))

    assert response.json()["fullyQualifiedName"] == 'shop.db.main."order.archive"'
    by_name = call(shop, "GET", "/v1/tables/name/" + quote('shop.db.main."order.archive"', safe=""))
    assert by_name.status_code == 200


@pytest.mark.parametrize(
    ("request_body", "complaint"),
    [
        ({"name": "orders", "databaseSchema": "shop.db.main"}, "'columns' is a required property"),
        (
            table(columns=[{"name": "id", "dataType": "VARCHAR2"}]),
            "body.columns[0].dataType: 'VARCHAR2'",
        ),
        (table(rowCount=3), "'rowCount' was unexpected"),
        (table(sourceHash="a" * 33), "body.sourceHash"),
        (table(tags=[{**TAG, "labelType": "Guessed"}]), "body.tags[0].labelType"),
        (table(owners=[{"id": "not-a-uuid", "type": "user"}]), "body.owners[0].id"),
        (table(tableType="Temporary"), "body.tableType: 'Temporary' is not an allowed value"),
    ],
    ids=[
        "missing required",
        "wrong enum",
        "unknown field",
        "long sourceHash",
        "tag label",
        "owner id",
        "table type",
    ],
)
def test_a_request_against_the_schema_gets_400_and_is_recorded(
    shop: OpenMetadataServer, request_body: dict[str, Any], complaint: str
) -> None:
    response = call(shop, "PUT", "/v1/tables", request_body)

    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert complaint in response.json()["message"]
    assert any(complaint in problem for problem in shop.invalid)


def test_service_types_are_openmetadatas(om: OpenMetadataServer) -> None:
    assert (
        call(
            om, "PUT", "/v1/services/pipelineServices", {"name": "af", "serviceType": "Airflow"}
        ).status_code
        == 201
    )
    assert (
        call(
            om, "PUT", "/v1/services/mlmodelServices", {"name": "ml", "serviceType": "Mlflow"}
        ).status_code
        == 201
    )
    assert (
        call(
            om, "PUT", "/v1/services/databaseServices", {"name": "d", "serviceType": "DuckDB"}
        ).status_code
        == 400
    )


def test_a_body_that_is_not_json_or_not_declared_json_is_rejected(shop: OpenMetadataServer) -> None:
    assert call(shop, "PUT", "/v1/tables", "{not json").status_code == 400
    assert call(shop, "PUT", "/v1/tables", table(), content_type="text/plain").status_code == 400
    assert len(shop.invalid) == 2


def test_a_child_of_an_unknown_parent_gets_openmetadatas_404(om: OpenMetadataServer) -> None:
    response = call(om, "PUT", "/v1/tables", table(schema="shop.db.nowhere"))

    assert response.status_code == 404
    assert response.json() == {
        "code": 404,
        "message": "databaseSchema instance for shop.db.nowhere not found",
    }
    assert om.invalid == []  # a missing parent is a state, not a malformed request


def test_owners_must_be_known_users_or_teams(shop: OpenMetadataServer) -> None:
    alice = call(shop, "GET", "/v1/users/name/alice").json()
    finance = call(shop, "GET", "/v1/teams/name/finance").json()
    stranger = str(uuid.uuid4())

    owned = call(
        shop,
        "PUT",
        "/v1/tables",
        table(owners=[{"id": alice["id"], "type": "user"}, {"id": finance["id"], "type": "team"}]),
    )
    unknown = call(shop, "PUT", "/v1/tables", table(owners=[{"id": stranger, "type": "user"}]))

    assert owned.status_code == 200
    assert [o["name"] for o in owned.json()["owners"]] == ["alice", "finance"]
    assert unknown.json() == {"code": 404, "message": f"user instance for {stranger} not found"}
    assert call(shop, "GET", "/v1/users/name/bob").status_code == 404


def test_pipelines_and_ml_models_hang_off_their_services(om: OpenMetadataServer) -> None:
    call(om, "PUT", "/v1/services/pipelineServices", {"name": "af", "serviceType": "Airflow"})
    call(om, "PUT", "/v1/services/mlmodelServices", {"name": "ml", "serviceType": "Mlflow"})
    tasks = [
        {"name": "load", "downstreamTasks": ["report"], "taskType": "PythonOperator"},
        {"name": "report"},
    ]
    pipeline = call(
        om,
        "PUT",
        "/v1/pipelines",
        {"name": "daily", "service": "af", "tasks": tasks, "scheduleInterval": "@daily"},
    )
    features = [{"name": "age", "dataType": "numerical"}]
    model = call(
        om,
        "PUT",
        "/v1/mlmodels",
        {"name": "churn", "service": "ml", "algorithm": "xgboost", "mlFeatures": features},
    )
    no_algorithm = call(om, "PUT", "/v1/mlmodels", {"name": "churn", "service": "ml"})

    assert (pipeline.status_code, pipeline.json()["fullyQualifiedName"]) == (201, "af.daily")
    assert (model.status_code, model.json()["fullyQualifiedName"]) == (201, "ml.churn")
    assert no_algorithm.status_code == 400


# -- authentication ------------------------------------------------------------------------------


def test_a_request_without_a_token_gets_openmetadatas_401_and_is_recorded(
    om: OpenMetadataServer,
) -> None:
    response = call(om, "GET", "/v1/system/version", token=None)

    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Not Authorized! Token verification failed"}
    assert om.invalid == ["GET /v1/system/version: no Authorization header"]


def test_an_unknown_token_gets_401_without_being_a_mistake(om: OpenMetadataServer) -> None:
    assert call(om, "GET", "/v1/system/version", token="forged").status_code == 401
    assert om.invalid == []


def test_oauth_tokens_are_issued_to_the_configured_client_and_expire() -> None:
    with OpenMetadataServer(client_id="app", client_secret="s3cret", token_ttl=60) as om:
        form = {"grant_type": "client_credentials"}
        by_basic = requests.post(om.token_url, data=form, auth=("app", "s3cret"), timeout=5)
        by_form = requests.post(
            om.token_url, data={**form, "client_id": "app", "client_secret": "s3cret"}, timeout=5
        )
        wrong = requests.post(om.token_url, data=form, auth=("app", "guess"), timeout=5)

        assert by_basic.status_code == by_form.status_code == 200
        assert by_basic.json()["token_type"] == "Bearer"
        assert by_basic.json()["expires_in"] == 60
        assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client"})
        assert om.token_requests == 3
        token = by_basic.json()["access_token"]
        assert call(om, "GET", "/v1/system/version", token=token).status_code == 200
        om.expire_tokens()
        assert call(om, "GET", "/v1/system/version", token=token).status_code == 401


# -- reads and query parameters ------------------------------------------------------------------


def test_get_by_name_accepts_fields_and_include_and_records_other_parameters(
    shop: OpenMetadataServer,
) -> None:
    path = "/v1/tables/name/shop.db.main.orders"

    assert call(shop, "GET", path + "?fields=owners,tags&include=all").status_code == 200
    assert shop.invalid == []
    assert call(shop, "GET", path + "?limit=10").status_code == 400
    assert call(shop, "GET", path + "?include=everything").status_code == 400
    assert shop.invalid == [
        f"GET {path}: unexpected query parameter limit",
        f"GET {path}: query parameter include=everything is not one of {sorted(INCLUDE)}",
    ]
    assert call(shop, "GET", "/v1/tables/name/shop.db.main.nope").json() == {
        "code": 404,
        "message": "table instance for shop.db.main.nope not found",
    }


def test_an_unknown_endpoint_gets_404_and_is_recorded(om: OpenMetadataServer) -> None:
    assert call(om, "GET", "/v1/dashboards/name/x").status_code == 404
    assert om.invalid == ["GET /v1/dashboards/name/x: unknown endpoint"]


def test_version_bot_and_permissions_answer_in_openmetadatas_shapes() -> None:
    with OpenMetadataServer(version="1.5.11", denied=[("table", "Delete")]) as om:
        version = call(om, "GET", "/v1/system/version").json()
        bot = call(om, "GET", "/v1/users/loggedInUser").json()
        permissions = call(om, "GET", "/v1/permissions").json()["data"]

    assert version["version"] == "1.5.11"
    assert bot["isBot"] is True
    assert bot["roles"][0]["name"] == "IngestionBotRole"
    by_resource = {
        p["resource"]: {q["operation"]: q["access"] for q in p["permissions"]} for p in permissions
    }
    assert set(by_resource) >= {
        "databaseService",
        "table",
        "pipeline",
        "mlmodel",
        "testCase",
        "lineage",
    }
    assert by_resource["table"]["Delete"] == "deny"
    assert by_resource["table"]["Create"] == "allow"


def test_a_denied_operation_gets_403(om: OpenMetadataServer) -> None:
    om.deny("databaseService", "Create")

    response = call(
        om, "PUT", "/v1/services/databaseServices", {"name": "shop", "serviceType": "SQLite"}
    )

    assert response.status_code == 403
    assert "operations [Create] not allowed" in response.json()["message"]


# -- delete and patch ----------------------------------------------------------------------------


def test_delete_must_be_a_soft_delete_with_both_query_parameters(shop: OpenMetadataServer) -> None:
    table_id = stored(shop, "table", "shop.db.main.orders")["id"]

    assert call(shop, "DELETE", f"/v1/tables/{table_id}").status_code == 400
    assert (
        call(shop, "DELETE", f"/v1/tables/{table_id}?hardDelete=true&recursive=true").status_code
        == 400
    )
    assert (
        call(
            shop, "DELETE", f"/v1/tables/{uuid.uuid4()}?hardDelete=false&recursive=true"
        ).status_code
        == 404
    )
    assert [p.split(": ", 1)[1] for p in shop.invalid] == [
        "query parameter hardDelete is missing",
        "query parameter recursive is missing",
        "query parameter hardDelete=true is not one of ['false']",
    ]


def test_a_soft_delete_hides_the_entity_and_its_children_until_put_again(
    shop: OpenMetadataServer,
) -> None:
    schema_id = stored(shop, "databaseSchema", "shop.db.main")["id"]

    not_recursive = call(
        shop, "DELETE", f"/v1/databaseSchemas/{schema_id}?hardDelete=false&recursive=false"
    )
    deleted = call(
        shop, "DELETE", f"/v1/databaseSchemas/{schema_id}?hardDelete=false&recursive=true"
    )

    assert not_recursive.json() == {"code": 400, "message": "databaseSchema is not empty"}
    assert (deleted.status_code, deleted.json()["deleted"]) == (200, True)
    assert stored(shop, "table", "shop.db.main.orders")["deleted"] is True
    assert call(shop, "GET", "/v1/tables/name/shop.db.main.orders").status_code == 404
    assert (
        call(shop, "GET", "/v1/tables/name/shop.db.main.orders?include=deleted").status_code == 200
    )
    assert call(shop, "PUT", "/v1/tables", table()).status_code == 404  # its schema is deleted
    restored = call(shop, "PUT", "/v1/databaseSchemas", {"name": "main", "database": "shop.db"})
    assert (restored.status_code, restored.json()["deleted"], restored.json()["version"]) == (
        200,
        False,
        0.3,
    )


def test_patch_applies_json_patch_operations_and_checks_them(shop: OpenMetadataServer) -> None:
    table_id = stored(shop, "table", "shop.db.main.orders")["id"]
    path = f"/v1/tables/{table_id}"
    patch = "application/json-patch+json"
    ops = [
        {"op": "add", "path": "/description", "value": "Orders"},
        {"op": "add", "path": "/tags", "value": [TAG]},
        {"op": "add", "path": "/columns/0/description", "value": "Key"},
    ]

    patched = call(shop, "PATCH", path, ops, content_type=patch)

    assert patched.status_code == 200
    assert patched.json()["description"] == "Orders"
    assert patched.json()["columns"][0]["description"] == "Key"
    assert patched.json()["version"] == 0.2
    assert shop.invalid == []
    assert call(shop, "PATCH", path, ops).status_code == 400  # application/json
    bad_tag = [{"op": "add", "path": "/tags/-", "value": {"tagFQN": "PII.Sensitive"}}]
    assert call(shop, "PATCH", path, bad_tag, content_type=patch).status_code == 400
    rename = [{"op": "replace", "path": "/name", "value": "x"}]
    assert (
        call(shop, "PATCH", path, rename, content_type=patch).json()["message"]
        == "table attribute name can't be modified"
    )
    assert (
        call(shop, "PATCH", path, [{"op": "move", "path": "/a"}], content_type=patch).status_code
        == 400
    )
    assert len(shop.invalid) == 4


# -- bulk ----------------------------------------------------------------------------------------


def test_bulk_stores_each_valid_item_and_reports_each_failure(shop: OpenMetadataServer) -> None:
    items = [table("a"), table("b", columns=[{"name": "x"}]), table("c", schema="shop.db.none")]

    response = call(shop, "PUT", "/v1/tables/bulk", items)

    assert response.status_code == 200
    result = response.json()
    assert result["status"] == "partialSuccess"
    assert (
        result["numberOfRowsProcessed"],
        result["numberOfRowsPassed"],
        result["numberOfRowsFailed"],
    ) == (3, 1, 2)
    assert result["successRequest"] == [{"request": "shop.db.main.a", "status": 200}]
    assert [(f["request"], f["status"]) for f in result["failedRequest"]] == [
        ("shop.db.main.b", 400),
        ("shop.db.none.c", 404),
    ]
    assert shop.entity("table", "shop.db.main.a") is not None
    assert shop.invalid == [
        "PUT /v1/tables/bulk: item 1: body.columns[0]: 'dataType' is a required property"
    ]


def test_a_server_without_bulk_answers_404_and_asking_is_no_mistake() -> None:
    with OpenMetadataServer(bulk=False) as om:
        assert call(om, "PUT", "/v1/tables/bulk", [table()]).status_code == 404
        assert om.invalid == []


# -- lineage and data quality --------------------------------------------------------------------


def test_lineage_needs_both_ends_and_their_columns(shop: OpenMetadataServer) -> None:
    call(shop, "PUT", "/v1/tables", table("totals"))
    orders, totals = (stored(shop, "table", f"shop.db.main.{n}") for n in ("orders", "totals"))
    columns = [
        {"fromColumns": ["shop.db.main.orders.total"], "toColumn": "shop.db.main.totals.total"}
    ]
    edge = {
        "fromEntity": {"id": orders["id"], "type": "table"},
        "toEntity": {"id": totals["id"], "type": "table"},
        "lineageDetails": {
            "columnsLineage": columns,
            "source": "ViewLineage",
            "sqlQuery": "select 1",
        },
    }

    added = call(shop, "PUT", "/v1/lineage", {"edge": edge})
    wrong_column = [
        {"fromColumns": ["shop.db.main.orders.nope"], "toColumn": "shop.db.main.totals.total"}
    ]
    bad = call(
        shop,
        "PUT",
        "/v1/lineage",
        {"edge": {**edge, "lineageDetails": {"columnsLineage": wrong_column}}},
    )
    bad_source = call(
        shop, "PUT", "/v1/lineage", {"edge": {**edge, "lineageDetails": {"source": "Guess"}}}
    )
    unknown_end = call(
        shop,
        "PUT",
        "/v1/lineage",
        {"edge": {**edge, "toEntity": {"id": str(uuid.uuid4()), "type": "table"}}},
    )

    assert (added.status_code, added.content) == (200, b"")
    edge_stored = shop.edge("shop.db.main.orders", "shop.db.main.totals")
    assert edge_stored is not None
    assert edge_stored["lineageDetails"]["source"] == "ViewLineage"
    assert bad.json()["message"] == "Invalid fully qualified column name shop.db.main.orders.nope"
    assert bad_source.status_code == 400
    assert unknown_end.status_code == 404
    delete = f"/v1/lineage/table/{orders['id']}/table/{totals['id']}"
    assert call(shop, "DELETE", delete).status_code == 200
    assert call(shop, "DELETE", delete).json() == {"code": 404, "message": "Lineage edge not found"}


def test_test_cases_and_their_results(shop: OpenMetadataServer) -> None:
    case = {
        "name": "total_not_null",
        "testDefinition": "columnValuesToBeNotNull",
        "entityLink": "<#E::table::shop.db.main.orders::columns::total>",
        "parameterValues": [],
    }
    created = call(shop, "PUT", "/v1/dataQuality/testCases", case)
    results = "/v1/dataQuality/testCases/testCaseResults/" + quote(
        "shop.db.main.orders.total.total_not_null", safe=""
    )
    result = {
        "timestamp": 1_700_000_000_000,
        "testCaseStatus": "Success",
        "result": "ok",
        "testResultValue": [],
    }

    first = call(shop, "POST", results, result)
    repeat = call(shop, "POST", results, result)
    wrong_status = call(
        shop, "POST", results, {**result, "timestamp": 1, "testCaseStatus": "Passed"}
    )

    assert (created.status_code, created.json()["fullyQualifiedName"]) == (
        201,
        "shop.db.main.orders.total.total_not_null",
    )
    assert first.status_code == 201
    assert repeat.json() == {"code": 409, "message": "Entity already exists"}
    assert wrong_status.status_code == 400
    assert [r["timestamp"] for r in shop.results("shop.db.main.orders.total.total_not_null")] == [
        1_700_000_000_000
    ]
    unknown_table = {**case, "entityLink": "<#E::table::shop.db.main.none>"}
    assert call(shop, "PUT", "/v1/dataQuality/testCases", unknown_table).status_code == 404
    unknown_case = "/v1/dataQuality/testCases/testCaseResults/shop.db.main.orders.none"
    assert call(shop, "POST", unknown_case, result).status_code == 404


# -- fault injection -----------------------------------------------------------------------------


def test_scripted_responses_come_first_in_order_then_normal_handling(
    om: OpenMetadataServer,
) -> None:
    om.script(
        "GET",
        "/v1/system/*",
        (503, {}, {"code": 503, "message": "busy"}),
        (429, {"Retry-After": "1"}, ""),
    )
    om.script("PUT", re.compile(r"/v1/tables"), DROP)

    statuses = [call(om, "GET", "/v1/system/version").status_code for _ in range(3)]
    throttled = [r for r in om.requests if r.status == 429]

    assert statuses == [503, 429, 200]
    assert len(throttled) == 1
    with pytest.raises(requests.ConnectionError):
        call(om, "PUT", "/v1/tables", table())


def test_a_refused_name_fails_every_write_of_it(shop: OpenMetadataServer) -> None:
    shop.refuse("shop.db.main.orders", status=500, message="database is locked")

    response = call(shop, "PUT", "/v1/tables", table(description="new"))

    assert response.json() == {"code": 500, "message": "database is locked"}
    assert call(shop, "PUT", "/v1/tables", table("other")).status_code == 201


def test_down_refuses_connections_and_up_listens_on_the_same_port(om: OpenMetadataServer) -> None:
    url = om.url
    om.down()
    with pytest.raises(requests.ConnectionError):
        call(om, "GET", "/v1/system/version")
    om.up()

    assert om.url == url
    assert call(om, "GET", "/v1/system/version").status_code == 200


def test_requests_are_recorded_with_their_query_headers_body_and_status(
    shop: OpenMetadataServer,
) -> None:
    shop.clear()
    call(shop, "GET", "/v1/tables/name/shop.db.main.orders?fields=tags")
    call(shop, "PUT", "/v1/tables", table())

    get, put = shop.requests
    assert (get.method, get.path, get.query, get.body, get.status) == (
        "GET",
        "/v1/tables/name/shop.db.main.orders",
        {"fields": "tags"},
        None,
        200,
    )
    assert get.headers["authorization"] == f"Bearer {TOKEN}"
    assert (put.body["name"], put.status) == ("orders", 200)
    assert shop.writes() == [put]
