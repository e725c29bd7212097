"""Records the mlflow source's cassettes against a real `mlflow server`; `make cassettes` runs it.

    .venv/bin/python scripts/record_mlflow.py

It installs MLflow and scikit-learn into `.cache/mlflow-venv` (once), starts `mlflow server` on
SQLite and a local artifact directory in a temporary directory on a free port, fills it with
`scripts/mlflow_seed.py seed`, records syncer's first sync through vcrpy and the re-run right
after it (nothing changed: what the contract suite's second run asks for), changes one model and
two experiments (`mlflow_seed.py change`) and records the incremental sync that follows, on the
same state. The cassettes in `cassettes/mlflow/` are then sanitized: a fixed host, no request
headers, only the Content-Type of responses, no local paths; the script fails if a path or a
credential is left.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import vcr
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from syncer import config as configs  # noqa: E402
from syncer.statefile import open_state  # noqa: E402
from syncer.workflow import Workflow  # noqa: E402

VENV = REPO / ".cache" / "mlflow-venv"
# Pinned so that a re-recording differs only where the registry does.
REQUIREMENTS = ["mlflow==3.17.2", "scikit-learn==1.9.1"]
CASSETTES = REPO / "cassettes" / "mlflow"
# The source config both recordings were made with; the tests replay with the same.
SOURCE_CONFIG = CASSETTES / "source.yaml"
RECORDINGS = ("first_sync.yaml", "rerun.yaml", "incremental_sync.yaml")
RECORDED_HOST = "http://mlflow.invalid:5000"
STARTUP_SECONDS = 180


def main() -> None:
    ensure_venv()
    CASSETTES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="syncer-mlflow-") as tmp:
        work = Path(tmp)
        with mlflow_server(work) as url:
            seed("seed", url, work)
            workflow = write_workflow(work, url)
            record(workflow, work / "state.duckdb", CASSETTES / "first_sync.yaml")
            record(workflow, work / "state.duckdb", CASSETTES / "rerun.yaml")
            seed("change", url, work)
            record(workflow, work / "state.duckdb", CASSETTES / "incremental_sync.yaml")
        for cassette in RECORDINGS:
            sanitize(CASSETTES / cassette, url, work)
    print(f"recorded {', '.join(RECORDINGS)}")


def ensure_venv() -> None:
    """The MLflow venv, created once per set of requirements."""
    marker = VENV / ".installed"
    wanted = "\n".join(REQUIREMENTS)
    if marker.exists() and marker.read_text() == wanted:
        return
    subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *REQUIREMENTS], check=True)
    marker.write_text(wanted)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mlflow_server(work: Path) -> Iterator[str]:
    """`mlflow server` on SQLite, serving artifacts from a local directory; stopped after."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "server.log").open("wb")
    command = [
        str(VENV / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{work / 'mlflow.db'}",
        # Proxied artifacts: runs and experiments name `mlflow-artifacts:/…`, not local paths.
        "--artifacts-destination",
        str(work / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # Its own process group, so that stopping it stops the workers it forks.
    server = subprocess.Popen(
        command, cwd=work, stdout=log, stderr=subprocess.STDOUT, env=_env(), start_new_session=True
    )
    try:
        _wait_until_healthy(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _wait_until_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"mlflow server exited with {server.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"mlflow server did not answer on {url} within {STARTUP_SECONDS} s")


def seed(phase: str, url: str, work: Path) -> None:
    # A copy outside the repository: MLflow tags runs with the git commit of the script's repo.
    script = work / "mlflow_seed.py"
    shutil.copy(REPO / "scripts" / "mlflow_seed.py", script)
    subprocess.run(
        [str(VENV / "bin" / "python"), str(script), phase, "--tracking-uri", url],
        cwd=work,
        env=_env(),
        check=True,
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    return env


def write_workflow(work: Path, url: str) -> Path:
    source = yaml.safe_load(SOURCE_CONFIG.read_text())
    source["config"]["tracking_uri"] = url
    path = work / "workflow.yaml"
    spec = {"workflow": "mlflow", "source": source, "sinks": [], "state": {"path": "state.duckdb"}}
    path.write_text(yaml.safe_dump(spec))
    return path


def record(workflow: Path, state_path: Path, cassette: Path) -> None:
    cassette.unlink(missing_ok=True)
    recorder = vcr.VCR(record_mode="all", decode_compressed_response=True)
    loaded = configs.load(workflow)
    store = open_state(state_path)
    try:
        with recorder.use_cassette(str(cassette)):
            result = Workflow(loaded, store).run()
    finally:
        store.close()
    if result.status != "succeeded" or result.counters.errors:
        raise SystemExit(f"the sync recorded in {cassette.name} failed: {result.error}")


def sanitize(cassette: Path, url: str, work: Path) -> None:
    """A fixed host, no request headers, only response Content-Types, no local paths."""
    data = yaml.safe_load(cassette.read_text())
    local = {str(work.resolve()): "/tmp/mlflow", str(work): "/tmp/mlflow", str(REPO): "/repo"}
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        request["uri"] = request["uri"].replace(url, RECORDED_HOST)
        request["headers"] = {}
        response["headers"] = {
            k: v for k, v in response["headers"].items() if k.lower() == "content-type"
        }
        body = response["body"]["string"]
        if isinstance(body, str):
            for path, placeholder in local.items():
                body = body.replace(path, placeholder)
            response["body"]["string"] = body
    text = yaml.dump(data, Dumper=_Readable, sort_keys=False, allow_unicode=True, width=100)
    leaks = re.findall(
        r"/home/[^/\s]+|/root/|authorization|cookie|password|127\.0\.0\.1", text, re.I
    )
    if leaks:
        raise SystemExit(f"{cassette}: still holds {sorted(set(leaks))}; extend sanitize()")
    cassette.write_text(text)


class _Readable(yaml.SafeDumper):
    """Multi-line bodies (pretty-printed JSON, MLmodel files) as literal blocks, to review."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Readable.add_representer(str, _text)


if __name__ == "__main__":
    main()
