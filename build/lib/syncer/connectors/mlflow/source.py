"""The mlflow source: a tracking server's model registry (and, optionally, its experiments)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TypeVar

from requests.adapters import BaseAdapter

from syncer.connectors.mlflow import mapping
from syncer.connectors.mlflow.api import Api, MlflowApi, ModelVersion, RegisteredModel
from syncer.connectors.mlflow.config import MlflowConfig
from syncer.errors import SourceError
from syncer.http import BadResponse, Unavailable
from syncer.models import Entity
from syncer.steps import ConnectionReport, Cursor, CursorValue, Either, RecordError, Source, Stream

_Item = TypeVar("_Item")
# What MLflow or the network can do to one request, after the client's retries.
_READ_ERRORS = (BadResponse, Unavailable)


class MlflowSource(Source):
    """Registered models as `mlmodel` entities under one `mlmodelService`; experiments as
    `record` entities.

    The `models` stream's cursor is the model's `last_updated_timestamp`. MLflow cannot filter
    on it, so the search is ordered newest first and stops at the first model older than the
    lower bound; only the models above it cost further requests. The `experiments` stream's
    cursor is the experiment's `last_update_time`, which MLflow filters on: the lower bound is
    sent with the search.
    """

    config_model = MlflowConfig
    config: MlflowConfig

    def __init__(
        self,
        config: MlflowConfig,
        api: Api | None = None,
        *,
        transport: BaseAdapter | None = None,
    ) -> None:
        """`transport` carries every request (None: requests' own); a given `api` has its own."""
        super().__init__(config)
        self._api: Api = api or MlflowApi(config, transport=transport)

    def streams(self) -> list[Stream]:
        lookback = self.config.lookback_seconds
        cursor = Cursor(
            "updated_at",
            "datetime",
            # Both searches are newest first (MLflow's page tokens are offsets, see
            # `MlflowApi.experiments`): the watermark may advance only once a stream is read.
            "unsorted",
            timedelta(seconds=lookback) if lookback else None,
        )
        streams = [
            Stream("services", "mlmodelService", read=self._read_services),
            Stream("models", "mlmodel", read=self._read_models, cursor=cursor),
        ]
        if self.config.experiments:
            streams.append(
                Stream("experiments", "record", read=self._read_experiments, cursor=cursor)
            )
        return streams

    def test_connection(self) -> ConnectionReport:
        wanted = ["registered-models", *(["experiments"] if self.config.experiments else [])]
        checks: list[tuple[str, bool, str]] = []
        for what in wanted:
            try:
                checks.append((f"list {what}", True, self._api.probe(what)))
            except _READ_ERRORS as err:
                checks.append((f"list {what}", False, _with_hint(str(err))))
        return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)

    def close(self) -> None:
        self._api.close()

    # --- the streams' readers ------------------------------------------------------------

    def _read_services(self, since: CursorValue | None) -> Iterator[Either]:
        yield mapping.service(self.config.service_name)

    def _read_models(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._models(_millis(since))

    def _read_experiments(self, since: CursorValue | None) -> Iterator[Either]:
        yield from self._experiments(_millis(since))

    def _models(self, bound: int | None) -> Iterator[Either]:
        pages = self._pages(self._api.registered_models, "registered-models/search")
        # MLflow's page tokens are offsets: a model updated while the pages are read moves to
        # the front, and the one before it comes again on the next page.
        seen: set[str] = set()
        for model in pages:
            if isinstance(model, RecordError):
                yield model
                return
            # Newest first: every model after this one is older still.
            if bound is not None and model.last_updated_timestamp < bound:
                return
            if model.name in seen or mapping.is_prompt(model) or not self.config.keeps(model.name):
                continue
            seen.add(model.name)
            yield self._model(model)

    def _experiments(self, bound: int | None) -> Iterator[Either]:
        """The experiments updated at or after `bound` (ms; all without one), deleted ones
        with their lifecycle stage; MLflow does the filtering."""
        pages = self._pages(lambda size: self._api.experiments(size, bound), "experiments/search")
        seen: set[str] = set()  # offsets move while the pages are read, as for models
        for experiment in pages:
            if isinstance(experiment, RecordError):
                yield experiment
                return
            if experiment.experiment_id in seen:
                continue
            seen.add(experiment.experiment_id)
            yield mapping.to_record(self.config.service_name, self.config.base_url, experiment)

    def _model(self, model: RegisteredModel) -> Entity | RecordError:
        """One model and the version that describes it, or why it could not be read; the state
        keeps what it had of a model that failed, and the watermark stays behind it."""
        try:
            version = self._version(model)
            run = self._api.run(version.run_id) if version and version.run_id else None
            mlmodel = (
                self._api.mlmodel(model.name, version.version)
                if version is not None and self.config.mlmodel_files
                else None
            )
        except _READ_ERRORS as err:
            return RecordError(mapping.mlmodel_fqn(self.config.service_name, model.name), str(err))
        return mapping.to_mlmodel(
            service_name=self.config.service_name,
            base_url=self.config.base_url,
            model=model,
            version=version,
            run=run,
            mlmodel=mlmodel,
            tag_classification=self.config.tag_classification,
        )

    def _version(self, model: RegisteredModel) -> ModelVersion | None:
        alias = self.config.version_alias
        number = next((a.version for a in model.aliases if a.alias == alias), None)
        if number is not None:
            version = self._api.model_version(model.name, number)
            if version is not None:
                return version
        return self._api.latest_version(model.name)

    def _pages(
        self, pages: Callable[[int], Iterator[_Item]], endpoint: str
    ) -> Iterator[_Item | RecordError]:
        """The items of a paged search. A first page that fails means the server cannot be
        read at all (`SourceError`); a later one fails the stream, which keeps its watermark
        and deletes nothing."""
        first = True
        try:
            for item in pages(self.config.page_size):
                first = False
                yield item
        except _READ_ERRORS as err:
            if first:
                raise SourceError(_with_hint(str(err))) from None
            yield RecordError(endpoint, str(err))


def _millis(since: CursorValue | None) -> int | None:
    """The lower bound as MLflow's timestamps count: milliseconds since the epoch."""
    return mapping.to_millis(since) if isinstance(since, datetime) else None


def _with_hint(message: str) -> str:
    if "HTTP 401" in message or "HTTP 403" in message:
        return f"{message}; check the auth block (username/password or token)"
    if "cannot connect" in message or "timed out" in message:
        return f"{message}; check tracking_uri and that the server is running"
    return message
