"""A run's Prometheus metrics: the textfile read back with prometheus-client's own parser, pushes
recorded by a Pushgateway stand-in, and the `metrics:` block of a workflow file."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from syncer import config as configs
from syncer import retries
from syncer.delivery import DeliveryReport
from syncer.errors import ConfigError
from syncer.http import HttpClient, RetryPolicy
from syncer.metrics import MetricsSpec, RunMetrics, publish, write_textfile
from syncer.results import RunResult, RunStatus
from syncer.steps import Counters
from syncer.testing.http import FakeTransport, Reply
from tests.support.metrics_receiver import MetricsReceiver
from tests.support.receiver import free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def read_samples(path: Path) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(path.read_text(encoding="utf-8"))
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset({"workflow": "shop", **labels}.items())))


def result(status: RunStatus = "succeeded", **tables: int) -> RunResult:
    counters = Counters(**tables)
    return RunResult(
        7,
        status,
        Counters(**tables),
        {"tables": counters},
        deliveries=[DeliveryReport("jsonl", delivered=3), DeliveryReport("om", backlog=4)],
    )


def run(outcome: RunResult | RunStatus, ended_at: float, duration: float = 2.5) -> RunMetrics:
    status = outcome if isinstance(outcome, str) else outcome.status
    report = None if isinstance(outcome, str) else outcome
    return RunMetrics("shop", status, ended_at, duration, report, {"503": 2})


# --- the textfile --------------------------------------------------------------------------------


def test_the_textfile_holds_the_runs_counts_by_stream_and_each_sinks_backlog(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shop.prom"

    write_textfile(path, run(result(scanned=5, created=3, unchanged=2, refused=1), 1000.0))

    samples = read_samples(path)
    assert value(samples, "syncer_last_success_timestamp_seconds") == 1000.0
    assert value(samples, "syncer_last_run_timestamp_seconds") == 1000.0
    assert value(samples, "syncer_run_duration_seconds") == 2.5
    assert value(samples, "syncer_last_run_status", status="succeeded") == 1
    assert value(samples, "syncer_last_run_status", status="failed") == 0
    assert value(samples, "syncer_entities_total", stream="tables", kind="created") == 3
    assert value(samples, "syncer_entities_total", stream="tables", kind="unchanged") == 2
    assert value(samples, "syncer_entities_total", stream="tables", kind="deleted") == 0
    assert value(samples, "syncer_deletions_refused_total") == 1
    assert value(samples, "syncer_sink_delivered", sink="jsonl") == 3
    assert value(samples, "syncer_sink_backlog", sink="om") == 4
    assert value(samples, "syncer_http_retries_total", status="503") == 2
    assert value(samples, "syncer_http_retries_total", status="429") == 0


def test_a_run_that_did_not_succeed_keeps_the_last_success_the_textfile_held(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shop.prom"
    write_textfile(path, run(result(), 1000.0))

    write_textfile(path, run(result("partial", errors=1), 2000.0))
    write_textfile(path, run("interrupted", 3000.0))

    samples = read_samples(path)
    assert value(samples, "syncer_last_success_timestamp_seconds") == 1000.0
    assert value(samples, "syncer_last_run_timestamp_seconds") == 3000.0
    assert value(samples, "syncer_last_run_status", status="interrupted") == 1
    assert value(samples, "syncer_last_run_status", status="succeeded") == 0


def test_a_failed_first_run_reports_no_last_success(tmp_path: Path) -> None:
    path = tmp_path / "shop.prom"

    write_textfile(path, run("failed", 1000.0))

    samples = read_samples(path)
    assert value(samples, "syncer_last_success_timestamp_seconds") is None
    assert value(samples, "syncer_last_run_status", status="failed") == 1


def test_a_textfile_not_in_the_text_format_is_replaced_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "shop.prom"
    path.write_text("syncer_last_success_timestamp_seconds{workflow= oops\n", encoding="utf-8")

    with capture_logs() as logs:
        write_textfile(path, run("failed", 1000.0))

    assert value(read_samples(path), "syncer_last_success_timestamp_seconds") is None
    assert any("cannot be read" in entry["event"] for entry in logs)


def test_the_textfile_is_replaced_whole_readable_by_others_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "textfile-collector"  # created when missing
    path = folder / "shop.prom"

    write_textfile(path, run(result(), 1000.0))
    write_textfile(path, run(result(), 2000.0))

    assert os.listdir(folder) == ["shop.prom"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert value(read_samples(path), "syncer_last_success_timestamp_seconds") == 2000.0


def test_a_textfile_that_cannot_be_written_is_a_warning_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    spec = MetricsSpec(textfile=tmp_path / "file" / "shop.prom")

    with capture_logs() as logs:
        publish(spec, "shop", result(), started_at=0.0)

    warning = next(entry for entry in logs if entry["event"].startswith("metrics not written"))
    assert warning["log_level"] == "warning"
    assert "shop.prom" in warning["target"]


# --- HTTP retries --------------------------------------------------------------------------------


def test_http_retries_are_counted_by_the_status_that_caused_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("time.sleep", lambda _: None)
    before = retries.by_status()
    transport = FakeTransport([Reply(503), Reply(429), Reply(503), Reply(json={"ok": True})])
    client = HttpClient("https://api.example", retry=RetryPolicy(attempts=5), transport=transport)

    assert client.get_json("/things") == {"ok": True}

    after = retries.by_status()
    assert after["503"] - before.get("503", 0) == 2
    assert after["429"] - before.get("429", 0) == 1


# --- the Pushgateway -----------------------------------------------------------------------------


def test_a_successful_run_is_pushed_added_to_its_workflows_group_with_its_last_success() -> None:
    with MetricsReceiver() as gateway:
        spec = MetricsSpec.model_validate({"pushgateway": gateway.url, "job": "nightly"})
        publish(spec, "shop", result(created=3), started_at=0.0)

    [push] = gateway.pushes
    assert push.method == "POST"  # pushadd: other metrics of the group stay
    assert push.path == "/metrics/job/nightly/workflow/shop"
    assert (
        push.value("syncer_entities_total", workflow="shop", stream="tables", kind="created") == 3
    )
    assert push.value("syncer_last_success_timestamp_seconds", workflow="shop") is not None


def test_a_run_that_did_not_succeed_pushes_no_last_success_so_the_gateway_keeps_the_last_one() -> (
    None
):
    with MetricsReceiver() as gateway:
        spec = MetricsSpec.model_validate({"pushgateway": gateway.url})
        publish(spec, "shop", result("partial", errors=1), started_at=0.0)

    [push] = gateway.pushes
    assert push.method == "POST"
    assert push.path == "/metrics/job/syncer/workflow/shop"
    assert push.value("syncer_last_success_timestamp_seconds", workflow="shop") is None
    assert push.value("syncer_last_run_status", workflow="shop", status="partial") == 1


def test_credentials_in_the_gateway_url_are_sent_as_basic_auth() -> None:
    with MetricsReceiver() as gateway:
        url = gateway.url.replace("http://", "http://pusher:s%40cret@")
        publish(MetricsSpec.model_validate({"pushgateway": url}), "shop", "failed", 0.0)

    [push] = gateway.pushes
    assert push.authorization == "Basic cHVzaGVyOnNAY3JldA=="  # pusher:s@cret
    assert push.path == "/metrics/job/syncer/workflow/shop"


def test_a_gateway_that_is_down_is_a_warning_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with capture_logs() as logs:
        publish(MetricsSpec.model_validate({"pushgateway": url}), "shop", result(), 0.0)

    [warning] = [entry for entry in logs if entry["event"].startswith("metrics not written")]
    assert warning["target"] == f"pushgateway {url}/"
    assert "refused" in warning["error"].lower()


# --- the metrics block ---------------------------------------------------------------------------


def write_config(folder: Path, metrics: str) -> Path:
    path = folder / "workflow.yaml"
    source = "{type: sql, config: {url: 'sqlite://'}}"
    path.write_text(f"workflow: shop\nsource: {source}\nmetrics: {metrics}\n", encoding="utf-8")
    return path


def test_a_relative_textfile_is_beside_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, "{textfile: metrics/shop.prom}")
    monkeypatch.chdir("/")

    spec = configs.parse(path, configs.read_yaml(path))

    assert spec.metrics is not None
    assert spec.metrics.textfile == tmp_path / "metrics" / "shop.prom"


@pytest.mark.parametrize(
    ("metrics", "says"),
    [
        ("{}", "metrics: names no target; give textfile: PATH"),
        ("{textfile: shop.txt}", "metrics.textfile: 'shop.txt' must end in .prom"),
        ("{pushgateway: 'localhost:9091'}", "metrics.pushgateway: "),
        ("{textfile: a.prom, pushgatway: 'http://x'}", "metrics.pushgatway: unknown key"),
    ],
)
def test_a_metrics_block_that_cannot_work_is_refused_naming_the_key(
    tmp_path: Path, metrics: str, says: str
) -> None:
    path = write_config(tmp_path, metrics)

    with pytest.raises(ConfigError, match="^" + re.escape(f"{path}: ")) as error:
        configs.parse(path, configs.read_yaml(path))

    assert says in str(error.value)


# --- OpenTelemetry (the otel extra) --------------------------------------------------------------


def otlp_gauges(body: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    request = ExportMetricsServiceRequest()
    request.ParseFromString(body)
    [resource] = request.resource_metrics
    assert {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"] == (
        "syncer"
    )
    return {
        (metric.name, frozenset((a.key, a.value.string_value) for a in point.attributes)): (
            point.as_double
        )
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.gauge.data_points
    }


def test_a_run_is_sent_to_an_opentelemetry_collector_as_gauges_over_otlp_http() -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the otel extra")
    with MetricsReceiver() as collector:
        spec = MetricsSpec.model_validate({"otlp": collector.url})
        with capture_logs() as logs:
            publish(spec, "shop", result(created=3), started_at=0.0)

    assert not [entry for entry in logs if entry["log_level"] == "warning"]
    [request] = collector.pushes
    assert (request.method, request.path) == ("POST", "/v1/metrics")
    assert request.content_type == "application/x-protobuf"
    gauges = otlp_gauges(request.body)
    shop = {"workflow": "shop"}
    created = frozenset({**shop, "stream": "tables", "kind": "created"}.items())
    assert gauges[("syncer_entities_total", created)] == 3
    assert ("syncer_last_success_timestamp_seconds", frozenset(shop.items())) in gauges


def test_a_collector_that_is_down_is_a_warning_naming_it() -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the otel extra")
    url = f"http://127.0.0.1:{free_port()}"
    spec = MetricsSpec.model_validate({"otlp": url, "timeout_seconds": 2})

    with capture_logs() as logs:
        publish(spec, "shop", "failed", started_at=0.0)

    [warning] = [entry for entry in logs if entry["event"].startswith("metrics not written")]
    assert warning["target"] == f"otlp {url}/"


def test_an_otlp_target_without_the_otel_extra_is_refused_naming_the_install_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("syncer.otlp.available", lambda: False)
    path = write_config(tmp_path, "{otlp: 'http://collector:4318'}")

    with pytest.raises(ConfigError) as error:
        configs.parse(path, configs.read_yaml(path))

    assert str(error.value) == (
        f"{path}: metrics.otlp: needs OpenTelemetry, which is not installed: "
        "pip install 'metadata-syncer[otel]'"
    )
