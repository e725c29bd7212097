"""The `openmetadata` sink's config: where the server is, how to authenticate, how to send."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, HttpUrl, field_validator, model_validator
from requests.adapters import BaseAdapter

from syncer.http import BearerToken, ClientCredentials, RetryPolicy, TlsConfig
from syncer.steps import StepConfig
from syncer.urls import HttpAddress


class TokenAuth(StepConfig):
    """A bot's JWT, from OpenMetadata's Settings → Bots."""

    provider: Literal["token"] = "token"
    """A bot's JWT."""
    token: str = Field(min_length=1)
    """The JWT, as a secret reference."""


class ClientCredentialsAuth(StepConfig):
    """OAuth2 client credentials: the token is fetched from `token_url` and renewed."""

    provider: Literal["client_credentials"]
    """OAuth2 client credentials."""
    token_url: HttpAddress
    """Where the token is fetched."""
    client_id: str = Field(min_length=1)
    """The OAuth2 client's id."""
    client_secret: str = Field(min_length=1)
    """The OAuth2 client's secret, as a secret reference."""
    scope: str | None = None
    """The scope asked for."""
    audience: str | None = None
    """The audience asked for."""


Auth = Annotated[TokenAuth | ClientCredentialsAuth, Field(discriminator="provider")]


class ServiceRename(StepConfig):
    name: str | None = Field(default=None, min_length=1)
    """Its name in OpenMetadata."""
    type: str | None = Field(default=None, min_length=1)
    """Its serviceType, e.g. MariaDB."""


class OpenMetadataConfig(StepConfig):
    server: HttpAddress = Field(examples=["http://localhost:8585/api"])
    """The API base, e.g. https://openmetadata.example.com/api."""
    token: str | None = Field(default=None, min_length=1)
    """A bot's JWT, as a secret reference: shorthand for auth: {token: ...}."""
    auth: Auth | None = None
    """`provider: client_credentials` (or `token`); or `token` instead."""
    tls: TlsConfig = Field(default_factory=TlsConfig)
    """Certificate checks of the HTTPS connections."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """Per request."""
    batch_size: int = Field(default=100, ge=1, le=1000)
    """Entities per bulk request."""
    override_metadata: bool = False
    """False: what people edited in OpenMetadata (descriptions, tags, owners) stays; True: the
    source's values replace it."""
    create_tags: bool = True
    """Create the tags (and their classifications) that entities use and OpenMetadata lacks, such as
    dbt's; false refuses such entities, naming what is missing."""
    create_test_definitions: bool = True
    """Create the test definitions that test cases use and OpenMetadata lacks (such as dbt's); false
    refuses such test cases."""
    services: dict[str, ServiceRename] = Field(default_factory=dict)
    """Services to name or type differently in OpenMetadata, by the source's service name."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    """Retries of connection errors, 408, 429 and 5xx, with backoff; Retry-After is honoured."""

    @field_validator("server")
    @classmethod
    def _api_base(cls, url: HttpUrl) -> HttpUrl:
        if not (url.path or "").rstrip("/").endswith("/api"):
            raise ValueError(
                f"{url} is not OpenMetadata's API base; it ends in /api, "
                "e.g. https://openmetadata.example.com/api"
            )
        return url

    @model_validator(mode="after")
    def _one_auth(self) -> OpenMetadataConfig:
        if (self.token is None) == (self.auth is None):
            raise ValueError(
                "give either token (a bot's JWT, as ${env:NAME} or ${keyring:service/user}) "
                "or auth (provider: client_credentials), not both or neither"
            )
        return self

    def authenticator(
        self, transport: BaseAdapter | None = None
    ) -> BearerToken | ClientCredentials:
        """The auth to send; client credentials fetch their token through `transport`, the
        API's (None: requests' own)."""
        auth = self.auth or TokenAuth(token=self.token or "")
        if isinstance(auth, TokenAuth):
            return BearerToken(auth.token)
        return ClientCredentials(
            str(auth.token_url),
            auth.client_id,
            auth.client_secret,
            scope=auth.scope,
            audience=auth.audience,
            timeout=self.timeout_seconds,
            verify=self.tls.requests_verify(),
            transport=transport,
        )
