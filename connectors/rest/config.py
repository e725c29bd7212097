"""The rest source's config: an API's base URL and auth, and what to read from each endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from syncer.connectors.rest import timefmt
from syncer.connectors.rest.expressions import Expression, Template
from syncer.connectors.rest.mapping import RECORD, EntityMapper, FieldMapping
from syncer.connectors.rest.paginate import PaginationConfig
from syncer.http import HttpAuthConfig, RetryPolicy, TlsConfig
from syncer.models import ENTITY_TYPES
from syncer.steps import DeletionPolicy, StepConfig
from syncer.urls import HttpAddress

ParamValue = str | int | float | bool | list[str | int | float]
SINCE = "{since}"
SERVICE_STREAM = "services"


class ServiceConfig(StepConfig):
    """The service entity the mapped entities hang under (an `mlmodelService`, …)."""

    type: str = "mlmodelService"
    """The service's entity type, e.g. mlmodelService."""
    name: str = Field(min_length=1)
    """The service's name: the first part of the mapped entities' FQNs."""
    service_type: str = Field(default="CustomService", min_length=1)
    """Its serviceType (OpenMetadata's enum)."""
    display_name: str | None = None
    """The name people see."""
    description: str | None = None
    """The service's description."""

    @field_validator("type")
    @classmethod
    def _is_service(cls, value: str) -> str:
        services = sorted(t for t, m in ENTITY_TYPES.items() if "service_type" in m.model_fields)
        if value not in services:
            raise ValueError(f"{value!r} is not a service type; use one of {', '.join(services)}")
        return value


