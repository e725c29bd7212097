"""Dependencies are a column the engine fills: a cascade selects by it, orphans are found by it,
and files written before it existed are migrated with it empty, then backfilled in bulk."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson

from syncer.state import Batch, ChangeRow, DependencyRow, Missing, StateStore
from syncer.state.schema import MIGRATIONS

WORKFLOW = "shop"


def row(key: str, *depends_on: str, kind: str = "created", entity_type: str = "table") -> ChangeRow:
    parent = depends_on[0] if depends_on and entity_type != "lineage" else None
    payload = orjson.dumps({"name": key}).decode()
    return ChangeRow(
        key, entity_type, parent, list(depends_on), kind, f"fp-{key}", None, [], None, payload
    )


def commit(
    store: StateStore, stream: str, *changes: ChangeRow, workflow: str = WORKFLOW
) -> list[int]:
    run = store.start_run(workflow, "incremental", "fp", 1)
    return store.commit(Batch(run, workflow, stream, list(changes)))


def stored_dependencies(store: StateStore) -> dict[str, list[str] | None]:
    rows = store.connection.execute("SELECT key, depends_on FROM entities").fetchall()
    return dict(rows)


def test_a_cascade_reads_only_the_unseen_entities_that_depend_on_a_deleted_key(
    store: StateStore,
) -> None:
    commit(store, "tables", row("s.a.t1", "s.a"), row("s.a.t2", "s.a"), row("s.b.t3", "s.b"))
    commit(
        store,
        "lineage",
        row("e1", "s.a.t1", "s.b.t3", entity_type="lineage"),
        row("e2", "s.b.t3", "s.c.t9", entity_type="lineage"),
    )
    store.forget_seen()
    store.mark_seen("tables", ["s.a.t2"])

    assert [m.key for m in store.unseen(WORKFLOW, "tables", under={"s.a"})] == ["s.a.t1"]
    assert [m.key for m in store.unseen(WORKFLOW, "tables")] == ["s.a.t1", "s.b.t3"]
    assert [m.key for m in store.unseen(WORKFLOW, "lineage", under={"s.a.t1"})] == ["e1"]
    assert [m.key for m in store.unseen(WORKFLOW, "lineage", under={"s.b.t3"})] == ["e1", "e2"]
    assert store.unseen(WORKFLOW, "lineage", under=set()) == []
    (edge,) = store.unseen(WORKFLOW, "lineage", under={"s.a.t1"})
    assert edge == Missing("e1", "lineage", None, ["s.a.t1", "s.b.t3"], "fp-e1", '{"name":"e1"}')


def test_a_later_change_replaces_an_entitys_dependencies(store: StateStore) -> None:
    commit(store, "tables", row("t", "s.a"))
    commit(store, "tables", row("t", "s.b", kind="updated"))
    commit(store, "tables", row("u"))

    assert stored_dependencies(store) == {"t": ["s.b"], "u": []}


def test_orphans_are_live_entities_depending_on_a_key_no_workflow_holds(
    store: StateStore,
) -> None:
    commit(store, "schemas", row("s.a"), row("s.gone"))
    commit(store, "tables", row("s.b.t1"), workflow="dbt")  # another workflow of the file
    commit(store, "tables", row("s.a.t1", "s.a"), row("s.x.t2", "s.x"), row("s.gone.t3", "s.gone"))
    commit(
        store,
        "lineage",
        row("e1", "s.a.t1", "s.b.t1", entity_type="lineage"),
        row("e2", "s.a.t1", "s.nowhere", entity_type="lineage"),
    )
    commit(store, "schemas", row("s.gone", kind="deleted"))

    assert store.orphans(WORKFLOW) == [
        ("lineage", "e2", "s.nowhere"),
        ("table", "s.gone.t3", "s.gone"),
        ("table", "s.x.t2", "s.x"),
    ]
    assert store.orphans("dbt") == []


def v3_file(path: Path) -> None:
    """A file as syncer left it at state schema v3: two live entities and a deleted one."""
    con = duckdb.connect(str(path))
    try:
        for script in MIGRATIONS[:3]:
            con.execute(script)
        con.execute(
            "CREATE TABLE schema_version (version INTEGER, syncer_version VARCHAR, "
            "migrated_at TIMESTAMPTZ)"
        )
        con.execute(
            "INSERT INTO schema_version VALUES (1, '0.3', now()), (2, '0.3', now()), "
            "(3, '0.3', now())"
        )
        con.execute(
            "INSERT INTO runs (run_id, workflow, status, mode, syncer_version, "
            "config_fingerprint, started_at) VALUES (1, 'shop', 'succeeded', 'incremental', "
            "'0.3', 'fp', now())"
        )
        for seq, (stream, key, entity_type, parent, kind) in enumerate(
            [
                ("tables", "s.a.t1", "table", "s.a", "created"),
                ("lineage", "e1", "lineage", None, "created"),
                ("tables", "s.a.t2", "table", "s.a", "deleted"),
            ],
            start=1,
        ):
            con.execute(
                "INSERT INTO changes VALUES (?, 1, 'shop', ?, ?, ?, ?, 'fp', NULL, [], NULL, "
                "?, now())",
                [seq, stream, key, entity_type, kind, orjson.dumps({"name": key}).decode()],
            )
            con.execute(
                "INSERT INTO entities VALUES ('shop', ?, ?, ?, ?, 'fp', ?, 1, 1, ?)",
                [stream, key, entity_type, parent, seq, 1 if kind == "deleted" else None],
            )
    finally:
        con.close()


def test_a_v3_file_is_migrated_with_dependencies_not_computed_yet_and_backfilled_in_bulk(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.duckdb"
    v3_file(path)
    store = StateStore.open(path, version="test")
    try:
        assert stored_dependencies(store) == {"s.a.t1": None, "e1": None, "s.a.t2": None}
        first = store.entities_without_dependencies(2)
        rest = store.entities_without_dependencies(10)

        assert first == [
            DependencyRow("shop", "lineage", "e1", "lineage", None, '{"name":"e1"}'),
            DependencyRow("shop", "tables", "s.a.t1", "table", "s.a", '{"name":"s.a.t1"}'),
        ]
        assert [r.key for r in rest] == ["e1", "s.a.t1", "s.a.t2"]  # deleted ones too

        with store.transaction():
            store.set_dependencies(
                [
                    ("shop", "lineage", "e1", ["s.a.t1", "s.x.t9"]),
                    ("shop", "tables", "s.a.t1", ["s.a"]),
                    ("shop", "tables", "s.a.t2", ["s.a"]),
                ]
            )
        store.set_dependencies([])

        assert store.entities_without_dependencies(10) == []
        assert stored_dependencies(store) == {
            "s.a.t1": ["s.a"],
            "e1": ["s.a.t1", "s.x.t9"],
            "s.a.t2": ["s.a"],
        }
        store.forget_seen()
        assert [m.key for m in store.unseen("shop", "lineage", under={"s.x.t9"})] == ["e1"]
    finally:
        store.close()
