"""Canonical JSON and the 128-bit fingerprint of an entity.

The canonical form has sorted keys, no nulls, and unordered collections already sorted by the
models, so the same entity gives the same bytes in any process, on any run.
"""

from __future__ import annotations

import io
import pickle
import threading
from typing import Any

import orjson
import xxhash

from syncer.models import Entity

_OPTIONS = orjson.OPT_SORT_KEYS


def canonical(entity: Entity) -> dict[str, Any]:
    """The entity as plain JSON data, without nulls; what the state stores and sinks receive."""
    data: dict[str, Any] = entity.model_dump(mode="json", exclude_none=True)
    return data


def fingerprint_of(data: dict[str, Any], volatile: frozenset[str] = frozenset()) -> str:
    """128-bit hex fingerprint of canonical data, ignoring volatile top-level fields."""
    if volatile:
        data = {k: v for k, v in data.items() if k not in volatile}
    return xxhash.xxh3_128_hexdigest(orjson.dumps(data, option=_OPTIONS))


def digest_of(*parts: object) -> str:
    """128-bit hex digest of a source's raw rows for one record (`syncer.steps.Raw`): of their
    pickle, exact for the tuples, strings, numbers and None that drivers return, and a third
    of the cost of their `repr`. Without the pickler's memo, equal values always give equal
    bytes, whether or not the driver shares objects between them. Not for sets, whose order
    varies from process to process."""
    try:
        buffer, pickler = _picklers.each
    except AttributeError:  # a thread's first digest: its own pickler, reused (a quarter less)
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=5)
        pickler.fast = True  # no memo: every value written out in full
        _picklers.each = buffer, pickler
    buffer.seek(0)
    buffer.truncate()
    pickler.dump(parts)
    return xxhash.xxh3_128_hexdigest(buffer.getbuffer())


_picklers = threading.local()


def encode(data: dict[str, Any]) -> str:
    return orjson.dumps(data, option=_OPTIONS).decode()


def snapshot(entity: Entity) -> tuple[str, str]:
    """The entity's canonical JSON text and its fingerprint, serializing only once when the
    entity carries no volatile field."""
    data = canonical(entity)
    text = orjson.dumps(data, option=_OPTIONS)
    volatile = entity.volatile & data.keys()
    stable = (
        orjson.dumps({k: v for k, v in data.items() if k not in volatile}, option=_OPTIONS)
        if volatile
        else text
    )
    return text.decode(), xxhash.xxh3_128_hexdigest(stable)


def fingerprint(entity: Entity) -> str:
    return snapshot(entity)[1]
