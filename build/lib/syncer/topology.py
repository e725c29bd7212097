"""Which entity types hang under which: delivery order and the parent contract follow from it.

Parents come before children, lineage after everything it could connect, and deletions run the
other way round.
"""

from __future__ import annotations

from functools import cache

from syncer.models import ENTITY_TYPES, LineageEdge
from syncer.steps import Stream


@cache
def rank(entity_type: str) -> int:
    """Depth in the hierarchy: 0 for services; lineage ranks after every other type."""
    if entity_type == LineageEdge.entity_type:
        return 1 + max(rank(t) for t in ENTITY_TYPES if t != LineageEdge.entity_type)
    model = ENTITY_TYPES.get(entity_type)
    if model is None or model.parent_type is None:
        return 0
    return 1 + rank(model.parent_type)


def order_streams(streams: list[Stream]) -> list[Stream]:
    """Read streams parents-first, then derived streams; stable within a rank."""
    return sorted(streams, key=lambda s: (s.derived, rank(s.entity_type)))
