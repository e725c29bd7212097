"""Our entities as OpenMetadata's requests: which endpoint, and which `Create*Request` body.

Pure: no I/O. Entities are already stored in OpenMetadata's shapes, so a request is the payload
minus what the create request lacks, plus the references OpenMetadata resolves by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from syncer import fqn as fqns
from syncer.models import entity_link

# entity type -> the collection its create-or-update, lookup and delete endpoints live under
COLLECTIONS: dict[str, str] = {
    "databaseService": "services/databaseServices",
    "pipelineService": "services/pipelineServices",
    "mlmodelService": "services/mlmodelServices",
    "database": "databases",
    "databaseSchema": "databaseSchemas",
    "table": "tables",
    "pipeline": "pipelines",
    "mlmodel": "mlmodels",
    "testCase": "dataQuality/testCases",
}

# Payload fields that the create requests do not take: the parent is sent by FQN under its own
# name (below), and observation times are ours, not OpenMetadata's.
_NOT_SENT = frozenset({"updatedAt", "table", "column"})
_PARENT_FIELD: dict[str, str] = {
    "database": "service",
    "databaseSchema": "database",
    "table": "databaseSchema",
    "pipeline": "service",
    "mlmodel": "service",
}
# The create requests that take a `sourceHash` (services and test cases have none).
_HASHED = frozenset({"database", "databaseSchema", "table", "pipeline", "mlmodel"})
# OpenMetadata refuses these column types without a length; sources do not always know one.
_NEEDS_LENGTH = frozenset({"CHAR", "VARCHAR", "BINARY", "VARBINARY"})


@dataclass(frozen=True, slots=True)
class Owner:
    type: str  # user or team
    name: str


@dataclass(frozen=True, slots=True)
class ServiceName:
    name: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class Naming:
    """How the sink names services: as the source does, or as the sink's config renames them."""

    services: dict[str, ServiceName] = field(default_factory=dict)  # by the source's name

    def fqn(self, value: str) -> str:
        """`value` with its service part renamed, if the sink renames that service."""
        parts = fqns.split(value)
        renamed = self.services.get(parts[0])
        if renamed is None or renamed.name is None:
            return value
        return fqns.build(renamed.name, *parts[1:])

    def service(self, name: str, service_type: str) -> tuple[str, str]:
        renamed = self.services.get(name) or ServiceName()
        return renamed.name or name, renamed.type or service_type


def path_of(entity_type: str, fqn: str | None = None) -> str:
    """The collection of an entity type, or the by-name lookup of one entity in it."""
    collection = COLLECTIONS[entity_type]
    return collection if fqn is None else f"{collection}/name/{quote(fqn, safe='')}"


def tags_of(body: dict[str, Any]) -> set[str]:
    """The classification tags an entity's request uses, its columns' included."""
    labels = [*(body.get("tags") or []), *_column_labels(body.get("columns") or [])]
    return {label["tagFQN"] for label in labels if label.get("source") == "Classification"}


def _column_labels(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        label
        for column in columns
        for label in [*(column.get("tags") or []), *_column_labels(column.get("children") or [])]
    ]


