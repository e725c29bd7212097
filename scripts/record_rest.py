"""Re-records cassettes/rest/: the rest source's two examples, each as a first sync with its
immediate re-run, then an incremental sync after changes at the source.

    .venv/bin/python scripts/record_rest.py [mlflow] [jobs]      (`make cassettes` runs it)

MLflow (`examples/rest/mlflow.yaml`): uses the MLflow tool venv `.cache/mlflow-venv` when it
has mlflow, else creates `.cache/rest-mlflow-venv`; starts `mlflow server` on SQLite in a
temporary directory and seeds it with `scripts/seed_rest_mlflow.py`.
Jobs (`examples/rest/jobs.yaml`): serves `examples/rest/jobs_api.py` in-process.

Recordings keep no credential: Authorization, cookies and the API key header are filtered, and
the server's address becomes a fixed `.invalid` one that the replaying tests use too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import vcr
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "examples" / "rest")]

from jobs_api import JobsApi, load  # noqa: E402

from syncer import config as configs  # noqa: E402
from syncer.statefile import open_state  # noqa: E402
from syncer.workflow import RunResult, Workflow  # noqa: E402

CASSETTES = REPO / "cassettes" / "rest"
# Where the replaying tests point the examples; never resolved, the cassettes answer.
REPLAY_URLS = {"mlflow": "http://mlflow.invalid:5000", "jobs": "http://jobs.invalid:8008"}
SECRET_HEADERS = ["authorization", "cookie", "set-cookie", "x-api-key"]
MLFLOW_VENVS = [REPO / ".cache" / "mlflow-venv", REPO / ".cache" / "rest-mlflow-venv"]
MLFLOW_REQUIREMENT = "mlflow>=3,<4"


def recorder(live_url: str, replay_url: str, scrub: list[str]) -> vcr.VCR:
    """A vcrpy recorder that writes `replay_url` wherever the live server's address was."""

    def clean(text: str) -> str:
        text = text.replace(live_url, replay_url)
        for private in scrub:
            text = text.replace(private, "/scrubbed")
        return text

    def request(req: Any) -> Any:
        req.uri = clean(req.uri)
        return req

    def response(resp: dict[str, Any]) -> dict[str, Any]:
        resp["headers"] = {
            k: [clean(v) for v in values]
            for k, values in resp["headers"].items()
            # The body may have changed length; the date and server say nothing replay needs.
            if k.lower() not in ("date", "server", "content-length")
        }
        body = resp["body"]["string"]
        if isinstance(body, bytes):
            resp["body"]["string"] = clean(body.decode()).encode()
        return resp

    return vcr.VCR(
        record_mode="all",
        match_on=["method", "path", "query"],
        filter_headers=SECRET_HEADERS,
        decode_compressed_response=True,
        before_record_request=request,
        before_record_response=response,
    )


def workflow_file(example: str, base_url: str, work: Path) -> Path:
    """The example's workflow pointed at `base_url`, with its state in `work`."""
    raw = yaml.safe_load((REPO / "examples" / "rest" / f"{example}.yaml").read_text())
    raw["source"]["config"]["base_url"] = base_url
    raw["state"] = {"path": str(work / "state.duckdb")}
    path = work / f"{example}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run(path: Path) -> RunResult:
    loaded = configs.load(path)
    store = open_state(loaded.state_path)
    try:
        result = Workflow(loaded, store).run()
    finally:
        store.close()
    if result.status != "succeeded":
        raise SystemExit(f"{path.name}: run {result.run_id} {result.status}: {result.error}")
    print(
        f"  run {result.run_id}: "
        + ", ".join(
            f"{name} {c.created}+ {c.updated}~ {c.unchanged}=" for name, c in result.streams.items()
        )
    )
    return result


def record(
    example: str, live_url: str, change: Callable[[], object], work: Path, scrub: list[str]
) -> None:
    path = workflow_file(example, live_url, work)
    tape = recorder(live_url, REPLAY_URLS[example], scrub)
    for name in ("first_sync", "incremental_sync"):
        (CASSETTES / f"{example}_{name}.yaml").unlink(missing_ok=True)
    print(f"{example}: first sync and its re-run")
    with tape.use_cassette(str(CASSETTES / f"{example}_first_sync.yaml")):
        run(path)
        run(path)
    change()
    print(f"{example}: incremental sync after changes")
    with tape.use_cassette(str(CASSETTES / f"{example}_incremental_sync.yaml")):
        run(path)


# --- the jobs API ----------------------------------------------------------------------------


def record_jobs(work: Path) -> None:
    key = secrets.token_hex(16)
    os.environ["JOBS_API_KEY"] = key
    api = JobsApi(load(), key).start()

    def change() -> None:
        jobs = {j["id"]: j for j in api.data["jobs"]}
        jobs["churn-features"].update(
            description="Builds churn features, now hourly",
            schedule="0 * * * *",
            updated_at="2025-03-06T10:00:00Z",
        )
        api.data["jobs"].append(
            {
                "id": "ltv-model",
                "name": "Lifetime value",
                "description": "Scores customer value",
                "owner": "ml",
                "schedule": "0 4 * * *",
                "updated_at": "2025-03-07T09:00:00Z",
                "steps": [{"name": "score", "kind": "python"}],
            }
        )
        api.data["runs"]["churn-features"].append(
            {
                "id": 202,
                "state": "success",
                "started_at": "2025-03-08T00:00:00Z",
                "ended_at": "2025-03-08T00:38:00Z",
            }
        )

    try:
        record("jobs", api.url, change, work, [])
    finally:
        api.stop()


# --- MLflow ----------------------------------------------------------------------------------


def mlflow_venv() -> Path:
    """A venv with mlflow: the MLflow connector's when it has one, else our own."""
    for venv in MLFLOW_VENVS:
        python = venv / "bin" / "python"
        if (
            python.exists()
            and subprocess.run([str(python), "-c", "import mlflow"], capture_output=True).returncode
            == 0
        ):
            return venv
    venv = MLFLOW_VENVS[-1]
    print(f"creating {venv.relative_to(REPO)} with {MLFLOW_REQUIREMENT} (a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, MLFLOW_REQUIREMENT], check=True)
    return venv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mlflow_server(venv: Path, work: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "mlflow-server.log").open("w")
    server = subprocess.Popen(
        [
            str(venv / "bin" / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{work}/mlflow.db",
            "--default-artifact-root",
            str(work / "artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=work,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"mlflow server did not start; see {work}/mlflow-server.log")
            time.sleep(1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def record_mlflow(work: Path) -> None:
    venv = mlflow_venv()
    seed = [str(venv / "bin" / "python"), str(REPO / "scripts" / "seed_rest_mlflow.py")]
    with mlflow_server(venv, work) as url:
        subprocess.run([*seed, url, "first"], check=True, capture_output=True)
        record(
            "mlflow",
            url,
            lambda: subprocess.run([*seed, url, "change"], check=True, capture_output=True),
            work,
            [str(work)],
        )


def main(argv: list[str]) -> None:
    chosen = argv or ["jobs", "mlflow"]
    CASSETTES.mkdir(parents=True, exist_ok=True)
    for example in chosen:
        work = Path(tempfile.mkdtemp(prefix=f"syncer-rest-{example}-"))
        try:
            {"jobs": record_jobs, "mlflow": record_mlflow}[example](work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(f"cassettes written to {CASSETTES.relative_to(REPO)}")


if __name__ == "__main__":
    main(sys.argv[1:])
