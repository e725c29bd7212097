"""MLflow's REST API as the source reads it: typed answers, pages followed, 404s told apart.

Only the tracking server's own endpoints are used (`/api/2.0/mlflow/...` and the MLmodel file
under `/model-versions/get-artifact`), through syncer's shared `HttpClient`, so syncer needs no
mlflow package. An answer that is not what MLflow 2.x and 3.x send raises `BadResponse`, naming
the URL and the first field that did not fit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, TypeVar

import requests
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from requests.adapters import BaseAdapter

from syncer.connectors.mlflow.config import MlflowConfig
from syncer.http import (
    BadResponse,
    HttpClient,
    authenticator,
    error_message,
    json_of,
    without_query,
)
from syncer.text import first_line

API = "api/2.0/mlflow"
_Answer = TypeVar("_Answer", bound=BaseModel)


class _Api(BaseModel):
    # MLflow adds fields between releases (3.x added `workspace`); only what is read is checked.
    model_config = ConfigDict(extra="ignore", frozen=True)


class KeyValue(_Api):
    key: str
    value: str = ""


class Alias(_Api):
    alias: str
    version: str


class ModelVersion(_Api):
    name: str
    version: str
    last_updated_timestamp: int | None = None
    current_stage: str | None = None
    description: str | None = None
    source: str | None = None
    run_id: str | None = None
    tags: list[KeyValue] = Field(default_factory=list)


class RegisteredModel(_Api):
    name: str
    last_updated_timestamp: int
    description: str | None = None
    # The latest version in each stage (None, Staging, Production, Archived).
    latest_versions: list[ModelVersion] = Field(default_factory=list)
    tags: list[KeyValue] = Field(default_factory=list)
    aliases: list[Alias] = Field(default_factory=list)


class Metric(_Api):
    key: str
    value: float  # MLflow writes NaN and infinities as the strings "NaN", "Infinity"


class RunInfo(_Api):
    run_id: str
    artifact_uri: str | None = None


class RunData(_Api):
    params: list[KeyValue] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)


class Run(_Api):
    info: RunInfo
    data: RunData = RunData()


class Experiment(_Api):
    experiment_id: str
    name: str
    artifact_location: str | None = None
    lifecycle_stage: str | None = None  # active, or deleted (until `mlflow gc` purges it)
    creation_time: int | None = None
    # Moves when the experiment is created, renamed, deleted or restored; not when its tags
    # are set (or its runs change).
    last_update_time: int | None = None
    tags: list[KeyValue] = Field(default_factory=list)


class ColumnSpec(_Api):
    """One input or output of a model signature: a named column, or a (maybe named) tensor."""

    type: str
    name: str | None = None
    tensor_spec: dict[str, Any] | None = Field(default=None, alias="tensor-spec")


class Signature(_Api):
    inputs: list[ColumnSpec] = Field(default_factory=list)
    outputs: list[ColumnSpec] = Field(default_factory=list)


class MLmodel(_Api):
    """What the MLmodel file of a version says: its flavors and its signature."""

    flavors: dict[str, Any]
    signature: Signature | None = None


class _RegisteredModelsPage(_Api):
    registered_models: list[RegisteredModel] = Field(default_factory=list)
    next_page_token: str | None = None


class _ModelVersionsPage(_Api):
    model_versions: list[ModelVersion] = Field(default_factory=list)


class _ModelVersionAnswer(_Api):
    model_version: ModelVersion


class _RunAnswer(_Api):
    run: Run


class _ExperimentsPage(_Api):
    experiments: list[Experiment] = Field(default_factory=list)
    next_page_token: str | None = None


# Signature specs are JSON text inside the YAML file.
_SPECS = TypeAdapter(list[ColumnSpec])


class Api(Protocol):
    """What the source asks of MLflow; tests put a fake in its place."""

    def registered_models(self, page_size: int) -> Iterator[RegisteredModel]: ...
    def latest_version(self, name: str) -> ModelVersion | None: ...
    def model_version(self, name: str, version: str) -> ModelVersion | None: ...
    def run(self, run_id: str) -> Run | None: ...
    def mlmodel(self, name: str, version: str) -> MLmodel | None: ...
    def experiments(self, page_size: int, since: int | None) -> Iterator[Experiment]: ...
    def probe(self, what: str) -> str: ...
    def close(self) -> None: ...


class MlflowApi:
    """The tracking server's REST API over syncer's `HttpClient` (retries, auth, TLS);
    `transport` carries its requests (None: requests' own)."""

    def __init__(self, config: MlflowConfig, *, transport: BaseAdapter | None = None) -> None:
        self._http = HttpClient(
            config.base_url,
            auth=authenticator(config.auth),
            timeout=config.timeout_seconds,
            tls=config.tls,
            retry=config.retry,
            transport=transport,
        )

    def registered_models(self, page_size: int) -> Iterator[RegisteredModel]:
        """Every registered model, most recently updated first, page by page.

        `registered-models/search` filters on `name` and tags only, so the newest-first order
        is what lets a caller stop at the first model older than its watermark; the next page
        is asked for only when the caller reads past this one.
        """
        params: dict[str, Any] = {
            "max_results": page_size,
            "order_by": "last_updated_timestamp DESC",
        }
        while True:
            page = self._get("registered-models/search", params, _RegisteredModelsPage)
            yield from page.registered_models
            if not page.next_page_token:
                return
            params = {**params, "page_token": page.next_page_token}

    def latest_version(self, name: str) -> ModelVersion | None:
        """The highest-numbered version of a model (what OpenMetadata's connector describes)."""
        params = {
            "filter": f"name={_quoted(name)}",
            "order_by": "version_number DESC",
            "max_results": 1,
        }
        page = self._get("model-versions/search", params, _ModelVersionsPage)
        return page.model_versions[0] if page.model_versions else None

    def model_version(self, name: str, version: str) -> ModelVersion | None:
        params = {"name": name, "version": version}
        answer = self._find("model-versions/get", params, _ModelVersionAnswer)
        return answer.model_version if answer else None

    def run(self, run_id: str) -> Run | None:
        """The run that logged a version; None when it is gone (runs can be purged)."""
        answer = self._find("runs/get", {"run_id": run_id}, _RunAnswer)
        return answer.run if answer else None

    def mlmodel(self, name: str, version: str) -> MLmodel | None:
        """The version's MLmodel file; None when the version has none (registered from files
        that are not an MLflow model)."""
        params = {"name": name, "version": version, "path": "MLmodel"}
        response = self._http.request("GET", "model-versions/get-artifact", params=params)
        where, url, status = _where(response), _url(response), response.status_code
        if status == 404:
            return None
        if not response.ok:
            raise BadResponse(f"{where}: {error_message(response)}", url=url, status=status)
        try:
            data = yaml.safe_load(response.text)
        except yaml.YAMLError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
            raise BadResponse(
                f"{where}: not an MLmodel file (no flavors); is this MLflow?",
                url=url,
                status=status,
            )
        try:
            return _mlmodel_of(data)
        except (ValueError, ValidationError) as err:
            raise BadResponse(
                f"{where}: unexpected MLmodel signature ({_first(err)})", url=url, status=status
            ) from None

    def experiments(self, page_size: int, since: int | None) -> Iterator[Experiment]:
        """Every experiment, the deleted ones too, most recently updated first, page by page;
        with `since` (ms), only those updated at or after it.

        `experiments/search` filters on `last_update_time`, so the bound is sent and MLflow
        answers only what changed. Deleted experiments are asked for (`view_type=ALL`) because
        MLflow only marks them deleted and stamps the change: read with their lifecycle stage,
        a deletion shows up in an incremental read. The page tokens are offsets, so the order is
        newest first: an experiment updated while the pages are read moves to the front and the
        one before it comes again on the next page (oldest first, it would move to the back and
        push one past the page boundary, unread).
        """
        params: dict[str, Any] = {
            "max_results": page_size,
            "order_by": "last_update_time DESC",
            "view_type": "ALL",
        }
        if since is not None:
            params["filter"] = f"last_update_time >= {since}"
        while True:
            page = self._get("experiments/search", params, _ExperimentsPage)
            yield from page.experiments
            if not page.next_page_token:
                return
            params = {**params, "page_token": page.next_page_token}

    def probe(self, what: str) -> str:
        """Ask for one record of `what` (registered-models or experiments); the URL asked."""
        response = self._http.request("GET", f"{API}/{what}/search", params={"max_results": 1})
        if not response.ok:
            raise BadResponse(
                f"{_where(response)}: {error_message(response)}",
                url=_url(response),
                status=response.status_code,
            )
        return _url(response)

    def close(self) -> None:
        self._http.close()

    def _get(self, endpoint: str, params: Mapping[str, Any], answer: type[_Answer]) -> _Answer:
        response = self._http.request("GET", f"{API}/{endpoint}", params=params)
        return _parsed(response, answer)

    def _find(
        self, endpoint: str, params: Mapping[str, Any], answer: type[_Answer]
    ) -> _Answer | None:
        """Like `_get`, but None for what the server does not have (404)."""
        response = self._http.request("GET", f"{API}/{endpoint}", params=params)
        return None if response.status_code == 404 else _parsed(response, answer)


def _parsed(response: requests.Response, answer: type[_Answer]) -> _Answer:
    data = json_of(response, hint="check that tracking_uri points at an MLflow tracking server")
    where = _where(response)
    try:
        return answer.model_validate(data)
    except ValidationError as err:
        raise BadResponse(
            f"{where}: unexpected answer ({_first(err)}); syncer reads MLflow 2.x and 3.x",
            url=_url(response),
            status=response.status_code,
        ) from None


def _mlmodel_of(data: dict[str, Any]) -> MLmodel:
    signature = data.get("signature")
    if isinstance(signature, dict):
        # The specs are JSON text; absent or null when the model was logged without them.
        data = {
            **data,
            "signature": {
                side: _SPECS.validate_json(signature[side]) if signature.get(side) else []
                for side in ("inputs", "outputs")
            },
        }
    return MLmodel.model_validate(data)


def _quoted(name: str) -> str:
    # MLflow's filter parser takes either quote; a model name may hold one of them.
    return f'"{name}"' if "'" in name else f"'{name}'"


def _where(response: requests.Response) -> str:
    return f"GET {_url(response)}"


def _url(response: requests.Response) -> str:
    # A query may hold a key: errors name the endpoint only.
    return without_query(response.url or "")


def _first(err: ValueError | ValidationError) -> str:
    if isinstance(err, ValidationError):
        first = err.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return first_line(err)