def tag_requests(tag_fqn: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `CreateClassification` and `CreateTag` bodies for a tag OpenMetadata lacks."""
    classification, *_, name = fqns.split(tag_fqn)
    why = "Created by syncer for tags its sources and processors apply."
    return (
        {"name": classification, "description": why},
        {"name": name, "classification": classification, "description": why},
    )


def test_definition_request(body: dict[str, Any]) -> dict[str, Any]:
    """A `CreateTestDefinition` for a test case's definition that OpenMetadata lacks."""
    return {
        "name": body["testDefinition"],
        "description": "Created by syncer for tests defined outside OpenMetadata (e.g. dbt).",
        "entityType": "COLUMN" if "::columns::" in body["entityLink"] else "TABLE",
        "testPlatforms": ["Other"],
        "parameterDefinition": [{"name": p["name"]} for p in body.get("parameterValues") or []],
    }


def owners_of(payload: dict[str, Any]) -> list[Owner]:
    return [Owner(o["type"], o["fullyQualifiedName"]) for o in payload.get("owners") or []]


def create_request(
    entity_type: str, payload: dict[str, Any], fingerprint: str | None, naming: Naming
) -> dict[str, Any]:
    """The `Create*Request` body for an entity; `owners` are left for the caller to resolve."""
    body = {k: v for k, v in payload.items() if k not in _NOT_SENT and v not in (None, [])}
    body.pop("owners", None)
    if entity_type.endswith("Service"):
        body["name"], body["serviceType"] = naming.service(body["name"], body["serviceType"])
    parent = _PARENT_FIELD.get(entity_type)
    if parent is not None:
        body[parent] = naming.fqn(body[parent])
    if entity_type == "table":
        body["columns"] = [_column(c) for c in payload.get("columns") or []]
    if entity_type == "testCase":
        body["entityLink"] = entity_link(naming.fqn(payload["table"]), payload.get("column"))
    if fingerprint and entity_type in _HASHED:
        body["sourceHash"] = fingerprint
    return body


def lineage_request(
    payload: dict[str, Any],
    from_id: str,
    to_id: str,
    naming: Naming,
    *,
    pipeline_id: str | None = None,
) -> dict[str, Any]:
    """OpenMetadata's `AddLineage` body for an edge whose ends have these ids, and whose
    pipeline (if it names one) has `pipeline_id`."""
    details: dict[str, Any] = {"source": payload.get("source", "Manual")}
    if pipeline_id is not None:
        details["pipeline"] = {"id": pipeline_id, "type": payload["pipeline"]["type"]}
    if payload.get("sqlQuery"):
        details["sqlQuery"] = payload["sqlQuery"]
    if payload.get("description"):
        details["description"] = payload["description"]
    columns = [
        {
            "fromColumns": [naming.fqn(c) for c in col["fromColumns"]],
            "toColumn": naming.fqn(col["toColumn"]),
            **({"function": col["function"]} if col.get("function") else {}),
        }
        for col in payload.get("columnsLineage") or []
    ]
    if columns:
        details["columnsLineage"] = columns
    return {
        "edge": {
            "fromEntity": {"id": from_id, "type": payload["fromEntity"]["type"]},
            "toEntity": {"id": to_id, "type": payload["toEntity"]["type"]},
            "lineageDetails": details,
        }
    }


def lineage_ends(payload: dict[str, Any], naming: Naming) -> tuple[tuple[str, str], ...]:
    """(entity type, FQN) of an edge's two ends, as OpenMetadata names them."""
    return tuple(
        (payload[end]["type"], naming.fqn(payload[end]["fullyQualifiedName"]))
        for end in ("fromEntity", "toEntity")
    )


def lineage_pipeline(payload: dict[str, Any], naming: Naming) -> tuple[str, str] | None:
    """(entity type, FQN) of the pipeline that moves an edge's data, as OpenMetadata names it;
    None for an edge without one."""
    pipeline = payload.get("pipeline")
    if not pipeline:
        return None
    return pipeline["type"], naming.fqn(pipeline["fullyQualifiedName"])


def test_result_request(payload: dict[str, Any]) -> dict[str, Any]:
    """OpenMetadata's `CreateTestCaseResult` body for one execution of a test case."""
    body = {k: v for k, v in payload.items() if k != "testCase" and v not in (None, [])}
    body.setdefault("testResultValue", [])  # required, even when a test reports no values
    return body


def pipeline_status_path(payload: dict[str, Any], naming: Naming) -> str:
    return f"pipelines/{quote(naming.fqn(payload['pipeline']), safe='')}/status"


def pipeline_status_request(payload: dict[str, Any]) -> dict[str, Any]:
    """OpenMetadata's `PipelineStatus` body for one run of a pipeline."""
    return {k: v for k, v in payload.items() if k != "pipeline" and v not in (None, [])}


def test_result_path(payload: dict[str, Any], naming: Naming) -> str:
    return (
        f"dataQuality/testCases/testCaseResults/{quote(naming.fqn(payload['testCase']), safe='')}"
    )


def _column(column: dict[str, Any]) -> dict[str, Any]:
    if column.get("dataType") in _NEEDS_LENGTH and column.get("dataLength") is None:
        column = {**column, "dataLength": 1}
    if column.get("children"):
        column = {**column, "children": [_column(c) for c in column["children"]]}
    return column
