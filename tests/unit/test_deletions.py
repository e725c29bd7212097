"""The deletion policy: the fail-safe counts what goes with a deleted parent, per stream and per
workflow; what passes is checked with the source, a bounded number of lookups per stream."""

from __future__ import annotations

from syncer.deletions import (
    Decision,
    Failed,
    Lookups,
    StreamCandidates,
    confirm,
    decide,
    lookups,
    sample,
    why_kept,
)
from syncer.state import Missing
from syncer.steps import Unverifiable

DB = "svc.db"


def schema(name: str) -> Missing:
    return Missing(f"{DB}.{name}", "databaseSchema", DB, [DB], "fp", "{}")


def table(name: str, schema: str = "s") -> Missing:
    parent = f"{DB}.{schema}"
    return Missing(f"{parent}.{name}", "table", parent, [parent], "fp", "{}")


def edge(source: str, target: str) -> Missing:
    return Missing(f"{source}->{target}", "lineage", None, [source, target], "fp", "{}")


def result(case: str, at: int) -> Missing:
    return Missing(f"{case}.{at}", "testCaseResult", case, [case], "fp", "{}")


def tables(count: int, schema: str = "s", prefix: str = "t") -> list[Missing]:
    return [table(f"{prefix}{i:03d}", schema) for i in range(count)]


def deleted(decision: Decision, stream: str) -> list[str]:
    return [m.key for m in decision.deleted(stream)]


# --- the share of one stream ------------------------------------------------------------------


def test_missing_entities_within_the_fail_safe_share_are_deleted() -> None:
    decision = decide([StreamCandidates("tables", 10, [table("a")])], 20)
    assert deleted(decision, "tables") == [f"{DB}.s.a"]
    assert decision.warnings == [] and decision.notes == {}


def test_more_than_the_fail_safe_share_is_refused_with_the_numbers() -> None:
    decision = decide([StreamCandidates("tables", 10, tables(3))], 20)
    assert deleted(decision, "tables") == []
    assert decision.notes == {"tables": "would delete 3 of 10 (30%), more than the fail-safe 20%"}
    assert decision.warnings == [
        "stream tables: deletions refused: would delete 3 of 10 (30%), more than the fail-safe "
        "20%; nothing was deleted. If they are real, run once with --fail-safe-percent (or raise "
        "deletions.fail_safe_percent)"
    ]


def test_children_that_go_with_their_parent_count_in_their_own_stream() -> None:
    # One schema of five (20%, within the share) holds 100 of the 108 tables.
    streams = [
        StreamCandidates("schemas", 5, [schema("big")]),
        StreamCandidates("tables", 108, tables(100, "big")),
    ]
    decision = decide(streams, 20)
    assert deleted(decision, "schemas") == [] and deleted(decision, "tables") == []
    assert decision.notes["tables"] == (
        "would delete 100 of 108 (93%), more than the fail-safe 20% (100 of them would go with "
        "their parent, which stays too)"
    )
    assert decision.warnings[1] == (
        f"stream schemas: 1 deletion held back because what would go with it stays: {DB}.big"
    )


def test_a_parent_goes_with_its_children_when_both_shares_allow_it() -> None:
    streams = [
        StreamCandidates("schemas", 10, [schema("old")]),
        StreamCandidates("tables", 40, tables(4, "old")),
    ]
    decision = decide(streams, 20)
    assert deleted(decision, "schemas") == [f"{DB}.old"]
    assert len(deleted(decision, "tables")) == 4
    assert decision.warnings == []


def test_a_refused_parent_keeps_the_children_that_would_go_with_it() -> None:
    streams = [
        StreamCandidates("schemas", 5, [schema("a"), schema("b")]),  # 40%
        StreamCandidates("tables", 100, [*tables(2, "a"), table("loose")]),
    ]
    decision = decide(streams, 20)
    # The loose table has no parent being deleted: it goes on its own share (1 + 2 of 100).
    assert deleted(decision, "tables") == [f"{DB}.s.loose"]
    assert deleted(decision, "schemas") == []
    assert (
        f"stream tables: 2 deletions held back because what they would go with stays: "
        f"{DB}.a.t000, {DB}.a.t001"
    ) in decision.warnings


