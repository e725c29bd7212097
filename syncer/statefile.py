"""Opening the state file as the engine needs it: with this syncer's version, and with every
entity's dependencies known.

Files written before state schema v4 kept no dependencies beside their entities; they are
computed here once, from each entity's last payload, by the model that knows its shape.
"""

from __future__ import annotations

from pathlib import Path

import pydantic

from syncer import __version__
from syncer.models import ENTITY_TYPES
from syncer.state import DependencyRow, StateStore

_BACKFILL_BATCH = 5_000


def open_state(
    path: Path | str, *, read_only: bool = False, memory_limit: str | None = None
) -> StateStore:
    store = StateStore.open(
        path, version=__version__, read_only=read_only, memory_limit=memory_limit
    )
    if not read_only:
        try:
            backfill_dependencies(store)
        except BaseException:
            store.close()
            raise
    return store


def backfill_dependencies(store: StateStore) -> int:
    """Compute the dependencies of entities stored without them; how many were filled."""
    filled = 0
    while rows := store.entities_without_dependencies(_BACKFILL_BATCH):
        with store.transaction():
            store.set_dependencies(
                [(r.workflow, r.stream, r.key, dependencies_of(r)) for r in rows]
            )
        filled += len(rows)
    return filled


def dependencies_of(row: DependencyRow) -> list[str]:
    """An entity's dependencies from its stored payload; its parent alone if the payload no
    longer validates (an entity type this syncer no longer knows)."""
    model = ENTITY_TYPES.get(row.entity_type)
    if model is not None:
        try:
            return list(model.model_validate_json(row.payload).depends_on)
        except pydantic.ValidationError:
            pass
    return [row.parent_key] if row.parent_key else []
