"""Airflow's REST API: v2 (Airflow 3) and v1 (Airflow 2), their differences kept in one place.

The API version is found once, from `/api/v2/version` (then `/api/v1/version`), and checked
against the Airflow major version that serves it. Lists are read page by page (`limit` and
`offset`, until `total_entries`). Every failure is one line that names the request (method
and URL without its query) and says what to check: the shared client's `Unavailable` and
`BadResponse` (with Airflow's own explanation and what 401 and 403 mean here) for what HTTP
says, an `AirflowApiError` for an answer this source cannot read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, ValidationError

from syncer.connectors.airflow.config import ApiVersion
from syncer.connectors.airflow.payloads import DagRun, Task, TaskInstance, Version
from syncer.errors import SourceError
from syncer.http import HttpClient, json_of
from syncer.secrets import redact

Api = Literal["v1", "v2"]
# The Airflow major version each API belongs to.
AIRFLOW_MAJOR: dict[Api, int] = {"v1": 2, "v2": 3}
# Only finished runs become statuses: a status is never updated once sent.
FINISHED = ("success", "failed")
_M = TypeVar("_M", bound=BaseModel)
# What a status means for the user of this source, after Airflow's own explanation.
_HINTS: dict[int, str] = {
    401: "check source.config.auth",
    403: "the user needs at least Airflow's Viewer role",
    # A redirect is most often to a login page: the request reached a UI, or was not signed in.
    **dict.fromkeys((301, 302, 303, 307, 308), "check host and auth"),
}
_HINT = "check that host is Airflow"


class AirflowApiError(SourceError):
    """Airflow answered JSON, but not what this source reads (another version, another API)."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """The API a server speaks, and the Airflow version behind it."""

    api: Api
    airflow_version: str

    @property
    def prefix(self) -> str:
        return f"/api/{self.api}"

    @property
    def assets(self) -> tuple[str, str]:
        """The assets list's path and key: Airflow 2 calls them datasets."""
        return ("/assets", "assets") if self.api == "v2" else ("/datasets", "datasets")


