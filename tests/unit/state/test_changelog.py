"""The change log read back in row terms: histories, selections for listing and replay, and the
narrow objects sinks are handed instead of the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncer.state import Batch, ChangeRow, RowMatch, Selection, StateStore

WORKFLOW = "shop"


def row(key: str, kind: str = "created", entity_type: str = "table") -> ChangeRow:
    return ChangeRow(
        key, entity_type, None, [], kind, f"fp-{kind}", None, [], None, f'{{"name": "{key}"}}'
    )


def commit(store: StateStore, *changes: ChangeRow, workflow: str = WORKFLOW) -> list[int]:
    run = store.start_run(workflow, "incremental", "fp", 1)
    return store.commit(Batch(run, workflow, "stream", list(changes)))


@pytest.fixture
def logged(store: StateStore) -> StateStore:
    """Run 1 creates t1, t2 and an edge; run 2 updates t1; run 3 deletes t1 and the edge."""
    commit(store, row("t1"), row("t2"), row("e1", entity_type="lineage"))
    commit(store, row("t1", "updated"))
    commit(store, row("t1", "deleted"), row("e1", "deleted", entity_type="lineage"))
    return store


def keys(store: StateStore, selection: Selection) -> list[tuple[str, str]]:
    return [(s.change.kind, s.change.key) for s in store.changelog.select(selection)]


def test_a_changes_history_counts_its_entitys_changes_in_the_log(logged: StateStore) -> None:
    known = logged.changelog.histories([1, 2, 4, 5])

    assert {seq: h.ordinal for seq, h in known.items()} == {1: 1, 2: 1, 4: 2, 5: 3}
    assert all(h.committed_at is not None for h in known.values())  # each run's start
    assert logged.changelog.histories([]) == {}


def test_changes_load_as_sinks_receive_them_in_seq_order(logged: StateStore) -> None:
    changes = logged.changelog.load([5, 1])

    assert [(c.seq, c.kind, c.key, c.payload) for c in changes] == [
        (1, "created", "t1", {"name": "t1"}),
        (5, "deleted", "t1", {"name": "t1"}),
    ]
    assert changes[0].committed_at is not None


def test_a_selection_by_run_lists_its_changes_oldest_first(logged: StateStore) -> None:
    chosen = logged.changelog.select(Selection(workflow=WORKFLOW, run_id=3))

    assert [(s.change.kind, s.change.key) for s in chosen] == [
        ("deleted", "t1"),
        ("deleted", "e1"),
    ]
    assert chosen[0].history.ordinal == 3
    assert chosen[0].dead is None


def test_a_selection_by_row_matches_takes_rows_matching_any_of_them(logged: StateStore) -> None:
    not_lineage = RowMatch(kinds=("created", "deleted"), excluded_types=("lineage",))
    lineage_gone = RowMatch(kinds=("deleted",), entity_types=("lineage",))

    assert keys(logged, Selection(matches=(not_lineage,))) == [
        ("created", "t1"),
        ("created", "t2"),
        ("deleted", "t1"),
    ]
    assert keys(logged, Selection(matches=(lineage_gone, RowMatch(kinds=("updated",))))) == [
        ("updated", "t1"),
        ("deleted", "e1"),
    ]
    assert keys(logged, Selection(matches=())) == []  # no row wanted: none selected
    assert len(keys(logged, Selection(matches=(RowMatch(),)))) == 6


def test_a_selection_by_entity_type_and_key_glob(logged: StateStore) -> None:
    tables = Selection(entity_types=("table",), key_globs=("t[2-9]", "nothing*"))

    assert keys(logged, tables) == [("created", "t2")]
    assert keys(logged, Selection(key_globs=("e*",))) == [("created", "e1"), ("deleted", "e1")]


def test_a_selection_by_time_and_limit_keeps_the_most_recent(logged: StateStore) -> None:
    everything = keys(logged, Selection())
    later = datetime.now(UTC) + timedelta(hours=1)

    assert len(everything) == 6
    assert keys(logged, Selection(limit=2)) == everything[-2:]
    assert keys(logged, Selection(since=later)) == []
    assert keys(logged, Selection(until=later)) == everything
    assert keys(logged, Selection(workflow="other")) == []


def test_a_selection_of_failed_changes_lists_dead_letters_with_their_sink(
    logged: StateStore,
) -> None:
    with logged.transaction():
        logged.record_delivery(WORKFLOW, "picky", 6, [1, 3, 4, 5, 6], {2: "no"}, final=[2])
        logged.record_delivery(WORKFLOW, "other", 6, [1, 3, 4, 5, 6], {2: "later"})

    dead = logged.changelog.select(Selection(workflow=WORKFLOW, failed=True))
    other = logged.changelog.select(Selection(failed=True, sink="other"))

    assert [(s.change.key, s.dead.sink, s.dead.attempts) for s in dead if s.dead] == [
        ("t2", "picky", 1)
    ]
    assert dead[0].dead is not None and dead[0].dead.last_error == "no"
    assert other == []


def test_refusals_are_counted_per_attempt_and_die_after_the_limit(store: StateStore) -> None:
    commit(store, row("a"), row("b"), row("c"))
    for attempt in range(2):
        with store.transaction():
            store.record_delivery(
                WORKFLOW, "hook", 3, [1], {2: f"down {attempt}", 3: "no"}, dead_letter_after=2
            )

    pending = store.connection.execute(
        "SELECT seq, attempts, last_error, dead_at IS NOT NULL FROM pending_deliveries ORDER BY seq"
    ).fetchall()
    assert pending == [(2, 2, "down 1", True), (3, 2, "no", True)]
    assert len(store.pending(WORKFLOW, "hook")) == 0
    assert store.revive(WORKFLOW, "hook", [3]) == 1
    assert store.pending(WORKFLOW, "hook").seqs == [3]
    assert store.offset(WORKFLOW, "hook") == 3


def test_a_sink_is_handed_the_log_and_the_file_not_the_store(logged: StateStore) -> None:
    logged.state_file.view_changes("staged", [5, 1])

    assert logged.state_file.connection is logged.connection
    assert logged.connection.execute("SELECT seq, key FROM staged ORDER BY seq").fetchall() == [
        (1, "t1"),
        (5, "t1"),
    ]
    assert not hasattr(logged.changelog, "commit")


def test_in_transaction_is_true_only_inside_a_transaction(store: StateStore) -> None:
    assert not store.in_transaction
    with store.transaction():
        assert store.in_transaction
    assert not store.in_transaction
    with pytest.raises(RuntimeError), store.transaction():
        raise RuntimeError("boom")
    assert not store.in_transaction
    commit(store, row("a"))
    assert not store.in_transaction


def test_reset_deletes_only_the_states_own_rows(store: StateStore) -> None:
    commit(store, row("a"))
    store.connection.execute("CREATE SCHEMA catalog")
    store.connection.execute("CREATE TABLE catalog.tables AS SELECT 'shop' AS workflow")

    store.reset(WORKFLOW)

    assert store.workflows() == []
    assert store.connection.execute("SELECT * FROM catalog.tables").fetchall() == [("shop",)]
    assert commit(store, row("b")) == [2]  # seqs are never reused
