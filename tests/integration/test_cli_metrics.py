"""`syncer run` with a `metrics:` block, as a user reads the result: the node-exporter textfile
parsed with prometheus-client's own parser, and what a Pushgateway stand-in received."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.metrics_receiver import MetricsReceiver
from tests.support.receiver import Receiver, Reply
from tests.support.workspace import Workspace, catalog, unreadable

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

ENTITIES = {"services": 1, "databases": 1, "schemas": 4, "tables": 5}


def samples(path: Path) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(path.read_text(encoding="utf-8"))
        for sample in family.samples
    }


def metric(path: Path, name: str, **labels: str) -> float | None:
    return samples(path).get((name, frozenset({"workflow": "shop", **labels}.items())))


def changed(path: Path, stream: str) -> float:
    kinds = ("created", "updated", "restored", "deleted")
    return sum(metric(path, "syncer_entities_total", stream=stream, kind=k) or 0 for k in kinds)


def test_a_first_run_reports_what_it_created_and_a_rerun_no_changes(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.write_config(metrics={"textfile": "metrics/shop.prom"})
    textfile = workspace.root / "metrics" / "shop.prom"  # beside the config, wherever run from
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    first = workspace.syncer("run", workspace.config, cwd=elsewhere)

    assert first.returncode == 0, first.stderr
    for stream, count in ENTITIES.items():
        assert metric(textfile, "syncer_entities_total", stream=stream, kind="created") == count
    assert metric(textfile, "syncer_sink_delivered", sink="jsonl") == sum(ENTITIES.values())
    assert metric(textfile, "syncer_last_run_status", status="succeeded") == 1
    first_success = metric(textfile, "syncer_last_success_timestamp_seconds")
    assert first_success is not None

    workspace.run()

    for stream in ENTITIES:
        assert changed(textfile, stream) == 0
        assert (
            metric(textfile, "syncer_entities_total", stream=stream, kind="unchanged")
            == (ENTITIES[stream])
        )
    assert metric(textfile, "syncer_sink_backlog", sink="jsonl") == 0
    second_success = metric(textfile, "syncer_last_success_timestamp_seconds")
    assert second_success is not None and second_success > first_success


def test_a_failed_run_keeps_the_last_success_and_says_it_did_not_succeed(
    workspace: Workspace,
) -> None:
    workspace.write_config(metrics={"textfile": "shop.prom"})
    textfile = workspace.root / "shop.prom"
    workspace.run()
    success = metric(textfile, "syncer_last_success_timestamp_seconds")
    workspace.write_source(unreadable("the catalog is down"))

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 1
    assert metric(textfile, "syncer_last_success_timestamp_seconds") == success
    assert metric(textfile, "syncer_last_run_status", status="succeeded") == 0
    last_run = metric(textfile, "syncer_last_run_timestamp_seconds")
    assert success is not None and last_run is not None and last_run > success


def test_a_run_stopped_by_sigterm_reports_interrupted_and_keeps_the_last_success(
    workspace: Workspace,
) -> None:
    workspace.env["HOOK_SECRET"] = "metrics-hook-secret-8d41c0"
    with Receiver() as receiver:
        hook = {"url": receiver.url, "secret": "${env:HOOK_SECRET}"}
        workspace.write_config(
            sinks=[{"type": "webhook", "config": hook}], metrics={"textfile": "shop.prom"}
        )
        textfile = workspace.root / "shop.prom"
        workspace.run()
        success = metric(textfile, "syncer_last_success_timestamp_seconds")
        workspace.write_source(catalog(6))  # one table more to send
        receiver.default = Reply(delay=30)  # the receiver stalls: the run waits on it
        sent = len(receiver.requests)
        process = workspace.spawn("run", workspace.config)
        deadline = time.monotonic() + 60
        while len(receiver.requests) == sent and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=60) == 143
    assert metric(textfile, "syncer_last_run_status", status="interrupted") == 1
    assert metric(textfile, "syncer_last_success_timestamp_seconds") == success


def test_metrics_that_cannot_be_written_are_a_warning_and_leave_the_exit_code_alone(
    workspace: Workspace,
) -> None:
    (workspace.root / "taken").write_text("a file, not a folder", encoding="utf-8")
    workspace.write_config(metrics={"textfile": "taken/shop.prom"})

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 0, done.stderr
    assert "metrics not written" in done.stderr
    assert "shop.prom" in done.stderr


def test_each_run_is_pushed_to_the_gateway_and_only_a_success_pushes_the_last_success(
    workspace: Workspace,
) -> None:
    with MetricsReceiver() as gateway:
        workspace.write_config(metrics={"pushgateway": gateway.url, "job": "catalog-sync"})
        workspace.run()
        workspace.write_source(unreadable("the catalog is down"))
        workspace.syncer("run", workspace.config)

    success, failure = gateway.pushes
    assert {push.method for push in gateway.pushes} == {"POST"}
    assert {push.path for push in gateway.pushes} == {"/metrics/job/catalog-sync/workflow/shop"}
    created = success.value(
        "syncer_entities_total", workflow="shop", stream="tables", kind="created"
    )
    assert created == ENTITIES["tables"]
    assert success.value("syncer_last_success_timestamp_seconds", workflow="shop") is not None
    assert failure.value("syncer_last_success_timestamp_seconds", workflow="shop") is None
    assert failure.value("syncer_last_run_status", workflow="shop", status="succeeded") == 0