class AirflowApi:
    """Typed reads of one Airflow's REST API through the shared HTTP client."""

    def __init__(self, client: HttpClient, api_version: ApiVersion, page_size: int) -> None:
        self.client = client
        self.api_version = api_version
        self.page_size = page_size
        self._dialect: Dialect | None = None

    @property
    def dialect(self) -> Dialect:
        if self._dialect is None:
            self._dialect = self._detect()
        return self._dialect

    # --- reads --------------------------------------------------------------------------------

    def dags(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Every DAG that is not stale, raw, with the URL it came from."""
        return self._pages("/dags", "dags", {})

    def tasks(self, dag_id: str) -> list[Task]:
        path = f"{self.dialect.prefix}/dags/{_segment(dag_id)}/tasks"
        body, where = self._get(path, {})
        return [parse(Task, item, where) for item in _items(body, "tasks", where)]

    def finished_runs(self, since: datetime | None) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Finished DAG runs of every DAG, by end date (then id), from `since` on (inclusive)."""
        params: dict[str, Any] = {"state": list(FINISHED)}
        # v1 sorts by one attribute only; v2 takes a tie-breaker so pages never overlap.
        params["order_by"] = ["end_date", "id"] if self.dialect.api == "v2" else "end_date"
        if since is not None:
            params["end_date_gte"] = since.isoformat()
        return self._pages("/dags/~/dagRuns", "dag_runs", params)

    def task_instances(self, runs: Sequence[DagRun]) -> dict[tuple[str, str], list[TaskInstance]]:
        """The task instances of some runs, by (dag id, run id)."""
        found: dict[tuple[str, str], list[TaskInstance]] = {
            (r.dag_id, r.dag_run_id): [] for r in runs
        }
        if not runs:
            return found
        if self.dialect.api == "v2":
            instances = self._task_instances_v2(runs)
        else:
            instances = self._task_instances_v1(runs)
        for ti in instances:
            # A batch matches every pair of the dag ids and run ids asked; keep the runs asked.
            if (ti.dag_id, ti.dag_run_id) in found:
                found[ti.dag_id, ti.dag_run_id].append(ti)
        return found

    def assets(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        path, key = self.dialect.assets
        return self._pages(path, key, {})

    def count(self, path: str, key: str) -> int:
        """How many items a list holds, from its first item (a cheap probe)."""
        page, where = self._get(f"{self.dialect.prefix}{path}", {"limit": 1})
        items = _items(page, key, where)
        total = page.get("total_entries")
        return total if isinstance(total, int) else len(items)

    # --- version ------------------------------------------------------------------------------

    def _detect(self) -> Dialect:
        candidates: list[Api] = ["v2", "v1"] if self.api_version == "auto" else [self.api_version]
        tried = []
        for api in candidates:
            path = f"/api/{api}/version"
            response = self.client.request("GET", path)
            if response.status_code == 404 and self.api_version == "auto":
                tried.append(path)
                continue
            where = _where("GET", response, self.client.base_url + path)
            version = parse(Version, _json(response), where).version
            major = version.split(".", 1)[0]
            if major != str(AIRFLOW_MAJOR[api]):
                raise AirflowApiError(
                    f"{where}: Airflow {version} answers on API {api}, which this source reads "
                    f"for Airflow {AIRFLOW_MAJOR[api]} only (Airflow 2: API v1, Airflow 3: API "
                    "v2); set api_version, or use a syncer that knows this version"
                )
            return Dialect(api, version)
        raise AirflowApiError(
            f"{self.client.base_url}: neither {' nor '.join(tried)} exists (HTTP 404); check "
            "that host is the Airflow webserver (Airflow 2) or api-server (Airflow 3)"
        )

    # --- task instances -----------------------------------------------------------------------

    def _task_instances_v2(self, runs: Sequence[DagRun]) -> Iterator[TaskInstance]:
        # One batch query per page of runs instead of one request per run.
        path = f"{self.dialect.prefix}/dags/~/dagRuns/~/taskInstances/list"
        body: dict[str, Any] = {
            "dag_ids": sorted({r.dag_id for r in runs}),
            "dag_run_ids": sorted({r.dag_run_id for r in runs}),
            "order_by": "id",
            "page_limit": self.page_size,
        }
        offset = 0
        while True:
            response = self.client.request("POST", path, json={**body, "page_offset": offset})
            where = _where("POST", response, self.client.base_url + path)
            page = _json(response)
            items = _items(page, "task_instances", where)
            yield from (parse(TaskInstance, item, where) for item in items)
            offset += len(items)
            if _last_page(page, items, offset):
                return

    def _task_instances_v1(self, runs: Sequence[DagRun]) -> Iterator[TaskInstance]:
        for run in runs:
            path = f"/dags/{_segment(run.dag_id)}/dagRuns/{_segment(run.dag_run_id)}/taskInstances"
            for where, item in self._pages(path, "task_instances", {}):
                yield parse(TaskInstance, item, where)

    # --- plumbing -----------------------------------------------------------------------------

    def _pages(
        self, path: str, key: str, params: Mapping[str, Any]
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Each item of a paged list, with the URL it came from."""
        offset = 0
        while True:
            page, where = self._get(
                f"{self.dialect.prefix}{path}",
                {**params, "limit": self.page_size, "offset": offset},
            )
            items = _items(page, key, where)
            for item in items:
                yield where, item
            offset += len(items)
            if _last_page(page, items, offset):
                return

    def _get(self, path: str, params: Mapping[str, Any]) -> tuple[Any, str]:
        response = self.client.request("GET", path, params=params)
        where = _where("GET", response, self.client.base_url + path)
        return _json(response), where


def parse(model: type[_M], item: Any, where: str) -> _M:
    """`item` as `model`, or an error naming the URL and the first field that is wrong."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "the item"
        raise AirflowApiError(
            f"{where}: unexpected {model.__name__.lower()}: {field}: {first['msg']}; "
            "is this an Airflow version this source reads?"
        ) from None


def _segment(value: str) -> str:
    return quote(value, safe="")


def _where(method: str, response: requests.Response, fallback: str) -> str:
    # A message names the endpoint, never its query.
    return f"{method} {(response.url or fallback).split('?', 1)[0]}"


def _last_page(page: Any, items: list[Any], offset: int) -> bool:
    total = page.get("total_entries")
    return not items or (isinstance(total, int) and offset >= total)


def _items(body: Any, key: str, where: str) -> list[Any]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise AirflowApiError(
            f"{where}: the answer has no {key!r} list; is this an Airflow version this source "
            "reads?"
        )
    return items


def _json(response: requests.Response) -> Any:
    """The JSON body of an answer, or a `BadResponse` with Airflow's explanation and the fix."""
    return json_of(response, hint=_HINT, hints=_HINTS, explain=_status)


def _status(response: requests.Response) -> str:
    return f"HTTP {response.status_code} ({_detail(response)})"


def _detail(response: requests.Response) -> str:
    """Airflow's own explanation: `detail` (a text, or FastAPI's list of problems) or `title`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = (
        body.get("detail") or body.get("title") or body.get("error")
        if isinstance(body, dict)
        else None
    )
    if isinstance(detail, list):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}"
            for d in detail
            if isinstance(d, dict)
        )
    text = str(detail) if detail else response.text.strip() or response.reason
    # Masked before it is cut, so that a cut never leaves the start of a secret showing.
    return redact(" ".join(text.split()))[:200]
