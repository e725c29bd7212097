"""The rest source against a fake API: child endpoints, watermarks and incremental runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncer.models import MlModel, Record
from tests.support.runs import query_state, run_workflow
from tests.unit.connectors.rest.conftest import FAST_RETRY, errors, ids, make_source, read
from tests.unit.connectors.rest.fake_api import FakeApi, Reply, Seen

SINCE = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
SERVICE = {"type": "mlmodelService", "name": "models", "service_type": "Mlflow"}


def _models_endpoint(**extra: Any) -> dict[str, Any]:
    return {
        "name": "models",
        "path": "/models",
        "records": "models",
        "entity": "mlmodel",
        "fields": {"name": "name", "description": "about", "algorithm": {"value": "unknown"}},
        **extra,
    }


# --- parent and child endpoints ------------------------------------------------------------


def test_a_child_endpoint_is_read_for_every_parent_record_with_its_field_in_the_path(
    api: FakeApi,
) -> None:
    api.route("/models", Reply({"models": [{"name": "churn"}, {"name": "fraud v2"}]}))
    api.route("/models/churn/versions", Reply({"versions": [{"v": 1}, {"v": 2}]}))
    api.route("/models/fraud%20v2/versions", Reply({"versions": [{"v": 1}]}))
    source = make_source(
        api,
        _models_endpoint(),
        {
            "name": "versions",
            "parent": "models",
            "path": "/models/{parent.name}/versions",
            "records": "versions",
            "primary_key": ["parent.name", "v"],
            "fields": {"model": "parent.name", "version": "v"},
        },
        service=SERVICE,
    )
    versions = read(source, "versions")
    assert [(r.id, r.data) for r in versions if isinstance(r, Record)] == [
        ("churn/1", {"model": "churn", "version": 1}),
        ("churn/2", {"model": "churn", "version": 2}),
        ("fraud v2/1", {"model": "fraud v2", "version": 1}),
    ]
    read(source, "models")
    assert len(api.seen("/models")) == 1, "the parents' full read is kept for the run"


def test_a_failing_child_request_is_that_parents_error_and_the_next_parent_is_still_read(
    api: FakeApi,
) -> None:
    api.route("/models", Reply({"models": [{"name": "broken"}, {"name": "fine"}]}))
    api.route("/models/broken/versions", Reply({"message": "model is locked"}, status=409))
    api.route("/models/fine/versions", Reply({"versions": [{"v": 7}]}))
    source = make_source(
        api,
        _models_endpoint(),
        {
            "name": "versions",
            "parent": "models",
            "path": "/models/{parent.name}/versions",
            "records": "versions",
            "primary_key": "v",
        },
        service=SERVICE,
    )
    items = read(source, "versions")
    [error] = errors(items)
    assert error.record == "versions of models broken"
    assert "HTTP 409: model is locked" in error.reason and "/models/broken/versions" in error.reason
    assert [r.id for r in items if isinstance(r, Record)] == ["7"]


# --- incremental reads -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "sent"),
    [
        ({"format": "iso"}, "2024-05-01T10:00:00Z"),
        ({"format": "epoch_s"}, "1714557600"),
        ({"format": "epoch_ms"}, "1714557600000"),
        ({"format": "iso", "param_format": "%Y-%m-%d"}, "2024-05-01"),
        (
            {"format": "epoch_ms", "param": "filter", "param_template": "updated >= {since}"},
            "updated >= 1714557600000",
        ),
    ],
)
def test_the_watermark_goes_into_the_configured_parameter_in_the_configured_format(
    api: FakeApi, cursor: dict[str, Any], sent: str
) -> None:
    api.route("/models", Reply({"models": []}))
    param = cursor.get("param", "since")
    source = make_source(
        api,
        _models_endpoint(cursor={"field": "updated", "param": param, **cursor}),
        service=SERVICE,
    )
    assert read(source, "models", since=SINCE) == []
    assert api.requests[0].query[param] == [sent]
    read(source, "models")
    assert param not in api.requests[1].query, "a first run asks for everything"


def test_records_older_than_the_watermark_are_left_out_even_if_the_api_sends_them(
    api: FakeApi,
) -> None:
    api.route(
        "/models",
        Reply(
            {
                "models": [
                    {"name": "old", "updated": "2024-04-30T00:00:00Z"},
                    {"name": "boundary", "updated": "2024-05-01T10:00:00Z"},
                    {"name": "new", "updated": "2024-05-02T00:00:00+02:00"},
                ]
            }
        ),
    )
    source = make_source(api, _models_endpoint(cursor={"field": "updated"}), service=SERVICE)
    models = read(source, "models", since=SINCE)
    assert ids(models) == ["boundary", "new"]
    assert [m.updated_at for m in models if isinstance(m, MlModel)] == [
        SINCE,
        datetime(2024, 5, 1, 22, 0, tzinfo=UTC),
    ]


def test_a_descending_endpoint_stops_paging_at_the_first_record_older_than_the_watermark(
    api: FakeApi,
) -> None:
    newest_first = [{"name": f"m{i}", "ts": 1714557600000 + 1000 * (3 - i)} for i in range(8)]

    def pages(req: Seen) -> Reply:
        start = int(req.arg("token") or 0)
        nxt = str(start + 2) if start + 2 < len(newest_first) else None
        return Reply({"models": newest_first[start : start + 2], "next": nxt})

    api.route("/models", pages)
    source = make_source(
        api,
        _models_endpoint(
            cursor={"field": "ts", "format": "epoch_ms", "ordering": "descending"},
            pagination={"type": "cursor", "next_token": "next", "param": "token"},
        ),
        service=SERVICE,
    )
    assert ids(read(source, "models", since=SINCE)) == ["m0", "m1", "m2", "m3"]
    assert len(api.requests) == 3, "page 3 starts with an older model: page 4 is not asked for"
    stream = next(s for s in source.streams() if s.name == "models")
    assert stream.cursor is not None and stream.cursor.ordering == "unsorted"


def test_a_record_without_its_cursor_value_is_that_records_error(api: FakeApi) -> None:
    api.route(
        "/models",
        Reply(
            {
                "models": [
                    {"name": "a", "updated": "2024-06-01T00:00:00Z"},
                    {"name": "b"},
                    {"name": "c", "updated": "soon"},
                ]
            }
        ),
    )
    source = make_source(api, _models_endpoint(cursor={"field": "updated"}), service=SERVICE)
    items = read(source, "models", since=SINCE)
    assert [e.record for e in errors(items)] == ["models b", "models c"]
    assert "cursor field `updated` is missing" in errors(items)[0].reason
    assert "'soon' is not a iso time" in errors(items)[1].reason


def _workflow(tmp_path: Path, source: dict[str, Any]) -> Path:
    path = tmp_path / "workflow.yaml"
    state = tmp_path / "state.duckdb"
    path.write_text(
        yaml.safe_dump(
            {
                "workflow": "api",
                "source": {"type": "rest", "config": source},
                "state": {"path": str(state)},
            }
        )
    )
    return path


def test_an_incremental_run_asks_for_changes_since_the_highest_cursor_committed(
    api: FakeApi, tmp_path: Path
) -> None:
    models = [
        {"name": "a", "updated": "2024-05-01T10:00:00Z"},
        {"name": "b", "updated": "2024-05-03T08:30:00Z"},
    ]
    api.route("/models", lambda req: Reply({"models": models}))
    config = _workflow(
        tmp_path,
        {
            "base_url": api.url,
            "retry": FAST_RETRY,
            "service": SERVICE,
            "endpoints": [
                _models_endpoint(
                    cursor={"field": "updated", "param": "updated_since", "ordering": "ascending"}
                )
            ],
        },
    )
    first = run_workflow(config)
    assert (first.status, first.counters.created) == ("succeeded", 3)
    assert "updated_since" not in api.requests[0].query

    models[0] = {"name": "a", "about": "now described", "updated": "2024-05-04T00:00:00Z"}
    second = run_workflow(config)
    assert second.status == "succeeded"
    assert api.requests[1].query["updated_since"] == ["2024-05-03T08:30:00Z"]
    assert second.streams["models"].updated == 1
    [(mark,)] = query_state(
        tmp_path / "state.duckdb", "SELECT value FROM watermarks WHERE stream = 'models'"
    )
    assert mark.startswith("2024-05-04T00:00:00")


def test_a_500_page_on_a_later_run_fails_the_stream_and_keeps_every_entity(
    api: FakeApi, tmp_path: Path
) -> None:
    replies = [Reply({"models": [{"name": "a"}, {"name": "b"}]})]
    api.route("/models", lambda req: replies[-1])
    config = _workflow(
        tmp_path,
        {
            "base_url": api.url,
            "retry": FAST_RETRY,
            "service": SERVICE,
            "endpoints": [_models_endpoint()],
        },
    )
    assert run_workflow(config).counters.created == 3

    replies.append(
        Reply(
            raw=b"<html><h1>Internal Server Error</h1></html>", status=500, content_type="text/html"
        )
    )
    again = run_workflow(config)
    assert again.status == "partial"
    assert (again.streams["models"].errors, again.counters.deleted) == (1, 0)
    live = query_state(
        tmp_path / "state.duckdb",
        "SELECT count(*) FROM current_entities WHERE entity_type = 'mlmodel'",
    )
    assert live == [(2,)]


def test_a_record_endpoint_with_a_cursor_keeps_a_watermark_for_the_next_run(
    api: FakeApi, tmp_path: Path
) -> None:
    events = [{"id": 1, "at": 1714557600}, {"id": 2, "at": 1714644000}]
    api.route("/events", lambda req: Reply(events))
    config = _workflow(
        tmp_path,
        {
            "base_url": api.url,
            "retry": FAST_RETRY,
            "endpoints": [
                {
                    "name": "events",
                    "path": "/events",
                    "primary_key": "id",
                    "cursor": {"field": "at", "format": "epoch_s", "param": "after"},
                }
            ],
        },
    )
    assert run_workflow(config).counters.created == 2
    [(mark,)] = query_state(tmp_path / "state.duckdb", "SELECT value FROM watermarks")
    assert mark == "2024-05-02T10:00:00+00:00"
    run_workflow(config)
    assert api.requests[-1].query["after"] == ["1714644000"]
