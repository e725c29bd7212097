"""Whether a JSON value is an OpenLineage event (spec 2-0-2): RunEvent, JobEvent or DatasetEvent.

openlineage-python ships no JSON Schema file (nor does any other package of the project on PyPI:
openlineage-integration-common holds only its own facets' schemas), but it ships the classes
generated from that schema (`openlineage.client.generated.base`). An event is checked by
building those classes from it, so their generated validators (a run id is a UUID, an event
time is an ISO 8601 date-time with a time, an event type is one of the enum's) judge it; the
required members and their JSON types, which the classes take on trust, are checked here as the
schema states them. Facets are open (any producer may add its own), so only their shape, an
object of objects, is checked; the event itself is stored as it came, never re-serialized.
"""

from __future__ import annotations

from typing import Any

from openlineage.client.generated import base

from syncer.connectors.openlineage.inbox import EventKind, kind_of, parse_event_time

__all__ = ["InvalidEvent", "check_event"]

_EVENT_TYPES = ", ".join(member.value for member in base.EventType)


class InvalidEvent(ValueError):
    """The value is not an OpenLineage event; `str()` is one line that says why."""


def check_event(event: Any) -> EventKind:
    """The event's kind; `InvalidEvent` if it does not follow the spec."""
    if not isinstance(event, dict):
        raise InvalidEvent("an event must be a JSON object")
    try:
        kind = kind_of(event)
    except ValueError:
        raise InvalidEvent(
            "unknown event type: an event has run and job (RunEvent), job (JobEvent) or "
            "dataset (DatasetEvent)"
        ) from None
    for key in ("eventTime", "producer", "schemaURL"):
        _text(event, key, "event")
    _check_time(event["eventTime"])
    try:
        _BUILDERS[kind](event)
    except InvalidEvent:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidEvent(_reason(exc)) from None
    return kind


def _run_event(event: dict[str, Any]) -> None:
    event_type = event.get("eventType")
    if event_type is not None and event_type not in base.EventType._value2member_map_:
        raise InvalidEvent(f"eventType {event_type!r} is not one of {_EVENT_TYPES}")
    run = _object(event, "run", "event")
    base.RunEvent(
        eventTime=event["eventTime"],
        producer=event["producer"],
        run=base.Run(runId=_text(run, "runId", "run"), facets=_facets(run, "run")),
        job=_job(event),
        eventType=None if event_type is None else base.EventType(event_type),
        inputs=_datasets(event, "inputs"),
        outputs=_datasets(event, "outputs"),
    )


def _job_event(event: dict[str, Any]) -> None:
    base.JobEvent(
        eventTime=event["eventTime"],
        producer=event["producer"],
        job=_job(event),
        inputs=_datasets(event, "inputs"),
        outputs=_datasets(event, "outputs"),
    )


def _dataset_event(event: dict[str, Any]) -> None:
    dataset = _object(event, "dataset", "event")
    base.DatasetEvent(
        eventTime=event["eventTime"],
        producer=event["producer"],
        dataset=base.StaticDataset(
            namespace=_text(dataset, "namespace", "dataset"),
            name=_text(dataset, "name", "dataset"),
            facets=_facets(dataset, "dataset"),
        ),
    )


_BUILDERS = {"run": _run_event, "job": _job_event, "dataset": _dataset_event}


def _job(event: dict[str, Any]) -> base.Job:
    job = _object(event, "job", "event")
    return base.Job(
        namespace=_text(job, "namespace", "job"),
        name=_text(job, "name", "job"),
        facets=_facets(job, "job"),
    )


def _datasets(event: dict[str, Any], key: str) -> list[Any]:
    datasets = event.get(key)
    if datasets is None:
        return []
    if not isinstance(datasets, list):
        raise InvalidEvent(f"{key} must be a list of datasets")
    for i, dataset in enumerate(datasets):
        where = f"{key}[{i}]"
        if not isinstance(dataset, dict):
            raise InvalidEvent(f"{where} must be an object")
        _text(dataset, "namespace", where)
        _text(dataset, "name", where)
        _facets(dataset, where)
        _facets(dataset, where, "inputFacets" if key == "inputs" else "outputFacets")
    return []  # checked; the classes need not hold them


def _check_time(value: str) -> None:
    # The generated validator and the inbox's parser both must accept it: the inbox orders by it.
    try:
        base.BaseEvent(eventTime=value)
        parse_event_time(value)
    except ValueError:
        raise InvalidEvent(
            f"eventTime {value!r} is not an ISO 8601 date and time (2026-12-04T10:00:00Z)"
        ) from None


def _object(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise InvalidEvent(f"{where}.{key} is required and must be an object")
    return value


def _text(parent: dict[str, Any], key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"{where}.{key} is required and must be a non-empty string")
    return value


def _facets(parent: dict[str, Any], where: str, key: str = "facets") -> dict[str, Any]:
    facets = parent.get(key)
    if facets is None:
        return {}
    if not isinstance(facets, dict) or not all(isinstance(f, dict) for f in facets.values()):
        raise InvalidEvent(f"{where}.{key} must be an object whose members are objects")
    return {}  # checked; facets are open, the classes need not hold them


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "UUID" in text or "hexadecimal" in text:
        return "run.runId must be a UUID"
    return f"not an OpenLineage event: {text}"