def test_an_edge_that_goes_with_an_end_counts_through_that_end_only() -> None:
    view = f"{DB}.s.v"
    streams = [
        StreamCandidates("tables", 10, [table("v")]),
        StreamCandidates("lineage", 3, [edge(f"{DB}.s.a", view), edge(f"{DB}.s.b", view)]),
    ]
    decision = decide(streams, 20)
    assert deleted(decision, "tables") == [view]
    assert len(deleted(decision, "lineage")) == 2
    assert decision.warnings == []


def test_an_edge_whose_ends_remain_counts_against_the_fail_safe() -> None:
    decision = decide([StreamCandidates("lineage", 1, [edge("s.v", "s.w")])], 20)
    assert deleted(decision, "lineage") == []
    assert decision.notes["lineage"].startswith("would delete 1 of 1 (100%)")


def test_refused_edges_keep_no_table_and_cascaded_edges_still_go() -> None:
    view = f"{DB}.s.v"
    gone_with_view = edge(f"{DB}.s.a", view)
    streams = [
        StreamCandidates("tables", 20, [table("v")]),
        StreamCandidates("lineage", 4, [gone_with_view, edge("x", "y"), edge("y", "z")]),
    ]
    decision = decide(streams, 20)  # 2 of 4 edges vanished on their own: refused
    assert deleted(decision, "tables") == [view]
    assert deleted(decision, "lineage") == [gone_with_view.key]


def test_an_edge_goes_when_one_end_goes_even_if_the_other_stays() -> None:
    kept, dropped = f"{DB}.a.t000", f"{DB}.s.v"
    streams = [
        StreamCandidates("schemas", 5, [schema("a"), schema("b")]),  # refused: a stays
        StreamCandidates("tables", 100, [*tables(1, "a"), table("v")]),
        StreamCandidates("lineage", 10, [edge(kept, dropped)]),
    ]
    decision = decide(streams, 20)
    assert deleted(decision, "tables") == [dropped]
    assert deleted(decision, "lineage") == [f"{kept}->{dropped}"]


def test_what_a_never_deleting_stream_loses_goes_with_its_parent_uncounted() -> None:
    case = f"{DB}.s.t.not_null"
    streams = [
        StreamCandidates("test_cases", 10, [Missing(case, "testCase", None, [], "fp", "{}")]),
        StreamCandidates("results", 40, [result(case, i) for i in range(30)], checked=False),
    ]
    decision = decide(streams, 20)
    assert deleted(decision, "test_cases") == [case]
    assert len(deleted(decision, "results")) == 30


# --- the share of the workflow ----------------------------------------------------------------


def test_a_run_over_the_workflows_share_deletes_nothing_and_says_so() -> None:
    streams = [
        StreamCandidates("schemas", 5, [schema("empty")]),  # 20%: within its own share
        StreamCandidates("tables", 10, tables(3, prefix="x")),  # 30%: refused
    ]
    decision = decide(streams, 20)
    assert deleted(decision, "schemas") == [] and deleted(decision, "tables") == []
    assert decision.warnings[-1] == (
        "deletions refused for the whole run: would delete 4 of the workflow's 15 entities "
        "(27%), more than the fail-safe 20%; nothing was deleted. If they are real, run once "
        "with --fail-safe-percent (or raise deletions.fail_safe_percent)"
    )
    assert decision.notes["schemas"].startswith("the workflow's deletions were refused")


def test_the_workflow_share_is_not_repeated_when_the_streams_refused_everything() -> None:
    decision = decide([StreamCandidates("tables", 10, tables(3))], 20)
    assert len(decision.warnings) == 1


