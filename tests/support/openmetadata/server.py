"""A local stand-in for an OpenMetadata server, for tests of code that writes to OpenMetadata.

It stores what a client creates, answers with OpenMetadata's shapes and status codes, and records
every request and every problem it finds in them (`invalid`), so that a test can assert both.

Bulk writes (`PUT /v1/<collection>/bulk`, only with `bulk=True`) answer with OpenMetadata's
BulkOperationResult. Each item of its `successRequest` and `failedRequest` lists is
`{"request": <fqn>, "status": <http status>}`, failures with a `"message"` too; `request` is the
fullyQualifiedName that the item's create request builds (null if it has no usable name or
parent), as newer OpenMetadata servers answer, so that a client can match results to items.
"""

from __future__ import annotations

import base64
import binascii
import copy
import fnmatch
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from syncer import fqn

SCHEMAS: Final = Path(__file__).parent / "schemas"
_SCHEMA_BASE: Final = "https://syncer.test/openmetadata/"

UNAUTHORIZED: Final = "Not Authorized! Token verification failed"
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


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()
"""A scripted response that closes the connection without answering."""

Scripted = tuple[int, Mapping[str, str], Any] | _Drop


@dataclass(frozen=True)
class Collection:
    """An entity collection under /api/v1 and how its create request names its parent."""

    path: str
    entity_type: str
    schema: str
    parent_field: str | None = None  # the request field that holds the parent's FQN
    parent_type: str | None = None


