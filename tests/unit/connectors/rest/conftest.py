"""Fixtures for the rest source's tests: a fake API, and sources built on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from syncer.connectors.rest import RestConfig, RestSource
from syncer.models import Entity, Record
from syncer.steps import Either, RecordError
from tests.support.sources import read_stream
from tests.unit.connectors.rest.fake_api import FakeApi

# No waiting between attempts, and few of them: the retry policy itself is the client's.
FAST_RETRY = {"attempts": 2, "initial_wait_seconds": 0, "max_wait_seconds": 0}


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi() as server:
        yield server


def make_source(api: FakeApi, *endpoints: dict[str, Any], **config: Any) -> RestSource:
    raw = {"base_url": api.url, "retry": FAST_RETRY, "endpoints": list(endpoints), **config}
    return RestSource(RestConfig.model_validate(raw))


def read(source: RestSource, name: str, since: datetime | None = None) -> list[Either]:
    return read_stream(source, name, since)


def ids(items: list[Either]) -> list[Any]:
    """The records' `id` fields (or entity names), failing on any error."""
    errors = [i for i in items if isinstance(i, RecordError)]
    assert not errors, errors
    out: list[Any] = []
    for item in items:
        assert isinstance(item, Entity)
        out.append(item.data["id"] if isinstance(item, Record) else getattr(item, "name", None))
    return out


def errors(items: list[Either]) -> list[RecordError]:
    return [i for i in items if isinstance(i, RecordError)]
