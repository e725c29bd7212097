"""Records the airflow source's cassettes against a real Airflow started here, then stops it.

`make cassettes` runs it as `.venv/bin/python scripts/record_airflow.py`. Steps:

1. `.cache/airflow-venv`: a venv with apache-airflow (AIRFLOW_VERSION), pinned by Airflow's
   constraints file when that URL answers, else resolved by pip alone.
2. A fresh AIRFLOW_HOME in `.cache/airflow-record`: a copy of `scripts/airflow_dags`, SQLite,
   LocalExecutor, the simple auth manager with one admin and a random password; the DAG
   processor re-parses a file only when it changes (min_file_process_interval is an hour).
3. api-server, scheduler and dag-processor on 127.0.0.1, in their own process group.
4. Waits for the DAGs, triggers `sales_etl` and `warehouse_maintenance` (sales_etl's scheduled
   run starts by itself; each finished sales_etl run triggers `sales_report` through an asset),
   and waits until no run is queued or running.
5. `first_sync.yaml`: a first sync and its immediate re-run (the contract suite replays both);
   `test_connection.yaml`.
6. Edits sales_report's description and tags, triggers sales_etl again, waits.
7. `incremental_sync.yaml`: the sync after those changes, from the same state file.
8. Stops Airflow; writes `source.json`, the source block the recordings were made with.

Cassettes keep no Authorization header, cookie, password or token: the token request's body
and the token response's body are replaced, local paths are rewritten, and this script's own
calls to Airflow (waiting, triggering) are left out.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import vcr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from syncer import config as configs  # noqa: E402
from syncer.statefile import open_state  # noqa: E402
from syncer.workflow import RunResult, Workflow  # noqa: E402

AIRFLOW_VERSION = "3.3.2"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
CONSTRAINTS = (
    "https://raw.githubusercontent.com/apache/airflow/"
    f"constraints-{AIRFLOW_VERSION}/constraints-{PYTHON}.txt"
)
CACHE = REPO / ".cache"
VENV = CACHE / "airflow-venv"
HOME = CACHE / "airflow-record"
DAGS = REPO / "scripts" / "airflow_dags"
CASSETTES = REPO / "cassettes" / "airflow"
USER = "admin"
PASSWORD_ENV = "SYNCER_TEST_AIRFLOW_PASSWORD"
# What the recordings say in place of this machine's details.
REPLAY_HOST = "http://airflow.invalid:8080"
REPLAY_DAGS = "/opt/airflow/dags"
HELPER_HEADER = "X-Recorder-Helper"
EXPECTED_DAGS = {"sales_etl", "sales_report", "warehouse_maintenance"}
# Airflow on two cores is slow: generous limits, checked often.
STARTUP_TIMEOUT = 600
RUNS_TIMEOUT = 900


def log(message: str) -> None:
    print(f"[record_airflow {datetime.now():%H:%M:%S}] {message}", flush=True)


# --- install -----------------------------------------------------------------------------------


def install() -> Path:
    airflow = VENV / "bin" / "airflow"
    marker = VENV / f".airflow-{AIRFLOW_VERSION}"
    if marker.exists() and airflow.exists():
        return airflow
    log(f"installing apache-airflow {AIRFLOW_VERSION} into {VENV} (a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    package = f"apache-airflow=={AIRFLOW_VERSION}"
    if _reachable(CONSTRAINTS):
        subprocess.run([*pip, package, "--constraint", CONSTRAINTS], check=True)
    else:
        log("the constraints file cannot be fetched here; letting pip resolve versions")
        subprocess.run([*pip, package], check=True)
    marker.touch()
    return airflow


def _reachable(url: str) -> bool:
    try:
        return requests.head(url, timeout=10, allow_redirects=True).ok
    except requests.RequestException:
        return False


# --- Airflow -----------------------------------------------------------------------------------


class Airflow:
    """A local Airflow 3 and an authenticated client of its REST API."""

    def __init__(self, airflow: Path, port: int) -> None:
        self.airflow = airflow
        self.url = f"http://127.0.0.1:{port}"
        self.password = secrets.token_urlsafe(18)
        self.dags = HOME / "dags"
        self.env = _airflow_env(port, self.dags)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.session = requests.Session()
        # This script's own calls are never recorded, even inside a cassette.
        self.session.headers[HELPER_HEADER] = "1"

    def start(self) -> None:
        shutil.rmtree(HOME, ignore_errors=True)
        shutil.copytree(DAGS, self.dags, ignore=shutil.ignore_patterns("__pycache__"))
        (HOME / "simple_auth_manager_passwords.json.generated").write_text(
            json.dumps({USER: self.password})
        )
        log("migrating the metadata database")
        subprocess.run(
            [str(self.airflow), "db", "migrate"],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for component in ("api-server", "scheduler", "dag-processor"):
            out = (HOME / f"{component}.log").open("wb")
            args = [str(self.airflow), component]
            if component == "api-server":
                args += ["--host", "127.0.0.1", "--port", self.env["AIRFLOW__API__PORT"]]
            # A session of its own: stopping the group stops the workers it forks too.
            self.processes.append(
                subprocess.Popen(
                    args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        log(f"started api-server, scheduler and dag-processor; logs in {HOME}")
        wait_for("the api-server", self._healthy, STARTUP_TIMEOUT)
        token = self.session.post(
            f"{self.url}/auth/token", json={"username": USER, "password": self.password}
        )
        token.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def stop(self) -> None:
        for process in self.processes:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 60
        for process in self.processes:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            _signal_group(process, signal.SIGKILL)  # workers that outlived their parent
        log("Airflow stopped")

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", f"/api/v2{path}", params=params).json()

    def trigger(self, dag_id: str) -> None:
        self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        log(f"triggered {dag_id}")

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        # SQLite takes one writer at a time: a busy scheduler can make a request fail with a
        # 500 ("database is locked"). This script's own calls try again; the syncs recorded
        # do not, so that the recordings hold no retried request.
        for attempt in range(5):
            response = self.session.request(method, f"{self.url}{path}", timeout=60, **kwargs)
            if response.status_code < 500 or attempt == 4:
                break
            time.sleep(3)
        response.raise_for_status()
        return response

    def parsed(self) -> dict[str, dict[str, Any]]:
        return {d["dag_id"]: d for d in self.get("/dags", limit=100)["dags"]}

    def wait_for_dags(self) -> None:
        def ready() -> bool:
            errors = self.get("/importErrors")["import_errors"]
            if errors:
                raise SystemExit(f"DAG import errors: {errors}")
            return set(self.parsed()) >= EXPECTED_DAGS

        wait_for("the example DAGs to be parsed", ready, STARTUP_TIMEOUT)

    def wait_for_runs(self) -> None:
        """Until nothing is queued or running twice in a row, 15 s apart: an asset-triggered
        run is created a moment after the run that updated the asset finished."""
        quiet = 0

        def settled() -> bool:
            nonlocal quiet
            busy = self.get("/dags/~/dagRuns", state=["queued", "running"])["total_entries"]
            quiet = quiet + 1 if busy == 0 else 0
            return quiet >= 2

        wait_for("the DAG runs to finish", settled, RUNS_TIMEOUT, every=15)

    def wait_for_parse(self, what: str, check: Callable[[dict[str, Any]], bool]) -> None:
        """Until the DAGs, as the API lists them by id, pass `check`."""
        wait_for(what, lambda: check(self.parsed()), STARTUP_TIMEOUT)

    def _healthy(self) -> bool:
        try:
            return self.session.get(f"{self.url}/api/v2/monitor/health", timeout=5).ok
        except requests.RequestException:
            return False


def _airflow_env(port: int, dags: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "PATH": f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            # Parse a file again only when it changed, so the recordings show the pipelines
            # cursor skipping DAGs that did not.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        }
    )
    return env


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def wait_for(what: str, check: Callable[[], bool], timeout: float, every: float = 3) -> None:
    log(f"waiting for {what}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise SystemExit(f"gave up waiting for {what} after {timeout:.0f} s; see the logs in {HOME}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- recording ---------------------------------------------------------------------------------


def recorder(url: str) -> vcr.VCR:
    def scrub_request(request: Any) -> Any:
        if HELPER_HEADER in request.headers:
            return None
        request.uri = request.uri.replace(url, REPLAY_HOST)
        if request.path.endswith("/auth/token"):
            request.body = json.dumps({"username": USER, "password": "***"}).encode()
        return request

    return vcr.VCR(
        record_mode="all",
        match_on=["method", "path", "query", "body"],
        filter_headers=["authorization", "cookie", "set-cookie"],
        before_record_request=scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response["headers"]
    # The body changes below; its length and chunking are the replayer's to work out again.
    dropped = ("set-cookie", "content-length", "transfer-encoding")
    for name in [h for h in headers if h.lower() in dropped]:
        del headers[name]
    body = response["body"]["string"]
    try:
        data = json.loads(body)
    except ValueError:
        return response
    response["body"]["string"] = json.dumps(_scrub(data)).encode()
    return response


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "***" if key in ("access_token", "file_token") else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, str):
        return value.replace(str(HOME / "dags"), REPLAY_DAGS).replace(str(HOME), "/opt/airflow")
    return value


def source_block(host: str) -> dict[str, Any]:
    return {
        "type": "airflow",
        "config": {
            "host": host,
            "auth": {"type": "jwt", "username": USER, "password": f"${{env:{PASSWORD_ENV}}}"},
            "ui_url": "https://airflow.example.com",
            "asset_services": {"postgres://db.internal:5432/sales": "warehouse"},
            # Small pages, so the recordings page through every list.
            "page_size": 4,
            "retry": {"attempts": 1},
        },
    }


def sync(workdir: Path, host: str, label: str) -> RunResult:
    path = workdir / "workflow.yaml"
    path.write_text(
        json.dumps(
            {
                "workflow": "airflow",
                "source": source_block(host),
                "sinks": [{"type": "duckdb"}],
                "state": {"path": str(workdir / "state.duckdb")},
            }
        )
    )
    loaded = configs.load(path)
    store = open_state(loaded.state_path)
    try:
        result = Workflow(loaded, store).run()
    finally:
        store.close()
    counts = {name: c.as_dict() for name, c in result.streams.items()}
    log(f"{label}: {result.status} {counts}")
    if result.status != "succeeded":
        raise SystemExit(f"{label} did not succeed: {result.error}")
    return result


def edit_sales_report(dags: Path) -> None:
    path = dags / "sales_report.py"
    text = path.read_text()
    text = text.replace(
        'description="Builds the daily sales report"',
        'description="Builds the daily sales report and mails it to sales"',
    )
    text = re.sub(r'tags=\["reporting"\]', 'tags=["reporting", "daily"]', text)
    if "mails it to sales" not in text or '"daily"' not in text:
        raise SystemExit(f"{path}: the description or tags to edit are not there any more")
    path.write_text(text)


@contextmanager
def running(airflow: Airflow) -> Iterator[Airflow]:
    try:
        airflow.start()
        yield airflow
    finally:
        airflow.stop()


def main() -> None:
    airflow = Airflow(install(), free_port())
    os.environ[PASSWORD_ENV] = airflow.password
    CASSETTES.mkdir(parents=True, exist_ok=True)
    for old in CASSETTES.glob("*.yaml"):
        old.unlink()  # a cassette that exists is added to, not replaced
    record = recorder(airflow.url)
    with running(airflow), tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        airflow.wait_for_dags()
        airflow.trigger("sales_etl")
        airflow.trigger("warehouse_maintenance")
        airflow.wait_for_runs()

        with record.use_cassette(str(CASSETTES / "first_sync.yaml")):
            sync(workdir, airflow.url, "first sync")
            sync(workdir, airflow.url, "re-run")
        with record.use_cassette(str(CASSETTES / "test_connection.yaml")):
            report = configs.load(_workflow_file(workdir)).source.test_connection()
            log(f"test-connection: {report}")

        edit_sales_report(airflow.dags)  # a changed file is parsed again at once
        airflow.wait_for_parse(
            "the edited sales_report to be parsed",
            lambda dags: "daily" in {t["name"] for t in dags["sales_report"]["tags"]},
        )
        airflow.trigger("sales_etl")
        airflow.wait_for_runs()
        with record.use_cassette(str(CASSETTES / "incremental_sync.yaml")):
            sync(workdir, airflow.url, "incremental sync")

    (CASSETTES / "source.json").write_text(json.dumps(source_block(REPLAY_HOST), indent=2) + "\n")
    log(f"recorded at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC into {CASSETTES}")


def _workflow_file(workdir: Path) -> Path:
    return workdir / "workflow.yaml"


if __name__ == "__main__":
    main()
