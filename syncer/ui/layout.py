"""A lineage graph laid out for SVG: one column per hop distance (upstream to the left, the
entity in the middle, downstream to the right), nodes stacked by name within a column.

Pure: it is handed nodes with their hop distance and the edges between them, and returns
coordinates; the template draws them. A layered layout by distance needs no crossing
minimisation to be readable at the sizes the lineage page allows (hops ≤ 5, nodes ≤ 200).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

NODE_WIDTH = 220
NODE_HEIGHT = 28
COLUMN_GAP = 90
ROW_GAP = 12
MARGIN = 16
_LABEL = 30  # characters of a node's label; the whole FQN is in its tooltip


@dataclass(frozen=True, slots=True)
class Box:
    fqn: str
    label: str
    hop: int  # negative upstream, 0 the focus, positive downstream
    x: int
    y: int

    @property
    def focus(self) -> bool:
        return self.hop == 0


@dataclass(frozen=True, slots=True)
class Line:
    source: str
    target: str
    path: str  # an SVG path: a curve from the source's right side to the target's left side


@dataclass(frozen=True, slots=True)
class Drawing:
    boxes: list[Box]
    lines: list[Line]
    width: int
    height: int
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT


def label(fqn: str) -> str:
    """A node's short name: the last two parts of its FQN, cut to fit its box."""
    parts = fqn.split(".")
    short = ".".join(parts[-2:]) if len(parts) > 2 else fqn
    return short if len(short) <= _LABEL else "…" + short[-(_LABEL - 1) :]


def lay_out(hops: Mapping[str, int], edges: Iterable[tuple[str, str]]) -> Drawing:
    """Coordinates for `hops` (node → hop distance) and the `edges` between them; an edge
    with an end not among the nodes is left out."""
    columns: dict[int, list[str]] = defaultdict(list)
    for fqn, hop in hops.items():
        columns[hop].append(fqn)
    if not columns:
        return Drawing([], [], 2 * MARGIN, 2 * MARGIN)
    first = min(columns)
    boxes: dict[str, Box] = {}
    for hop, names in columns.items():
        x = MARGIN + (hop - first) * (NODE_WIDTH + COLUMN_GAP)
        for row, fqn in enumerate(sorted(names)):
            y = MARGIN + row * (NODE_HEIGHT + ROW_GAP)
            boxes[fqn] = Box(fqn, label(fqn), hop, x, y)
    lines = [
        Line(source, target, _curve(boxes[source], boxes[target]))
        for source, target in sorted(set(edges))
        if source in boxes and target in boxes and source != target
    ]
    width = 2 * MARGIN + (max(columns) - first + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    tallest = max(len(names) for names in columns.values())
    height = 2 * MARGIN + tallest * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    return Drawing(sorted(boxes.values(), key=lambda b: (b.hop, b.y)), lines, width, height)


def _curve(source: Box, target: Box) -> str:
    x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT // 2
    x2, y2 = target.x, target.y + NODE_HEIGHT // 2
    bend = max(COLUMN_GAP // 2, abs(x2 - x1) // 2)
    return f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
