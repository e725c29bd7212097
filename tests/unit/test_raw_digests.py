"""Raw records: a record whose raw digest the state holds is counted unchanged without being
mapped; every other one is mapped, and nothing a user would see differs from mapping all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import syncer.workflow
from syncer.models import (
    Database,
    DatabaseSchema,
    DatabaseService,
    Entity,
    EntityReference,
    LineageEdge,
    Table,
)
from syncer.steps import Cursor, Either, Processor, ProcessorResult, StepConfig, Stream
from syncer.testing.contract import run_source
from syncer.testing.doubles import ListSource, ListStream
from syncer.workflow import RunResult
from tests.support.runs import query_state

SCHEMA = "svc.db.sch"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def table(name: str, comment: str | None = None, *, at: datetime = T0) -> Table:
    return Table(
        name=name,
        database_schema=SCHEMA,
        description=comment,
        columns=[{"name": "id", "data_type": "INT"}],
        updated_at=at,
    )


def source(tables: Sequence[Entity], *, cursor: Cursor | None = None) -> ListSource:
    records: list[Either] = list(tables)
    return ListSource(
        ListStream(
            "services", "databaseService", [DatabaseService(name="svc", service_type="Duckdb")]
        ),
        ListStream("databases", "database", [Database(name="db", service="svc")]),
        ListStream("schemas", "databaseSchema", [DatabaseSchema(name="sch", database="svc.db")]),
        ListStream("tables", "table", records, cursor=cursor, raw=True),
    )


def run(state: Path, src: ListSource, **options: object) -> RunResult:
    result = run_source(src, state, **options)  # type: ignore[arg-type]
    assert result.status == "succeeded", result.error
    return result


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state.duckdb"


def test_an_unchanged_raw_record_is_counted_unchanged_without_being_mapped(state: Path) -> None:
    src = source([table("a"), table("b")])
    first = run(state, src)
    src.mapped.clear()

    again = run(state, src)

    tables = again.streams["tables"]
    assert first.streams["tables"].created == 2
    assert src.mapped == []
    assert (tables.scanned, tables.unchanged, again.counters.changed) == (2, 2, 0)


def test_a_record_whose_raw_rows_moved_is_mapped_and_updated(state: Path) -> None:
    src = source([table("a"), table("b")])
    run(state, src)
    src.mapped.clear()
    src.lists[3].records = [table("a", "now described"), table("b")]

    again = run(state, src)

    assert src.mapped == ["svc.db.sch.a"]
    assert (again.counters.updated, again.counters.unchanged) == (1, 4)  # with its parents


def test_records_not_mapped_are_not_taken_for_deleted(state: Path) -> None:
    src = source([table(f"t{i}") for i in range(10)])
    run(state, src)

    again = run(state, src)

    assert again.counters.deleted == 0
    live = query_state(state, "SELECT count(*) FROM current_entities WHERE entity_type = 'table'")
    assert live == [(10,)]


def test_a_removed_record_is_deleted_and_restored_when_it_comes_back(state: Path) -> None:
    tables: list[Entity] = [table(f"t{i}") for i in range(10)]
    src = source(tables)
    run(state, src)
    src.lists[3].records = list[Either](tables[1:])
    assert run(state, src).counters.deleted == 1
    src.lists[3].records = list[Either](tables)
    src.mapped.clear()

    back = run(state, src)

    assert back.counters.restored == 1 and src.mapped == ["svc.db.sch.t0"]


def test_a_new_mapping_version_maps_every_record_once(state: Path) -> None:
    src = source([table("a"), table("b")])
    run(state, src)
    src.mapped.clear()

    type(src).mapping_version += 1
    try:
        upgraded = run(state, src)
        mapped_after_upgrade = list(src.mapped)
        src.mapped.clear()
        again = run(state, src)
    finally:
        type(src).mapping_version -= 1

    assert mapped_after_upgrade == ["svc.db.sch.a", "svc.db.sch.b"]
    assert upgraded.counters.changed == 0 and src.mapped == []
    assert again.counters.changed == 0


def test_digests_rewritten_after_an_upgrade_leave_each_entity_as_it_was(state: Path) -> None:
    src = source([table(f"t{i}") for i in range(50)])
    run(state, src)
    entities = (
        "SELECT key, entity_type, parent_key, fingerprint, last_seq, first_run, changed_run, "
        "deleted_run, depends_on FROM entities ORDER BY key"
    )
    before = query_state(state, entities)
    digests_before = query_state(state, "SELECT key, raw_digest FROM entities ORDER BY key")

    type(src).mapping_version += 1
    try:
        run(state, src)
    finally:
        type(src).mapping_version -= 1

    digests_after = query_state(state, "SELECT key, raw_digest FROM entities ORDER BY key")
    moved = {k for (k, d), (_, e) in zip(digests_before, digests_after, strict=True) if d != e}
    assert query_state(state, entities) == before
    assert len(moved) == 50  # every table's digest, under the new mapping version


def test_a_new_syncer_version_maps_every_record_once(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = source([table("a")])
    run(state, src)
    src.mapped.clear()

    monkeypatch.setattr(syncer.workflow, "__version__", "99.0.0")
    run(state, src)

    assert src.mapped == ["svc.db.sch.a"]


def test_a_full_refresh_maps_every_record(state: Path) -> None:
    src = source([table("a"), table("b")])
    run(state, src)
    src.mapped.clear()

    refreshed = run(state, src, full_refresh=True)

    assert src.mapped == ["svc.db.sch.a", "svc.db.sch.b"] and refreshed.counters.changed == 0


class Sampling(Processor):
    """Looks beyond the record (as the pii processor does when it samples values)."""

    config_model = StepConfig

    def __init__(self) -> None:
        super().__init__(StepConfig())

    @property
    def record_only(self) -> bool:
        return False

    def process(self, entity: Entity) -> ProcessorResult:
        return entity


def test_a_processor_that_looks_beyond_the_record_has_every_record_mapped_each_run(
    state: Path,
) -> None:
    src = source([table("a"), table("b")])
    run(state, src, processors=[Sampling()])
    src.mapped.clear()

    run(state, src, processors=[Sampling()])

    assert src.mapped == ["svc.db.sch.a", "svc.db.sch.b"]


class WithLineage(ListSource):
    """Derives a lineage edge from table `a` to each table described "reads a" (as the sql
    source derives a view's edges from its SQL, which the view's digest covers)."""

    def streams(self) -> list[Stream]:
        return [*super().streams(), Stream("lineage", "lineage", derived=True)]

    def relationships(self, entity: Entity) -> list[Entity]:
        if not isinstance(entity, Table) or entity.description != "reads a":
            return []
        upstream = EntityReference(type="table", fully_qualified_name=f"{SCHEMA}.a")
        view = EntityReference(type="table", fully_qualified_name=entity.key)
        return [LineageEdge(from_entity=upstream, to_entity=view)]


def edges(state: Path) -> list[tuple[str, str]]:
    return query_state(state, "SELECT from_fqn, to_fqn FROM lineage_edges ORDER BY ALL")


def test_what_an_unchanged_record_gave_is_carried_over_without_mapping_it(state: Path) -> None:
    src = WithLineage(*source([table("a"), table("v", "reads a")]).lists)
    run(state, src)
    src.mapped.clear()

    again = run(state, src)

    lineage = again.streams["lineage"]
    assert src.mapped == []
    assert (lineage.scanned, lineage.unchanged, again.counters.deleted) == (1, 1, 0)
    assert edges(state) == [(f"{SCHEMA}.a", f"{SCHEMA}.v")]


def test_a_relationship_its_changed_record_no_longer_gives_is_deleted(state: Path) -> None:
    others = [table(f"w{i}", "reads a") for i in range(5)]  # 1 of 6 edges: within the fail-safe
    src = WithLineage(*source([table("a"), table("v", "reads a"), *others]).lists)
    run(state, src)
    src.lists[3].records[1] = table("v", "reads nothing")
    src.mapped.clear()

    again = run(state, src)

    assert src.mapped == [f"{SCHEMA}.v"]
    assert (again.streams["lineage"].deleted, again.streams["lineage"].unchanged) == (1, 5)
    assert edges(state) == [(f"{SCHEMA}.a", f"{SCHEMA}.w{i}") for i in range(5)]


def test_what_a_deleted_record_gave_is_deleted_with_it(state: Path) -> None:
    others = [table(f"t{i}") for i in range(5)]  # 1 of 7 tables: within the fail-safe
    src = WithLineage(*source([table("a"), table("v", "reads a"), *others]).lists)
    run(state, src)
    del src.lists[3].records[1]

    again = run(state, src)

    assert again.streams["lineage"].deleted == 1
    assert edges(state) == []


def test_records_not_mapped_still_move_the_watermark(state: Path) -> None:
    updated = Cursor("updated_at", ordering="unsorted")
    src = source([table("a", at=T0), table("b", at=T0 + timedelta(hours=1))], cursor=updated)
    run(state, src)
    src.lists[3].records.append(table("c", at=T0 + timedelta(hours=2)))
    src.mapped.clear()

    run(state, src)

    [(mark,)] = query_state(state, "SELECT value FROM watermarks WHERE stream = 'tables'")
    assert src.mapped == ["svc.db.sch.c"]
    assert datetime.fromisoformat(mark) == T0 + timedelta(hours=2)
