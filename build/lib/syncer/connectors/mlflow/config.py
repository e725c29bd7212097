"""The mlflow source's config: which tracking server to read, how, and which models to keep."""

from __future__ import annotations

from functools import cached_property

from pydantic import Field, field_validator

from syncer.http import HttpAuthConfig, RetryPolicy, TlsConfig
from syncer.patterns import IncludeExclude, check_regexes
from syncer.steps import StepConfig
from syncer.urls import HttpAddress


class MlflowConfig(StepConfig):
    # The tracking server's base URL, as MLflow clients name it (MLFLOW_TRACKING_URI); the REST
    # API is read under /api/2.0/mlflow and the MLmodel files under /model-versions.
    tracking_uri: HttpAddress
    service_name: str = Field(default="mlflow", min_length=1)
    auth: HttpAuthConfig | None = None
    tls: TlsConfig = TlsConfig()
    timeout_seconds: float = Field(default=30.0, gt=0)
    retry: RetryPolicy = RetryPolicy()
    # Registered models per search page (MLflow accepts at most 1000).
    page_size: int = Field(default=100, ge=1, le=1000)
    # Regexes (re.search) on registered model names.
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    # Each model is described by the version this alias points to (e.g. champion); a model
    # without the alias, or with no alias configured, by its latest version.
    version_alias: str | None = Field(default=None, min_length=1)
    # Read each described version's MLmodel file (its flavor is the algorithm, its signature
    # the features and target); false for a server that cannot serve its artifact store.
    mlmodel_files: bool = True
    # MLflow tags become OpenMetadata tag labels `<classification>.<key>=<value>`; null leaves
    # them out (OpenMetadata refuses labels whose classification and tag do not exist).
    tag_classification: str | None = Field(default="MLflow", min_length=1)
    # Also sync experiments, as `record` entities (OpenMetadata has no experiment entity).
    experiments: bool = False
    # MLflow stamps a change when its transaction starts, not when it commits: an incremental
    # read goes back this far to catch changes that committed after a later one was read.
    lookback_seconds: int = Field(default=60, ge=0)

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
