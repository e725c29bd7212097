"""Reads dbt's artifacts (manifest, catalog, run results) from a folder or over HTTP.

Each artifact is checked before it is used: valid JSON, a dbt artifact of the expected kind,
and a schema version this source reads. Every problem is one `ArtifactError` line that names
the file or URL and says what to do.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from syncer.errors import SourceError
from syncer.http import HttpClient, Unavailable, error_message

ArtifactName = Literal["manifest.json", "catalog.json", "run_results.json"]


@dataclass(frozen=True, slots=True)
class _Schema:
    kind: str  # as dbt names it in `dbt_schema_version`: .../dbt/<kind>/v<N>.json
    versions: tuple[int, ...]
    produced_by: str  # the dbt command that writes it, for messages


SCHEMAS: dict[ArtifactName, _Schema] = {
    # v9 is dbt 1.5's manifest, v12 that of dbt 1.8 and later.
    "manifest.json": _Schema(
        "manifest", (9, 10, 11, 12), "dbt build, dbt run or dbt docs generate"
    ),
    "catalog.json": _Schema("catalog", (1,), "dbt docs generate"),
    "run_results.json": _Schema("run-results", (4, 5, 6), "dbt build or dbt test"),
}
# The dbt release that writes each manifest schema version, to say which dbt wrote a file.
_MANIFEST_DBT = {
    1: "0.19", 2: "0.20", 3: "0.21", 4: "1.0", 5: "1.1", 6: "1.2", 7: "1.3", 8: "1.4",
    9: "1.5", 10: "1.6", 11: "1.7", 12: "1.8 or later",
}  # fmt: skip
_VERSION = re.compile(r"/dbt/([a-z-]+)/v(\d+)\.json$")


class ArtifactError(SourceError):
    """An artifact cannot be read or used; `where` is its file or URL."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class Artifact:
    """One parsed artifact: where it came from, its schema version and its JSON."""

    where: str
    version: int
    data: dict[str, Any]

    @property
    def generated_at(self) -> datetime:
        text = (self.data.get("metadata") or {}).get("generated_at")
        try:
            value = datetime.fromisoformat(str(text))
        except ValueError:
            raise ArtifactError(
                self.where, f"metadata.generated_at {text!r} is not a timestamp"
            ) from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class ArtifactReader(ABC):
    """Where the artifacts live: `fetch` returns a file's bytes, or None if there is none."""

    @abstractmethod
    def where(self, name: ArtifactName) -> str: ...

    @abstractmethod
    def fetch(self, name: ArtifactName) -> bytes | None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def load(self, name: ArtifactName, *, required: bool) -> Artifact | None:
        """The artifact, checked; None when an optional one is not there."""
        body = self.fetch(name)
        where = self.where(name)
        if body is None:
            if not required:
                return None
            raise ArtifactError(
                where,
                f"not found; point `path` at the dbt project's target/ folder after "
                f"{SCHEMAS[name].produced_by}",
            )
        return parse(name, where, body)


class LocalArtifacts(ArtifactReader):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def where(self, name: ArtifactName) -> str:
        return str(self.folder / name)

    def fetch(self, name: ArtifactName) -> bytes | None:
        if not self.folder.is_dir():
            raise ArtifactError(
                str(self.folder), "no such folder; point `path` at the dbt project's target/"
            )
        try:
            return (self.folder / name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise ArtifactError(self.where(name), f"cannot be read ({err.strerror})") from None


class HttpArtifacts(ArtifactReader):
    """Artifacts published over HTTP (a static file server, an object store's web endpoint)."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def where(self, name: ArtifactName) -> str:
        return f"{self.client.base_url}/{name}"

    def fetch(self, name: ArtifactName) -> bytes | None:
        where = f"GET {self.where(name)}"
        try:
            response = self.client.request("GET", name)
        except Unavailable as err:
            raise SourceError(str(err)) from None
        if response.status_code == 404:
            return None
        if 300 <= response.status_code < 400:
            location = response.headers.get("Location", "elsewhere")
            raise ArtifactError(
                where,
                f"HTTP {response.status_code} redirects to {location}; set `path` to the URL the"
                " artifacts are served from",
            )
        if not response.ok:
            raise ArtifactError(where, error_message(response))
        kind = response.headers.get("Content-Type", "").split(";")[0].strip()
        if kind == "text/html":
            raise ArtifactError(
                where,
                f"answered {kind}, not JSON (HTTP {response.status_code}); check that `path` is"
                " the folder the artifacts are served from",
            )
        return response.content

    def close(self) -> None:
        self.client.close()


def parse(name: ArtifactName, where: str, body: bytes) -> Artifact:
    """Parse and check one artifact: JSON, the expected kind, a supported schema version."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise ArtifactError(
            where,
            f"is not valid JSON ({err}); the file may be truncated or still being written: "
            f"regenerate it with {SCHEMAS[name].produced_by}",
        ) from None
    schema = SCHEMAS[name]
    stated = data.get("metadata", {}).get("dbt_schema_version") if isinstance(data, dict) else None
    found = _VERSION.search(stated) if isinstance(stated, str) else None
    if not isinstance(data, dict) or found is None:
        raise ArtifactError(
            where, f"is not a dbt {schema.kind} artifact (no metadata.dbt_schema_version)"
        )
    kind, version = found.group(1), int(found.group(2))
    if kind != schema.kind:
        raise ArtifactError(where, f"is a dbt {kind} artifact, not a {schema.kind}")
    if version not in schema.versions:
        raise ArtifactError(where, unsupported(schema, version))
    return Artifact(where, version, data)


def unsupported(schema: _Schema, version: int) -> str:
    first, last = schema.versions[0], schema.versions[-1]
    reads = f"v{first}" if first == last else f"v{first} to v{last}"
    if schema.kind == "manifest":
        wrote = _MANIFEST_DBT.get(version)
        found = f"v{version} (written by dbt {wrote})" if wrote else f"v{version}"
        advice = (
            "rebuild the project with dbt 1.5 or later"
            if version < first
            else "this dbt is newer than syncer knows; upgrade syncer"
        )
        return (
            f"dbt manifest schema {found} is not supported; this source reads {reads} "
            f"(dbt 1.5 and later): {advice}"
        )
    advice = "regenerate it with dbt 1.5 or later" if version < first else "upgrade syncer"
    return (
        f"dbt {schema.kind} schema v{version} is not supported; this source reads {reads}: {advice}"
    )