COLLECTIONS: Final = (
    Collection("services/databaseServices", "databaseService", "createDatabaseService"),
    Collection("services/pipelineServices", "pipelineService", "createPipelineService"),
    Collection("services/mlmodelServices", "mlmodelService", "createMlModelService"),
    Collection("databases", "database", "createDatabase", "service", "databaseService"),
    Collection("databaseSchemas", "databaseSchema", "createDatabaseSchema", "database", "database"),
    Collection("tables", "table", "createTable", "databaseSchema", "databaseSchema"),
    Collection("pipelines", "pipeline", "createPipeline", "service", "pipelineService"),
    Collection("mlmodels", "mlmodel", "createMlModel", "service", "mlmodelService"),
    # A test case names its table in `entityLink`, not in a parent field.
    Collection("dataQuality/testCases", "testCase", "createTestCase", None, "table"),
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
_PATCH_OPERATIONS: Final = {
    "description": "EditDescription",
    "displayName": "EditDisplayName",
    "tags": "EditTags",
    "owners": "EditOwners",
}
# Fields the server keeps on an entity across a create-or-update, as OpenMetadata does.
_SERVER_FIELDS: Final = ("testCaseResult", "testCaseStatus")


@dataclass
class RecordedRequest:
    """One request to /api, as the server saw it."""

    method: str
    path: str  # without the /api prefix, as sent (URL-encoded)
    query: dict[str, str]  # the last value of each query parameter
    headers: dict[str, str]  # names in lower case
    body: Any  # the parsed JSON body, or None
    time: float  # time.monotonic() on arrival
    status: int = 0  # the status answered; 0 for a dropped connection


@dataclass
class _Reply:
    status: int
    body: Any = None  # sent as JSON, unless bytes or str; None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


class _HttpError(Exception):
    """Answered with OpenMetadata's error body, `{"code": status, "message": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Invalid(_HttpError):
    """A mistake in the request found while handling it: a 400, recorded in `invalid`."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


@dataclass(frozen=True)
class _Call:
    """A request matched to an endpoint: what a handler gets."""

    req: RecordedRequest
    params: dict[str, str]  # from the path, still URL-encoded
    collection: Collection | None

    @property
    def coll(self) -> Collection:
        assert self.collection is not None, "only entity endpoints have a collection"
        return self.collection


@dataclass(frozen=True)
class _Endpoint:
    handler: Callable[[_Call], _Reply]
    body: str | None = None  # the schema that the JSON body must match
    items: bool = False  # the body is a JSON array whose items are checked one by one
    content_type: str = "application/json"
    query: Mapping[str, frozenset[str] | None] = field(default_factory=dict)  # None: any value
    required_query: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    methods: Mapping[str, _Endpoint]
    collection: Collection | None = None


@dataclass
class _Script:
    method: str
    path: str | re.Pattern[str]
    responses: deque[Scripted]

    def matches(self, method: str, path: str) -> bool:
        if not self.responses or self.method not in ("*", method):
            return False
        if isinstance(self.path, re.Pattern):
            return self.path.fullmatch(path) is not None
        return fnmatch.fnmatchcase(path, self.path)


class OpenMetadataServer:
    """An HTTP server on 127.0.0.1 that behaves like OpenMetadata for the endpoints a sink uses.

    It listens from construction until `stop()` or the end of a `with` block. `url` is the API
    base (".../api"); `token_url` is its OAuth2 client-credentials token endpoint.
    """

    def __init__(
        self,
        *,
        token: str = "test-token",
        bulk: bool = False,
        version: str = "1.6.2",
        users: Iterable[str] = (),
        teams: Iterable[str] = (),
        client_id: str = "syncer",
        client_secret: str = "secret",
        token_ttl: float = 3600.0,
        denied: Iterable[tuple[str, str]] = (),
        test_definitions: Iterable[str] = TEST_DEFINITIONS,
        bot_name: str = "ingestion-bot",
    ) -> None:
        self.token = token
        self.bulk = bulk
        self.version = version
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.denied: set[tuple[str, str]] = set(denied)  # (resource, operation)
        self.test_definitions = set(test_definitions)
        self.classifications = set(CLASSIFICATIONS)
        self.tags = set(TAGS)
        self.bot_name = bot_name
        self.users = {name: _principal("user", name) for name in users}
        self.teams = {name: _principal("team", name) for name in teams}

        self.requests: list[RecordedRequest] = []
        self.invalid: list[str] = []
        self.entities: dict[str, dict[str, dict[str, Any]]] = {
            c.entity_type: {} for c in COLLECTIONS
        }
        self.edges: dict[tuple[str, str], dict[str, Any]] = {}  # by (fromId, toId)
        self.test_results: list[dict[str, Any]] = []
        self.pipeline_statuses: dict[tuple[str, int], dict[str, Any]] = {}
        self.token_requests = 0
        self.refusals: dict[str, tuple[int, str]] = {}  # name or FQN -> (status, message)

        self._lock = threading.RLock()
        self._ids: dict[str, tuple[str, str]] = {}  # entity id -> (entity type, FQN)
        self._tokens: dict[str, float] = {}  # issued token -> monotonic expiry
        self._scripts: list[_Script] = []
        self._routes = self._build_routes()
        self._started_ms = _now_ms()
        self._port = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.up()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> OpenMetadataServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/api"

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/oauth/token"

    def up(self) -> None:
        """Listen (again, on the same port after `down()`)."""
        if self._httpd is not None:
            return
        self._httpd = _HTTPServer(("127.0.0.1", self._port), self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections are refused until `up()`."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    def stop(self) -> None:
        self.down()

    # -- test controls ---------------------------------------------------------------------

    def script(self, method: str, path: str | re.Pattern[str], *responses: Scripted) -> None:
        """Answer the next matching requests with `responses`, in order, before normal handling.

        `path` (without /api, as sent) is an fnmatch glob, or a compiled regex that must match
        it whole; `method` may be "*". A response is `(status, headers, body)`, a dict or list
        body being sent as JSON, or `DROP`. The token endpoint's path is "/oauth/token".
        """
        with self._lock:
            self._scripts.append(_Script(method.upper(), path, deque(responses)))

    def refuse(self, name: str, status: int = 400, message: str | None = None) -> None:
        """Fail every write of the entity with this name or FQN, and of lineage touching it."""
        with self._lock:
            self.refusals[name] = (status, message or f"Refused by the test server: {name}")

    def deny(self, resource: str, *operations: str) -> None:
        """Deny operations ("Create") on a resource ("table"): 403s, and `access: deny`."""
        with self._lock:
            self.denied.update((resource, op) for op in operations)

    def expire_tokens(self) -> None:
        """Expire every token issued so far, as if their time had run out."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def clear(self) -> None:
        """Forget the recorded requests and problems (not what is stored)."""
        with self._lock:
            self.requests.clear()
            self.invalid.clear()

    # -- queries for assertions ------------------------------------------------------------

    def writes(self) -> list[RecordedRequest]:
        """The recorded requests other than GETs."""
        with self._lock:
            return [r for r in self.requests if r.method != "GET"]

    def entity(self, entity_type: str, full_name: str) -> dict[str, Any] | None:
        """The stored entity, soft-deleted or not, or None."""
        with self._lock:
            return self.entities[entity_type].get(full_name)

    def edge(self, from_fqn: str, to_fqn: str) -> dict[str, Any] | None:
        """The stored lineage edge between two entities named by FQN, or None."""
        with self._lock:
            for edge in self.edges.values():
                ends = (edge["fromEntity"], edge["toEntity"])
                if tuple(e["fullyQualifiedName"] for e in ends) == (from_fqn, to_fqn):
                    return edge
            return None

    def results(self, test_case_fqn: str) -> list[dict[str, Any]]:
        """The stored results of one test case, in arrival order."""
        with self._lock:
            return [r for r in self.test_results if r["testCaseFQN"] == test_case_fqn]

    # -- request handling ------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        reply: _Reply | _Drop
        if split.path == "/oauth/token":
            reply = self._token_endpoint(handler.command, headers, raw)
        elif split.path.startswith("/api/"):
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            body, parse_error = _parse_json(raw)
            path = split.path.removeprefix("/api")
            req = RecordedRequest(handler.command, path, query, headers, body, time.monotonic())
            with self._lock:
                reply = self._dispatch(req, parse_error)
                req.status = 0 if isinstance(reply, _Drop) else reply.status
                self.requests.append(req)
        else:
            with self._lock:
                self.invalid.append(f"{handler.command} {split.path}: not under /api")
            reply = _error(404, "HTTP 404 Not Found")
        _send(handler, reply)

    def _dispatch(self, req: RecordedRequest, parse_error: str | None) -> _Reply | _Drop:
        found = self._route(req.path)
        problems = self._problems(req, found, parse_error)
        self.invalid.extend(f"{req.method} {req.path}: {p}" for p in problems)
        scripted = self._scripted(req.method, req.path)
        if scripted is not None:
            return scripted
        if not self._authenticated(req.headers.get("authorization", "")):
            return _error(401, UNAUTHORIZED, {"WWW-Authenticate": "om-auth"})
        if found is None:
            return _error(404, "HTTP 404 Not Found")
        route, params = found
        endpoint = route.methods.get(req.method)
        if endpoint is None:
            return _error(405, "HTTP 405 Method Not Allowed")
        if problems:
            return _error(400, problems[0])
        try:
            return endpoint.handler(_Call(req, params, route.collection))
        except _HttpError as e:
            if isinstance(e, _Invalid):
                self.invalid.append(f"{req.method} {req.path}: {e.message}")
            return _error(e.status, e.message)
        except Exception as e:  # a fault of this server: loud in `invalid`, not a hung client
            self.invalid.append(f"{req.method} {req.path}: test server error: {e!r}")
            return _error(500, f"test server error: {e!r}")

    def _route(self, path: str) -> tuple[_Route, dict[str, str]] | None:
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is not None:
                return route, match.groupdict()
        return None

    def _problems(
        self,
        req: RecordedRequest,
        found: tuple[_Route, dict[str, str]] | None,
        parse_error: str | None,
    ) -> list[str]:
        """What is wrong with the request's form: its endpoint, query, content type, body."""
        problems = _auth_header_problems(req.headers.get("authorization"))
        endpoint = found[0].methods.get(req.method) if found else None
        if found is None:
            problems.append("unknown endpoint")
        elif endpoint is None:
            problems.append(f"{req.method} is not allowed here")
        elif endpoint.items and not self.bulk:
            pass  # a server without bulk answers 404; asking for it is no mistake
        else:
            problems += _query_problems(req.query, endpoint)
            if endpoint.body is not None or endpoint.items:
                problems += _body_problems(req, endpoint, parse_error)
        return problems

    def _scripted(self, method: str, path: str) -> _Reply | _Drop | None:
        for script in self._scripts:
            if script.matches(method, path):
                response = script.responses.popleft()
                if isinstance(response, _Drop):
                    return response
                status, headers, body = response
                return _Reply(status, body, dict(headers))
        return None

    def _authenticated(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        return token == self.token or self._tokens.get(token, 0.0) > time.monotonic()

    def _build_routes(self) -> list[_Route]:
        def route(path: str, coll: Collection | None = None, **methods: _Endpoint) -> _Route:
            return _Route(re.compile(path), methods, coll)

        read = {"fields": None, "include": frozenset({"all", "deleted", "non-deleted"})}
        routes = [
            route("/v1/system/version", GET=_Endpoint(self._get_version)),
            route("/v1/users/loggedInUser", GET=_Endpoint(self._get_bot, query={"fields": None})),
            route("/v1/permissions", GET=_Endpoint(self._get_permissions)),
            route("/v1/users/name/(?P<name>[^/]+)", GET=_Endpoint(self._get_user, query=read)),
            route("/v1/teams/name/(?P<name>[^/]+)", GET=_Endpoint(self._get_team, query=read)),
            route("/v1/lineage", PUT=_Endpoint(self._put_lineage, body="addLineage")),
            route(
                "/v1/lineage/(?P<fromEntity>[^/]+)/(?P<fromId>[^/]+)"
                "/(?P<toEntity>[^/]+)/(?P<toId>[^/]+)",
                DELETE=_Endpoint(self._delete_lineage),
            ),
            route(
                "/v1/dataQuality/testCases/testCaseResults/(?P<fqn>.+)",
                POST=_Endpoint(self._post_result, body="createTestCaseResult"),
            ),
            route(
                "/v1/tags/name/(?P<name>[^/]+)",
                GET=_Endpoint(self._get_tag, query=read),
            ),
            route("/v1/tags", PUT=_Endpoint(self._put_tag, body="createTag")),
            route(
                "/v1/classifications",
                PUT=_Endpoint(self._put_classification, body="createClassification"),
            ),
            route(
                "/v1/dataQuality/testDefinitions/name/(?P<name>[^/]+)",
                GET=_Endpoint(self._get_test_definition, query=read),
            ),
            route(
                "/v1/dataQuality/testDefinitions",
                PUT=_Endpoint(self._put_test_definition, body="createTestDefinition"),
            ),
            route(
                "/v1/pipelines/(?P<fqn>[^/]+)/status",
                PUT=_Endpoint(self._put_pipeline_status, body="pipelineStatus"),
            ),
        ]
        delete = _Endpoint(
            self._delete,
            query={"hardDelete": frozenset({"false"}), "recursive": frozenset({"true", "false"})},
            required_query=("hardDelete", "recursive"),
        )
        patch = _Endpoint(self._patch, body="jsonPatch", content_type="application/json-patch+json")
        bulk = _Endpoint(self._bulk, items=True, query={"async": frozenset({"false"})})
        for coll in COLLECTIONS:
            base = re.escape(f"/v1/{coll.path}")
            routes += [
                route(base, coll, PUT=_Endpoint(self._put_entity, body=coll.schema)),
                route(f"{base}/bulk", coll, PUT=bulk),
                route(
                    f"{base}/name/(?P<fqn>.+)", coll, GET=_Endpoint(self._get_by_name, query=read)
                ),
                route(
                    f"{base}/(?P<id>[^/]+)",
                    coll,
                    GET=_Endpoint(self._get_by_id, query=read),
                    PATCH=patch,
                    DELETE=delete,
                ),
            ]
        return routes

    # -- OAuth2 client credentials ---------------------------------------------------------

    def _token_endpoint(self, method: str, headers: dict[str, str], raw: bytes) -> _Reply | _Drop:
        with self._lock:
            self.token_requests += 1
            scripted = self._scripted(method, "/oauth/token")
            if scripted is not None:
                return scripted
            if method != "POST":
                return _Reply(405, {"error": "invalid_request"})
            form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            problem = _token_request_problem(headers, form)
            if problem is not None:
                self.invalid.append(f"POST /oauth/token: {problem[1]}")
                return _Reply(400, {"error": problem[0]})
            client = _basic_credentials(headers.get("authorization", "")) or (
                form.get("client_id", ""),
                form.get("client_secret", ""),
            )
            if client != (self.client_id, self.client_secret):
                return _Reply(401, {"error": "invalid_client"}, {"WWW-Authenticate": "Basic"})
            token = secrets.token_urlsafe(24)
            self._tokens[token] = time.monotonic() + self.token_ttl
            body = {"access_token": token, "token_type": "Bearer"}
            return _Reply(200, {**body, "expires_in": math.ceil(self.token_ttl)})

    # -- system, users, permissions --------------------------------------------------------

    def _get_version(self, call: _Call) -> _Reply:
        body = {"version": self.version, "revision": "test-server", "timestamp": self._started_ms}
        return _Reply(200, body)

    def _get_bot(self, call: _Call) -> _Reply:
        role = {**_principal("role", "IngestionBotRole"), "fullyQualifiedName": "IngestionBotRole"}
        return _Reply(200, {**_principal("user", self.bot_name), "isBot": True, "roles": [role]})

    def _get_permissions(self, call: _Call) -> _Reply:
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
        return _Reply(200, {"data": data, "paging": {"total": len(data)}})

    def _get_user(self, call: _Call) -> _Reply:
        return _Reply(200, _known(self.users, "user", unquote(call.params["name"])))

    def _get_team(self, call: _Call) -> _Reply:
        return _Reply(200, _known(self.teams, "team", unquote(call.params["name"])))

    def _get_tag(self, call: _Call) -> _Reply:
        name = unquote(call.params["name"])
        if name not in self.tags:
            raise _HttpError(404, f"tag instance for {name} not found")
        return _Reply(200, _principal("tag", fqn.split(name)[-1], name))

    def _put_tag(self, call: _Call) -> _Reply:
        body = call.req.body
        classification = body.get("classification")
        if classification not in self.classifications:
            raise _HttpError(404, f"classification instance for {classification} not found")
        name = fqn.join(classification, body["name"])
        created = name not in self.tags
        self.tags.add(name)
        return _Reply(201 if created else 200, _principal("tag", body["name"], name))

    def _put_classification(self, call: _Call) -> _Reply:
        name = call.req.body["name"]
        created = name not in self.classifications
        self.classifications.add(name)
        return _Reply(201 if created else 200, _principal("classification", name))

    def _get_test_definition(self, call: _Call) -> _Reply:
        name = unquote(call.params["name"])
        if name not in self.test_definitions:
            raise _HttpError(404, f"testDefinition instance for {name} not found")
        return _Reply(200, _principal("testDefinition", name))

    def _put_test_definition(self, call: _Call) -> _Reply:
        name = call.req.body["name"]
        created = name not in self.test_definitions
        self.test_definitions.add(name)
        return _Reply(201 if created else 200, _principal("testDefinition", name))

    def _check_tags(self, request: dict[str, Any]) -> None:
        """OpenMetadata refuses a label whose tag it does not have."""
        labels = [*(request.get("tags") or []), *_column_tags(request.get("columns") or [])]
        for label in labels:
            if label["source"] == "Classification" and label["tagFQN"] not in self.tags:
                raise _HttpError(404, f"tag instance for {label['tagFQN']} not found")

    def _authorize(self, resource: str, operation: str) -> None:
        if (resource, operation) in self.denied:
            principal = f"CatalogPrincipal{{name='{self.bot_name}'}}"
            raise _HttpError(403, f"Principal: {principal} operations [{operation}] not allowed")

    # -- entities --------------------------------------------------------------------------

    def _put_entity(self, call: _Call) -> _Reply:
        entity, created = self._upsert(call.coll, call.req.body)
        return _Reply(201 if created else 200, entity)

    def _bulk(self, call: _Call) -> _Reply:
        if not self.bulk:
            raise _HttpError(404, "HTTP 404 Not Found")
        passed: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for i, item in enumerate(call.req.body):
            key = self._fqn_or_none(call.coll, item)
            try:
                errors = _schema_errors(call.coll.schema, item)
                if errors:
                    self.invalid += [
                        f"{call.req.method} {call.req.path}: item {i}: {e}" for e in errors
                    ]
                    raise _HttpError(400, errors[0])
                entity, _ = self._upsert(call.coll, item)
            except _HttpError as e:
                if isinstance(e, _Invalid):
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
        return _Reply(200, result)

    def _get_by_name(self, call: _Call) -> _Reply:
        name = unquote(call.params["fqn"])
        entity = self.entities[call.coll.entity_type].get(name)
        return _Reply(200, _visible(entity, call, name))

    def _get_by_id(self, call: _Call) -> _Reply:
        entity = self._by_id(call.coll, call.params["id"], include_deleted=True)
        return _Reply(200, _visible(entity, call, call.params["id"]))

    def _delete(self, call: _Call) -> _Reply:
        """A soft delete; with recursive=true, of the entity's descendants too."""
        coll = call.coll
        entity = self._by_id(coll, call.params["id"])
        self._check_refused(entity["fullyQualifiedName"], entity["name"])
        self._authorize(coll.entity_type, "Delete")
        children = [
            c for c in self._descendants(coll, entity["fullyQualifiedName"]) if not c["deleted"]
        ]
        if children and call.req.query["recursive"] != "true":
            raise _HttpError(400, f"{coll.entity_type} is not empty")
        for each in (entity, *children):
            each["deleted"] = True
            _bump(each)
        return _Reply(200, entity)

    def _patch(self, call: _Call) -> _Reply:
        coll, operations = call.coll, call.req.body
        entity = self._by_id(coll, call.params["id"])
        self._check_refused(entity["fullyQualifiedName"], entity["name"])
        touched = sorted({op["path"].split("/")[1] for op in operations})
        for name in touched:
            if name in _READ_ONLY:
                raise _Invalid(f"{coll.entity_type} attribute {name} can't be modified")
            self._authorize(coll.entity_type, _PATCH_OPERATIONS.get(name, "EditAll"))
        patched = _apply_patch(copy.deepcopy(entity), operations)
        for name in touched:
            errors = _field_errors(name, patched[name]) if name in patched else []
            if errors:
                raise _Invalid(f"{name}{errors[0]}")
        if "owners" in patched:
            patched["owners"] = [self._owner(o) for o in patched["owners"]]
        if patched != entity:
            _bump(patched)
            entity.clear()
            entity.update(patched)
        return _Reply(200, entity)

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
            "updatedAt": stored["updatedAt"] if stored else _now_ms(),
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
            entity["domain"] = _principal("domain", request["domain"], request["domain"])
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
            raise _HttpError(404, f"{coll.parent_type} instance for {parent_name} not found")
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
        except (KeyError, TypeError, ValueError, _HttpError):
            return None

    def _link_target(self, link: str) -> tuple[dict[str, Any], str | None]:
        """The table that an entity link names, and the FQN of the column it names, if any."""
        parts = _link_parts(link)
        table = self.entities["table"].get(parts[1])
        if table is None or table["deleted"]:
            raise _HttpError(404, f"table instance for {parts[1]} not found")
        if len(parts) == 2:
            return table, None
        columns = dict(_column_names(table))
        column = columns.get(parts[3]) or columns.get(f"{parts[1]}{fqn.SEPARATOR}{parts[3]}")
        if column is None:
            raise _Invalid(f"Invalid column name {parts[3]}")
        return table, column

    def _describe_test_case(self, entity: dict[str, Any], request: dict[str, Any]) -> None:
        definition = request["testDefinition"]
        if definition not in self.test_definitions:
            raise _HttpError(404, f"testDefinition instance for {definition} not found")
        entity["testDefinition"] = _principal("testDefinition", definition, definition)
        entity["entityFQN"] = fqn.parent(entity["fullyQualifiedName"])

    def _owner(self, owner: dict[str, Any]) -> dict[str, Any]:
        known = {"user": self.users, "team": self.teams}.get(owner["type"])
        if known is None:
            raise _Invalid(
                f"Entity of type {owner['type']} can't be the owner. "
                "Only Team of type Group or a User can own entities."
            )
        for principal in known.values():
            if principal["id"] == owner["id"]:
                return _reference(principal, owner["type"])
        raise _HttpError(404, f"{owner['type']} instance for {owner['id']} not found")

    def _check_refused(self, *names: str) -> None:
        for name in names:
            if name in self.refusals:
                raise _HttpError(*self.refusals[name])

    def _by_id(
        self, coll: Collection, entity_id: str, include_deleted: bool = False
    ) -> dict[str, Any]:
        entity = self._find({"id": entity_id, "type": coll.entity_type}, include_deleted)
        if entity is None:
            raise _HttpError(404, f"{coll.entity_type} instance for {entity_id} not found")
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
            raise _HttpError(404, f"{ref['type']} instance for {ref['id']} not found")
        return entity

    def _descendants(self, coll: Collection, full_name: str) -> Iterator[dict[str, Any]]:
        for child in COLLECTIONS:
            if child.parent_type == coll.entity_type:
                for name, entity in list(self.entities[child.entity_type].items()):
                    if name.startswith(full_name + fqn.SEPARATOR):
                        yield entity
                        yield from self._descendants(child, name)

    # -- lineage ---------------------------------------------------------------------------

    def _put_lineage(self, call: _Call) -> _Reply:
        edge = call.req.body["edge"]
        source, target = self._referenced(edge["fromEntity"]), self._referenced(edge["toEntity"])
        self._check_refused(source["fullyQualifiedName"], target["fullyQualifiedName"])
        self._authorize("lineage", "EditLineage")
        details = edge.get("lineageDetails") or {}
        if "pipeline" in details:
            self._referenced(details["pipeline"])
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
        return _Reply(200)

    def _delete_lineage(self, call: _Call) -> _Reply:
        p = call.params
        source = self._referenced({"id": p["fromId"], "type": p["fromEntity"]})
        target = self._referenced({"id": p["toId"], "type": p["toEntity"]})
        self._check_refused(source["fullyQualifiedName"], target["fullyQualifiedName"])
        self._authorize("lineage", "EditLineage")
        if self.edges.pop((p["fromId"], p["toId"]), None) is None:
            raise _HttpError(404, "Lineage edge not found")
        return _Reply(200)

    # -- test case results -----------------------------------------------------------------

    def _post_result(self, call: _Call) -> _Reply:
        name, body = unquote(call.params["fqn"]), call.req.body
        case = self.entities["testCase"].get(name)
        if case is None or case["deleted"]:
            raise _HttpError(404, f"testCase instance for {name} not found")
        self._check_refused(name)
        self._authorize("table", "EditTests")
        if any(
            r["testCaseFQN"] == name and r["timestamp"] == body["timestamp"]
            for r in self.test_results
        ):
            # OpenMetadata keeps one result per (test case, timestamp): a repeat is a conflict.
            raise _HttpError(409, "Entity already exists")
        result = {k: v for k, v in body.items() if k != "fqn"}
        result.update(id=str(uuid.uuid4()), testCaseFQN=name)
        self.test_results.append(result)
        latest = case.get("testCaseResult")
        if latest is None or result["timestamp"] >= latest["timestamp"]:
            case["testCaseResult"] = result
            case["testCaseStatus"] = result["testCaseStatus"]
        return _Reply(201, result)

    def _put_pipeline_status(self, call: _Call) -> _Reply:
        name, body = unquote(call.params["fqn"]), call.req.body
        pipeline = self.entities["pipeline"].get(name)
        if pipeline is None or pipeline["deleted"]:
            raise _HttpError(404, f"pipeline instance for {name} not found")
        self._check_refused(name)
        self._authorize("pipeline", "EditStatus")
        # One status per (pipeline, timestamp): a repeat replaces it, as OpenMetadata does.
        self.pipeline_statuses[(name, body["timestamp"])] = body
        return _Reply(200, pipeline)


# -- request checks ----------------------------------------------------------------------------


def _auth_header_problems(header: str | None) -> list[str]:
    if header is None:
        return ["no Authorization header"]
    if not header.startswith("Bearer "):
        return ["the Authorization header is not 'Bearer <token>'"]
    return []


def _query_problems(query: Mapping[str, str], endpoint: _Endpoint) -> list[str]:
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


def _body_problems(req: RecordedRequest, endpoint: _Endpoint, parse_error: str | None) -> list[str]:
    content_type = req.headers.get("content-type", "").split(";")[0].strip()
    if content_type != endpoint.content_type:
        return [f"Content-Type is {content_type or 'missing'}, expected {endpoint.content_type}"]
    if parse_error is not None:
        return [parse_error]
    if endpoint.items:  # bulk: each item is checked on its own
        return [] if isinstance(req.body, list) else ["the body must be a JSON array"]
    return _schema_errors(endpoint.body or "", req.body)


def _token_request_problem(
    headers: Mapping[str, str], form: Mapping[str, str]
) -> tuple[str, str] | None:
    """(OAuth2 error code, problem) for a malformed token request, or None."""
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return "invalid_request", "the body must be form-encoded"
    if form.get("grant_type") != "client_credentials":
        return "unsupported_grant_type", "grant_type must be client_credentials"
    return None


def _link_parts(link: str) -> list[str]:
    """The parts of a test case's entity link: ["table", fqn] or ["table", fqn, "columns", name]."""
    parts = link.removeprefix("<#E::").removesuffix(">").split("::")
    if parts[0] != "table" or len(parts) not in (2, 4) or parts[2:3] not in ([], ["columns"]):
        raise _Invalid(f"Invalid entity link {link}: expected <#E::table::fqn[::columns::name]>")
    return parts


def _check_column(entity: Mapping[str, Any], entity_type: str, column_fqn: str) -> None:
    if entity_type == "table" and column_fqn not in dict(_column_names(entity)).values():
        raise _Invalid(f"Invalid fully qualified column name {column_fqn}")


# -- schemas -----------------------------------------------------------------------------------


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


def _schema_errors(schema_name: str, instance: Any) -> list[str]:
    """What is wrong with a request body by the named schema, a line each; [] if nothing."""
    return [f"body{e}" for e in _describe_all(_validator(schema_name), instance)]


def _field_errors(name: str, value: Any) -> list[str]:
    """What is wrong with a patched field of a stored entity; [] if nothing or not checked."""
    return _describe_all(_field_validator(name), value) if name in _PATCHED_FIELDS else []


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


# -- entity helpers ----------------------------------------------------------------------------


def _principal(kind: str, name: str, full_name: str | None = None) -> dict[str, Any]:
    """A user, team, role, domain or test definition: an id stable across runs, and names."""
    entity_id = uuid.uuid5(uuid.NAMESPACE_URL, f"openmetadata-test:{kind}:{name}")
    return {
        "id": str(entity_id),
        "type": kind,
        "name": name,
        "fullyQualifiedName": full_name or fqn.quote(name),
        "deleted": False,
    }


def _column_tags(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        label
        for column in columns
        for label in [*(column.get("tags") or []), *_column_tags(column.get("children") or [])]
    ]


def _known(principals: Mapping[str, dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    if name not in principals:
        raise _HttpError(404, f"{kind} instance for {name} not found")
    return principals[name]


def _reference(entity: Mapping[str, Any], entity_type: str) -> dict[str, Any]:
    keys = ("id", "name", "fullyQualifiedName", "deleted")
    return {"type": entity_type, **{k: entity.get(k, False) for k in keys}}


def _visible(entity: dict[str, Any] | None, call: _Call, key: str) -> dict[str, Any]:
    """The entity, if `include` lets it be seen: soft-deleted ones only with all or deleted."""
    include = call.req.query.get("include", "non-deleted")
    wanted = {"all": (False, True), "deleted": (True,)}.get(include, (False,))
    if entity is None or entity["deleted"] not in wanted:
        raise _HttpError(404, f"{call.coll.entity_type} instance for {key} not found")
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


def _content(entity: Mapping[str, Any]) -> dict[str, Any]:
    """An entity without the fields that change on every write."""
    return {k: v for k, v in entity.items() if k not in ("version", "updatedAt", "updatedBy")}


def _bump(entity: dict[str, Any]) -> None:
    entity["version"] = round(entity["version"] + 0.1, 1)
    entity["updatedAt"] = _now_ms()


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- JSON Patch --------------------------------------------------------------------------------


def _apply_patch(document: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply RFC 6902 add, replace and remove operations in place."""
    for operation in operations:
        op, path = operation["op"], operation["path"]
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]
        container: Any = document
        for token in tokens[:-1]:
            container = _step(container, token, path)
        if isinstance(container, list):
            _patch_list(container, tokens[-1], op, operation.get("value"), path)
        elif not isinstance(container, dict):
            raise _Invalid(f"{op} {path}: the parent is not an object or array")
        elif op != "add" and tokens[-1] not in container:
            raise _Invalid(f"{op} {path}: there is no such field")
        elif op == "remove":
            del container[tokens[-1]]
        else:
            container[tokens[-1]] = operation["value"]
    return document


def _step(container: Any, token: str, path: str) -> Any:
    if isinstance(container, dict) and token in container:
        return container[token]
    if isinstance(container, list) and token.isdigit() and int(token) < len(container):
        return container[int(token)]
    raise _Invalid(f"{path}: {token} does not exist")


def _patch_list(items: list[Any], token: str, op: str, value: Any, path: str) -> None:
    if op == "add" and token == "-":
        items.append(value)
        return
    last = len(items) if op == "add" else len(items) - 1
    if not token.isdigit() or int(token) > last:
        raise _Invalid(f"{op} {path}: index {token} is out of range")
    if op == "add":
        items.insert(int(token), value)
    elif op == "replace":
        items[int(token)] = value
    else:
        del items[int(token)]


# -- HTTP plumbing -----------------------------------------------------------------------------


def _parse_json(raw: bytes) -> tuple[Any, str | None]:
    if not raw:
        return None, None
    try:
        return json.loads(raw), None
    except ValueError as e:
        return None, f"the body is not JSON: {e}"


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """(client id, secret) from an HTTP Basic header, form-decoded as RFC 6749 (2.3.1) says."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, {"code": status, "message": message}, headers or {})


def _send(handler: BaseHTTPRequestHandler, reply: _Reply | _Drop) -> None:
    if isinstance(reply, _Drop):
        handler.close_connection = True  # and nothing written: the client sees a closed socket
        return
    headers = {k.lower(): v for k, v in reply.headers.items()}
    if reply.body is None:
        payload = b""
    elif isinstance(reply.body, bytes | str):
        payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
    else:
        payload = json.dumps(reply.body).encode()
        headers.setdefault("content-type", "application/json")
    handler.send_response(reply.status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def do_GET(self) -> None:
        self.server.om._serve(self)

    do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the recorded requests tell what happened."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], om: OpenMetadataServer) -> None:
        self.om = om
        super().__init__(address, _Handler)


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
