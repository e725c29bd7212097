"""The schedule recipes in examples/deploy/ work as written: the crontab line and the systemd
service's command run (paths moved into a temporary folder) against examples/demo.yaml, the
units pass `systemd-analyze verify`, and the Kubernetes CronJob holds what keeps a run safe."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from syncer import config as configs
from tests.support.workspace import REPO, SYNCER

pytestmark = pytest.mark.slow  # runs `syncer` and system tools in subprocesses

DEPLOY = REPO / "examples" / "deploy"
INSTALLED = "/opt/syncer/venv/bin/syncer"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A stand-in for `/`: /etc/syncer/workflow.yaml (examples/demo.yaml reading a copy of the
    shop database) and /etc/syncer/syncer.env."""
    etc = tmp_path / "etc" / "syncer"
    etc.mkdir(parents=True)
    database = tmp_path / "shop.sqlite"
    shutil.copy(REPO / "examples" / "data" / "shop.sqlite", database)
    spec = yaml.safe_load((REPO / "examples" / "demo.yaml").read_text(encoding="utf-8"))
    spec["source"]["config"]["url"] = f"sqlite:///{database}"
    (etc / "workflow.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    (etc / "syncer.env").write_text("SHOP_TOKEN=not-used-by-the-demo\n", encoding="utf-8")
    return tmp_path


def moved(text: str, root: Path) -> str:
    """`text` with the recipe's absolute paths moved under `root`, and syncer's the installed
    one."""
    text = text.replace(INSTALLED, str(SYNCER))
    for folder in ("/etc/syncer", "/var/lib/syncer", "/var/lib/node_exporter"):
        text = text.replace(folder, f"{root}{folder}")
    return text


def needs_quiet() -> None:
    done = subprocess.run(
        [str(SYNCER), "run", "--help"], capture_output=True, text=True, check=False
    )
    if "--quiet" not in done.stdout:
        pytest.skip("`syncer run --quiet` is not there yet")


def cron(command: str, root: Path) -> subprocess.CompletedProcess[str]:
    """`command` as cron runs it: /bin/sh, in $HOME, with cron's minimal environment."""
    return subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root), "SHELL": "/bin/sh"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- cron ----------------------------------------------------------------------------------------