def test_a_raised_fail_safe_lets_a_cascade_through() -> None:
    streams = [
        StreamCandidates("schemas", 5, [schema("big")]),
        StreamCandidates("tables", 108, tables(100, "big")),
    ]
    decision = decide(streams, 100)
    assert len(deleted(decision, "tables")) == 100 and deleted(decision, "schemas")


# --- verification with the source -------------------------------------------------------------


def test_only_roots_are_looked_up_not_what_goes_with_them() -> None:
    streams = [
        StreamCandidates("schemas", 10, [schema("old")]),
        StreamCandidates("tables", 100, [*tables(3, "old"), table("alone")]),
    ]
    asked = lookups(decide(streams, 20))
    assert [m.key for m in asked["schemas"].asked] == [f"{DB}.old"]
    assert [m.key for m in asked["tables"].asked] == [f"{DB}.s.alone"]


def test_a_root_the_source_still_finds_stays_with_what_goes_with_it() -> None:
    streams = [
        StreamCandidates("schemas", 10, [schema("old")]),
        StreamCandidates("tables", 100, [*tables(3, "old"), table("alone")]),
    ]
    decision = decide(streams, 20)
    asked = lookups(decision)
    answers = {("schemas", f"{DB}.old"): True, ("tables", f"{DB}.s.alone"): False}
    decision = confirm(decision, asked, answers, allow_unverifiable=False)
    assert deleted(decision, "schemas") == [] and deleted(decision, "tables") == [f"{DB}.s.alone"]
    assert decision.warnings == [
        f"stream schemas: {DB}.old not deleted, nor what goes with it: the source still finds "
        "it (its listing left it out)"
    ]


def test_a_failed_lookup_keeps_the_object_and_says_why() -> None:
    decision = decide([StreamCandidates("tables", 10, [table("a")])], 20)
    answers = {("tables", f"{DB}.s.a"): Failed("OperationalError: timeout")}
    decision = confirm(decision, lookups(decision), answers, allow_unverifiable=False)
    assert deleted(decision, "tables") == []
    assert decision.warnings == [
        f"stream tables: {DB}.s.a not deleted, nor what goes with it: checking that it is gone "
        "failed: OperationalError: timeout"
    ]


def test_an_unverifiable_deletion_needs_to_be_allowed() -> None:
    hidden = Unverifiable("user 'u'@'%' lacks SHOW DATABASES", "GRANT SHOW DATABASES ON *.* TO u")
    streams = [
        StreamCandidates("schemas", 2, [schema("other")]),
        StreamCandidates("tables", 10, tables(2, "other")),
    ]
    for allow, expected in ((False, []), (True, [f"{DB}.other"])):
        decision = decide(streams, 100)
        answers = {("schemas", f"{DB}.other"): hidden}
        decision = confirm(decision, lookups(decision), answers, allow_unverifiable=allow)
        assert deleted(decision, "schemas") == expected
        assert len(deleted(decision, "tables")) == (2 if allow else 0)
    assert why_kept(hidden, allow_unverifiable=False) == (
        "user 'u'@'%' lacks SHOW DATABASES; GRANT SHOW DATABASES ON *.* TO u would make it "
        "certain; if it was dropped, run with --allow-deletions (or set deletions.unverifiable: "
        "delete)"
    )


def test_a_source_that_cannot_tell_keeps_todays_behaviour() -> None:
    assert why_kept(None, allow_unverifiable=False) is None
    assert why_kept(False, allow_unverifiable=False) is None


def test_lookups_are_bounded_by_an_evenly_spaced_sample() -> None:
    items = tables(1000)
    chosen = sample(items, 50)
    assert len(chosen) == 50 and chosen[0] is items[0] and chosen[-1] is items[-1]
    assert sample(items, 50) == chosen  # the same sample on every run
    assert sample(items[:10], 50) == items[:10]
    asked = lookups(decide([StreamCandidates("tables", 10_000, items)], 20), limit=50)
    assert len(asked["tables"].asked) == 50 and len(asked["tables"].unchecked) == 950


