"""The dbt source's config: where the artifacts are, and which warehouse service they describe."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from syncer.http import HttpAuthConfig, RetryPolicy, TlsConfig
from syncer.paths import beside_config
from syncer.steps import StepConfig
from syncer.urls import check_http_url


class DbtConfig(StepConfig):
    path: str = Field(min_length=1, examples=["../dbt/target", "https://ci.example.com/dbt/target"])
    """A folder holding dbt's artifacts (the project's `target/`; relative to the config file's
    folder), or an http(s) URL of one."""
    service_name: str = Field(min_length=1)
    """The warehouse's database service in the catalog: the name the sql source gives it, so that
    dbt's tables and the warehouse's are the same entities."""
    service_type: str | None = None
    """OpenMetadata's serviceType; by default from the manifest's adapter type."""
    default_database: str = Field(default="default", min_length=1)
    """The database of relations dbt gives none (adapters with two-part names, e.g. MySQL)."""
    column_lineage: bool = True
    """Derive column lineage by parsing each model's compiled SQL."""
    tag_classification: str = Field(default="dbtTags", min_length=1)
    """The classification dbt tags are put under (OpenMetadata's dbt ingestion uses `dbtTags`)."""
    auth: HttpAuthConfig | None = None
    """Reading the artifacts over HTTP."""
    tls: TlsConfig = TlsConfig()
    """Certificate checks of the HTTPS connections."""
    timeout_seconds: float = Field(default=60, gt=0)
    """Per HTTP request."""
    retry: RetryPolicy = RetryPolicy()
    """Retries of connection errors, 408, 429 and 5xx, with backoff; Retry-After is honoured."""

    @field_validator("path")
    @classmethod
    def _path_kind(cls, value: str, info: ValidationInfo) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else None
        if scheme is not None and scheme not in ("http", "https"):
            raise ValueError(
                f"{scheme}:// is not read; give a local folder or an http(s):// URL of dbt's"
                " target/ folder"
            )
        if scheme is None:
            return str(beside_config(Path(value), info))
        return check_http_url(value)

    @property
    def is_url(self) -> bool:
        return "://" in self.path
