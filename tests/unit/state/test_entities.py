"""What the state knows of a batch's keys, and the dependencies a commit leaves behind."""

from __future__ import annotations

import orjson

from syncer.state import Batch, ChangeRow, Known, StateStore

WORKFLOW = "shop"


def row(
    key: str, fingerprint: str, *depends_on: str, kind: str = "created", note: str = ""
) -> ChangeRow:
    payload = orjson.dumps({"name": key, "note": note}).decode()
    return ChangeRow(
        key, "table", None, list(depends_on), kind, fingerprint, None, [], None, payload
    )


def commit(store: StateStore, stream: str, *changes: ChangeRow, workflow: str = WORKFLOW) -> None:
    run = store.start_run(workflow, "incremental", "fp", 1)
    store.commit(Batch(run, workflow, stream, list(changes)))


def payload(key: str, note: str) -> str:
    return orjson.dumps({"name": key, "note": note}).decode()


def test_changed_gives_each_differing_key_its_fingerprint_and_last_payload(
    store: StateStore,
) -> None:
    commit(store, "tables", row("a", "fa"), row("b", "fb"), row("c", "fc"), row("d", "fd"))
    commit(store, "tables", row("b", "fb2", kind="updated", note="second"))
    commit(store, "tables", row("c", "fc", kind="deleted"))
    # The same keys elsewhere must not be taken for these.
    commit(store, "views", row("new", "fv"))
    commit(store, "tables", row("new", "fo"), workflow="other")

    keys = ["a", "b", "c", "d", "new"]
    known = store.changed(WORKFLOW, "tables", keys, ["fa", "fb3", "fc", "fd-moved", "fn"])

    assert known == {
        1: Known("fb2", False, payload("b", "second")),
        2: Known("fc", True, payload("c", "")),  # deleted: its last known state
        3: Known("fd", False, payload("d", "")),
        4: Known(None, False, None),
    }


def test_changed_on_a_batch_of_new_keys_knows_none_of_them(store: StateStore) -> None:
    commit(store, "tables", row("a", "fa"))

    known = store.changed(WORKFLOW, "tables", ["x", "y"], ["fx", "fy"])

    assert known == {0: Known(None, False, None), 1: Known(None, False, None)}


def test_a_commit_rewrites_only_the_dependencies_that_changed(store: StateStore) -> None:
    commit(store, "tables", row("t", "f1", "s.a"), row("u", "f1", "s.a"), row("v", "f1"))
    commit(
        store,
        "tables",
        row("t", "f2", "s.a", kind="updated"),
        row("u", "f2", "s.b", kind="updated"),
        row("w", "f1", "s.c"),
        row("v", "f2", kind="deleted"),
    )

    rows = store.connection.execute("SELECT key, depends_on FROM entities ORDER BY key").fetchall()
    assert rows == [("t", ["s.a"]), ("u", ["s.b"]), ("v", []), ("w", ["s.c"])]
