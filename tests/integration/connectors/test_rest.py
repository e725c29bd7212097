"""The rest source's two examples replayed from their recordings, without any server.

`examples/rest/mlflow.yaml` (MLflow's REST API) and `examples/rest/jobs.yaml` (an in-house job
catalog) were each recorded by `scripts/record_rest.py` as a first sync with its immediate
re-run (`<example>_first_sync.yaml`), then an incremental sync after changes at the source
(`<example>_incremental_sync.yaml`). Replay matches method, path and query, so a run that sent
any other request (a different watermark, a page too many) fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import vcr
import yaml

from syncer.workflow import RunResult
from tests.support.runs import query_state, run_workflow

REPO = Path(__file__).resolve().parents[3]
CASSETTES = REPO / "cassettes" / "rest"
REPLAY_URLS = {"mlflow": "http://mlflow.invalid:5000", "jobs": "http://jobs.invalid:8008"}


class Replay:
    """One example's workflow, pointed at its replay address, with a state of its own."""

    def __init__(self, example: str, tmp: Path) -> None:
        self.example = example
        self.state = tmp / "state.duckdb"
        raw = yaml.safe_load((REPO / "examples" / "rest" / f"{example}.yaml").read_text())
        raw["source"]["config"]["base_url"] = REPLAY_URLS[example]
        raw["state"] = {"path": str(self.state)}
        self.config = tmp / f"{example}.yaml"
        self.config.write_text(yaml.safe_dump(raw))

    def run(self) -> RunResult:
        """One run; call it inside `replaying(...)`, which answers every request."""
        result = run_workflow(self.config)
        assert result.status == "succeeded", result.error
        return result

    def payload(self, key: str) -> dict[str, Any]:
        [(payload,)] = query_state(
            self.state, "SELECT payload::VARCHAR FROM current_entities WHERE fqn = ?", [key]
        )
        data: dict[str, Any] = orjson.loads(payload)
        return data

    def watermark(self, stream: str) -> str:
        [(value,)] = query_state(
            self.state, "SELECT value FROM watermarks WHERE stream = ?", [stream]
        )
        return str(value)


def replaying(example: str, name: str) -> Any:
    return vcr.VCR(
        record_mode="none",
        match_on=["method", "path", "query"],
        decode_compressed_response=True,
    ).use_cassette(str(CASSETTES / f"{example}_{name}.yaml"))


@pytest.fixture
def jobs_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    key = "replay-key-not-recorded"
    monkeypatch.setenv("JOBS_API_KEY", key)
    yield key


# --- MLflow ----------------------------------------------------------------------------------


def test_the_mlflow_example_maps_registered_models_and_their_versions(tmp_path: Path) -> None:
    mlflow = Replay("mlflow", tmp_path)
    with replaying("mlflow", "first_sync"):
        first = mlflow.run()
    assert {name: c.created for name, c in first.streams.items()} == {
        "services": 1,
        "registered_models": 5,
        "model_versions": 3,
    }
    assert mlflow.payload("mlflow")["serviceType"] == "Mlflow"
    churn = mlflow.payload("mlflow.churn-classifier")
    assert churn["algorithm"] == "xgboost" and churn["target"] == "churned"
    assert churn["service"] == "mlflow" and churn["updatedAt"].startswith("20")
    assert churn["sourceUrl"] == "http://127.0.0.1:5000/#/models/churn-classifier"
    assert mlflow.payload('mlflow."fraud.detector"')["algorithm"] == "isolation-forest"
    assert mlflow.payload("mlflow.image-tagger")["algorithm"] == "unknown"
    version = mlflow.payload('model_versions."fraud.detector/1"')
    assert version["data"]["model"] == "fraud.detector"
    assert version["data"]["source"] == "s3://models/fraud.detector/1"


def test_an_mlflow_rerun_and_an_incremental_run_send_only_what_changed(tmp_path: Path) -> None:
    mlflow = Replay("mlflow", tmp_path)
    with replaying("mlflow", "first_sync") as cassette:
        mlflow.run()
        mark = mlflow.watermark("registered_models")
        again = mlflow.run()
        assert cassette.all_played
    assert again.counters.changed == 0 and [r.delivered for r in again.deliveries] == [0]

    with replaying("mlflow", "incremental_sync") as cassette:
        later = mlflow.run()
        assert cassette.all_played
    models = later.streams["registered_models"]
    # Newest first: the read stops at the first model older than the watermark, so only
    # three of six models (two of three pages) are read.
    assert (models.scanned, models.created, models.updated) == (3, 1, 1)
    assert later.streams["model_versions"].created == 1
    assert mlflow.payload("mlflow.churn-classifier")["description"] == "Predicts churn, weekly"
    assert mlflow.payload("mlflow.price-optimizer")["algorithm"] == "bandit"
    assert mlflow.watermark("registered_models") > mark


# --- the jobs API ------------------------------------------------------------------------------


def test_the_jobs_example_maps_jobs_to_pipelines_with_tasks_and_runs_to_records(
    tmp_path: Path, jobs_key: str
) -> None:
    jobs = Replay("jobs", tmp_path)
    with replaying("jobs", "first_sync"):
        first = jobs.run()
    assert {name: c.created for name, c in first.streams.items()} == {
        "services": 1,
        "jobs": 5,
        "job_runs": 4,
        "teams": 4,
    }
    nightly = jobs.payload("jobs.nightly-orders")
    assert nightly["displayName"] == "Nightly orders"
    assert nightly["scheduleInterval"] == "0 2 * * *"
    assert [(t["name"], t.get("downstreamTasks", [])) for t in nightly["tasks"]] == [
        ("extract", ["load"]),
        ("load", ["report"]),
        ("report", []),
    ]
    assert nightly["updatedAt"] == "2025-03-01T08:00:00Z"
    run = jobs.payload("job_runs.nightly-orders/102")
    assert run["data"] == {
        "job": "nightly-orders",
        "state": "failed",
        "started": "2025-03-06T02:00:00Z",
        "ended": "2025-03-06T02:03:00Z",
    }
    assert jobs.payload("teams.ml")["data"]["members"] == 4


def test_the_jobs_incremental_run_asks_for_jobs_updated_since_the_watermark(
    tmp_path: Path, jobs_key: str
) -> None:
    jobs = Replay("jobs", tmp_path)
    with replaying("jobs", "first_sync") as cassette:
        jobs.run()
        again = jobs.run()
        assert cassette.all_played
    assert again.counters.changed == 0
    assert jobs.watermark("jobs") == "2025-03-05T16:45:00+00:00"

    with replaying("jobs", "incremental_sync") as cassette:
        later = jobs.run()
        assert cassette.all_played
    asked = [r.query for r in cassette.requests if r.path == "/api/v1/jobs"]
    assert asked and all(("updated_since", "2025-03-05T16:45:00Z") in q for q in asked[-2:])
    assert (later.streams["jobs"].created, later.streams["jobs"].updated) == (1, 1)
    assert later.streams["job_runs"].created == 1
    assert jobs.payload("jobs.churn-features")["scheduleInterval"] == "0 * * * *"
    assert jobs.watermark("jobs") == "2025-03-07T09:00:00+00:00"


def test_the_recordings_hold_no_api_key_header() -> None:
    for path in CASSETTES.glob("*.yaml"):
        assert "x-api-key" not in path.read_text().lower(), path
