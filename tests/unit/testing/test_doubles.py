"""`syncer.testing.doubles` and `run_source`: a processor or sink tested inside the real engine,
over streams given as Python lists; and `syncer.testing`, which imports a helper only when one
of its names is used."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import syncer.testing
from syncer.models import Entity, Record
from syncer.steps import Cursor, Filtered, Processor, ProcessorResult, RecordError, StepConfig
from syncer.testing import ListSource, ListStream, MemorySink, run_source


def user(id: str, email: str, updated_at: datetime | None = None) -> Record:
    return Record(endpoint="users", id=id, data={"email": email}, updated_at=updated_at)


class DropTestAccountsConfig(StepConfig):
    domain: str = "test.example"


class DropTestAccounts(Processor):
    """A plug-in author's processor: drops users of a test domain."""

    config_model = DropTestAccountsConfig
    config: DropTestAccountsConfig

    def process(self, entity: Entity) -> ProcessorResult:
        if isinstance(entity, Record) and entity.data["email"].endswith(self.config.domain):
            return Filtered("a test account")
        return entity


def test_a_processor_runs_inside_the_engine_over_a_list_source_into_a_memory_sink(
    tmp_path: Path,
) -> None:
    source = ListSource(
        ListStream("users", "record", [user("1", "ada@shop.example"), user("2", "qa@test.example")])
    )
    sink = MemorySink()

    result = run_source(
        source,
        tmp_path / "state.duckdb",
        processors=[DropTestAccounts(DropTestAccountsConfig())],
        sinks=[("memory", sink)],
    )

    assert result.status == "succeeded"
    assert result.counters.filtered == 1
    assert sink.kinds == [("created", "users.1")]


def test_a_list_changed_between_runs_is_what_the_next_run_reads(tmp_path: Path) -> None:
    stream = ListStream("users", "record", [user("1", "ada@shop.example")])
    source, sink = ListSource(stream), MemorySink()
    state = tmp_path / "state.duckdb"
    run_source(source, state, sinks=[("memory", sink)])

    stream.records = [user("1", "ada@new.example"), RecordError("users/2", "bad email")]
    again = run_source(source, state, sinks=[("memory", sink)])

    assert again.status == "partial"
    assert sink.kinds == [("created", "users.1"), ("updated", "users.1")]


def test_a_cursor_stream_yields_what_is_at_or_after_the_watermark(tmp_path: Path) -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    stream = ListStream(
        "users",
        "record",
        [user("1", "a@shop.example", early), user("2", "b@shop.example", late)],
        cursor=Cursor("updated_at"),
    )
    source = ListSource(stream)
    state = tmp_path / "state.duckdb"
    run_source(source, state)

    again = run_source(source, state)

    assert [since for _, since in source.reads] == [None, late]
    assert again.counters.scanned == 1  # the record at the watermark, read again


def test_a_memory_sink_refuses_the_keys_it_is_told_to_until_told_otherwise(
    tmp_path: Path,
) -> None:
    source = ListSource(ListStream("users", "record", [user("1", "a@shop.example")]))
    sink = MemorySink()
    sink.refuse = {"users.1"}
    state = tmp_path / "state.duckdb"

    first = run_source(source, state, sinks=[("memory", sink)])
    sink.refuse = set()
    run_source(source, state, sinks=[("memory", sink)])

    assert first.deliveries[0].refused == 1
    assert [c.key for c in sink.offered] == ["users.1", "users.1"]
    assert sink.keys == ["users.1"]


def test_every_exported_name_resolves_to_the_helper_of_that_name() -> None:
    for name in syncer.testing.__all__:
        assert getattr(syncer.testing, name) is not None, name


def test_importing_syncer_testing_imports_none_of_its_helpers() -> None:
    code = (
        "import sys, syncer.testing; "
        "print(sorted(m for m in sys.modules if m.startswith(('syncer.', 'requests', 'duckdb'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert out.strip() == "['syncer.testing']"
