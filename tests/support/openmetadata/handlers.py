"""The endpoints' handlers, as a mixin of OpenMetadataServer: entities, lineage, test results,
pipeline statuses, tags and the like, users and teams, and the OAuth2 token endpoint."""

from __future__ import annotations

import copy
import math
import secrets
import time
import uuid
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, Final
from urllib.parse import parse_qs, unquote

import jsonpatch

from syncer import fqn
from tests.support.openmetadata.checks import field_errors, schema_errors, token_request_problem
from tests.support.openmetadata.http import Reply, basic_credentials
from tests.support.openmetadata.model import COLLECTIONS, Call, Collection, HttpError, Invalid

OPERATIONS: Final = tuple(
    [
        "Create",
        "Delete",
        "ViewAll",
        "EditAll",
        "EditDescription",
        "EditDisplayName",
        "EditOwners",
        "EditTags",
        "EditLineage",
        "EditTests",
        "EditStatus",
    ]
)
# Classifications and tags that OpenMetadata ships; an entity tagged with another gets a 404.
CLASSIFICATIONS: Final = frozenset(["PII", "Tier"])
TAGS: Final = frozenset(
    ["PII.Sensitive", "PII.NonSensitive", "PII.None", *(f"Tier.Tier{i}" for i in range(1, 6))]
)
# Test definitions that OpenMetadata ships; a test case naming another one gets a 404.
TEST_DEFINITIONS: Final = frozenset(
    [
        "columnValueLengthsToBeBetween",
        "columnValueMaxToBeBetween",
        "columnValueMeanToBeBetween",
        "columnValueMedianToBeBetween",
        "columnValueMinToBeBetween",
        "columnValueStdDevToBeBetween",
        "columnValuesMissingCount",
        "columnValuesSumToBeBetween",
        "columnValuesToBeBetween",
        "columnValuesToBeInSet",
        "columnValuesToBeNotInSet",
        "columnValuesToBeNotNull",
        "columnValuesToBeUnique",
        "columnValuesToMatchRegex",
        "columnValuesToNotMatchRegex",
        "tableColumnCountToBeBetween",
        "tableColumnCountToEqual",
        "tableColumnNameToExist",
        "tableColumnToMatchSet",
        "tableCustomSQLQuery",
        "tableDiff",
        "tableRowCountToBeBetween",
        "tableRowCountToEqual",
        "tableRowInsertedCountToBeBetween",
    ]
)

# Fields that a PATCH may not touch (OpenMetadata: "<type> attribute <name> can't be modified").
_READ_ONLY: Final = frozenset(
    [
        "id",
        "name",
        "fullyQualifiedName",
        "version",
        "href",
        "deleted",
        "updatedAt",
        "updatedBy",
        "service",
        "database",
        "databaseSchema",
        "entityLink",
        "testDefinition",
        "entityFQN",
    ]
)
_PATCH_OPERATIONS: Final = {
    "description": "EditDescription",
    "displayName": "EditDisplayName",
    "tags": "EditTags",
    "owners": "EditOwners",
}
# Fields the server keeps on an entity across a create-or-update, as OpenMetadata does.
_SERVER_FIELDS: Final = ("testCaseResult", "testCaseStatus")


