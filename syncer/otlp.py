"""A run's metrics as OpenTelemetry metrics over OTLP/HTTP (`metrics: {otlp: URL}`), for a
collector rather than Prometheus; needs the `otel` extra (`opentelemetry-sdk` and its OTLP/HTTP
exporter), imported only when a run exports.

The same gauges as the Prometheus registry (`syncer.metrics.registry_for`), under the same names
and labels (as attributes), with the resource `service.name=syncer`. As with the Pushgateway, the
last success is sent only by a run that succeeded.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from syncer import __version__

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["OTLP_EXTRA", "available", "export"]

OTLP_EXTRA = "pip install 'metadata-syncer[otel]'"
_EXPORTER = "opentelemetry.exporter.otlp.proto.http"


def available() -> bool:
    """Whether the `otel` extra is installed."""
    try:
        return importlib.util.find_spec(_EXPORTER) is not None
    except ModuleNotFoundError:  # `opentelemetry` itself is not there
        return False


def export(endpoint: str, registry: CollectorRegistry, timeout_seconds: float) -> None:
    """Send every sample of `registry` as a gauge to the collector at `endpoint` (its base URL;
    metrics go to /v1/metrics). Raises `RuntimeError` when the collector does not take them."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
    from opentelemetry.sdk.resources import Resource

    reader = InMemoryMetricReader()
    resource = Resource.create({"service.name": "syncer", "service.version": __version__})
    provider = MeterProvider(metric_readers=[reader], resource=resource)
    meter = provider.get_meter("syncer", __version__)
    for family in registry.collect():
        gauge = meter.create_gauge(family.name, description=family.documentation)
        for sample in family.samples:
            gauge.set(sample.value, attributes=dict(sample.labels))
    data = reader.get_metrics_data()
    provider.shutdown()
    if data is None:
        return
    url = f"{endpoint.rstrip('/')}/v1/metrics"
    # The exporter logs its failures itself; syncer reports them once, as a warning.
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)
    exporter = OTLPMetricExporter(endpoint=url, timeout=timeout_seconds)
    try:
        result = exporter.export(data, timeout_millis=timeout_seconds * 1000)
    finally:
        exporter.shutdown()
    if result is not MetricExportResult.SUCCESS:
        raise RuntimeError(f"the OTLP collector at {url} did not take the metrics")
