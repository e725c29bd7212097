"""The parts of Airflow's REST API responses this source reads, for API v1 and v2 alike.

Only what the mapping uses is declared, and unknown fields are ignored, so a newer Airflow that
adds fields still reads; a field that is missing or of the wrong type is an error that names it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Tag(_Payload):
    name: str


class Dag(_Payload):
    dag_id: str = Field(min_length=1)
    dag_display_name: str | None = None
    description: str | None = None
    owners: list[str] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list)
    last_parsed_time: datetime | None = None
    max_active_tasks: int | None = None
    timetable_summary: str | None = None  # v2: "0 3 * * *", "@daily", "Asset", None
    schedule_interval: dict[str, Any] | None = None  # v1: {"__type": "CronExpression", ...}
    timetable_description: str | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _no_null_tags(cls, value: Any) -> Any:
        return [] if value is None else value


class ClassRef(_Payload):
    class_name: str | None = None
    module_path: str | None = None


class Task(_Payload):
    task_id: str = Field(min_length=1)
    task_display_name: str | None = None
    owner: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    downstream_task_ids: list[str] = Field(default_factory=list)
    class_ref: ClassRef | None = None
    operator_name: str | None = None
    doc_md: str | None = None


class DagRun(_Payload):
    dag_run_id: str = Field(min_length=1)
    dag_id: str = Field(min_length=1)
    state: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    run_after: datetime | None = None  # v2
    logical_date: datetime | None = None
    queued_at: datetime | None = None


class TaskInstance(_Payload):
    task_id: str
    dag_id: str
    dag_run_id: str
    map_index: int = -1
    state: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None


class DagRef(_Payload):
    dag_id: str


class TaskRef(_Payload):
    dag_id: str
    task_id: str


class Asset(_Payload):
    """An Airflow 3 asset, or an Airflow 2 dataset (which has no name, and whose consumers are
    only the DAGs scheduled on it)."""

    uri: str
    name: str | None = None
    producing_tasks: list[TaskRef] = Field(default_factory=list)
    scheduled_dags: list[DagRef] = Field(default_factory=list)  # v2
    consuming_dags: list[DagRef] = Field(default_factory=list)  # v1
    consuming_tasks: list[TaskRef] = Field(default_factory=list)  # v2: inlets

    @property
    def producers(self) -> set[str]:
        return {t.dag_id for t in self.producing_tasks}

    @property
    def consumers(self) -> set[str]:
        dags = {d.dag_id for d in (*self.scheduled_dags, *self.consuming_dags)}
        return dags | {t.dag_id for t in self.consuming_tasks}


class Version(_Payload):
    version: str
