"""The `openmetadata` sink: sends committed changes to OpenMetadata's REST API.

Entities are created or updated with `PUT` (in bulk where the server offers it), deletions are
soft and recursive, lineage goes after both its ends and the pipeline it names. A change
OpenMetadata refuses (a 4xx) is that change's failure and stays pending; a server that cannot be
reached fails the whole sink, and its backlog waits for the next run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import Any
from urllib.parse import quote

import orjson
import requests
import structlog
from requests.adapters import BaseAdapter

from syncer import fqn as fqns
from syncer.errors import SinkError, SyncerError
from syncer.http import HttpClient, Unavailable, error_message
from syncer.secrets import redact
from syncer.sinks.openmetadata import api
from syncer.sinks.openmetadata.api import COLLECTIONS, Naming, Owner, ServiceName
from syncer.sinks.openmetadata.config import OpenMetadataConfig
from syncer.steps import Change, ConnectionReport, Refusal, Refusals, Sink, SinkContext

log = structlog.get_logger("syncer.sinks.openmetadata")

# What a sink that writes every entity type needs to be allowed, per OpenMetadata resource.
_RIGHTS: dict[str, tuple[str, ...]] = {
    resource: ("Create", "EditAll", "Delete")
    for resource in (
        "databaseService",
        "database",
        "databaseSchema",
        "table",
        "pipelineService",
        "pipeline",
        "mlmodelService",
        "mlmodel",
        "testCase",
    )
}
# Append-only records of runs: added, never updated; deleted only with their parent.
_RUN_RECORDS = frozenset({"testCaseResult", "pipelineStatus"})
_OLDEST = (1, 5)  # test case results moved to their own endpoint in 1.5


class OpenMetadataSink(Sink):
    config_model = OpenMetadataConfig
    config: OpenMetadataConfig

    def __init__(self, config: OpenMetadataConfig, *, transport: BaseAdapter | None = None) -> None:
        """`transport` carries every request, a client-credentials token's too (None:
        requests' own)."""
        super().__init__(config)
        self._transport = transport
        self._naming = Naming(
            {source: ServiceName(r.name, r.type) for source, r in config.services.items()}
        )
        self._auth = config.authenticator(transport)
        self._http: HttpClient | None = None
        self._ids: dict[tuple[str, str], str] = {}  # (entity type, FQN) -> OpenMetadata id
        self._owners: dict[Owner, dict[str, str] | str] = {}  # reference, or why there is none
        self._bulk: bool | None = None  # whether the server offers /bulk; unknown until tried
        self._present: set[tuple[str, str]] = set()  # tags and test definitions seen to exist

    def open(self, context: SinkContext) -> None:
        # Nothing is sent before there is something to send: a re-run without changes makes
        # no request at all.
        self._ids.clear()

    def write(self, changes: Sequence[Change]) -> Refusals:
        refusals: Refusals = {}
        for batch in _runs(changes, self._bulk_allowed()):
            if len(batch) > 1:
                refusals.update(self._upsert_bulk(batch))
                continue
            change = batch[0]
            reason = self._deliver(change)
            if reason is not None:
                refusals[change.seq] = reason
        return refusals

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def test_connection(self) -> ConnectionReport:
        checks: list[tuple[str, bool, str]] = []
        try:
            checks.append(self._check_version())
            checks.append(self._check_token())
            if checks[-1][1]:
                checks.append(self._check_rights())
        except SyncerError as exc:  # down, refused credentials, an unexpected answer
            checks.append(("server", False, redact(str(exc))))
        return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)

    # --- one change ---------------------------------------------------------------------

    def _deliver(self, change: Change) -> str | Refusal | None:
        """Send one change; None when OpenMetadata took it, else why it did not."""
        payload = change.payload
        if change.entity_type == "lineage":
            if change.kind == "deleted":
                return self._remove_lineage(payload)
            return self._add_lineage(payload)
        if change.entity_type in _RUN_RECORDS:
            if change.kind == "deleted":
                return None  # gone with its test case or pipeline, deleted recursively
            if change.entity_type == "testCaseResult":
                return self._add_test_result(payload)
            return self._add_pipeline_status(payload)
        if change.entity_type not in COLLECTIONS:
            return Refusal(f"OpenMetadata has no {change.entity_type} entities", final=True)
        if change.kind == "deleted":
            return self._soft_delete(change)
        return self._upsert(change)

    def _upsert(self, change: Change) -> str | None:
        body, reason = self._request_of(change)
        if reason is not None:
            return reason
        response = self._call("PUT", api.path_of(change.entity_type), json=body)
        if not response.ok:
            return error_message(response)
        entity = response.json()
        self._remember(change.entity_type, entity)
        if self.config.override_metadata and change.kind != "created":
            return self._override(change.entity_type, entity, body)
        return None

    def _request_of(self, change: Change) -> tuple[dict[str, Any], str | None]:
        payload = change.payload
        body = api.create_request(change.entity_type, payload, change.fingerprint, self._naming)
        owners = []
        for owner in api.owners_of(payload):
            reference = self._owner(owner)
            if isinstance(reference, str):
                return body, reference
            owners.append(reference)
        if owners:
            body["owners"] = owners
        for tag in sorted(api.tags_of(body)):
            reason = self._ensure_tag(tag)
            if reason is not None:
                return body, reason
        if change.entity_type == "testCase":
            return body, self._ensure_test_definition(body)
        return body, None

    def _ensure_tag(self, tag: str) -> str | None:
        """None once OpenMetadata has the tag (created if allowed), else why it cannot."""
        if ("tag", tag) in self._present:
            return None
        response = self._call("GET", f"tags/name/{quote(tag, safe='')}")
        if response.status_code == 404:
            if not self.config.create_tags:
                return f"tag {tag} does not exist in OpenMetadata; create it, or set create_tags"
            classification, request = api.tag_requests(tag)
            response = self._call("PUT", "classifications", json=classification)
            if response.ok:
                response = self._call("PUT", "tags", json=request)
        if not response.ok:
            return f"tag {tag}: {error_message(response)}"
        self._present.add(("tag", tag))
        return None

    def _ensure_test_definition(self, body: dict[str, Any]) -> str | None:
        name = body["testDefinition"]
        if ("testDefinition", name) in self._present:
            return None
        response = self._call("GET", f"dataQuality/testDefinitions/name/{quote(name, safe='')}")
        if response.status_code == 404:
            if not self.config.create_test_definitions:
                return (
                    f"test definition {name} does not exist in OpenMetadata; create it, or set "
                    "create_test_definitions"
                )
            request = api.test_definition_request(body)
            response = self._call("PUT", "dataQuality/testDefinitions", json=request)
        if not response.ok:
            return f"test definition {name}: {error_message(response)}"
        self._present.add(("testDefinition", name))
        return None

    def _override(
        self, entity_type: str, entity: dict[str, Any], sent: dict[str, Any]
    ) -> str | None:
        """Make the source's description, tags and owners win over edits made in OpenMetadata
        (a PUT by a bot keeps them)."""
        patch = [
            {"op": "add", "path": f"/{name}", "value": sent[name]}
            for name in ("description", "tags", "owners")
            if name in sent and _differs(name, entity.get(name), sent[name])
        ]
        if not patch:
            return None
        response = self._call(
            "PATCH",
            f"{COLLECTIONS[entity_type]}/{entity['id']}",
            data=orjson.dumps(patch),
            headers={"Content-Type": "application/json-patch+json"},
        )
        return None if response.ok else error_message(response)

    def _soft_delete(self, change: Change) -> str | None:
        fqn = self._naming.fqn(change.key)
        entity_id = self._id_of(change.entity_type, fqn)
        if entity_id is None:
            return None  # already gone: what a deletion wants
        response = self._call(
            "DELETE",
            f"{COLLECTIONS[change.entity_type]}/{entity_id}",
            params={"hardDelete": "false", "recursive": "true"},
        )
        self._ids.pop((change.entity_type, fqn), None)
        return None if response.ok or response.status_code == 404 else error_message(response)

    def _add_lineage(self, payload: dict[str, Any]) -> str | None:
        ids = []
        for entity_type, fqn in api.lineage_ends(payload, self._naming):
            entity_id = self._id_of(entity_type, fqn)
            if entity_id is None:
                return f"lineage end {entity_type} {fqn} is not in OpenMetadata (yet)"
            ids.append(entity_id)
        pipeline = api.lineage_pipeline(payload, self._naming)
        pipeline_id = None if pipeline is None else self._id_of(*pipeline)
        if pipeline is not None and pipeline_id is None:
            # Like a missing end: the edge stays pending and goes once the pipeline is there.
            return (
                f"lineage pipeline {pipeline[1]} is not in OpenMetadata (yet); the edge is sent "
                "again on the next run: sync that pipeline, or fix the name its source gives it"
            )
        body = api.lineage_request(payload, ids[0], ids[1], self._naming, pipeline_id=pipeline_id)
        response = self._call("PUT", "lineage", json=body)
        return None if response.ok else error_message(response)

    def _remove_lineage(self, payload: dict[str, Any]) -> str | None:
        parts = []
        for entity_type, fqn in api.lineage_ends(payload, self._naming):
            entity_id = self._id_of(entity_type, fqn)
            if entity_id is None:
                return None  # an edge whose end is gone is gone with it
            parts += [entity_type, entity_id]
        response = self._call("DELETE", "lineage/" + "/".join(parts))
        return None if response.ok or response.status_code == 404 else error_message(response)

    def _add_test_result(self, payload: dict[str, Any]) -> str | None:
        response = self._call(
            "POST",
            api.test_result_path(payload, self._naming),
            json=api.test_result_request(payload),
        )
        # 409: this execution is already recorded (a re-delivery after a crash).
        return None if response.ok or response.status_code == 409 else error_message(response)

    def _add_pipeline_status(self, payload: dict[str, Any]) -> str | None:
        # A repeat of a run's timestamp replaces that run's status: re-delivery is harmless.
        response = self._call(
            "PUT",
            api.pipeline_status_path(payload, self._naming),
            json=api.pipeline_status_request(payload),
        )
        return None if response.ok else error_message(response)

    # --- bulk ---------------------------------------------------------------------------

    def _bulk_allowed(self) -> bool:
        return self._bulk is not False and not self.config.override_metadata

    def _upsert_bulk(self, changes: list[Change]) -> Refusals:
        """Create or update entities of one type in one request per `batch_size`."""
        refusals: Refusals = {}
        for start in range(0, len(changes), self.config.batch_size):
            chunk = changes[start : start + self.config.batch_size]
            bodies: dict[str, tuple[Change, dict[str, Any]]] = {}
            for change in chunk:
                body, reason = self._request_of(change)
                if reason is not None:
                    refusals[change.seq] = reason
                    continue
                fqn = self._naming.fqn(change.key)
                bodies[fqn] = (change, body)
            refusals.update(self._send_bulk(chunk[0].entity_type, bodies))
        return refusals

    def _send_bulk(
        self, entity_type: str, bodies: dict[str, tuple[Change, dict[str, Any]]]
    ) -> Refusals:
        if not bodies:
            return {}
        response = self._call(
            "PUT", f"{COLLECTIONS[entity_type]}/bulk", json=[b for _, b in bodies.values()]
        )
        if response.status_code in (404, 405):
            log.info("the server has no bulk endpoint; sending entities one by one")
            self._bulk = False
        if not response.ok:
            # No per-entity verdict: send each alone, so each gets its own answer.
            return {
                change.seq: reason
                for change, _ in bodies.values()
                if (reason := self._upsert(change)) is not None
            }
        self._bulk = True
        failed = response.json().get("failedRequest") or []
        refusals: Refusals = {}
        for item in failed:
            fqn = _bulk_item_fqn(entity_type, item.get("request"))
            if fqn in bodies:
                refusals[bodies[fqn][0].seq] = _bulk_message(item)
        if len(refusals) < len(failed):
            # Failures we cannot match to an entity: send those entities alone to learn which.
            for fqn, (change, _) in bodies.items():
                if change.seq not in refusals and self._id_of(entity_type, fqn) is None:
                    reason = self._upsert(change)
                    if reason is not None:
                        refusals[change.seq] = reason
        return refusals

    # --- lookups ------------------------------------------------------------------------

    def _id_of(self, entity_type: str, fqn: str) -> str | None:
        """The id of a live entity, or None when OpenMetadata does not have it."""
        cached = self._ids.get((entity_type, fqn))
        if cached is not None:
            return cached
        if entity_type not in COLLECTIONS:
            return None
        response = self._call("GET", api.path_of(entity_type, fqn))
        if response.status_code == 404:
            return None
        if not response.ok:
            raise SinkError(
                f"OpenMetadata lookup of {entity_type} {fqn}: {error_message(response)}"
            )
        return self._remember(entity_type, response.json())

    def _remember(self, entity_type: str, entity: dict[str, Any]) -> str:
        entity_id = str(entity["id"])
        self._ids[(entity_type, str(entity["fullyQualifiedName"]))] = entity_id
        return entity_id

    def _owner(self, owner: Owner) -> dict[str, str] | str:
        """An owner as OpenMetadata references it, or why it cannot be."""
        if owner not in self._owners:
            collection = "teams" if owner.type == "team" else "users"
            name = quote(fqns.quote(owner.name), safe="")
            response = self._call("GET", f"{collection}/name/{name}")
            if response.ok:
                self._owners[owner] = {"id": str(response.json()["id"]), "type": owner.type}
            elif response.status_code == 404:
                self._owners[owner] = (
                    f"owner {owner.type} {owner.name!r} does not exist in OpenMetadata; "
                    "create it there or change the rule that assigns it"
                )
            else:
                return error_message(response)
        return self._owners[owner]

    # --- transport ----------------------------------------------------------------------

    @property
    def _client(self) -> HttpClient:
        if self._http is None:
            self._http = HttpClient(
                str(self.config.server) + "/v1",
                auth=self._auth,
                timeout=self.config.timeout_seconds,
                tls=self.config.tls,
                retry=self.config.retry,
                transport=self._transport,
            )
        return self._http

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request; the failures that concern every change end the sink's delivery."""
        try:
            response = self._client.request(method, path, **kwargs)
        except Unavailable as exc:
            raise SinkError(f"OpenMetadata at {self.config.server}: {exc}") from None
        if response.status_code == 401:
            raise SinkError(
                f"OpenMetadata at {self.config.server} refused the token (HTTP 401): it is "
                "wrong or expired; issue a new one for the bot and update the secret"
            )
        if response.is_redirect:
            raise SinkError(
                f"OpenMetadata at {self.config.server} redirects to "
                f"{response.headers.get('Location')}; set `server` to the API's own address"
            )
        return response

    # --- test-connection ----------------------------------------------------------------

    def _check_version(self) -> tuple[str, bool, str]:
        try:
            response = self._client.request("GET", "system/version")
        except Unavailable as exc:
            return ("server", False, f"{self.config.server}: {exc}")
        if response.status_code == 401:  # some servers guard even their version
            return ("server", True, f"reachable at {self.config.server}")
        if not response.ok:
            return ("server", False, f"{self.config.server}: {error_message(response)}")
        version = str(response.json().get("version", "?"))
        numbers = tuple(int(p) for p in version.split("-")[0].split(".")[:2] if p.isdigit())
        if numbers < _OLDEST:
            oldest = ".".join(map(str, _OLDEST))
            return ("server", False, f"OpenMetadata {version}; syncer needs {oldest} or later")
        return ("server", True, f"OpenMetadata {version} at {self.config.server}")

    def _check_token(self) -> tuple[str, bool, str]:
        try:
            response = self._call("GET", "users/loggedInUser")
        except SinkError as exc:
            return ("token", False, str(exc))
        if not response.ok:
            return ("token", False, error_message(response))
        user = response.json()
        kind = "bot" if user.get("isBot") else "user"
        return ("token", True, f"accepted: {kind} {user.get('name')}")

    def _check_rights(self) -> tuple[str, bool, str]:
        response = self._call("GET", "permissions")
        if not response.ok:
            return ("rights", False, error_message(response))
        allowed = {
            (entry.get("resource"), p.get("operation"))
            for entry in response.json().get("data", [])
            for p in entry.get("permissions", [])
            if p.get("access") in ("allow", "conditionalAllow")
        }
        missing = [
            f"{resource}: {', '.join(op for op in ops if (resource, op) not in allowed)}"
            for resource, ops in _RIGHTS.items()
            if any((resource, op) not in allowed for op in ops)
        ]
        if missing:
            return (
                "rights",
                False,
                "the token may not " + "; ".join(missing) + " (give the bot the IngestionBotRole)",
            )
        return ("rights", True, "may create, edit and delete every entity type syncer sends")


