"""Schemas reflected in parallel by the sql source: schema order, bounded, errors kept apart."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Iterator

import pytest

from syncer.connectors.sql.config import SqlConfig, load_config
from syncer.connectors.sql.reflect import NameFilter, RawColumn, RawTable
from syncer.connectors.sql.source import SqlSource
from syncer.errors import ConfigError
from syncer.models import Table
from syncer.steps import RecordError
from tests.support.sources import read_stream, stream_named

SCHEMAS = [f"s{i}" for i in range(7)]


class _Paging:
    """A server reflector that yields each schema's tables lazily, slower for early schemas."""

    dialect = "postgresql"

    def __init__(self, fail: str | None = None) -> None:
        self.fail = fail
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def schemas(self) -> list[str]:
        return SCHEMAS

    def tables(self, schema: str, keep: NameFilter) -> Iterator[RawTable]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            for i in range(3):
                time.sleep(0.01 * (len(SCHEMAS) - int(schema[1:])) / 3)
                if schema == self.fail and i == 2:
                    raise OSError("canceling statement due to statement timeout")
                column = RawColumn(name="id", type="integer", nullable=False, ordinal=1)
                yield RawTable(name=f"t{i}", columns=[column])
        finally:
            with self.lock:
                self.running -= 1

    def close(self) -> None:
        pass


def _read(source: SqlSource) -> list[str]:
    out = []
    for item in read_stream(source, "tables"):
        if isinstance(item, Table):
            out.append(item.fqn)
        else:
            assert isinstance(item, RecordError)
            out.append(f"error {item.record}: {item.reason}")
    return out


def _source(concurrency: int, reflector: _Paging) -> SqlSource:
    config = SqlConfig(url="postgresql+psycopg://u@db.example/shop", concurrency=concurrency)
    return SqlSource(config, reflector=reflector)


@pytest.mark.parametrize("concurrency", [2, 3, 16])
def test_parallel_reading_yields_what_sequential_reading_yields_in_schema_order(
    concurrency: int,
) -> None:
    sequential = _read(_source(1, _Paging(fail="s4")))
    reflector = _Paging(fail="s4")
    parallel = _read(_source(concurrency, reflector))
    assert parallel == sequential
    assert sequential[:3] == [
        "postgresql.shop.s0.t0",
        "postgresql.shop.s0.t1",
        "postgresql.shop.s0.t2",
    ]
    # The failed schema keeps the tables read before its error, then reports the schema.
    failed = sequential.index("postgresql.shop.s4.t0")
    assert sequential[failed : failed + 3] == [
        "postgresql.shop.s4.t0",
        "postgresql.shop.s4.t1",
        "error postgresql.shop.s4: schema could not be reflected:"
        " canceling statement due to statement timeout",
    ]
    assert 1 < reflector.most <= concurrency


def test_a_reader_that_stops_early_stops_the_workers() -> None:
    reflector = _Paging()
    tables = stream_named(_source(3, reflector), "tables")
    assert tables.read is not None
    items = tables.read(None)
    assert isinstance(items, Generator)
    next(items)
    items.close()  # must not hang on workers blocked on a full queue
    assert reflector.running == 0


def test_sqlite_and_duckdb_files_are_read_one_schema_at_a_time() -> None:
    reflector = _Paging()
    reflector.dialect = "duckdb"
    config = SqlConfig(url="duckdb:///nowhere.duckdb", concurrency=4)
    source = SqlSource(config, reflector=reflector)
    assert len(_read(source)) == 3 * len(SCHEMAS)
    assert reflector.most == 1


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("concurrency", 0, "sql source: concurrency: Input should be greater than or equal to 1"),
        ("concurrency", 17, "sql source: concurrency: Input should be less than or equal to 16"),
        ("statement_timeout_seconds", 0, "sql source: statement_timeout_seconds: Input should"),
        ("page_size", 0, "sql source: page_size: Input should be greater than or equal to 1"),
    ],
)
def test_out_of_range_knobs_are_config_errors_naming_the_key(
    key: str, value: int, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"url": "sqlite:///x.sqlite", key: value})
    assert str(err.value).startswith(message)


def test_the_knobs_default_to_60_seconds_2_schemas_and_5000_tables() -> None:
    config = load_config({"url": "sqlite:///x.sqlite"})
    assert (config.statement_timeout_seconds, config.concurrency, config.page_size) == (60, 2, 5000)
