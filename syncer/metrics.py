"""Prometheus metrics of a run, kept the way batch jobs keep them: written when a run ends to a
node-exporter textfile, pushed to a Pushgateway, sent to an OpenTelemetry collector
(`syncer.otlp`), or several (`metrics:` in the workflow file).

A batch job is not scraped while it runs, so each run leaves its numbers where Prometheus finds
them until the next one: the last run's time, duration, status and counts, and the time of the
last success, which a failed run must not erase (it is read back from the textfile and written
again; to the Pushgateway it is pushed only by a successful run, with `pushadd`, which replaces
only the metrics pushed). Every metric carries the `workflow` label. Metrics never change how a
run ends: a failure to write them is a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

import structlog
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from syncer import otlp, retries
from syncer.errors import describe
from syncer.files import replace_atomically
from syncer.paths import ConfigPath
from syncer.secrets import redact
from syncer.state import Counters
from syncer.urls import HttpAddress

# prometheus_client (15 ms to import, with the HTTP server its exposition module brings) is
# imported where metrics are written: every run loads this module for its config model.
if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Gauge

    from syncer.results import RunResult, RunStatus

__all__ = [
    "LAST_SUCCESS",
    "MetricsSpec",
    "RunMetrics",
    "previous_success",
    "publish",
    "push",
    "registry_for",
    "write_textfile",
]

log = structlog.get_logger("syncer.metrics")

LAST_SUCCESS = "syncer_last_success_timestamp_seconds"
STATUSES: tuple[RunStatus, ...] = ("succeeded", "partial", "failed", "interrupted")
# Per stream; `refused` has a metric of its own (syncer_deletions_refused_total).
ENTITY_KINDS = tuple(name for name in Counters.FIELDS if name != "refused")


class MetricsSpec(BaseModel):
    """`metrics:` of a workflow file: where each run's metrics go."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    textfile: ConfigPath | None = None
    """A node-exporter textfile collector's file (its --collector.textfile.directory, *.prom).
    Relative to the config file's folder."""
    pushgateway: HttpAddress | None = None
    """A Pushgateway's URL: http(s)://[user:password@]host:9091."""
    job: str = Field(default="syncer", min_length=1, max_length=128)
    """The Pushgateway's job."""
    otlp: HttpAddress | None = None
    """An OpenTelemetry collector's OTLP/HTTP base URL (http://collector:4318); the `otel` extra."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """Per push to the Pushgateway or the collector."""

    @field_validator("textfile")
    @classmethod
    def _prom_file(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix != ".prom":
            raise ValueError(
                f"{value.name!r} must end in .prom: node-exporter's textfile collector reads "
                "only *.prom files"
            )
        return value

    @field_validator("otlp")
    @classmethod
    def _otel_installed(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None and not otlp.available():
            raise ValueError(f"needs OpenTelemetry, which is not installed: {otlp.OTLP_EXTRA}")
        return value

    @model_validator(mode="after")
    def _somewhere(self) -> MetricsSpec:
        if self.textfile is None and self.pushgateway is None and self.otlp is None:
            raise ValueError(
                "names no target; give textfile: PATH (for node-exporter), pushgateway: URL or "
                "otlp: URL, or remove the metrics block"
            )
        return self


@dataclass(frozen=True)
class RunMetrics:
    """What the metrics say about one run: its result, or only its status when the run ended
    without one (interrupted, or stopped by its state file)."""

    workflow: str
    status: RunStatus
    ended_at: float  # seconds since the epoch
    duration_seconds: float
    result: RunResult | None = None
    http_retries: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, workflow: str, outcome: RunResult | RunStatus, started_at: float) -> RunMetrics:
        ended_at = time.time()
        result = None if isinstance(outcome, str) else outcome
        status = outcome if isinstance(outcome, str) else outcome.status
        return cls(
            workflow,
            status,
            ended_at,
            max(0.0, ended_at - started_at),
            result,
            retries.by_status(),
        )

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


def publish(
    spec: MetricsSpec | None,
    workflow: str,
    outcome: RunResult | RunStatus,
    started_at: float,
) -> None:
    """Write a run's metrics where `spec` says (nothing without a `metrics:` block), for a run
    that started at `started_at` (`time.time()`). Never raises: a target that cannot be written
    is a warning, and the run's exit code stays what it was."""
    if spec is None:
        return
    run = RunMetrics.of(workflow, outcome, started_at)
    if spec.textfile is not None:
        _warn_on_failure(f"textfile {spec.textfile}", partial(write_textfile, spec.textfile, run))
    if spec.pushgateway is not None:
        gateway = str(spec.pushgateway)
        _warn_on_failure(f"pushgateway {gateway}", partial(push, spec, gateway, run))
    if spec.otlp is not None:
        collector = str(spec.otlp)
        registry = registry_for(run, run.ended_at if run.succeeded else None)
        send = partial(otlp.export, collector, registry, spec.timeout_seconds)
        _warn_on_failure(f"otlp {collector}", send)