def _runs(changes: Sequence[Change], bulk: bool) -> Iterator[list[Change]]:
    """Changes in log order, with consecutive upserts of one type grouped for a bulk request."""

    def bulk_key(change: Change) -> str | None:
        if bulk and change.kind != "deleted" and change.entity_type in COLLECTIONS:
            return change.entity_type
        return None

    for key, group in groupby(changes, key=bulk_key):
        if key is None:
            yield from ([c] for c in group)
        else:
            yield list(group)


def _differs(name: str, theirs: Any, ours: Any) -> bool:
    if name == "owners":
        return {o.get("id") for o in theirs or []} != {o["id"] for o in ours}
    if name == "tags":
        return {t.get("tagFQN") for t in theirs or []} != {t["tagFQN"] for t in ours}
    return bool(theirs != ours)


def _bulk_item_fqn(entity_type: str, request: Any) -> str | None:
    """The FQN a bulk result item is about: given as a string, or as the request itself."""
    if isinstance(request, str):
        return request
    if not isinstance(request, dict) or "name" not in request:
        return None
    if entity_type.endswith("Service"):
        return fqns.quote(request["name"])
    parent = next(
        (request[f] for f in ("databaseSchema", "database", "service") if f in request), None
    )
    return fqns.join(parent, request["name"]) if parent else None


def _bulk_message(item: dict[str, Any]) -> str:
    status = item.get("status")
    message = " ".join(str(item.get("message") or "refused").split())
    return f"HTTP {status}: {message}" if status else message
