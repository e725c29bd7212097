"""Checks of a request's form: its Authorization header, query, content type and JSON body (by the
schemas in schemas/), a patched field's new value, and a token request's form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft7Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.support.openmetadata.model import Endpoint, RecordedRequest

SCHEMAS: Final = Path(__file__).parent / "schemas"
_SCHEMA_BASE: Final = "https://syncer.test/openmetadata/"

# The shape of a patched field in the stored (entity) form.
_PATCHED_FIELDS: Final[Mapping[str, Mapping[str, Any]]] = {
    "description": {"$ref": "common.json#/definitions/markdown"},
    "displayName": {"type": "string"},
    "tags": {"$ref": "common.json#/definitions/tags"},
    "owners": {"$ref": "common.json#/definitions/owners"},
    "domain": {"$ref": "common.json#/definitions/entityReference"},
    "sourceHash": {"$ref": "common.json#/definitions/sourceHash"},
    "columns": {"type": "array", "items": {"$ref": "createTable.json#/definitions/column"}},
    "tasks": {"type": "array", "items": {"$ref": "createPipeline.json#/definitions/task"}},
    "mlFeatures": {"type": "array", "items": {"$ref": "createMlModel.json#/definitions/mlFeature"}},
}


# -- requests ----------------------------------------------------------------------------------


def auth_header_problems(header: str | None) -> list[str]:
    if header is None:
        return ["no Authorization header"]
    if not header.startswith("Bearer "):
        return ["the Authorization header is not 'Bearer <token>'"]
    return []


def query_problems(query: Mapping[str, str], endpoint: Endpoint) -> list[str]:
    problems = [
        f"query parameter {n} is missing" for n in endpoint.required_query if n not in query
    ]
    for name, value in query.items():
        allowed = endpoint.query.get(name, frozenset())
        if name not in endpoint.query:
            problems.append(f"unexpected query parameter {name}")
        elif allowed is not None and value not in allowed:
            problems.append(f"query parameter {name}={value} is not one of {sorted(allowed)}")
    return problems


def body_problems(req: RecordedRequest, endpoint: Endpoint, parse_error: str | None) -> list[str]:
    content_type = req.headers.get("content-type", "").split(";")[0].strip()
    if content_type != endpoint.content_type:
        return [f"Content-Type is {content_type or 'missing'}, expected {endpoint.content_type}"]
    if parse_error is not None:
        return [parse_error]
    if endpoint.items:  # bulk: each item is checked on its own
        return [] if isinstance(req.body, list) else ["the body must be a JSON array"]
    return schema_errors(endpoint.body or "", req.body)


def token_request_problem(
    headers: Mapping[str, str], form: Mapping[str, str]
) -> tuple[str, str] | None:
    """(OAuth2 error code, problem) for a malformed token request, or None."""
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return "invalid_request", "the body must be form-encoded"
    if form.get("grant_type") != "client_credentials":
        return "unsupported_grant_type", "grant_type must be client_credentials"
    return None


# -- schemas -----------------------------------------------------------------------------------


def schema_errors(schema_name: str, instance: Any) -> list[str]:
    """What is wrong with a request body by the named schema, a line each; [] if nothing."""
    return [f"body{e}" for e in _describe_all(_validator(schema_name), instance)]


def field_errors(name: str, value: Any) -> list[str]:
    """What is wrong with a patched field of a stored entity; [] if nothing or not checked."""
    return _describe_all(_field_validator(name), value) if name in _PATCHED_FIELDS else []


@cache
def _registry() -> Registry[Any]:
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents, DRAFT7)))
    return Registry().with_resources(resources)


@cache
def _validator(schema_name: str) -> Draft7Validator:
    registry = _registry()
    return Draft7Validator(
        registry.contents(f"{_SCHEMA_BASE}{schema_name}.json"), registry=registry
    )


@cache
def _field_validator(name: str) -> Draft7Validator:
    # Under allOf: in draft-07 a $ref hides its sibling keywords, $id included.
    schema = {"$id": f"{_SCHEMA_BASE}patched-{name}.json", "allOf": [_PATCHED_FIELDS[name]]}
    return Draft7Validator(schema, registry=_registry())


def _describe_all(validator: Draft7Validator, instance: Any) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(e) for e in errors]


def _describe(error: ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    # An enum's own message lists every allowed value, and OpenMetadata's enums have dozens.
    detail = (
        f"{error.instance!r} is not an allowed value"
        if error.validator == "enum"
        else error.message
    )
    return f"{where}: {detail}"
