"""The openlineage source's config: the inbox it reads, and the receiver that fills it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from syncer import fqn
from syncer.paths import ConfigPath
from syncer.steps import StepConfig

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Addresses that only this machine reaches: the receiver may listen there without a token."""


def is_loopback(host: str) -> bool:
    return host.strip("[]") in LOOPBACK_HOSTS


class ReceiverSpec(StepConfig):
    """Where `syncer serve` listens for OpenLineage events, and what it lets in."""

    host: str = Field(default="127.0.0.1", min_length=1)
    """The address to listen on; beyond 127.0.0.1, localhost or ::1 a token is required."""
    port: int = Field(default=5000, ge=1, le=65535)
    """The port to listen on (OpenLineage's clients default to 5000 too)."""
    token: str | None = None
    """The token that requests must carry as `Authorization: Bearer TOKEN`, as a secret
    reference (`${env:NAME}`); none: any local process may send events."""
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    """The largest request body accepted (a batch counts as one); larger ones get 413."""

    @model_validator(mode="after")
    def _token_beyond_this_machine(self) -> ReceiverSpec:
        if self.token is None and not is_loopback(self.host):
            raise ValueError(
                f"host {self.host} listens beyond this machine: set token to a secret "
                "reference such as ${env:SYNCER_LINEAGE_TOKEN}, or listen on 127.0.0.1"
            )
        return self


# What a dataset that no `namespaces` entry maps becomes: `pending` holds its edges back (a run
# warning names the dataset and the namespace to add) until its namespace is mapped; `create`
# makes it a minimal table of its own (`created`), so that its edges are delivered at once.
UnknownDatasets = Literal["pending", "create"]


class OpenLineageConfig(StepConfig):
    """The openlineage source: the inbox `syncer serve` fills, and how its datasets are named."""

    inbox: ConfigPath = Path(".syncer/openlineage.sqlite")
    """The inbox file the receiver writes and this source reads; relative to the config file's
    folder."""
    receiver: ReceiverSpec = ReceiverSpec()
    """Where `syncer serve` listens for events, and what it lets in."""
    service_name: str = Field(default="openlineage", min_length=1)
    """The pipeline service that holds a pipeline per OpenLineage job."""
    namespaces: dict[str, str] = Field(default_factory=dict)
    """OpenLineage dataset namespace -> the FQN prefix our sql source gives that server, usually
    its service name, e.g. {"postgres://db.internal:5432": "warehouse"}. Where the dataset name
    lacks the database level (MySQL's database.table), give service.database, e.g.
    {"mysql://db.internal:3306": "shop.app"}."""
    unknown_datasets: UnknownDatasets = "pending"
    """A dataset in an unmapped namespace: `pending` holds its edges back, with a run warning
    naming the namespace to add, and sends them once the namespace is mapped; `create` makes it
    a table of its own, with the columns of its `schema` facet, in a database service named
    `<service_name>_<namespace>` (e.g. openlineage_postgres_db_internal_5432), and sends its
    edges at once. Mapping the namespace later deletes the created table."""
    retire_after_runs: int = Field(default=3, ge=1)
    """Lineage comes from each job's last N ended runs: an edge a job has not produced for N
    runs is deleted."""

    @field_validator("namespaces")
    @classmethod
    def _prefixes_are_fqns(cls, value: dict[str, str]) -> dict[str, str]:
        for namespace, prefix in value.items():
            try:
                parts = fqn.split(prefix)
            except fqn.FQNError as exc:
                raise ValueError(f"{namespace!r}: {exc}; quote a name that holds a dot") from None
            if len(parts) > 3:
                raise ValueError(
                    f"{namespace!r}: {prefix!r} has {len(parts)} parts; give the service, or "
                    "service.database, or service.database.schema"
                )
        return value