class Handlers:
    """The handlers of OpenMetadataServer's endpoints, which set up the state declared here.

    Each endpoint handler takes a matched `Call` and answers a `Reply`, or raises `HttpError`
    (`Invalid` for a mistake in the request). The server holds its lock while one runs.
    """

    bulk: bool
    version: str
    client_id: str
    client_secret: str
    token_ttl: float
    denied: set[tuple[str, str]]
    test_definitions: set[str]
    classifications: set[str]
    tags: set[str]
    bot_name: str
    users: dict[str, dict[str, Any]]
    teams: dict[str, dict[str, Any]]
    invalid: list[str]
    entities: dict[str, dict[str, dict[str, Any]]]
    edges: dict[tuple[str, str], dict[str, Any]]
    test_results: list[dict[str, Any]]
    pipeline_statuses: dict[tuple[str, int], dict[str, Any]]
    refusals: dict[str, tuple[int, str]]
    _ids: dict[str, tuple[str, str]]
    _tokens: dict[str, float]
    _started_ms: int

    @property
    @abstractmethod
    def url(self) -> str:
        """The API base, ".../api"."""

    # -- OAuth2 client credentials ---------------------------------------------------------

    def _token_endpoint(self, method: str, headers: dict[str, str], raw: bytes) -> Reply:
        if method != "POST":
            return Reply(405, {"error": "invalid_request"})
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        problem = token_request_problem(headers, form)
        if problem is not None:
            self.invalid.append(f"POST /oauth/token: {problem[1]}")
            return Reply(400, {"error": problem[0]})
        client = basic_credentials(headers.get("authorization", "")) or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        if client != (self.client_id, self.client_secret):
            return Reply(401, {"error": "invalid_client"}, {"WWW-Authenticate": "Basic"})
        token = secrets.token_urlsafe(24)
        self._tokens[token] = time.monotonic() + self.token_ttl
        body = {"access_token": token, "token_type": "Bearer"}
        return Reply(200, {**body, "expires_in": math.ceil(self.token_ttl)})

    # -- system, users, permissions --------------------------------------------------------

    def _get_version(self, call: Call) -> Reply:
        body = {"version": self.version, "revision": "test-server", "timestamp": self._started_ms}
        return Reply(200, body)

    def _get_bot(self, call: Call) -> Reply:
        role = {**principal("role", "IngestionBotRole"), "fullyQualifiedName": "IngestionBotRole"}
        return Reply(200, {**principal("user", self.bot_name), "isBot": True, "roles": [role]})

    def _get_permissions(self, call: Call) -> Reply:
        data = [
            {
                "resource": resource,
                "permissions": [
                    {
                        "operation": op,
                        "access": "deny" if (resource, op) in self.denied else "allow",
                    }
                    for op in OPERATIONS
                ],
            }
            for resource in [*(c.entity_type for c in COLLECTIONS), "lineage"]
        ]
        return Reply(200, {"data": data, "paging": {"total": len(data)}})

    def _get_user(self, call: Call) -> Reply:
        return Reply(200, _known(self.users, "user", unquote(call.params["name"])))

    def _get_team(self, call: Call) -> Reply:
        return Reply(200, _known(self.teams, "team", unquote(call.params["name"])))

    def _get_tag(self, call: Call) -> Reply:
        name = unquote(call.params["name"])
        if name not in self.tags:
            raise HttpError(404, f"tag instance for {name} not found")
        return Reply(200, principal("tag", fqn.split(name)[-1], name))

    def _put_tag(self, call: Call) -> Reply:
        body = call.req.body
        classification = body.get("classification")
        if classification not in self.classifications:
            raise HttpError(404, f"classification instance for {classification} not found")
        name = fqn.join(classification, body["name"])
        created = name not in self.tags
        self.tags.add(name)
        return Reply(201 if created else 200, principal("tag", body["name"], name))

    def _put_classification(self, call: Call) -> Reply:
        name = call.req.body["name"]
        created = name not in self.classifications
        self.classifications.add(name)
        return Reply(201 if created else 200, principal("classification", name))

    def _get_test_definition(self, call: Call) -> Reply:
        name = unquote(call.params["name"])
        if name not in self.test_definitions:
            raise HttpError(404, f"testDefinition instance for {name} not found")
        return Reply(200, principal("testDefinition", name))

    def _put_test_definition(self, call: Call) -> Reply:
        name = call.req.body["name"]
        created = name not in self.test_definitions
        self.test_definitions.add(name)
        return Reply(201 if created else 200, principal("testDefinition", name))

    def _check_tags(self, request: dict[str, Any]) -> None:
        """OpenMetadata refuses a label whose tag it does not have."""
        labels = [*(request.get("tags") or []), *_column_tags(request.get("columns") or [])]
        for label in labels:
            if label["source"] == "Classification" and label["tagFQN"] not in self.tags:
                raise HttpError(404, f"tag instance for {label['tagFQN']} not found")

    def _authorize(self, resource: str, operation: str) -> None:
        if (resource, operation) in self.denied:
            bot = f"CatalogPrincipal{{name='{self.bot_name}'}}"
            raise HttpError(403, f"Principal: {bot} operations [{operation}] not allowed")

    # -- entities --------------------------------------------------------------------------

    def _put_entity(self, call: Call) -> Reply:
        entity, created = self._upsert(call.coll, call.req.body)
        return Reply(201 if created else 200, entity)

    def _bulk(self, call: Call) -> Reply:
        """`PUT /v1/<collection>/bulk`, only with `bulk=True`: OpenMetadata's BulkOperationResult.

        Each item of its `successRequest` and `failedRequest` lists is
        `{"request": <fqn>, "status": <http status>}`, failures with a `"message"` too; `request`
        is the fullyQualifiedName that the item's create request builds (null if it has no usable
        name or parent), as newer OpenMetadata servers answer, so that a client can match results
        to items.
        """
        if not self.bulk:
            raise HttpError(404, "HTTP 404 Not Found")
        passed: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for i, item in enumerate(call.req.body):
            key = self._fqn_or_none(call.coll, item)
            try:
                errors = schema_errors(call.coll.schema, item)
                if errors:
                    self.invalid += [
                        f"{call.req.method} {call.req.path}: item {i}: {e}" for e in errors
                    ]
                    raise HttpError(400, errors[0])
                entity, _ = self._upsert(call.coll, item)
            except HttpError as e:
                if isinstance(e, Invalid):
                    self.invalid.append(f"{call.req.method} {call.req.path}: item {i}: {e.message}")
                failed.append({"request": key, "status": e.status, "message": e.message})
            else:
                passed.append({"request": entity["fullyQualifiedName"], "status": 200})
        status = "success" if not failed else "failure" if not passed else "partialSuccess"
        result = {
            "dryRun": False,
            "status": status,
            "numberOfRowsProcessed": len(passed) + len(failed),
            "numberOfRowsPassed": len(passed),
            "numberOfRowsFailed": len(failed),
            "successRequest": passed,
            "failedRequest": failed,
        }
        return Reply(200, result)

    def _get_by_name(self, call: Call) -> Reply:
        name = unquote(call.params["fqn"])
        entity = self.entities[call.coll.entity_type].get(name)
        return Reply(200, _visible(entity, call, name))

    def _get_by_id(self, call: Call) -> Reply:
        entity = self._by_id(call.coll, call.params["id"], include_deleted=True)
        return Reply(200, _visible(entity, call, call.params["id"]))

    def _delete(self, call: Call) -> Reply:
        """A soft delete; with recursive=true, of the entity's descendants too."""
        coll = call.coll
        entity = self._by_id(coll, call.params["id"])
        self._check_refused(entity["fullyQualifiedName"], entity["name"])
        self._authorize(coll.entity_type, "Delete")
        children = [
            c for c in self._descendants(coll, entity["fullyQualifiedName"]) if not c["deleted"]
        ]
        if children and call.req.query["recursive"] != "true":
            raise HttpError(400, f"{coll.entity_type} is not empty")
        for each in (entity, *children):
            each["deleted"] = True
            _bump(each)
        return Reply(200, entity)

    def _patch(self, call: Call) -> Reply:
        coll, operations = call.coll, call.req.body
        entity = self._by_id(coll, call.params["id"])
        self._check_refused(entity["fullyQualifiedName"], entity["name"])
        touched = sorted({op["path"].split("/")[1] for op in operations})
        for name in touched:
            if name in _READ_ONLY:
                raise Invalid(f"{coll.entity_type} attribute {name} can't be modified")
            self._authorize(coll.entity_type, _PATCH_OPERATIONS.get(name, "EditAll"))
        patched = _apply_patch(entity, operations)
        for name in touched:
            errors = field_errors(name, patched[name]) if name in patched else []
            if errors:
                raise Invalid(f"{name}{errors[0]}")
        if "owners" in patched:
            patched["owners"] = [self._owner(o) for o in patched["owners"]]
        if patched != entity:
            _bump(patched)
            entity.clear()
            entity.update(patched)
        return Reply(200, entity)

    def _upsert(self, coll: Collection, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create or update from a valid request: the stored entity, and whether it is new.

        An update replaces what the request holds, except what OpenMetadata keeps on a bot's
        PUT: a description and owners already set, and tags (merged with the request's).
        """
        parent, full_name = self._place(coll, request)
        self._check_refused(full_name, request["name"])
        self._check_tags(request)
        stored = self.entities[coll.entity_type].get(full_name)
        self._authorize(coll.entity_type, "EditAll" if stored else "Create")
        entity_id = stored["id"] if stored else str(uuid.uuid4())
        entity = {
            **copy.deepcopy(request),
            "id": entity_id,
            "fullyQualifiedName": full_name,
            "version": stored["version"] if stored else 0.1,
            "updatedAt": stored["updatedAt"] if stored else now_ms(),
            "updatedBy": self.bot_name,
            "href": f"{self.url}/v1/{coll.path}/{entity_id}",
            "deleted": False,
        }
        entity.update({k: stored[k] for k in _SERVER_FIELDS if stored and k in stored})
        if parent is not None and coll.parent_field is not None:
            entity[coll.parent_field] = _reference(parent, coll.parent_type or "")
        if "owners" in request:
            entity["owners"] = [self._owner(o) for o in request["owners"]]
        if "domain" in request:
            entity["domain"] = principal("domain", request["domain"], request["domain"])
        if coll.entity_type == "table":
            _name_columns(entity["columns"], full_name)
        if coll.entity_type == "testCase":
            self._describe_test_case(entity, request)
        if stored is not None:
            _keep_what_people_edited(entity, stored)
        if stored is not None and _content(stored) != _content(entity):
            _bump(entity)  # a changed or restored entity gets a new version
        self.entities[coll.entity_type][full_name] = entity
        self._ids[entity_id] = (coll.entity_type, full_name)
        return entity, stored is None

    def _place(
        self, coll: Collection, request: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, str]:
        """The parent entity (None for a service) and the FQN that the request builds."""
        if coll.entity_type == "testCase":
            table, column = self._link_target(request["entityLink"])
            return table, fqn.join(column or table["fullyQualifiedName"], request["name"])
        if coll.parent_field is None or coll.parent_type is None:
            return None, fqn.quote(request["name"])
        parent_name = request[coll.parent_field]
        parent = self.entities[coll.parent_type].get(parent_name)
        if parent is None or parent["deleted"]:
            raise HttpError(404, f"{coll.parent_type} instance for {parent_name} not found")
        return parent, fqn.join(parent_name, request["name"])

    def _fqn_or_none(self, coll: Collection, item: Any) -> str | None:
        """The FQN that a bulk item builds, whether or not its parent exists, if it has one."""
        try:
            if coll.entity_type != "testCase":
                parent = item[coll.parent_field] if coll.parent_field else ""
                return fqn.join(parent, item["name"])
            parts = _link_parts(item["entityLink"])
            table = self.entities["table"].get(parts[1])
            column = dict(_column_names(table)).get(parts[3]) if table and len(parts) == 4 else None
            target = column or fqn.SEPARATOR.join([parts[1], *parts[3:]])
            return fqn.join(target, item["name"])
        except (KeyError, TypeError, ValueError, HttpError):
            return None

    def _link_target(self, link: str) -> tuple[dict[str, Any], str | None]:
        """The table that an entity link names, and the FQN of the column it names, if any."""
        parts = _link_parts(link)
        table = self.entities["table"].get(parts[1])
        if table is None or table["deleted"]:
            raise HttpError(404, f"table instance for {parts[1]} not found")
        if len(parts) == 2:
            return table, None
        columns = dict(_column_names(table))
        column = columns.get(parts[3]) or columns.get(f"{parts[1]}{fqn.SEPARATOR}{parts[3]}")
        if column is None:
            raise Invalid(f"Invalid column name {parts[3]}")
        return table, column

    def _describe_test_case(self, entity: dict[str, Any], request: dict[str, Any]) -> None:
        definition = request["testDefinition"]
        if definition not in self.test_definitions:
            raise HttpError(404, f"testDefinition instance for {definition} not found")
        entity["testDefinition"] = principal("testDefinition", definition, definition)
        entity["entityFQN"] = fqn.parent(entity["fullyQualifiedName"])

    def _owner(self, owner: dict[str, Any]) -> dict[str, Any]:
        known = {"user": self.users, "team": self.teams}.get(owner["type"])
        if known is None:
            raise Invalid(
                f"Entity of type {owner['type']} can't be the owner. "
                "Only Team of type Group or a User can own entities."
            )
        for each in known.values():
            if each["id"] == owner["id"]:
                return _reference(each, owner["type"])
        raise HttpError(404, f"{owner['type']} instance for {owner['id']} not found")

    def _check_refused(self, *names: str) -> None:
        for name in names:
            if name in self.refusals:
                raise HttpError(*self.refusals[name])

    def _by_id(
        self, coll: Collection, entity_id: str, include_deleted: bool = False
    ) -> dict[str, Any]:
        entity = self._find({"id": entity_id, "type": coll.entity_type}, include_deleted)
        if entity is None:
            raise HttpError(404, f"{coll.entity_type} instance for {entity_id} not found")
        return entity

    def _find(self, ref: Mapping[str, Any], include_deleted: bool = False) -> dict[str, Any] | None:
        """The entity an EntityReference (id and type) points at."""
        entity_type, full_name = self._ids.get(ref["id"], ("", ""))
        entity = self.entities.get(entity_type, {}).get(full_name)
        if (
            entity_type != ref["type"]
            or entity is None
            or (entity["deleted"] and not include_deleted)
        ):
            return None
        return entity

    def _referenced(self, ref: Mapping[str, Any]) -> dict[str, Any]:
        entity = self._find(ref)
        if entity is None:
            raise HttpError(404, f"{ref['type']} instance for {ref['id']} not found")
        return entity

    def _descendants(self, coll: Collection, full_name: str) -> Iterator[dict[str, Any]]:
        for child in COLLECTIONS:
            if child.parent_type == coll.entity_type:
                for name, entity in list(self.entities[child.entity_type].items()):
                    if name.startswith(full_name + fqn.SEPARATOR):
                        yield entity
                        yield from self._descendants(child, name)

    # -- lineage ---------------------------------------------------------------------------

    def _put_lineage(self, call: Call) -> Reply:
        edge = call.req.body["edge"]
        source, target = self._referenced(edge["fromEntity"]), self._referenced(edge["toEntity"])
        self._check_refused(source["fullyQualifiedName"], target["fullyQualifiedName"])
        self._authorize("lineage", "EditLineage")
        details = dict(edge.get("lineageDetails") or {})
        if "pipeline" in details:
            # Kept as OpenMetadata keeps it: the full reference, named, not the id sent.
            pipeline = details["pipeline"]
            details["pipeline"] = _reference(self._referenced(pipeline), pipeline["type"])
        for column_lineage in details.get("columnsLineage") or []:
            for name in column_lineage.get("fromColumns") or []:
                _check_column(source, edge["fromEntity"]["type"], name)
            if "toColumn" in column_lineage:
                _check_column(target, edge["toEntity"]["type"], column_lineage["toColumn"])
        stored = {
            "fromEntity": _reference(source, edge["fromEntity"]["type"]),
            "toEntity": _reference(target, edge["toEntity"]["type"]),
            "lineageDetails": details,
        }
        if "description" in call.req.body:
            stored["description"] = call.req.body["description"]
        self.edges[(source["id"], target["id"])] = stored
        return Reply(200)

    def _delete_lineage(self, call: Call) -> Reply:
        p = call.params
        source = self._referenced({"id": p["fromId"], "type": p["fromEntity"]})
        target = self._referenced({"id": p["toId"], "type": p["toEntity"]})
        self._check_refused(source["fullyQualifiedName"], target["fullyQualifiedName"])
        self._authorize("lineage", "EditLineage")
        if self.edges.pop((p["fromId"], p["toId"]), None) is None:
            raise HttpError(404, "Lineage edge not found")
        return Reply(200)

    # -- test case results -----------------------------------------------------------------

    def _post_result(self, call: Call) -> Reply:
        name, body = unquote(call.params["fqn"]), call.req.body
        case = self.entities["testCase"].get(name)
        if case is None or case["deleted"]:
            raise HttpError(404, f"testCase instance for {name} not found")
        self._check_refused(name)
        self._authorize("table", "EditTests")
        if any(
            r["testCaseFQN"] == name and r["timestamp"] == body["timestamp"]
            for r in self.test_results
        ):
            # OpenMetadata keeps one result per (test case, timestamp): a repeat is a conflict.
            raise HttpError(409, "Entity already exists")
        result = {k: v for k, v in body.items() if k != "fqn"}
        result.update(id=str(uuid.uuid4()), testCaseFQN=name)
        self.test_results.append(result)
        latest = case.get("testCaseResult")
        if latest is None or result["timestamp"] >= latest["timestamp"]:
            case["testCaseResult"] = result
            case["testCaseStatus"] = result["testCaseStatus"]
        return Reply(201, result)

    def _put_pipeline_status(self, call: Call) -> Reply:
        name, body = unquote(call.params["fqn"]), call.req.body
        pipeline = self.entities["pipeline"].get(name)
        if pipeline is None or pipeline["deleted"]:
            raise HttpError(404, f"pipeline instance for {name} not found")
        self._check_refused(name)
        self._authorize("pipeline", "EditStatus")
        # One status per (pipeline, timestamp): a repeat replaces it, as OpenMetadata does.
        self.pipeline_statuses[(name, body["timestamp"])] = body
        return Reply(200, pipeline)


# -- entity helpers ----------------------------------------------------------------------------


def principal(kind: str, name: str, full_name: str | None = None) -> dict[str, Any]:
    """A user, team, role, domain or test definition: an id stable across runs, and names."""
    entity_id = uuid.uuid5(uuid.NAMESPACE_URL, f"openmetadata-test:{kind}:{name}")
    return {
        "id": str(entity_id),
        "type": kind,
        "name": name,
        "fullyQualifiedName": full_name or fqn.quote(name),
        "deleted": False,
    }


def now_ms() -> int:
    return int(time.time() * 1000)


def _column_tags(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        label
        for column in columns
        for label in [*(column.get("tags") or []), *_column_tags(column.get("children") or [])]
    ]


def _known(principals: Mapping[str, dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    if name not in principals:
        raise HttpError(404, f"{kind} instance for {name} not found")
    return principals[name]


def _reference(entity: Mapping[str, Any], entity_type: str) -> dict[str, Any]:
    keys = ("id", "name", "fullyQualifiedName", "deleted")
    return {"type": entity_type, **{k: entity.get(k, False) for k in keys}}


def _visible(entity: dict[str, Any] | None, call: Call, key: str) -> dict[str, Any]:
    """The entity, if `include` lets it be seen: soft-deleted ones only with all or deleted."""
    include = call.req.query.get("include", "non-deleted")
    wanted = {"all": (False, True), "deleted": (True,)}.get(include, (False,))
    if entity is None or entity["deleted"] not in wanted:
        raise HttpError(404, f"{call.coll.entity_type} instance for {key} not found")
    return entity


def _name_columns(columns: list[dict[str, Any]], parent: str) -> None:
    """Give each column, nested ones too, its fullyQualifiedName, as OpenMetadata does."""
    for column in columns:
        column["fullyQualifiedName"] = fqn.join(parent, column["name"])
        _name_columns(column.get("children") or [], column["fullyQualifiedName"])


def _column_names(table: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(name, fullyQualifiedName) of each column of a stored table, nested ones after."""

    def walk(columns: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for column in columns:
            yield column["name"], column["fullyQualifiedName"]
        for column in columns:
            yield from walk(column.get("children") or [])

    return walk(table.get("columns") or [])


def _link_parts(link: str) -> list[str]:
    """The parts of a test case's entity link: ["table", fqn] or ["table", fqn, "columns", name]."""
    parts = link.removeprefix("<#E::").removesuffix(">").split("::")
    if parts[0] != "table" or len(parts) not in (2, 4) or parts[2:3] not in ([], ["columns"]):
        raise Invalid(f"Invalid entity link {link}: expected <#E::table::fqn[::columns::name]>")
    return parts


def _check_column(entity: Mapping[str, Any], entity_type: str, column_fqn: str) -> None:
    if entity_type == "table" and column_fqn not in dict(_column_names(entity)).values():
        raise Invalid(f"Invalid fully qualified column name {column_fqn}")


def _content(entity: Mapping[str, Any]) -> dict[str, Any]:
    """An entity without the fields that change on every write."""
    return {k: v for k, v in entity.items() if k not in ("version", "updatedAt", "updatedBy")}


def _bump(entity: dict[str, Any]) -> None:
    entity["version"] = round(entity["version"] + 0.1, 1)
    entity["updatedAt"] = now_ms()


def _keep_what_people_edited(entity: dict[str, Any], stored: dict[str, Any]) -> None:
    """OpenMetadata's rule for a PUT by a bot: it never overwrites a description or owners that
    are set, and adds tags without removing any (PATCH is how a bot overrides them)."""
    for name in ("description", "owners"):
        if stored.get(name):
            entity[name] = stored[name]
    if stored.get("tags"):
        fqns = {t["tagFQN"] for t in entity.get("tags") or []}
        entity["tags"] = [
            *(entity.get("tags") or []),
            *(t for t in stored["tags"] if t["tagFQN"] not in fqns),
        ]


def _apply_patch(entity: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of the entity with JSON Patch operations applied; a 400 if one does not apply."""
    patched = copy.deepcopy(entity)
    for operation in operations:  # one at a time, to tell which one fails
        try:
            patched = jsonpatch.apply_patch(patched, [operation], in_place=True)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            raise Invalid(f"{operation['op']} {operation['path']}: {e}") from e
    return patched
