"""Time travel in the state: the entities as of the end of any run (or time), one entity's
versions, and what differs between two runs, all rebuilt from the change log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from syncer.state import Batch, ChangeRow, StateStore
from syncer.state import history as past
from syncer.state.schema import MIGRATIONS

WORKFLOW = "shop"


def row(key: str, kind: str = "created", note: str = "", entity_type: str = "table") -> ChangeRow:
    """A change of `key` whose payload (and fingerprint) is told apart by `note`."""
    fingerprint = None if kind == "deleted" else f"fp-{key}-{note}"
    payload = f'{{"name": "{key}", "description": "{note}"}}'
    return ChangeRow(key, entity_type, None, [], kind, fingerprint, None, [], None, payload)


def run(store: StateStore, *changes: ChangeRow, workflow: str = WORKFLOW) -> int:
    """One finished run that commits `changes`; its id."""
    run_id = store.start_run(workflow, "incremental", "fp", 1)
    if changes:
        store.commit(Batch(run_id, workflow, "tables", list(changes)))
    store.finish_run(run_id, "succeeded")
    return run_id


@pytest.fixture
def lived(store: StateStore) -> StateStore:
    """Run 1 creates a, b and c; 2 updates a and creates d; 3 updates a again and updates c;
    4 deletes a and puts c back as it was; 5 restores a as run 3 left it, creates and deletes
    nothing else; 6 changes nothing."""
    run(store, row("s.a", note="v1"), row("s.b", note="v1"), row("s.c", note="v1"))
    run(store, row("s.a", "updated", "v2"), row("s.d", note="v1"))
    run(store, row("s.a", "updated", "v3"), row("s.c", "updated", "v2"))
    run(store, row("s.a", "deleted", "v3"), row("s.c", "updated", "v1"))
    run(store, row("s.a", "restored", "v3"))
    run(store)
    return store


def as_of(store: StateStore, run_id: int) -> dict[str, tuple[str, int]]:
    page = past.entities_as_of(store.connection, run_id)
    return {v.key: (v.payload["description"], v.run_id) for v in page.items}


def test_the_entities_as_of_each_run_are_the_last_versions_written_by_then(
    lived: StateStore,
) -> None:
    assert as_of(lived, 1) == {"s.a": ("v1", 1), "s.b": ("v1", 1), "s.c": ("v1", 1)}
    assert as_of(lived, 2) == {
        "s.a": ("v2", 2),
        "s.b": ("v1", 1),
        "s.c": ("v1", 1),
        "s.d": ("v1", 2),
    }
    assert as_of(lived, 4) == {"s.b": ("v1", 1), "s.c": ("v1", 4), "s.d": ("v1", 2)}
    assert as_of(lived, 5)["s.a"] == ("v3", 5)
    assert as_of(lived, 6) == as_of(lived, 5)


def test_the_sql_macro_as_of_the_latest_run_is_the_current_entities_view(
    lived: StateStore,
) -> None:
    columns = "workflow, entity_type, fqn, fingerprint, payload::VARCHAR, stream, parent_fqn"
    current = lived.connection.execute(
        f"SELECT {columns}, first_run, changed_run FROM current_entities ORDER BY fqn"
    ).fetchall()
    rebuilt = lived.connection.execute(
        f"SELECT {columns}, first_run, changed_run FROM entities_as_of(6) ORDER BY fqn"
    ).fetchall()

    assert rebuilt == current
    shape = lived.connection.execute("SELECT * FROM entities_as_of(1) LIMIT 0").description
    view = lived.connection.execute("SELECT * FROM current_entities LIMIT 0").description
    assert [d[0] for d in shape or ()] == [*(d[0] for d in view or ()), "seq"]


def test_the_entities_as_of_a_time_are_those_of_the_last_run_ended_by_then(
    lived: StateStore,
) -> None:
    ended = dict(lived.connection.execute("SELECT run_id, ended_at FROM runs").fetchall())
    between = ended[2] + (ended[3] - ended[2]) / 2

    assert past.run_ended_by(lived.connection, between) == 2
    assert past.run_ended_by(lived.connection, ended[1] - timedelta(seconds=1)) is None
    by_time = lived.connection.execute(
        "SELECT fqn, changed_run FROM entities_as_of_time(?) ORDER BY fqn", [between]
    ).fetchall()
    assert by_time == [("s.a", 2), ("s.b", 1), ("s.c", 1), ("s.d", 2)]
    before_any = datetime(2000, 1, 1, tzinfo=UTC)
    assert lived.connection.execute(
        "SELECT count(*) FROM entities_as_of_time(?)", [before_any]
    ).fetchall() == [(0,)]


def test_the_entities_as_of_a_run_are_paged_and_filtered_by_an_fqn_glob(
    lived: StateStore,
) -> None:
    first = past.entities_as_of(lived.connection, 2, limit=3)
    rest = past.entities_as_of(lived.connection, 2, offset=3, limit=3)

    assert [v.key for v in first.items] == ["s.a", "s.b", "s.c"] and first.more
    assert [v.key for v in rest.items] == ["s.d"] and not rest.more
    matched = past.entities_as_of(lived.connection, 2, pattern="s.[cd]")
    assert [v.key for v in matched.items] == ["s.c", "s.d"]
    assert past.entities_as_of(lived.connection, 2, workflow="other").items == []


def test_an_entity_as_of_a_run_is_its_last_version_then_a_deletion_included(
    lived: StateStore,
) -> None:
    (deleted,) = past.entity_as_of(lived.connection, "s.a", 4)
    (restored,) = past.entity_as_of(lived.connection, "s.a", 5)
    (now,) = past.entity_as_of(lived.connection, "s.a")

    assert (deleted.kind, deleted.run_id, deleted.live) == ("deleted", 4, False)
    assert deleted.payload["description"] == "v3"  # as it was last seen
    assert (restored.kind, restored.run_id, restored.live) == ("restored", 5, True)
    assert now == restored
    assert past.entity_as_of(lived.connection, "s.d", 1) == []
    assert past.entity_as_of(lived.connection, "s.a", 5, workflow="other") == []


def test_an_entitys_versions_are_listed_oldest_first_with_their_runs_in_pages(
    lived: StateStore,
) -> None:
    page = past.entity_versions(lived.connection, "s.a", limit=3)
    rest = past.entity_versions(lived.connection, "s.a", offset=3, limit=3)

    assert [(v.run_id, v.kind) for v in page.items] == [
        (1, "created"),
        (2, "updated"),
        (3, "updated"),
    ]
    assert page.more and not rest.more
    assert [(v.run_id, v.kind) for v in rest.items] == [(4, "deleted"), (5, "restored")]
    assert all(v.committed_at is not None for v in page.items)


def kinds(page: past.Page[past.Difference]) -> list[tuple[str, str]]:
    return [(d.after.key, d.kind) for d in page.items]


def test_what_changed_between_two_runs_spans_every_run_in_between(lived: StateStore) -> None:
    assert kinds(past.changed_between(lived.connection, 1, 3)) == [
        ("s.a", "updated"),
        ("s.c", "updated"),
        ("s.d", "created"),
    ]
    assert kinds(past.changed_between(lived.connection, 3, 4)) == [
        ("s.a", "deleted"),
        ("s.c", "updated"),
    ]
    assert kinds(past.changed_between(lived.connection, 4, 5)) == [("s.a", "restored")]


def test_a_difference_holds_the_version_as_of_each_run_and_the_runs_that_wrote_them(
    lived: StateStore,
) -> None:
    (a,) = past.changed_between(lived.connection, 1, 3, pattern="s.a").items

    assert a.before is not None
    assert (a.before.run_id, a.before.payload["description"]) == (1, "v1")
    assert (a.after.run_id, a.after.payload["description"]) == (3, "v3")


def test_an_entity_changed_and_changed_back_between_two_runs_does_not_differ(
    lived: StateStore,
) -> None:
    # c went v1 -> v2 -> v1 over runs 3 and 4; a was deleted in 4 and restored unchanged in 5.
    assert kinds(past.changed_between(lived.connection, 2, 5)) == [("s.a", "updated")]
    assert kinds(past.changed_between(lived.connection, 3, 5)) == [("s.c", "updated")]
    assert kinds(past.changed_between(lived.connection, 1, 6, pattern="s.c")) == []
    assert kinds(past.changed_between(lived.connection, 5, 6)) == []


def test_what_changed_between_two_runs_is_paged_and_filtered(lived: StateStore) -> None:
    first = past.changed_between(lived.connection, 1, 3, limit=2)
    rest = past.changed_between(lived.connection, 1, 3, offset=2, limit=2)

    assert kinds(first) == [("s.a", "updated"), ("s.c", "updated")] and first.more
    assert kinds(rest) == [("s.d", "created")] and not rest.more
    assert kinds(past.changed_between(lived.connection, 1, 3, pattern="*.d")) == [
        ("s.d", "created")
    ]
    assert past.changed_between(lived.connection, 1, 3, workflow="other").items == []


def test_keys_close_to_a_mistyped_one_are_found_for_a_hint(lived: StateStore) -> None:
    assert past.similar_keys(lived.connection, "S.A") == ["s.a", "s.b", "s.c"]
    assert past.similar_keys(lived.connection, "s.b", limit=1) == ["s.b"]
    assert past.similar_keys(lived.connection, "warehouse.other.thing") == []


def test_the_runs_a_file_holds_are_known_by_id(lived: StateStore) -> None:
    assert past.run_workflow(lived.connection, 3) == WORKFLOW
    assert past.run_workflow(lived.connection, 99) is None
    assert past.run_span(lived.connection) == (1, 6)


def v6_file(path: Path) -> None:
    """A file as syncer left it at state schema v6, before time travel: a created and later
    updated table, and one that was deleted."""
    con = duckdb.connect(str(path))
    try:
        for script in MIGRATIONS[:6]:
            con.execute(script)
        con.execute(
            "CREATE TABLE schema_version (version INTEGER, syncer_version VARCHAR, "
            "migrated_at TIMESTAMPTZ)"
        )
        con.execute("INSERT INTO schema_version SELECT range, '0.6', now() FROM range(1, 7)")
        con.execute(
            "INSERT INTO runs (run_id, workflow, status, mode, syncer_version, "
            "config_fingerprint, started_at, ended_at) VALUES "
            "(1, 'shop', 'succeeded', 'incremental', '0.6', 'fp', now(), now()), "
            "(2, 'shop', 'succeeded', 'incremental', '0.6', 'fp', now(), now())"
        )
        con.execute(
            "INSERT INTO changes (seq, run_id, workflow, stream, key, entity_type, kind, "
            "fingerprint, changed_fields, payload) VALUES "
            "(1, 1, 'shop', 'tables', 's.a', 'table', 'created', 'f1', [], '{\"d\": 1}'), "
            "(2, 1, 'shop', 'tables', 's.b', 'table', 'created', 'f2', [], '{\"d\": 1}'), "
            "(3, 2, 'shop', 'tables', 's.a', 'table', 'updated', 'f3', ['d'], '{\"d\": 2}'), "
            "(4, 2, 'shop', 'tables', 's.b', 'table', 'deleted', NULL, [], '{\"d\": 1}')"
        )
        con.execute(
            "INSERT INTO entities (workflow, stream, key, entity_type, fingerprint, last_seq, "
            "first_run, changed_run, deleted_run, depends_on) VALUES "
            "('shop', 'tables', 's.a', 'table', 'f3', 3, 1, 2, NULL, []), "
            "('shop', 'tables', 's.b', 'table', 'f2', 4, 1, 2, 2, [])"
        )
    finally:
        con.close()


def test_a_state_from_before_time_travel_opens_and_travels_through_its_old_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.duckdb"
    v6_file(path)
    store = StateStore.open(path, version="test")
    try:
        before = {v.key: v.payload for v in past.entities_as_of(store.connection, 1).items}
        after = {v.key: v.payload for v in past.entities_as_of(store.connection, 2).items}
        assert before == {"s.a": {"d": 1}, "s.b": {"d": 1}}
        assert after == {"s.a": {"d": 2}}
        assert kinds(past.changed_between(store.connection, 1, 2)) == [
            ("s.a", "updated"),
            ("s.b", "deleted"),
        ]
    finally:
        store.close()
