"""The mlflow source against what a real `mlflow server` answered: its recorded first and
incremental syncs replayed by vcrpy, and the same answers served by a local HTTP server that
can also fail, demand credentials or go away.

`scripts/record_mlflow.py` (`make cassettes`) records the cassettes again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
import yaml

from syncer import config as configs
from syncer.workflow import RunResult
from tests.contract.cases.mlflow import (
    FIRST_SYNC,
    INCREMENTAL_SYNC,
    RERUN,
    interactions,
    recorded_source,
    replayer,
)
from tests.support.runs import query_state, run_workflow

HTML_500 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
NO_RETRY_WAIT = {"attempts": 2, "initial_wait_seconds": 0, "max_wait_seconds": 0}
# What the server answered before anything changed: the first sync, and the re-run after it
# (whose experiments search carries the watermark).
UNCHANGED = (FIRST_SYNC, RERUN)
EXPERIMENTS_SEARCH = "/api/2.0/mlflow/experiments/search"


# --- a local server answering as the recorded one did ------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass
class RecordedMlflow:
    """Serves cassettes' answers by path and query; `faults` replace the answers of an
    endpoint (a path, or a path with `?` and a query part it must contain)."""

    cassettes: Sequence[Path]
    faults: dict[str, Reply] = field(default_factory=dict)
    credentials: str | None = None  # the Authorization header it demands
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (path?query, auth)

    def __post_init__(self) -> None:
        self.answers: dict[tuple[str, tuple[tuple[str, str], ...]], Reply] = {}
        for interaction in interactions(*self.cassettes):
            request, response = interaction["request"], interaction["response"]
            body = response["body"]["string"]
            self.answers[_key(request["uri"])] = Reply(
                response["status"]["code"],
                body.encode() if isinstance(body, str) else body,
                response["headers"]["content-type"][0],
            )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RecordedMlflow:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, target: str, authorization: str | None) -> Reply:
        self.seen.append((target, authorization))
        if self.credentials is not None and authorization != self.credentials:
            return Reply(401, b'{"error_code": "UNAUTHENTICATED", "message": "log in first"}')
        for where, reply in self.faults.items():
            path, _, part = where.partition("?")
            if urlsplit(target).path == path and part in target:
                return reply
        return self.answers.get(_key(target), Reply(404, b'{"error_code": "NOT_FOUND"}'))


def _key(uri: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(uri)
    return parts.path, tuple(sorted(parse_qsl(parts.query)))


def _handler(server: RecordedMlflow) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reply = server.answer(self.path, self.headers.get("Authorization"))
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --- a workflow around the source --------------------------------------------------------------


class Workspace:
    """A workflow file and state file in `tmp`, synced through the `mlflow` source."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.state = tmp / "state.duckdb"

    def run(self, full_refresh: bool = False, **config: Any) -> RunResult:
        path = self.tmp / "workflow.yaml"
        spec = {
            "workflow": "ml",
            "source": recorded_source(**config),
            "sinks": [],
            "state": {"path": str(self.state)},
        }
        path.write_text(yaml.safe_dump(spec))
        return run_workflow(path, self.state, full_refresh=full_refresh)

    def replay(self, cassette: Path, **config: Any) -> tuple[RunResult, Any]:
        with replayer().use_cassette(str(cassette)) as played:
            return self.run(**config), played

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return query_state(self.state, sql, params)

    def entities(self) -> dict[str, dict[str, Any]]:
        rows = self.rows("SELECT fqn, payload::VARCHAR FROM current_entities")
        return {key: orjson.loads(payload) for key, payload in rows}

    def watermark(self, stream: str = "models") -> str:
        return str(self.rows("SELECT value FROM watermarks WHERE stream = ?", (stream,))[0][0])


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def synced(ws: Workspace) -> Workspace:
    """A workspace after the recorded first sync."""
    result, _ = ws.replay(FIRST_SYNC)
    assert result.status == "succeeded", result.error
    return ws


def _recorded_models(cassette: Path) -> dict[str, int]:
    """Each registered model the cassette's searches returned, with its last update (ms)."""
    found: dict[str, int] = {}
    for interaction in yaml.safe_load(cassette.read_text())["interactions"]:
        if "registered-models/search" in interaction["request"]["uri"]:
            page = orjson.loads(interaction["response"]["body"]["string"])
            for model in page["registered_models"]:
                found[model["name"]] = model["last_updated_timestamp"]
    return found


