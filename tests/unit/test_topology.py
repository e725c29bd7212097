"""Parents are read and delivered before children, lineage after everything it connects."""

from __future__ import annotations

from syncer.steps import Either, Stream
from syncer.topology import order_streams, rank


def test_each_level_ranks_below_its_parent() -> None:
    chain = ["databaseService", "database", "databaseSchema", "table", "testCase", "testCaseResult"]
    assert [rank(t) for t in chain] == list(range(len(chain)))


def test_lineage_ranks_after_every_other_type() -> None:
    assert rank("lineage") > rank("testCaseResult")
    assert rank("lineage") > rank("pipeline")


def test_an_unknown_type_ranks_as_a_root() -> None:
    assert rank("somethingNew") == 0


def nothing(since: object) -> list[Either]:
    return []


def test_streams_are_ordered_parents_first_then_derived_streams() -> None:
    streams = [
        Stream("lineage", "lineage", derived=True),
        Stream("tables", "table", read=nothing),
        Stream("edges", "lineage", read=nothing),
        Stream("schemas", "databaseSchema", read=nothing),
        Stream("views", "table", read=nothing),
        Stream("services", "databaseService", read=nothing),
        Stream("owners_of", "table", derived=True),
    ]
    assert [s.name for s in order_streams(streams)] == [
        "services",
        "schemas",
        "tables",
        "views",
        "edges",
        "owners_of",
        "lineage",
    ]
