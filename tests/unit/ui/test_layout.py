"""The lineage graph's layered layout: a column per hop distance, nodes by name."""

from __future__ import annotations

from syncer.ui import layout


def test_nodes_are_placed_in_columns_by_hop_distance_upstream_to_the_left() -> None:
    drawing = layout.lay_out({"a": -1, "b": 0, "c": 1, "d": 1}, [("a", "b"), ("b", "c")])
    x = {box.fqn: box.x for box in drawing.boxes}
    assert x["a"] < x["b"] < x["c"] == x["d"]
    y = {box.fqn: box.y for box in drawing.boxes}
    assert y["c"] < y["d"]
    assert [box.fqn for box in drawing.boxes if box.focus] == ["b"]


def test_an_edge_runs_from_the_right_side_of_its_source_to_the_left_side_of_its_target() -> None:
    drawing = layout.lay_out({"a": 0, "b": 1}, [("a", "b")])
    (line,) = drawing.lines
    start, end = line.path.split(" ")[0], line.path.split(" ")[-1]
    assert (
        start == f"M{layout.MARGIN + layout.NODE_WIDTH},{layout.MARGIN + layout.NODE_HEIGHT // 2}"
    )
    assert end.startswith(f"{layout.MARGIN + layout.NODE_WIDTH + layout.COLUMN_GAP},")


def test_edges_to_nodes_left_out_are_not_drawn() -> None:
    drawing = layout.lay_out({"a": 0}, [("a", "b"), ("a", "a")])
    assert drawing.lines == []


def test_the_drawing_is_as_large_as_its_widest_column_and_its_tallest() -> None:
    drawing = layout.lay_out({"a": 0, "b": 1, "c": 1, "d": 1}, [])
    assert drawing.width == 2 * layout.MARGIN + 2 * layout.NODE_WIDTH + layout.COLUMN_GAP
    assert drawing.height == 2 * layout.MARGIN + 3 * layout.NODE_HEIGHT + 2 * layout.ROW_GAP


def test_a_long_name_is_shortened_to_its_last_parts() -> None:
    assert layout.label("svc.db.sch.orders") == "sch.orders"
    assert layout.label("svc.db.sch." + "x" * 40).startswith("…")
    assert len(layout.label("svc.db.sch." + "x" * 40)) == 30


def test_an_empty_graph_is_an_empty_drawing() -> None:
    assert layout.lay_out({}, []).boxes == []
