"""The `airflow:` block of a workflow file: how the DAG factory schedules that workflow.

`syncer run` ignores it; only `syncer.airflow.dags.syncer_dags` reads it. It imports nothing of
Airflow, so that a config holding the block validates wherever syncer is installed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

RunMode = Literal["process", "subprocess"]
# pydantic takes a number of seconds or an ISO 8601 duration; its schema would say the latter only.
Duration = Annotated[
    timedelta,
    WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "format": "duration"}]}
    ),
]


class AirflowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: str | None = Field(
        default=None,
        description="A cron expression or preset (`@hourly`); none: the DAG runs when triggered.",
    )
    tags: list[str] = Field(default_factory=list, description="Added to the DAG's `syncer` tag.")
    owner: str = Field(default="syncer", min_length=1, description="The task's owner.")
    retries: int = Field(
        default=2,
        ge=0,
        le=100,
        description="Tries after the first; safe, since the state lets a re-run send only what "
        "the failed try did not.",
    )
    retry_delay: Duration = Field(
        default=timedelta(minutes=5),
        description="Between tries: seconds, or an ISO 8601 duration (`PT5M`).",
    )
    pool: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="The Airflow pool of the task; default: one per source server "
        "(`syncer-HOST-PORT`), shared by every workflow that reads that server.",
    )
    mode: RunMode = Field(
        default="process",
        description="process: run in the worker's process; subprocess: as `syncer run`.",
    )