class CursorConfig(StepConfig):
    """Incremental reads: the record field the engine keeps a watermark of, and where the
    request carries it (if the API can filter at all)."""

    field: str
    """Expression: the record's time of last change."""
    format: str = "iso"
    """How the record writes it: iso, epoch_s, epoch_ms or strftime."""
    ordering: Literal["ascending", "descending", "unsorted"] = "unsorted"
    """How the API returns records: ascending lets the watermark advance with each batch; descending
    lets a read stop at the first record older than the watermark."""
    lookback_seconds: float = Field(default=0, ge=0)
    """How far before the watermark an incremental read starts."""
    param: str | None = None
    """The request parameter that receives the watermark."""
    param_format: str | None = None
    """Its format; the record's `format` unless given."""
    param_template: str | None = None
    """The parameter's text around the value, e.g. "updated >= {since}"; just the value if unset."""

    @field_validator("field")
    @classmethod
    def _expression(cls, value: str) -> str:
        Expression(value)
        return value

    @field_validator("format", "param_format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        return None if value is None else timefmt.check_format(value)

    @model_validator(mode="after")
    def _template(self) -> CursorConfig:
        if self.param_template is not None:
            if self.param is None:
                raise ValueError("param_template needs param: the request parameter it fills")
            if SINCE not in self.param_template:
                raise ValueError(f"param_template must hold {SINCE}, where the watermark goes")
        return self


class EndpointConfig(StepConfig):
    """One endpoint: a stream of records, mapped to entities of one type."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    """The stream's name (letters, digits, _ and -)."""
    path: str = Field(min_length=1)
    """Relative to base_url; `{parent.x}` in a child endpoint."""
    parent: str | None = None
    """The endpoint whose every record this one is read for."""
    params: dict[str, ParamValue] = Field(default_factory=dict)
    """Query parameters; a list repeats the parameter; text may use {parent.<expr>}."""
    records: str | None = None
    """Expression: where the records are in the body; all of it if unset."""
    on_missing_records: Literal["error", "empty"] = "error"
    """`empty` when the API leaves the list out when it is empty."""
    entity: str = RECORD
    """The entity type each record becomes."""
    primary_key: str | list[str] | None = None
    """Expression(s) that identify a record, joined with `/`; required for `record` entities."""
    fields: dict[str, FieldMapping] | None = None
    """Entity field -> an expression, or {path, default, format}, {value} or {template}; unset: the
    whole record (for `record`)."""
    pagination: PaginationConfig | None = None
    """How to ask for the next page; unset: one page."""
    cursor: CursorConfig | None = None
    """Incremental reads; unset: every run reads everything."""
    deletions: DeletionPolicy = "detect"
    """`detect`: records a whole read no longer lists are deleted, but an empty answer deletes
    nothing (it looks like an outage); `complete`: an empty answer is believed too; `never`
    when the endpoint cannot list everything it has."""

    @field_validator("records")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None:
            Expression(value)
        return value

    @property
    def primary_keys(self) -> list[str]:
        if self.primary_key is None:
            return []
        return [self.primary_key] if isinstance(self.primary_key, str) else self.primary_key

    def templates(self) -> list[tuple[str, Template]]:
        """The path and the text parameters, each a template that may read the parent."""
        found = [("path", Template(self.path))]
        found += [
            (f"params.{k}", Template(v)) for k, v in self.params.items() if isinstance(v, str)
        ]
        return found


class RestConfig(StepConfig):
    base_url: HttpAddress = Field(examples=["https://api.example.com/v1"])
    """The API's root; endpoint paths are relative to it."""
    auth: HttpAuthConfig | None = None
    """`bearer`, `basic` or `api_key`; credentials as secret references."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Sent with every request."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """Per HTTP request."""
    tls: TlsConfig = Field(default_factory=TlsConfig)
    """Certificate checks of the HTTPS connections."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    """Retries of connection errors, 408, 429 and 5xx, with backoff; Retry-After is honoured."""
    requests_per_second: float | None = Field(default=None, gt=0)
    """Paces requests below the API's rate limit; 429s are retried in any case."""
    service: ServiceConfig | None = None
    """The service entity the mapped entities belong to; it fills their `service` field."""
    endpoints: list[EndpointConfig] = Field(min_length=1)
    """What to read: one stream per endpoint."""

    @model_validator(mode="after")
    def _endpoints_fit(self) -> RestConfig:
        names: dict[str, EndpointConfig] = {}
        for i, endpoint in enumerate(self.endpoints):
            where = f"endpoints.{i} ({endpoint.name})"
            if endpoint.name in names or endpoint.name == SERVICE_STREAM:
                raise ValueError(f"{where}: another stream is named {endpoint.name!r}")
            names[endpoint.name] = endpoint
            try:
                self.mapper(endpoint)
                _check_templates(endpoint)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        for i, endpoint in enumerate(self.endpoints):
            _check_parents(endpoint, names, f"endpoints.{i} ({endpoint.name})")
        return self

    def mapper(self, endpoint: EndpointConfig) -> EntityMapper:
        cursor = endpoint.cursor
        return EntityMapper(
            endpoint.name,
            endpoint.entity,
            endpoint.fields,
            endpoint.primary_keys,
            service=self.service.name if self.service else None,
            cursor=(cursor.field, cursor.format) if cursor else None,
        )


def _check_templates(endpoint: EndpointConfig) -> None:
    for key, template in endpoint.templates():
        for expression in template.expressions:
            if not expression.on_parent:
                raise ValueError(
                    f"{key}: {{{expression.text}}} reads no parent; a request can only be "
                    "filled from the parent record, as {parent.name}"
                )
            if endpoint.parent is None:
                raise ValueError(
                    f"{key}: {{{expression.text}}} needs a parent endpoint; set `parent:`"
                )


def _check_parents(endpoint: EndpointConfig, names: dict[str, EndpointConfig], where: str) -> None:
    seen = {endpoint.name}
    current = endpoint
    while current.parent is not None:
        if current.parent not in names:
            raise ValueError(f"{where}: parent {current.parent!r} is not an endpoint here")
        if current.parent in seen:
            raise ValueError(f"{where}: parents go round in a circle through {current.parent!r}")
        seen.add(current.parent)
        current = names[current.parent]