def test_unchecked_roots_stay_when_a_sampled_one_was_not_gone() -> None:
    items = tables(100)
    decision = decide([StreamCandidates("tables", 1000, items)], 20)
    asked = {"tables": Lookups(items[:10], items[10:])}
    answers = {("tables", m.key): False for m in items[:10]}
    answers[("tables", items[3].key)] = True
    decision = confirm(decision, asked, answers, allow_unverifiable=False)
    assert len(deleted(decision, "tables")) == 9
    assert decision.warnings[-1].startswith(
        "stream tables: 90 more deletions held back unchecked, because 1 of the 10 checked were "
        "not confirmed gone"
    )


def test_unchecked_roots_go_when_the_whole_sample_is_confirmed() -> None:
    items = tables(100)
    decision = decide([StreamCandidates("tables", 1000, items)], 20)
    asked = {"tables": Lookups(items[:10], items[10:])}
    answers = {("tables", m.key): False for m in items[:10]}
    decision = confirm(decision, asked, answers, allow_unverifiable=False)
    assert len(deleted(decision, "tables")) == 100 and decision.warnings == []


# --- refused deletions: what a guard the user can lift held back --------------------------------


def test_what_the_fail_safe_refuses_is_counted_with_what_stays_with_it() -> None:
    streams = [
        StreamCandidates("schemas", 5, [schema("big")]),
        StreamCandidates("tables", 108, tables(100, "big")),
    ]
    decision = decide(streams, 20)
    assert (decision.refused_in("tables"), decision.refused_in("schemas")) == (100, 1)


def test_a_run_over_the_workflows_share_refuses_every_candidate() -> None:
    streams = [
        StreamCandidates("schemas", 5, [schema("empty")]),  # 20%: within its own share
        StreamCandidates("tables", 10, tables(3, prefix="x")),  # 30%: refused
    ]
    decision = decide(streams, 20)  # and 4 of 15 for the run: the schema is refused too
    assert (decision.refused_in("schemas"), decision.refused_in("tables")) == (1, 3)


def test_unverifiable_deletions_are_refused_but_found_or_failed_ones_are_not() -> None:
    hidden = Unverifiable("the user may not see it")
    streams = [
        StreamCandidates("schemas", 100, [schema("hidden"), schema("found"), schema("failed")]),
        StreamCandidates("tables", 1000, [*tables(2, "hidden"), *tables(3, "found")]),
    ]
    decision = decide(streams, 20)
    answers = {
        ("schemas", f"{DB}.hidden"): hidden,
        ("schemas", f"{DB}.found"): True,
        ("schemas", f"{DB}.failed"): Failed("timeout"),
    }
    decision = confirm(decision, lookups(decision), answers, allow_unverifiable=False)
    assert deleted(decision, "schemas") == [] and deleted(decision, "tables") == []
    assert (decision.refused_in("schemas"), decision.refused_in("tables")) == (1, 2)
    allowed = decide(streams, 20)
    allowed = confirm(allowed, lookups(allowed), answers, allow_unverifiable=True)
    assert allowed.refused == set()


def test_unchecked_roots_are_refused_only_when_the_sample_was_unverifiable() -> None:
    items = tables(100)
    # Of a sample of 10, items[3] cannot be told gone, and items[4] either cannot or is found.
    for fourth, refused in ((Unverifiable("hidden"), 2 + 90), (True, 1)):
        decision = decide([StreamCandidates("tables", 1000, items)], 20)
        asked = {"tables": Lookups(items[:10], items[10:])}
        answers = {("tables", m.key): False for m in items[:10]}
        answers[("tables", items[3].key)] = Unverifiable("hidden")
        answers[("tables", items[4].key)] = fourth
        decision = confirm(decision, asked, answers, allow_unverifiable=False)
        assert len(deleted(decision, "tables")) == 8
        # The 90 unchecked stay either way; they are refused only if nothing was found.
        assert decision.refused_in("tables") == refused