def _recorded_experiments(cassette: Path) -> dict[str, dict[str, Any]]:
    """Each experiment the cassette's searches returned, by id, as MLflow answered it."""
    found: dict[str, dict[str, Any]] = {}
    for interaction in yaml.safe_load(cassette.read_text())["interactions"]:
        if "experiments/search" in interaction["request"]["uri"]:
            page = orjson.loads(interaction["response"]["body"]["string"])
            for experiment in page.get("experiments", []):
                found[experiment["experiment_id"]] = experiment
    return found


def _requested(played: Any) -> list[str]:
    return [r.uri for r in played.requests]


def _query(uri: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(uri).query))


def _millis(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


# --- the recorded syncs ------------------------------------------------------------------------


def test_the_first_sync_replays_request_for_request_into_a_service_models_and_experiments(
    ws: Workspace,
) -> None:
    result, played = ws.replay(FIRST_SYNC)
    assert result.status == "succeeded", result.error
    assert played.all_played, "the source asked for less than was recorded"
    assert sorted(ws.entities()) == [
        "mlflow",
        "mlflow.churn-classifier",
        "mlflow.demand-forecast",
        "mlflow.fraud-scorer",
        "mlflow/experiments.0",
        "mlflow/experiments.1",
        "mlflow/experiments.2",
        "mlflow/experiments.3",
        "mlflow/experiments.4",
    ]
    assert ws.entities()["mlflow"]["serviceType"] == "Mlflow"
    # A first sync asks for every experiment, the deleted ones too, newest first.
    searches = [_query(u) for u in _requested(played) if EXPERIMENTS_SEARCH in u]
    assert len(searches) == 3  # five experiments, pages of two
    for query in searches:
        assert "filter" not in query
        assert (query["order_by"], query["view_type"]) == ("last_update_time DESC", "ALL")


def test_a_model_is_described_by_its_latest_version_its_run_and_its_signature(
    synced: Workspace,
) -> None:
    churn = synced.entities()["mlflow.churn-classifier"]
    assert churn["algorithm"] == "sklearn"
    assert churn["description"].startswith("Predicts which subscribers cancel")
    # In the signature's input order, as the MLmodel file lists them.
    assert [(f["name"], f["dataType"]) for f in churn["mlFeatures"]] == [
        ("tenure_months", "numerical"),
        ("monthly_charges", "numerical"),
        ("contract_type", "categorical"),
        ("support_calls", "numerical"),
    ]
    assert churn["target"] == "churned"
    hyper = {p["name"]: p.get("value") for p in churn["mlHyperParameters"]}
    assert hyper["model_type"] == "random_forest" and hyper["n_estimators"] == "50"
    assert hyper["mlflow.version"] == "2"
    assert hyper["mlflow.alias.champion"] == "2"
    assert hyper["mlflow.stage.Production"] == "2"
    assert float(hyper["mlflow.metric.roc_auc"]) > 0.5
    assert churn["mlStore"]["storage"].startswith("mlflow-artifacts:/1/")
    assert [t["tagFQN"] for t in churn["tags"]] == [
        "MLflow.task=classification",
        "MLflow.team=growth",
    ]
    assert churn["server"] == "http://mlflow.invalid:5000"
    assert churn["sourceUrl"] == "http://mlflow.invalid:5000/#/models/churn-classifier"
    updated = datetime.fromisoformat(churn["updatedAt"])
    recorded = _recorded_models(FIRST_SYNC)["churn-classifier"]
    assert int(updated.timestamp() * 1000) == recorded


def test_the_watermark_is_the_last_update_of_the_newest_model(synced: Workspace) -> None:
    newest = max(_recorded_models(FIRST_SYNC).values())
    assert int(datetime.fromisoformat(synced.watermark()).timestamp() * 1000) == newest


def test_the_incremental_sync_reads_again_only_the_models_at_or_after_the_watermark(
    synced: Workspace,
) -> None:
    watermark = int(datetime.fromisoformat(synced.watermark()).timestamp() * 1000)
    result, played = synced.replay(INCREMENTAL_SYNC)
    assert result.status == "succeeded", result.error
    assert played.all_played
    requested = _requested(played)
    # MLflow cannot filter on the timestamp: the search is ordered newest first instead, and
    # the versions, runs and MLmodel files are asked for only above the watermark.
    searches = [u for u in requested if "registered-models/search" in u]
    assert all("order_by=last_updated_timestamp+DESC" in u for u in searches)
    changed = {n for n, ts in _recorded_models(INCREMENTAL_SYNC).items() if ts >= watermark}
    assert changed == {"churn-classifier", "demand-forecast"}  # demand is at the watermark
    asked = {u.split("name=")[1].split("&")[0] for u in requested if "get-artifact" in u}
    assert asked == changed
    assert not [u for u in requested if "fraud-scorer" in u]
    assert result.streams["models"].updated == 1
    assert (result.counters.updated, result.counters.created, result.counters.deleted) == (3, 0, 0)


def test_the_incremental_sync_brings_the_new_version_alias_description_and_tag(
    synced: Workspace,
) -> None:
    synced.replay(INCREMENTAL_SYNC)
    churn = synced.entities()["mlflow.churn-classifier"]
    hyper = {p["name"]: p.get("value") for p in churn["mlHyperParameters"]}
    assert hyper["mlflow.version"] == "3" and hyper["model_type"] == "gradient_boosting"
    assert hyper["mlflow.alias.challenger"] == "3" and hyper["mlflow.alias.champion"] == "2"
    assert churn["description"].endswith("retrained monthly.")
    assert "MLflow.reviewed_by=ml-platform" in [t["tagFQN"] for t in churn["tags"]]
    (changed,) = synced.rows(
        "SELECT changed_fields FROM changes WHERE run_id = 2 AND key = 'mlflow.churn-classifier'"
    )
    assert {"description", "tags", "mlHyperParameters.mlflow.version.value"} <= set(changed[0])
    newest = _recorded_models(INCREMENTAL_SYNC)["churn-classifier"]
    assert int(datetime.fromisoformat(synced.watermark()).timestamp() * 1000) == newest


# --- experiments: the watermark sent as MLflow's filter ----------------------------------------


def test_an_experiment_record_is_stamped_with_its_last_update_and_the_newest_is_the_watermark(
    synced: Workspace,
) -> None:
    recorded = _recorded_experiments(FIRST_SYNC)
    for key, payload in synced.entities().items():
        if key.startswith("mlflow/experiments."):
            experiment = recorded[payload["id"]]
            assert _millis(payload["updatedAt"]) == experiment["last_update_time"]
            assert payload["data"]["lifecycle_stage"] == "active"
    newest = max(e["last_update_time"] for e in recorded.values())
    assert _millis(synced.watermark("experiments")) == newest


def test_the_incremental_experiments_search_sends_the_watermark_and_reads_only_what_changed(
    synced: Workspace,
) -> None:
    lookback_ms = recorded_source()["config"]["lookback_seconds"] * 1000
    bound = _millis(synced.watermark("experiments")) - lookback_ms
    result, played = synced.replay(INCREMENTAL_SYNC)
    assert result.status == "succeeded", result.error
    assert played.all_played
    searches = [_query(u) for u in _requested(played) if EXPERIMENTS_SEARCH in u]
    assert searches, "the incremental sync asked for no experiments"
    for query in searches:
        assert query["filter"] == f"last_update_time >= {bound}"
        assert (query["order_by"], query["view_type"]) == ("last_update_time DESC", "ALL")
    # MLflow answered only the renamed and the deleted experiment: the three that did not
    # change (one of them gained a run, which does not stamp it) were not read again.
    before, after = _recorded_experiments(FIRST_SYNC), _recorded_experiments(INCREMENTAL_SYNC)
    changed = {
        i for i, e in after.items() if e["last_update_time"] != before[i]["last_update_time"]
    }
    assert set(after) == changed == {"3", "4"}
    assert all(e["last_update_time"] >= bound for e in after.values())
    stream = result.streams["experiments"]
    assert (stream.scanned, stream.updated, stream.created, stream.deleted) == (2, 2, 0, 0)


def test_a_deleted_experiment_shows_up_incrementally_marked_deleted_and_a_rename_as_such(
    synced: Workspace,
) -> None:
    synced.replay(INCREMENTAL_SYNC)
    entities = synced.entities()
    assert entities["mlflow/experiments.4"]["data"]["lifecycle_stage"] == "deleted"
    assert entities["mlflow/experiments.3"]["data"]["name"] == "demand-planning"
    changes = synced.rows(
        "SELECT key, kind, changed_fields FROM changes WHERE run_id = 2 AND key LIKE 'mlflow/%' "
        "ORDER BY key"
    )
    assert [(key, kind) for key, kind, _ in changes] == [
        ("mlflow/experiments.3", "updated"),
        ("mlflow/experiments.4", "updated"),
    ]
    assert [sorted(fields) for _, _, fields in changes] == [
        ["data.name", "updatedAt"],
        ["data.lifecycle_stage", "updatedAt"],
    ]
    newest = _recorded_experiments(INCREMENTAL_SYNC)["4"]["last_update_time"]
    assert _millis(synced.watermark("experiments")) == newest


def test_the_experiments_filter_starts_lookback_seconds_before_the_watermark(
    ws: Workspace,
) -> None:
    nothing_new = {f"{EXPERIMENTS_SEARCH}?filter": Reply(200, b"{}")}
    with RecordedMlflow(UNCHANGED, nothing_new) as server:
        first = ws.run(tracking_uri=server.url, lookback_seconds=90)
        watermark = _millis(ws.watermark("experiments"))
        again = ws.run(tracking_uri=server.url, lookback_seconds=90)
    assert first.status == again.status == "succeeded", again.error
    (search,) = [t for t, _ in server.seen if "filter=" in t and EXPERIMENTS_SEARCH in t]
    assert _query(search)["filter"] == f"last_update_time >= {watermark - 90_000}"
    # Nothing came back, yet no experiment is deleted: an incremental read is not a full one.
    assert again.streams["experiments"].deleted == 0
    assert _millis(ws.watermark("experiments")) == watermark


# --- answers that are not what MLflow sends ----------------------------------------------------


@dataclass
class Served:
    """A workspace synced once from a local server that answers as MLflow did; set `faults`
    before the next run."""

    ws: Workspace
    server: RecordedMlflow
    before: dict[str, Any]
    watermark: str

    def run(self, faults: dict[str, Reply], full_refresh: bool = False) -> RunResult:
        self.server.faults = faults
        return self.ws.run(full_refresh, tracking_uri=self.server.url, retry=NO_RETRY_WAIT)

    def assert_state_intact(self) -> None:
        """Every entity as the first sync left it, nothing deleted, the watermark in place."""
        assert self.ws.entities() == self.before
        assert self.ws.rows("SELECT count(*) FROM changes WHERE kind = 'deleted'") == [(0,)]
        assert self.ws.watermark() == self.watermark


@pytest.fixture
def served(ws: Workspace) -> Iterator[Served]:
    with RecordedMlflow(UNCHANGED) as server:
        first = ws.run(tracking_uri=server.url)
        assert first.status == "succeeded", first.error
        yield Served(ws, server, ws.entities(), ws.watermark())


def _served_run(ws: Workspace, faults: dict[str, Reply], **config: Any) -> RunResult:
    with RecordedMlflow(UNCHANGED, faults) as server:
        return ws.run(tracking_uri=server.url, retry=NO_RETRY_WAIT, **config)


def test_an_html_error_page_in_place_of_the_model_search_fails_the_run_naming_the_url(
    served: Served,
) -> None:
    fault = Reply(500, HTML_500, "text/html")
    result = served.run({"/api/2.0/mlflow/registered-models/search": fault})
    assert result.status == "failed"
    assert result.error is not None and "\n" not in result.error
    assert f"{served.server.url}/api/2.0/mlflow/registered-models/search" in result.error
    assert "HTTP 500" in result.error
    served.assert_state_intact()


def test_an_html_page_answered_with_200_is_named_as_not_json(served: Served) -> None:
    fault = Reply(200, HTML_500, "text/html")
    result = served.run({"/api/2.0/mlflow/registered-models/search": fault})
    assert result.status == "failed"
    assert "registered-models/search: answered text/html, not JSON" in str(result.error)
    served.assert_state_intact()


def test_truncated_json_for_every_run_fails_those_models_only_and_deletes_nothing(
    served: Served,
) -> None:
    truncated = Reply(200, b'{"run": {"info": {"run_id": "abc", "artifact_')
    # A full refresh reads every model again and would detect deletions if it could.
    result = served.run({"/api/2.0/mlflow/runs/get": truncated}, full_refresh=True)
    assert result.status == "partial"
    assert result.streams["models"].errors == 3
    assert result.streams["experiments"].errors == 0
    served.assert_state_intact()


def test_a_page_that_fails_after_the_first_deletes_none_of_the_models_behind_it(
    served: Served,
) -> None:
    second_page = Reply(200, b'{"registered_models": [{"name": "churn-classifier", "last_')
    faults = {"/api/2.0/mlflow/registered-models/search?page_token": second_page}
    result = served.run(faults, full_refresh=True)
    assert result.status == "partial"
    assert result.counters.deleted == 0
    served.assert_state_intact()


def test_an_answer_of_another_shape_names_the_url_and_the_field(ws: Workspace) -> None:
    other = Reply(200, b'{"registered_models": [{"name": "churn", "updated": 1}]}')
    result = _served_run(ws, {"/api/2.0/mlflow/registered-models/search": other})
    assert result.status == "failed"
    assert "registered-models/search: unexpected answer" in str(result.error)
    assert "registered_models.0.last_updated_timestamp: Field required" in str(result.error)


def test_an_html_page_in_place_of_an_mlmodel_file_fails_that_model_naming_the_url(
    ws: Workspace,
) -> None:
    fault = Reply(200, HTML_500, "text/html")
    result = _served_run(ws, {"/model-versions/get-artifact?fraud-scorer": fault})
    assert result.status == "partial"
    assert sorted(k for k in ws.entities() if "." in k and "/" not in k) == [
        "mlflow.churn-classifier",
        "mlflow.demand-forecast",
    ]
    # The models' watermark stays behind the failed model; the experiments were all read.
    assert ws.rows("SELECT stream FROM watermarks") == [("experiments",)]


# --- credentials and connection checks ---------------------------------------------------------

BASIC = "Basic cmVhZGVyOnMzY3JldA=="  # reader:s3cret


@pytest.mark.parametrize(
    ("auth", "header"),
    [
        (
            {"type": "basic", "username": "reader", "password": "${env:SYNCER_TEST_MLFLOW_SECRET}"},
            BASIC,
        ),
        ({"type": "bearer", "token": "${env:SYNCER_TEST_MLFLOW_SECRET}"}, "Bearer s3cret"),
    ],
)
def test_credentials_from_secret_references_reach_every_request_and_nothing_else(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, auth: dict[str, str], header: str
) -> None:
    monkeypatch.setenv("SYNCER_TEST_MLFLOW_SECRET", "s3cret")
    with RecordedMlflow(UNCHANGED, credentials=header) as server:
        result = ws.run(tracking_uri=server.url, auth=auth)
    assert result.status == "succeeded", result.error
    assert server.seen and all(auth == header for _, auth in server.seen)
    dumped = ws.rows("SELECT string_agg(payload::VARCHAR, '') FROM changes")[0][0]
    assert "s3cret" not in dumped


def _connection(tmp: Path, **config: Any) -> Any:
    path = tmp / "check.yaml"
    spec = {"workflow": "ml", "source": recorded_source(**config), "sinks": []}
    path.write_text(yaml.safe_dump(spec))
    return configs.load(path).source.test_connection()


def test_test_connection_lists_models_and_experiments(tmp_path: Path) -> None:
    probes = {
        "/api/2.0/mlflow/registered-models/search?max_results=1": Reply(200, b"{}"),
        "/api/2.0/mlflow/experiments/search?max_results=1": Reply(200, b"{}"),
    }
    with RecordedMlflow(UNCHANGED, probes) as server:
        report = _connection(tmp_path, tracking_uri=server.url)
    assert report.ok
    assert [(name, ok) for name, ok, _ in report.checks] == [
        ("list registered-models", True),
        ("list experiments", True),
    ]
    assert report.checks[0][2].endswith("/api/2.0/mlflow/registered-models/search")


def test_test_connection_fails_on_refused_credentials_saying_what_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCER_TEST_MLFLOW_SECRET", "wrong")
    auth = {"type": "basic", "username": "reader", "password": "${env:SYNCER_TEST_MLFLOW_SECRET}"}
    with RecordedMlflow(UNCHANGED, credentials=BASIC) as server:
        report = _connection(tmp_path, tracking_uri=server.url, auth=auth)
    assert not report.ok
    assert "HTTP 401: log in first; check the auth block" in report.checks[0][2]
    assert "wrong" not in report.checks[0][2]


def test_test_connection_fails_when_nothing_listens_saying_what_to_check(tmp_path: Path) -> None:
    with RecordedMlflow(UNCHANGED) as server:
        url = server.url  # the port is free again once the server is gone
    report = _connection(tmp_path, tracking_uri=url, retry=NO_RETRY_WAIT)
    assert not report.ok
    assert "cannot connect" in report.checks[0][2]
    assert "check tracking_uri" in report.checks[0][2]
