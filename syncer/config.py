"""The workflow config: YAML validated by pydantic, secrets resolved, steps instantiated.

Every error names the file and the path of the offending key (`source.config.include.tables`)
and says what is wrong, on one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator
from pydantic_core import ErrorDetails

from syncer import paths, plugins, secrets, yamlfile
from syncer.airflow.spec import AirflowSpec
from syncer.errors import ConfigError
from syncer.fingerprint import fingerprint_of
from syncer.metrics import MetricsSpec
from syncer.steps import Processor, Sink, Source

# A `${...}` in a value: a secret reference if `secrets.is_reference` says so.
_BRACES = re.compile(r"\$\{[^}]*\}")
# Relative to the config file's folder, as every relative path in a config is (syncer.paths).
DEFAULT_STATE_PATH = Path(".syncer/state.duckdb")


class _Strict(BaseModel):
    # Each field's docstring is its description in the schema and the docs (syncer.schema).
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class StepSpec(_Strict):
    type: str = Field(min_length=1)
    """An installed step's name (`syncer connectors`), or a class of your own as module:Class."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The step's own settings (`syncer connectors NAME` lists them)."""


class SinkSpec(StepSpec):
    name: str | None = None
    """Names the sink's offset in the change log; two sinks of one type need distinct names."""


class StateSpec(_Strict):
    path: Path = DEFAULT_STATE_PATH
    """The state file, relative to the config file's folder; many workflows can share one."""
    memory_limit: str = Field(default="256MB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$")
    """DuckDB's cache for the state; beyond it DuckDB spills to disk. Lower it on small boxes."""


class DeletionSpec(_Strict):
    fail_safe_percent: float = Field(default=20.0, ge=0, le=100)
    """Deletions are refused when they would remove more than this share of a stream's entities, or
    of the workflow's, what goes with a deleted parent included."""
    enabled: bool = True
    """False never deletes."""
    unverifiable: Literal["skip", "delete"] = "skip"
    """What to do with an object the source cannot tell dropped from hidden (a database whose access
    was revoked, on MySQL without SHOW DATABASES): keep it (`skip`) or delete it. `syncer run
    --allow-deletions` deletes for one run."""


class CursorSpec(_Strict):
    future_tolerance_seconds: int = Field(default=300, ge=0, le=7 * 24 * 3600)
    """A time cursor's watermark never passes the run's start plus this much: a record stamped later
    (a source's clock running ahead, a typo such as 2099) is synced but does not move it."""


class UiSpec(_Strict):
    features: dict[str, bool] = Field(default_factory=dict, examples=[{"busiest-streams": True}])
    """Experimental `syncer ui` panels to show, by name; each is off unless turned on here or
    with `syncer ui --feature NAME`."""


class WorkflowConfig(_Strict):
    workflow: str = Field(
        pattern=r"^[A-Za-z0-9_.\-]+$", max_length=128, examples=["shop-to-openmetadata"]
    )
    """The name this workflow's runs, entities and changes are kept under."""
    source: StepSpec
    """Where entities are read from."""
    processors: list[StepSpec] = Field(default_factory=list)
    """Steps run in order on every entity."""
    sinks: list[SinkSpec] = Field(default_factory=list)
    """Where committed changes go."""
    state: StateSpec = Field(default_factory=StateSpec)
    """The state file."""
    deletions: DeletionSpec = Field(default_factory=DeletionSpec)
    """When deletions are detected, and the fail-safe that holds them back."""
    cursors: CursorSpec = Field(default_factory=CursorSpec)
    """Incremental reads' watermarks."""
    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    """Entities per committed batch."""
    metrics: MetricsSpec | None = None
    """Prometheus metrics after each run (syncer.metrics)."""
    airflow: AirflowSpec | None = None
    """How the Airflow DAG factory schedules this workflow (syncer.airflow); `run` ignores it."""
    ui: UiSpec = Field(default_factory=UiSpec)
    """The web view of this workflow's state (`syncer ui`); `run` ignores it."""

    @model_validator(mode="after")
    def _state_beside_the_config(self, info: ValidationInfo) -> WorkflowConfig:
        # Here rather than on StateSpec.path: the default, unvalidated, needs resolving too.
        self.state.path = paths.beside_config(self.state.path, info)
        return self


