"""A derived stream's rows, parked in the state's scratch space until every read stream is done.

Derived entities (view lineage, ...) are known only as other streams pass, but must be
committed after them. Held in memory they grew with the source; spooled, a run holds no more
than a batch of them at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

from syncer.differ import Row
from syncer.state import StateStore

# The fields of a `Row` that are parked and their SQL types, in the order a page gives them.
_COLUMNS = {
    "key": "VARCHAR",
    "entity_type": "VARCHAR",
    "parent_key": "VARCHAR",
    "depends_on": "VARCHAR[]",
    "fingerprint": "VARCHAR",
    "payload": "VARCHAR",
    "append_only": "BOOLEAN",
    "origin": "VARCHAR",
}


def put(store: StateStore, stream: str, rows: list[Row]) -> None:
    """Park rows of a derived stream (which has no cursor, so none is kept)."""
    if rows:
        columns = {name: [getattr(row, name) for row in rows] for name in _COLUMNS}
        store.spool(stream, columns, _COLUMNS)


def take(store: StateStore, stream: str, size: int) -> Iterator[list[Row]]:
    """The parked rows in batches of `size`, in the order they came, the last of a key only."""
    for page in store.spooled(stream, size):
        yield [
            Row(
                key, entity_type, parent, tuple(deps), fp, payload, None, append_only, origin=origin
            )
            for key, entity_type, parent, deps, fp, payload, append_only, origin in page
        ]