def registry_for(run: RunMetrics, last_success: float | None) -> CollectorRegistry:
    """The run's metrics; `last_success` is left out when no success is known."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry(auto_describe=True)
    labels = {"workflow": run.workflow}

    def gauge(name: str, doc: str, *extra: str) -> Gauge:
        return Gauge(name, doc, ["workflow", *extra], registry=registry)

    if last_success is not None:
        gauge(LAST_SUCCESS, "When the last succeeded run ended.").labels(**labels).set(last_success)
    gauge("syncer_last_run_timestamp_seconds", "When the last run ended.").labels(**labels).set(
        run.ended_at
    )
    gauge("syncer_run_duration_seconds", "How long the last run took.").labels(**labels).set(
        run.duration_seconds
    )
    status = gauge(
        "syncer_last_run_status", "1 for the last run's status, 0 for the others.", "status"
    )
    for name in STATUSES:
        status.labels(**labels, status=name).set(1 if name == run.status else 0)
    retried = gauge(
        "syncer_http_retries_total",
        "HTTP requests the last run retried, by status (connection: no answer).",
        "status",
    )
    # Every status that is retried, 0 included: a push replaces the last run's values.
    every = {str(code): 0 for code in sorted(retries.RETRYABLE_STATUS)} | {"connection": 0}
    for code, count in (every | run.http_retries).items():
        retried.labels(**labels, status=code).set(count)
    if run.result is not None:
        _result_metrics(run.result, labels, gauge)
    return registry


def _result_metrics(result: RunResult, labels: dict[str, str], gauge: Callable[..., Gauge]) -> None:
    entities = gauge(
        "syncer_entities_total",
        "Entities of the last run, by stream and outcome.",
        "stream",
        "kind",
    )
    for stream, counters in sorted(result.streams.items()):
        for kind in ENTITY_KINDS:
            entities.labels(**labels, stream=stream, kind=kind).set(getattr(counters, kind))
    gauge(
        "syncer_deletions_refused_total", "Deletions the fail-safe held back in the last run."
    ).labels(**labels).set(result.counters.refused)
    backlog = gauge(
        "syncer_sink_backlog", "Changes a sink has not taken yet; the next run sends them.", "sink"
    )
    delivered = gauge("syncer_sink_delivered", "Changes a sink took in the last run.", "sink")
    refused = gauge("syncer_sink_refused", "Changes a sink refused in the last run.", "sink")
    for report in result.deliveries:
        backlog.labels(**labels, sink=report.sink).set(report.backlog + report.held)
        delivered.labels(**labels, sink=report.sink).set(report.delivered)
        refused.labels(**labels, sink=report.sink).set(report.refused)


# --- the textfile ---------------------------------------------------------------------------


def write_textfile(path: Path, run: RunMetrics) -> None:
    """Replace `path` with the run's metrics, in one rename: node-exporter never reads half a
    file. A run that did not succeed keeps the last success the file held."""
    from prometheus_client import generate_latest

    last = run.ended_at if run.succeeded else previous_success(path, run.workflow)
    replace_atomically(path, generate_latest(registry_for(run, last)))


def previous_success(path: Path, workflow: str) -> float | None:
    """The last success of `workflow` that the textfile at `path` holds, if it holds one."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = path.read_text(encoding="utf-8")
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == LAST_SUCCESS and sample.labels.get("workflow") == workflow:
                    return float(sample.value)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # unreadable, or not in the text format
        log.warning(
            "the metrics textfile cannot be read; the last success is left out until a run "
            "succeeds",
            path=str(path),
            error=str(exc),
        )
    return None


# --- the Pushgateway ------------------------------------------------------------------------


def push(spec: MetricsSpec, gateway: str, run: RunMetrics) -> None:
    """`pushadd` the run's metrics to the group job/workflow: only the metrics pushed are
    replaced, so the last success stays when a run that did not succeed leaves it out."""
    from prometheus_client.exposition import pushadd_to_gateway

    url, handler = _gateway_auth(gateway)
    pushadd_to_gateway(
        url,
        job=spec.job,
        registry=registry_for(run, run.ended_at if run.succeeded else None),
        grouping_key={"workflow": run.workflow},
        timeout=spec.timeout_seconds,
        handler=handler,
    )


def _gateway_auth(gateway: str) -> tuple[str, Callable[..., Callable[[], None]]]:
    """The URL without a `user:password@`, and a handler that sends them as basic auth."""
    from prometheus_client.exposition import basic_auth_handler, default_handler

    parts = urlsplit(gateway)
    if parts.username is None:
        return gateway, default_handler
    username, password = unquote(parts.username), unquote(parts.password or "")
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))

    def handler(**request: Any) -> Callable[[], None]:
        return basic_auth_handler(**request, username=username, password=password)

    return bare, handler


def _warn_on_failure(target: str, write: Callable[[], None]) -> None:
    try:
        write()
    except Exception as exc:
        log.warning(
            "metrics not written; the run's outcome is unchanged: check the metrics block",
            target=redact(target),
            error=redact(describe(exc)),
        )