def crontab_command() -> str:
    jobs = [
        line
        for line in (DEPLOY / "crontab").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    [job] = jobs
    fields = job.split(None, 5)
    assert fields[:5] == ["*/15", "*", "*", "*", "*"]
    return fields[5]


def test_the_crontab_line_syncs_quietly_and_a_second_run_says_nothing(root: Path) -> None:
    needs_quiet()
    command = moved(crontab_command(), root)

    first = cron(command, root)
    again = cron(command, root)

    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")  # cron mails nothing
    state = root / "var" / "lib" / "syncer" / "state.duckdb"
    with duckdb.connect(str(state), read_only=True) as db:
        runs = db.execute("SELECT status FROM run_summary ORDER BY run_id").fetchall()
    assert runs == [("succeeded",), ("succeeded",)]


def test_the_crontab_line_fails_at_once_while_another_run_holds_the_state(root: Path) -> None:
    needs_quiet()
    command = moved(crontab_command(), root)
    assert cron(command, root).returncode == 0
    state = root / "var" / "lib" / "syncer" / "state.duckdb"

    with duckdb.connect(str(state)):  # a run still going holds the state file's lock
        overlapping = cron(command, root)

    assert overlapping.returncode == 2
    assert "is in use by another process" in overlapping.stderr
    assert overlapping.stdout == ""


def test_the_crontab_line_exits_1_and_speaks_when_the_run_fails(root: Path) -> None:
    needs_quiet()
    command = moved(crontab_command(), root)
    (root / "shop.sqlite").unlink()

    done = cron(command, root)

    assert done.returncode == 1
    assert "shop.sqlite does not exist" in done.stdout + done.stderr  # cron mails this


# --- systemd -------------------------------------------------------------------------------------


def unit_values(name: str, key: str) -> list[str]:
    lines = (DEPLOY / name).read_text(encoding="utf-8").splitlines()
    return [line.split("=", 1)[1] for line in lines if line.startswith(f"{key}=")]


def test_the_systemd_units_pass_systemd_analyze_verify(root: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    units = root / "units"
    units.mkdir()
    for name in ("syncer.service", "syncer.timer"):
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (units / name).write_text(text.replace(INSTALLED, str(SYNCER)), encoding="utf-8")

    done = subprocess.run(
        [analyze, "verify", str(units / "syncer.service"), str(units / "syncer.timer")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # an unknown or misspelt key is only a warning there


def test_the_systemd_service_is_a_oneshot_that_stops_cleanly_and_keeps_its_state() -> None:
    assert unit_values("syncer.service", "Type") == ["oneshot"]
    assert unit_values("syncer.service", "KillSignal") == ["SIGTERM"]
    assert unit_values("syncer.service", "TimeoutStopSec")
    assert unit_values("syncer.service", "SuccessExitStatus") == ["143"]  # stopped by SIGTERM
    assert unit_values("syncer.service", "StateDirectory") == ["syncer"]
    assert unit_values("syncer.service", "EnvironmentFile") == ["/etc/syncer/syncer.env"]
    assert unit_values("syncer.timer", "Unit") == ["syncer.service"]


def test_the_systemd_services_command_syncs_into_its_state_directory(root: Path) -> None:
    needs_quiet()
    [exec_start] = unit_values("syncer.service", "ExecStart")
    state_directory = root / "var" / "lib"
    command = moved(exec_start, root).replace("%S", str(state_directory))
    working = state_directory / "syncer"  # StateDirectory=, made by systemd
    working.mkdir(parents=True)

    done = subprocess.run(
        shlex.split(command),
        cwd=working,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert (working / "state.duckdb").exists()


# --- Kubernetes ----------------------------------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    documents = yaml.safe_load_all((DEPLOY / "cronjob.yaml").read_text(encoding="utf-8"))
    return {document["kind"]: document for document in documents}


def test_the_cronjob_never_overlaps_runs_as_non_root_and_keeps_its_state_on_a_claim() -> None:
    found = manifests()
    cronjob = found["CronJob"]["spec"]
    pod = cronjob["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    args = container["args"]
    state = Path(args[args.index("--state") + 1])

    assert cronjob["concurrencyPolicy"] == "Forbid"
    assert "--quiet" in args
    claim = volumes[mounts[str(state.parent)]]["persistentVolumeClaim"]["claimName"]
    assert claim == found["PersistentVolumeClaim"]["metadata"]["name"]
    assert container["envFrom"] == [{"secretRef": {"name": "syncer-secrets"}}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["restartPolicy"] == "Never"
    assert pod["terminationGracePeriodSeconds"] > 30  # time to roll back on SIGTERM


def test_the_cronjobs_workflow_loads_with_the_secrets_the_secret_gives_as_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = manifests()
    container = found["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    config = Path(container["containers"][0]["args"][-1])
    path = tmp_path / config.name
    path.write_text(found["ConfigMap"]["data"][config.name], encoding="utf-8")
    monkeypatch.setenv("PG_PASSWORD", "from-the-secret")
    monkeypatch.setenv("OPENMETADATA_BOT_TOKEN", "header.payload.signature")

    loaded = configs.load(path)  # every step built, as the pod does before it runs

    assert loaded.spec.metrics is not None and loaded.spec.metrics.pushgateway is not None
    written = configs.read_yaml(path)
    assert "${env:PG_PASSWORD}" in written["source"]["config"]["url"]
    assert written["sinks"][0]["config"]["token"] == "${env:OPENMETADATA_BOT_TOKEN}"


def test_kubectl_accepts_the_cronjob_in_a_client_dry_run() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed here")
    done = subprocess.run(
        [kubectl, "apply", "--dry-run=client", "--request-timeout=5s", "-f", "cronjob.yaml"],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 and ("connection refused" in done.stderr or "dial tcp" in done.stderr):
        pytest.skip(
            "kubectl has no cluster to read the API's schema from (a client dry-run needs one)"
        )

    assert done.returncode == 0, done.stderr
    assert "cronjob.batch/syncer created (dry run)" in done.stdout