@dataclass
class LoadedConfig:
    """A validated workflow: its steps built, and the fingerprint of what the user wrote."""

    path: Path
    spec: WorkflowConfig
    fingerprint: str  # of the config as written: references, never their values
    source: Source
    processors: list[Processor]
    sinks: list[tuple[str, Sink]]
    # Of the source's and processors' config as written: what mapping a record depends on. A
    # change voids the raw digests stored with entities (`syncer.steps.Raw`).
    mapping_fingerprint: str = ""

    @property
    def state_path(self) -> Path:
        return self.spec.state.path


def read_yaml(path: Path) -> dict[str, Any]:
    # Bounded: at most 1 MB of UTF-8, nesting and aliases limited (see syncer.yamlfile).
    data = yamlfile.read(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with workflow, source and sinks")
    return data


def parse(path: Path, raw: dict[str, Any]) -> WorkflowConfig:
    """Validate the workflow's shape (not yet the steps' own configs)."""
    spec: WorkflowConfig = _validate(WorkflowConfig, raw, path, prefix="")
    return spec


def load(path: Path, *, state_override: Path | None = None) -> LoadedConfig:
    """Read, resolve secrets, validate and build every step; fails before any work is done."""
    raw = read_yaml(path)
    fingerprint = fingerprint_of(raw)
    shape = _check_as_written(path, raw)
    # Each value stripped of surrounding whitespace; those of secret-bearing fields masked.
    values = secrets.resolve(raw, _declared_secrets(shape))
    secrets.remember_credentials(values)  # user:password pairs, also as basic auth's base64
    resolved = parse(path, values)
    if state_override is not None:
        resolved.state.path = state_override
    source: Source = _build(path, "sources", resolved.source, "source", Source)
    processors: list[Processor] = [
        _build(path, "processors", p, f"processors.{i}", Processor)
        for i, p in enumerate(resolved.processors)
    ]
    sinks: list[tuple[str, Sink]] = [
        (s.name or s.type, _build(path, "sinks", s, f"sinks.{i}", Sink))
        for i, s in enumerate(resolved.sinks)
    ]
    _check_sinks(path, [(name, sink.config) for name, sink in sinks], resolved.state.path)
    mapping = fingerprint_of({"source": raw.get("source"), "processors": raw.get("processors")})
    return LoadedConfig(
        path, resolved, fingerprint, source, processors, sinks, mapping_fingerprint=mapping
    )


def validate(path: Path) -> WorkflowConfig:
    """Check a config as `load` does, offline: no step is built, nothing is connected to and no
    secret is looked up, so a value that holds a reference (`${env:NAME}`) is not checked.
    Raises the `ConfigError` a run would raise; returns the workflow's shape."""
    raw = read_yaml(path)
    spec = _check_as_written(path, raw)
    steps: list[tuple[plugins.StepKind, StepSpec, str]] = [
        ("sources", spec.source, "source"),
        *(("processors", p, f"processors.{i}") for i, p in enumerate(spec.processors)),
        *(("sinks", s, f"sinks.{i}") for i, s in enumerate(spec.sinks)),
    ]
    configs: dict[str, Any] = {}
    for kind, step, where in steps:
        model = _step_class(path, kind, step, where, object)[1]
        unknown = _holds_reference_at(step.config)
        configs[where] = _validate(model, step.config, path, f"{where}.config", unknown)
    sinks = [(s.name or s.type, configs[f"sinks.{i}"]) for i, s in enumerate(spec.sinks)]
    _check_sinks(path, sinks, spec.state.path)
    return spec


def _check_as_written(path: Path, raw: dict[str, Any]) -> WorkflowConfig:
    """The checks of the file as written, before any secret is looked up: the workflow's
    shape, then references syncer would not read, then credentials written in the file."""
    shape = parse(path, raw)
    secrets.refuse_foreign_references(raw, path)  # `${NAME}` would be taken literally
    _check_no_literal_secrets(path, raw)
    return shape


def _holds_reference_at(data: Any) -> Callable[[tuple[str | int, ...]], bool]:
    """Whether the value at an error's location in `data` holds a secret reference: offline,
    what it will be is unknown. A location's parts that `data` lacks (a union's tag) are
    passed over."""

    def holds(loc: tuple[str | int, ...]) -> bool:
        value = data
        for part in loc:
            within = isinstance(value, list) and isinstance(part, int) and part < len(value)
            if within or (isinstance(value, dict) and part in value):
                value = value[part]
        return isinstance(value, str) and any(map(secrets.is_reference, _BRACES.findall(value)))

    return holds


def _check_no_literal_secrets(path: Path, value: Any, where: str = "") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            at = f"{where}.{key}" if where else str(key)
            if (
                key in secrets.CREDENTIAL_KEYS
                and isinstance(item, str)
                and item
                and not secrets.is_reference(item)
            ):
                raise ConfigError(
                    f"{path}: {at}: a credential must not be written in the file; use "
                    "${env:NAME} or ${keyring:service/username}"
                )
            _check_no_literal_secrets(path, item, at)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_no_literal_secrets(path, item, f"{where}.{i}")


def _declared_secrets(spec: WorkflowConfig) -> secrets.DeclaredSecret:
    """What each step's config model declares secret (`secrets.declared_secret`), by the path
    of a value in the workflow config (`sinks.0.config.auth.password`)."""
    steps: list[tuple[secrets.Where, plugins.StepKind, StepSpec]] = [
        (("source", "config"), "sources", spec.source),
        *((("processors", i, "config"), "processors", p) for i, p in enumerate(spec.processors)),
        *((("sinks", i, "config"), "sinks", s) for i, s in enumerate(spec.sinks)),
    ]
    models = {at: _config_model(kind, step) for at, kind, step in steps}

    def declared(where: secrets.Where) -> bool | None:
        for at, model in models.items():
            if model is not None and where[: len(at)] == at:
                return secrets.declared_secret(model, where[len(at) :])
        return None

    return declared


def _config_model(kind: plugins.StepKind, spec: StepSpec) -> type[BaseModel] | None:
    # None for a type that does not load: its error comes when the step is built.
    try:
        model = getattr(plugins.load(kind, spec.type, object), "config_model", None)
    except ConfigError:
        return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _check_sinks(path: Path, sinks: list[tuple[str, Any]], state_path: Path) -> None:
    """Sink names are distinct, and no sink writes the state file; `sinks` are each sink's
    name and config (None: not known offline)."""
    seen: set[str] = set()
    for i, (name, config) in enumerate(sinks):
        if name in seen:
            raise ConfigError(
                f"{path}: sinks.{i}: another sink is already named {name!r}; "
                "give each sink of the same type a distinct `name`"
            )
        seen.add(name)
        target = getattr(config, "path", None)
        if isinstance(target, Path) and target.resolve() == state_path.resolve():
            raise ConfigError(
                f"{path}: sinks.{i}.config.path: is the state file; leave `path` out to write "
                "into the state file, or choose another file"
            )


def _build(path: Path, kind: plugins.StepKind, spec: StepSpec, where: str, base: type) -> Any:
    cls, model = _step_class(path, kind, spec, where, base)
    config = _validate(model, spec.config, path, prefix=f"{where}.config")
    try:
        return cls(config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {where}: {exc}") from None


def _step_class(
    path: Path, kind: plugins.StepKind, spec: StepSpec, where: str, base: type
) -> tuple[type, type[BaseModel]]:
    """The step's class and its config model; a ConfigError naming `where` otherwise."""
    try:
        cls = plugins.load(kind, spec.type, base)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {where}.type: {exc}") from None
    model = getattr(cls, "config_model", None)
    if model is None:
        raise ConfigError(f"{path}: {where}.type: {spec.type} declares no config_model")
    return cls, model


def _validate(
    model: type[BaseModel],
    data: Any,
    path: Path,
    prefix: str,
    unchecked: Callable[[tuple[str | int, ...]], bool] | None = None,
) -> Any:
    """`data` validated by `model`; a ConfigError naming every problem. Problems at locations
    that `unchecked` passes over are not reported: then the result is None if there were any."""
    try:
        return model.model_validate(data, context=paths.context_for(path))
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        problems = [e for e in errors if unchecked is None or not unchecked(tuple(e["loc"]))]
        if not problems:
            return None
        raise ConfigError(f"{path}: {_describe(problems, prefix)}") from None


def _describe(errors: list[ErrorDetails], prefix: str) -> str:
    problems = []
    for error in errors:
        loc = ".".join(str(p) for p in (prefix, *error["loc"]) if p != "")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key; remove it or check its spelling"
        elif error["type"] == "missing":
            message = "required key is missing"
        problems.append(f"{loc or 'config'}: {secrets.redact(message)}")
    return "; ".join(problems)
