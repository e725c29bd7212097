"""The deletion policy: cascades follow deleted parents; the fail-safe guards the rest."""

from __future__ import annotations

from state import Missing
from syncer.deletions import decide


def table(name: str, schema: str = "svc.db.s") -> Missing:
    return Missing(f"{schema}.{name}", "table", schema, [schema], "fp", "{}")


def edge(source: str, target: str) -> Missing:
    return Missing(f"{source}->{target}", "lineage", None, [source, target], "fp", "{}")


def test_missing_entities_within_the_fail_safe_share_are_deleted() -> None:
    verdict = decide([table("a")], live=10, gone=set(), fail_safe_percent=20)
    assert [m.key for m in verdict.delete] == ["svc.db.s.a"]
    assert verdict.refused is None


def test_more_than_the_fail_safe_share_is_refused_with_the_numbers() -> None:
    verdict = decide(
        [table("a"), table("b"), table("c")], live=10, gone=set(), fail_safe_percent=20
    )
    assert verdict.delete == []
    assert verdict.refused == "would delete 3 of 10 (30%), more than the fail-safe 20%"


def test_children_of_a_deleted_parent_go_with_it_whatever_their_share() -> None:
    missing = [table("a", "svc.db.gone"), table("b", "svc.db.gone")]
    verdict = decide(missing, live=2, gone={"svc.db.gone"}, fail_safe_percent=20)
    assert len(verdict.delete) == 2
    assert verdict.refused is None


def test_an_edge_goes_when_either_end_is_deleted() -> None:
    verdict = decide([edge("s.v", "s.w")], live=1, gone={"s.w"}, fail_safe_percent=20)
    assert [m.key for m in verdict.delete] == ["s.v->s.w"]


def test_an_edge_whose_ends_remain_counts_against_the_fail_safe() -> None:
    verdict = decide([edge("s.v", "s.w")], live=1, gone=set(), fail_safe_percent=20)
    assert verdict.delete == []
    assert verdict.refused is not None


def test_a_refusal_keeps_the_cascaded_deletions() -> None:
    missing = [table("x", "svc.db.gone"), table("a"), table("b")]
    verdict = decide(missing, live=5, gone={"svc.db.gone"}, fail_safe_percent=20)
    assert [m.key for m in verdict.delete] == ["svc.db.gone.x"]
    assert verdict.refused is not None
