"""A local stand-in for an OpenMetadata server, for tests of code that writes to OpenMetadata: the
server, its lifecycle, test controls and queries, and how it routes requests to the handlers.

It stores what a client creates, answers with OpenMetadata's shapes and status codes, and records
every request and every problem it finds in them (`invalid`), so that a test can assert both.
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from tests.support.openmetadata.checks import auth_header_problems, body_problems, query_problems
from tests.support.openmetadata.handlers import (
    CLASSIFICATIONS,
    TAGS,
    TEST_DEFINITIONS,
    Handlers,
    now_ms,
    principal,
)
from tests.support.openmetadata.http import Drop, HTTPServer, Reply, error, parse_json, send
from tests.support.openmetadata.model import (
    COLLECTIONS,
    Call,
    Collection,
    Endpoint,
    HttpError,
    Invalid,
    RecordedRequest,
)

UNAUTHORIZED: Final = "Not Authorized! Token verification failed"

Scripted = tuple[int, Mapping[str, str], Any] | Drop


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    methods: Mapping[str, Endpoint]
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


class OpenMetadataServer(Handlers):
    """An HTTP server on 127.0.0.1 that behaves like OpenMetadata for the endpoints a sink uses.

    It listens from construction until `stop()` or the end of a `with` block. `url` is the API
    base (".../api"); `token_url` is its OAuth2 client-credentials token endpoint. Its endpoints'
    handlers are those of `Handlers` (handlers.py).
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
        self.users = {name: principal("user", name) for name in users}
        self.teams = {name: principal("team", name) for name in teams}

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
        self._started_ms = now_ms()
        self._port = 0
        self._httpd: HTTPServer | None = None
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
        self._httpd = HTTPServer(("127.0.0.1", self._port), self._serve)
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
        reply: Reply | Drop
        if split.path == "/oauth/token":
            reply = self._dispatch_token(handler.command, headers, raw)
        elif split.path.startswith("/api/"):
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            body, parse_error = parse_json(raw)
            path = split.path.removeprefix("/api")
            req = RecordedRequest(handler.command, path, query, headers, body, time.monotonic())
            with self._lock:
                reply = self._dispatch(req, parse_error)
                req.status = 0 if isinstance(reply, Drop) else reply.status
                self.requests.append(req)
        else:
            with self._lock:
                self.invalid.append(f"{handler.command} {split.path}: not under /api")
            reply = error(404, "HTTP 404 Not Found")
        send(handler, reply)

    def _dispatch(self, req: RecordedRequest, parse_error: str | None) -> Reply | Drop:
        found = self._route(req.path)
        problems = self._problems(req, found, parse_error)
        self.invalid.extend(f"{req.method} {req.path}: {p}" for p in problems)
        scripted = self._scripted(req.method, req.path)
        if scripted is not None:
            return scripted
        if not self._authenticated(req.headers.get("authorization", "")):
            return error(401, UNAUTHORIZED, {"WWW-Authenticate": "om-auth"})
        if found is None:
            return error(404, "HTTP 404 Not Found")
        route, params = found
        endpoint = route.methods.get(req.method)
        if endpoint is None:
            return error(405, "HTTP 405 Method Not Allowed")
        if problems:
            return error(400, problems[0])
        try:
            return endpoint.handler(Call(req, params, route.collection))
        except HttpError as e:
            if isinstance(e, Invalid):
                self.invalid.append(f"{req.method} {req.path}: {e.message}")
            return error(e.status, e.message)
        except Exception as e:  # a fault of this server: loud in `invalid`, not a hung client
            self.invalid.append(f"{req.method} {req.path}: test server error: {e!r}")
            return error(500, f"test server error: {e!r}")

    def _dispatch_token(self, method: str, headers: dict[str, str], raw: bytes) -> Reply | Drop:
        with self._lock:
            self.token_requests += 1
            scripted = self._scripted(method, "/oauth/token")
            if scripted is not None:
                return scripted
            return self._token_endpoint(method, headers, raw)

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
        problems = auth_header_problems(req.headers.get("authorization"))
        endpoint = found[0].methods.get(req.method) if found else None
        if found is None:
            problems.append("unknown endpoint")
        elif endpoint is None:
            problems.append(f"{req.method} is not allowed here")
        elif endpoint.items and not self.bulk:
            pass  # a server without bulk answers 404; asking for it is no mistake
        else:
            problems += query_problems(req.query, endpoint)
            if endpoint.body is not None or endpoint.items:
                problems += body_problems(req, endpoint, parse_error)
        return problems

    def _scripted(self, method: str, path: str) -> Reply | Drop | None:
        for script in self._scripts:
            if script.matches(method, path):
                response = script.responses.popleft()
                if isinstance(response, Drop):
                    return response
                status, headers, body = response
                return Reply(status, body, dict(headers))
        return None

    def _authenticated(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        return token == self.token or self._tokens.get(token, 0.0) > time.monotonic()

    def _build_routes(self) -> list[_Route]:
        def route(path: str, coll: Collection | None = None, **methods: Endpoint) -> _Route:
            return _Route(re.compile(path), methods, coll)

        read = {"fields": None, "include": frozenset({"all", "deleted", "non-deleted"})}
        routes = [
            route("/v1/system/version", GET=Endpoint(self._get_version)),
            route("/v1/users/loggedInUser", GET=Endpoint(self._get_bot, query={"fields": None})),
            route("/v1/permissions", GET=Endpoint(self._get_permissions)),
            route("/v1/users/name/(?P<name>[^/]+)", GET=Endpoint(self._get_user, query=read)),
            route("/v1/teams/name/(?P<name>[^/]+)", GET=Endpoint(self._get_team, query=read)),
            route("/v1/lineage", PUT=Endpoint(self._put_lineage, body="addLineage")),
            route(
                "/v1/lineage/(?P<fromEntity>[^/]+)/(?P<fromId>[^/]+)"
                "/(?P<toEntity>[^/]+)/(?P<toId>[^/]+)",
                DELETE=Endpoint(self._delete_lineage),
            ),
            route(
                "/v1/dataQuality/testCases/testCaseResults/(?P<fqn>.+)",
                POST=Endpoint(self._post_result, body="createTestCaseResult"),
            ),
            route(
                "/v1/tags/name/(?P<name>[^/]+)",
                GET=Endpoint(self._get_tag, query=read),
            ),
            route("/v1/tags", PUT=Endpoint(self._put_tag, body="createTag")),
            route(
                "/v1/classifications",
                PUT=Endpoint(self._put_classification, body="createClassification"),
            ),
            route(
                "/v1/dataQuality/testDefinitions/name/(?P<name>[^/]+)",
                GET=Endpoint(self._get_test_definition, query=read),
            ),
            route(
                "/v1/dataQuality/testDefinitions",
                PUT=Endpoint(self._put_test_definition, body="createTestDefinition"),
            ),
            route(
                "/v1/pipelines/(?P<fqn>[^/]+)/status",
                PUT=Endpoint(self._put_pipeline_status, body="pipelineStatus"),
            ),
        ]
        delete = Endpoint(
            self._delete,
            query={"hardDelete": frozenset({"false"}), "recursive": frozenset({"true", "false"})},
            required_query=("hardDelete", "recursive"),
        )
        patch = Endpoint(self._patch, body="jsonPatch", content_type="application/json-patch+json")
        bulk = Endpoint(self._bulk, items=True, query={"async": frozenset({"false"})})
        for coll in COLLECTIONS:
            base = re.escape(f"/v1/{coll.path}")
            routes += [
                route(base, coll, PUT=Endpoint(self._put_entity, body=coll.schema)),
                route(f"{base}/bulk", coll, PUT=bulk),
                route(
                    f"{base}/name/(?P<fqn>.+)", coll, GET=Endpoint(self._get_by_name, query=read)
                ),
                route(
                    f"{base}/(?P<id>[^/]+)",
                    coll,
                    GET=Endpoint(self._get_by_id, query=read),
                    PATCH=patch,
                    DELETE=delete,
                ),
            ]
        return routes
