"""The mlflow source's config: which tracking server to read, how, and which models to keep."""

from __future__ import annotations

from functools import cached_property

from pydantic import Field, field_validator

from syncer.http import HttpAuthConfig, RetryPolicy, TlsConfig
from syncer.patterns import IncludeExclude, check_regexes
from syncer.steps import StepConfig
from syncer.urls import HttpAddress


class MlflowConfig(StepConfig):
    tracking_uri: HttpAddress = Field(examples=["http://mlflow.internal:5000"])
    """The tracking server's base URL, as MLflow clients name it (MLFLOW_TRACKING_URI); the REST API
    is read under /api/2.0/mlflow and the MLmodel files under /model-versions."""
    service_name: str = Field(default="mlflow", min_length=1)
    """The mlmodelService: the first part of every FQN."""
    auth: HttpAuthConfig | None = None
    """`basic` (MLflow's basic-auth app), `bearer` or `api_key`; credentials as references."""
    tls: TlsConfig = TlsConfig()
    """Certificate checks of the HTTPS connections."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """Per HTTP request."""
    retry: RetryPolicy = RetryPolicy()
    """Retries of connection errors, 408, 429 and 5xx, with backoff; Retry-After is honoured."""
    page_size: int = Field(default=100, ge=1, le=1000)
    """Registered models per search page (MLflow accepts at most 1000)."""
    include: list[str] = Field(default_factory=list)
    """Regexes (re.search) on registered model names."""
    exclude: list[str] = Field(default_factory=list)
    """Regexes (re.search) on registered model names to leave out."""
    version_alias: str | None = Field(default=None, min_length=1)
    """Each model is described by the version this alias points to (e.g. champion); a model without
    the alias, or with no alias configured, by its latest version."""
    mlmodel_files: bool = True
    """Read each described version's MLmodel file (its flavor is the algorithm, its signature the
    features and target); false for a server that cannot serve its artifact store."""
    tag_classification: str | None = Field(default="MLflow", min_length=1)
    """MLflow tags become OpenMetadata tag labels `<classification>.<key>=<value>`; null leaves them
    out (OpenMetadata refuses labels whose classification and tag do not exist)."""
    experiments: bool = False
    """Also sync experiments, as `record` entities (OpenMetadata has no experiment entity)."""
    lookback_seconds: int = Field(default=60, ge=0)
    """MLflow stamps a change when its transaction starts, not when it commits: an incremental read
    goes back this far to catch changes that committed after a later one was read."""

    _patterns_compile = field_validator("include", "exclude")(check_regexes)

    @property
    def base_url(self) -> str:
        """The tracking URI without a trailing slash, as links and requests are built on it."""
        return str(self.tracking_uri).rstrip("/")

    @cached_property
    def _models(self) -> IncludeExclude:
        return IncludeExclude.of(self.include, self.exclude)

    def keeps(self, name: str) -> bool:
        """Whether the include/exclude patterns keep a registered model."""
        return self._models.keeps(name)
