"""Fixtures for the sql source's tests: the example shop database and a reader of every stream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from syncer.connectors.sql import SqlSource
from syncer.models import Entity
from syncer.steps import Either
from tests.support.sources import mapped

ROOT = Path(__file__).resolve().parents[4]
SHOP = ROOT / "examples" / "data" / "shop.sqlite"

ReadAll = Callable[[SqlSource], dict[str, list[Either]]]


@pytest.fixture
def shop_path() -> Path:
    return SHOP


def read_streams(source: SqlSource) -> dict[str, list[Either]]:
    """Every read stream's records, and the derived streams fed by `relationships`, as the
    engine would route them."""
    found: dict[str, list[Either]] = {s.name: [] for s in source.streams()}
    derived = {s.entity_type: s.name for s in source.streams() if s.derived}
    for stream in source.streams():
        if stream.derived:
            continue
        assert stream.read is not None
        for record in mapped(stream.read(None)):
            found[stream.name].append(record)
            if isinstance(record, Entity):
                for related in source.relationships(record):
                    found[derived[related.entity_type]].append(related)
    return found


@pytest.fixture
def read_all() -> ReadAll:
    return read_streams
