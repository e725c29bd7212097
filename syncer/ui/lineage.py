"""The lineage around an entity: its upstream and downstream edges, hop by hop, from the current
state or as of a run, bounded by hops and by node count.

The lineage edges (of now, or as of a run) are read once into a temporary table of the
request's own connection, then walked one query per hop and direction (at most ten): on a
state of 100,000 tables and as many edges, reading the edges as of a run for every hop took a
second for five hops, against a tenth of one this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import duckdb
import orjson

Direction = Literal["downstream", "upstream"]
Level = Literal["table", "column"]
MAX_HOPS = 5
MAX_NODES = 200

# The lineage edges of the current state, or of the state as of a run (`entities_as_of`).
_EDGES_NOW = "SELECT from_fqn, to_fqn, columns_lineage::VARCHAR AS columns FROM lineage_edges"
_EDGES_AS_OF = (
    "SELECT payload->>'$.fromEntity.fullyQualifiedName' AS from_fqn, "
    "payload->>'$.toEntity.fullyQualifiedName' AS to_fqn, "
    "(payload->'$.columnsLineage')::VARCHAR AS columns "
    "FROM entities_as_of($run) WHERE entity_type = 'lineage'"
)


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    columns: tuple[tuple[tuple[str, ...], str], ...]  # (from columns, to column) pairs


@dataclass
class Neighbourhood:
    """The nodes found (each with its signed hop distance) and the edges between them."""

    focus: str
    hops: dict[str, int]
    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)
    cut: bool = False  # whether nodes were left out to stay within the node limit

    def column_graph(self) -> tuple[dict[str, int], list[tuple[str, str]]]:
        """Columns as nodes (each at its table's hop distance) and column-to-column edges."""
        hops: dict[str, int] = {}
        pairs: list[tuple[str, str]] = []
        for edge in self.edges.values():
            for sources, target in edge.columns:
                hops.setdefault(target, self.hops[edge.target])
                for source in sources:
                    hops.setdefault(source, self.hops[edge.source])
                    pairs.append((source, target))
        return hops, pairs


_WALKED = "ui_lineage_edges"  # temporary: seen by the connection that made it alone


def neighbourhood(
    connection: duckdb.DuckDBPyConnection,
    fqn: str,
    *,
    hops: int = 2,
    as_of: int | None = None,
    limit: int = MAX_NODES,
) -> Neighbourhood:
    """The entities within `hops` edges of `fqn` both ways, at most `limit` of them."""
    found = Neighbourhood(fqn, {fqn: 0})
    source = _EDGES_NOW if as_of is None else _EDGES_AS_OF
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {_WALKED} AS {source}",
        {} if as_of is None else {"run": as_of},
    )
    try:
        for direction in ("downstream", "upstream"):
            frontier = [fqn]
            for hop in range(1, hops + 1):
                if not frontier:
                    break
                frontier = _step(connection, found, frontier, direction, hop, limit)
    finally:
        connection.execute(f"DROP TABLE IF EXISTS {_WALKED}")
    found.edges = {
        key: edge
        for key, edge in found.edges.items()
        if edge.source in found.hops and edge.target in found.hops
    }
    return found


def _step(
    connection: duckdb.DuckDBPyConnection,
    found: Neighbourhood,
    frontier: list[str],
    direction: Direction,
    hop: int,
    limit: int,
) -> list[str]:
    near, far = ("from_fqn", "to_fqn") if direction == "downstream" else ("to_fqn", "from_fqn")
    rows = connection.execute(
        f"SELECT from_fqn, to_fqn, columns FROM {_WALKED} "
        f"WHERE list_contains($frontier, {near}) ORDER BY {far}, from_fqn, to_fqn",
        {"frontier": frontier},
    ).fetchall()
    reached: list[str] = []
    signed = hop if direction == "downstream" else -hop
    for source_fqn, target_fqn, columns in rows:
        found.edges[(source_fqn, target_fqn)] = Edge(source_fqn, target_fqn, _columns(columns))
        other = target_fqn if direction == "downstream" else source_fqn
        if other in found.hops:
            continue
        if len(found.hops) >= limit:
            found.cut = True
            continue
        found.hops[other] = signed
        reached.append(other)
    return reached


def _columns(text: str | None) -> tuple[tuple[tuple[str, ...], str], ...]:
    if not text:
        return ()
    items = orjson.loads(text) or []
    return tuple(
        (tuple(item.get("fromColumns") or ()), str(item["toColumn"]))
        for item in items
        if isinstance(item, dict) and item.get("toColumn")
    )
