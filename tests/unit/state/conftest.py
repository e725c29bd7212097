"""A state store on a fresh file for each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncer.state import StateStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(tmp_path / "state.duckdb", version="test")
    try:
        yield opened
    finally:
        opened.close()
