"""The airflow source's config: which Airflow to read, how to log in, and which DAGs to keep."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, field_validator

from syncer.http import (
    ApiKeyAuthConfig,
    BasicAuthConfig,
    BearerAuthConfig,
    RetryPolicy,
    TlsConfig,
)
from syncer.patterns import IncludeExclude, check_regexes
from syncer.steps import StepConfig
from syncer.urls import HttpAddress

ApiVersion = Literal["auto", "v1", "v2"]


class JwtAuthConfig(StepConfig):
    """Airflow 3: a username and password exchanged for a JWT at `POST /auth/token`."""

    type: Literal["jwt"]
    """Airflow 3's token endpoint: `jwt`."""
    username: str = Field(min_length=1)
    """The user that logs in."""
    password: str = Field(min_length=1)
    """Its password, as a secret reference."""
    token_path: str = "/auth/token"
    """The token endpoint, relative to `host`."""


# `auth:` of the airflow source: the shared HTTP auths, plus Airflow 3's token endpoint.
AirflowAuthConfig = Annotated[
    BearerAuthConfig | BasicAuthConfig | ApiKeyAuthConfig | JwtAuthConfig,
    Field(discriminator="type"),
]


class DagPatterns(StepConfig):
    """Regular expressions matched (with `re.search`) against DAG ids."""

    dags: list[str] = Field(default_factory=list)
    """Regexes (searched) on DAG ids."""

    _compile = field_validator("dags")(check_regexes)


class AirflowConfig(StepConfig):
    host: HttpAddress = Field(examples=["http://airflow.internal:8080"])
    """The webserver (Airflow 2) or api-server (Airflow 3), e.g. http://airflow.internal:8080."""
    api_version: ApiVersion = "auto"
    """The REST API version; auto: v2 (Airflow 3) if the server has it, else v1."""
    auth: AirflowAuthConfig | None = None
    """How to log in: `jwt` (Airflow 3), `basic`, `bearer` or `api_key`; credentials as secret
    references."""
    service_name: str = Field(default="airflow", min_length=1)
    """The pipeline service: the first part of every FQN."""
    ui_url: HttpAddress | None = None
    """Where people open the Airflow UI, for source URLs and log links; `host` by default."""
    include: DagPatterns = DagPatterns()
    """DAGs to keep; none given: every DAG."""
    exclude: DagPatterns = DagPatterns()
    """DAGs to leave out, with their runs and lineage."""
    asset_services: dict[str, str] = Field(default_factory=dict)
    """Asset (dataset) URI prefix -> the OpenMetadata database service that holds the table, e.g.
    {"postgres://db.internal:5432/sales": "warehouse"}: postgres://db.internal:5432/sales/
    public/orders is the table warehouse.sales.public.orders."""
    dag_lineage: bool = True
    """Lineage between two DAGs joined by an asset that is not a table (a file, a topic)."""
    tag_classification: str = Field(default="AirflowTags", min_length=1)
    """The classification Airflow's tags go under."""
    ignore_owners: list[str] = Field(default_factory=lambda: ["airflow"])
    """Owner names that are Airflow's placeholders, not people."""
    page_size: int = Field(default=100, ge=1, le=1000)
    """Items per page of every list (Airflow caps it at its maximum_page_limit)."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """Per HTTP request."""
    tls: TlsConfig = TlsConfig()
    """Certificate checks of the HTTPS connections."""
    retry: RetryPolicy = RetryPolicy()
    """Retries of connection errors, 408, 429 and 5xx, with backoff; Retry-After is honoured."""

    @field_validator("asset_services")
    @classmethod
    def _prefixes_are_uris(cls, value: dict[str, str]) -> dict[str, str]:
        for prefix, service in value.items():
            if "://" not in prefix:
                raise ValueError(
                    f"{prefix!r} is not a URI prefix; write it as Airflow shows the asset, "
                    "e.g. postgres://db.internal:5432/sales"
                )
            if not service:
                raise ValueError(f"{prefix!r} names no service")
        return value

    @property
    def base_url(self) -> str:
        return str(self.host).rstrip("/")

    @property
    def links_base(self) -> str:
        return str(self.ui_url or self.host).rstrip("/")

    @cached_property
    def _dags(self) -> IncludeExclude:
        return IncludeExclude.of(self.include.dags, self.exclude.dags)

    def keeps(self, dag_id: str) -> bool:
        """Whether the include/exclude patterns keep a DAG."""
        return self._dags.keeps(dag_id)
