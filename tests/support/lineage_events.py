"""OpenLineage events for the receiver's tests, built with openlineage-python's own classes."""

from __future__ import annotations

from datetime import UTC, datetime

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

PRODUCER = "https://github.com/apache/airflow/tree/providers-openlineage/2.0.0"
JOB = "etl.orders"


def run_event(state: RunState, run_id: str, job: str = JOB) -> RunEvent:
    """An Airflow-like run of `job` reading orders and writing daily totals, stamped now."""
    return RunEvent(
        eventType=state,
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=run_id),
        job=Job(namespace="airflow", name=job),
        producer=PRODUCER,
        inputs=[InputDataset(namespace="postgres://db:5432", name="shop.public.orders")],
        outputs=[OutputDataset(namespace="postgres://db:5432", name="shop.public.daily")],
    )
