"""A derived stream's rows, parked in the state's scratch space until every read stream is done.

Derived entities (view lineage, ...) are known only as other streams pass, but must be
committed after them. Held in memory they grew with the source; spooled, a run holds no more
than a batch of them at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from syncer.differ import Row
from syncer.state import StateStore

_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("entity_type", pa.string()),
        ("parent_key", pa.string()),
        ("depends_on", pa.list_(pa.string())),
        ("fingerprint", pa.string()),
        ("payload", pa.string()),
        ("append_only", pa.bool_()),
        ("origin", pa.string()),
    ]
)


def put(store: StateStore, stream: str, rows: list[Row]) -> None:
    """Park rows of a derived stream (which has no cursor, so none is kept)."""
    if rows:
        columns = {name: [getattr(row, name) for row in rows] for name in _SCHEMA.names}
        store.spool(stream, pa.Table.from_pydict(columns, schema=_SCHEMA))


def take(store: StateStore, stream: str, size: int) -> Iterator[list[Row]]:
    """The parked rows in batches of `size`, in the order they came, the last of a key only."""
    for page in store.spooled(stream, size):
        data = page.select(_SCHEMA.names).to_pydict()
        yield [
            Row(
                key, entity_type, parent, tuple(deps), fp, payload, None, append_only, origin=origin
            )
            for key, entity_type, parent, deps, fp, payload, append_only, origin in zip(
                *data.values(), strict=True
            )
        ]
