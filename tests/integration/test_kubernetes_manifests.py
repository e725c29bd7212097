"""The Kubernetes recipes in examples/deploy/ are valid objects of the Kubernetes API (its JSON
schemas, from the `kubernetes-validate` package), hold what keeps a run safe, and the
folder CronJob's script runs every workflow with a state file of its own and passes SIGTERM
on to the run in progress."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncer import config as configs
from tests.support.runs import query_state
from tests.support.workspace import DOUBLES, REPO, SYNCER, Workspace, catalog

pytestmark = pytest.mark.slow  # runs `syncer` in subprocesses

DEPLOY = REPO / "examples" / "deploy"
CRONJOBS = sorted(p.name for p in DEPLOY.glob("cronjob*.yaml"))


def documents(name: str) -> dict[str, dict[str, Any]]:
    found = yaml.safe_load_all((DEPLOY / name).read_text(encoding="utf-8"))
    return {document["kind"]: document for document in found}


def pod_of(name: str) -> dict[str, Any]:
    pod: dict[str, Any] = documents(name)["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]
    return pod["spec"]


@pytest.mark.parametrize("name", CRONJOBS)
def test_every_object_of_the_recipe_is_valid_for_the_kubernetes_api(name: str) -> None:
    validation = pytest.importorskip("kubernetes_validate")
    version = validation.latest_version()
    for document in documents(name).values():
        validation.validate(document, version, strict=True)  # raises on an unknown field too


@pytest.mark.parametrize("name", CRONJOBS)
def test_a_cronjob_never_overlaps_keeps_state_on_a_claim_and_gets_secrets_from_a_secret(
    name: str,
) -> None:
    found = documents(name)
    pod = pod_of(name)
    [container] = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}

    assert found["CronJob"]["spec"]["concurrencyPolicy"] == "Forbid"
    assert (
        volumes[mounts["/state"]]["persistentVolumeClaim"]["claimName"]
        == (found["PersistentVolumeClaim"]["metadata"]["name"])
    )
    assert container["envFrom"] == [{"secretRef": {"name": "syncer-secrets"}}]
    assert "env" not in container  # no secret written into the manifest
    assert pod["restartPolicy"] == "Never"
    assert pod["terminationGracePeriodSeconds"] > 30  # time to roll back on SIGTERM
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_folder_cronjobs_workflows_load_with_the_secrets_as_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_PASSWORD", "from-the-secret")
    monkeypatch.setenv("OPENMETADATA_BOT_TOKEN", "header.payload.signature")
    workflows = documents("cronjob-folder.yaml")["ConfigMap"]["data"]

    names = []
    for file, text in workflows.items():
        path = tmp_path / file
        path.write_text(text, encoding="utf-8")
        names.append(configs.load(path).spec.workflow)  # every step built, as the pod does

    assert names == [Path(file).stem for file in workflows]  # the state file is named after it


def folder_script(configs_dir: Path, state_dir: Path) -> str:
    """The folder CronJob's shell script, its two paths moved under the test's folder."""
    [script] = pod_of("cronjob-folder.yaml")["containers"][0]["args"]
    text: str = script.replace("/etc/syncer/workflows", str(configs_dir))
    return text.replace('"/state/', f'"{state_dir}/')


def shell(script: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    path = f"{SYNCER.parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.Popen(["/bin/sh", "-c", script], env={**env, "PATH": path})


def test_the_folder_script_runs_every_workflow_into_a_state_file_of_its_own(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    configs_dir, state_dir = tmp_path / "workflows", tmp_path / "state"
    configs_dir.mkdir()
    state_dir.mkdir()
    for name, tables in (("sales", 2), ("billing", 3)):
        ws = Workspace(tmp_path / name, subprocess_env, workflow=name)
        ws.root.mkdir()
        ws.write_source(catalog(tables))
        ws.write_config(sinks=[{"type": "jsonl", "config": {"path": str(ws.jsonl)}}])
        (configs_dir / f"{name}.yaml").write_bytes(ws.config.read_bytes())

    done = shell(folder_script(configs_dir, state_dir), subprocess_env)

    assert done.wait(timeout=120) == 0
    assert sorted(p.name for p in state_dir.iterdir()) == [
        "billing.duckdb",
        "billing.duckdb.summary.json",
        "sales.duckdb",
        "sales.duckdb.summary.json",
    ]
    for name in ("sales", "billing"):
        rows = query_state(state_dir / f"{name}.duckdb", "SELECT workflow, status FROM runs")
        assert rows == [(name, "succeeded")]


def test_the_folder_script_passes_sigterm_to_the_run_in_progress(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    configs_dir, state_dir = tmp_path / "workflows", tmp_path / "state"
    configs_dir.mkdir()
    state_dir.mkdir()
    reached, release = tmp_path / "reached", tmp_path / "release"
    ws = Workspace(tmp_path / "held", subprocess_env, workflow="held")
    ws.root.mkdir()
    ws.write_source(catalog(2))
    gate = {"reached": str(reached), "release": str(release)}
    ws.write_config(sinks=[{"type": f"{DOUBLES}:GateSink", "config": gate}])
    (configs_dir / "held.yaml").write_bytes(ws.config.read_bytes())

    process = shell(folder_script(configs_dir, state_dir), subprocess_env)
    try:
        deadline = time.monotonic() + 60
        while not reached.exists():
            assert process.poll() is None, "the script ended before the run held its sink"
            assert time.monotonic() < deadline, "the run never reached its sink"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGTERM)  # what the kubelet sends the container's PID 1
        code = process.wait(timeout=60)
    finally:
        release.touch()
        if process.poll() is None:
            process.kill()

    assert code == 143
    rows = query_state(state_dir / "held.duckdb", "SELECT status FROM runs")
    assert rows == [("interrupted",)]
