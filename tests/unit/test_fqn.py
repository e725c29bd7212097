"""FQNs split back into exactly the parts they were built from, with OpenMetadata's quoting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncer import fqn
from syncer.fqn import FQNError

parts = st.lists(st.text(min_size=1), min_size=1, max_size=5)


@settings(database=None)  # no example database left in the repository
@given(parts)
def test_any_parts_survive_a_build_and_split_round_trip(names: list[str]) -> None:
    assert fqn.split(fqn.build(*names)) == names


@settings(database=None)  # no example database left in the repository
@given(parts, st.text(min_size=1))
def test_join_under_a_built_parent_equals_building_all_parts(names: list[str], name: str) -> None:
    assert fqn.join(fqn.build(*names), name) == fqn.build(*names, name)
    assert fqn.parent(fqn.build(*names, name)) == fqn.build(*names)


@pytest.mark.parametrize(
    ("names", "built"),
    [
        (["svc", "db", "sch", "orders"], "svc.db.sch.orders"),
        (["svc", "my.db", "orders"], 'svc."my.db".orders'),
        (["svc", 'say "hi"', "t"], 'svc."say ""hi""".t'),
        (["svc", 'a."b"', "t"], 'svc."a.""b""".t'),
        (["sérvice", "データ", "t"], "sérvice.データ.t"),
        (["svc", "order items", "t"], "svc.order items.t"),
        (["svc", " ", "t"], "svc. .t"),
    ],
)
def test_only_parts_with_a_dot_or_a_quote_are_quoted(names: list[str], built: str) -> None:
    assert fqn.build(*names) == built
    assert fqn.split(built) == names


def test_a_top_level_name_has_no_parent() -> None:
    assert fqn.parent("svc") is None
    assert fqn.parent('"my.svc"') is None
    assert fqn.parent('"my.svc".db') == '"my.svc"'


def test_join_under_no_parent_is_the_quoted_name() -> None:
    assert fqn.join("", "a.b") == '"a.b"'


@pytest.mark.parametrize("bad", ['svc."db.sch', '"', 'svc.db."t'])
def test_an_unbalanced_quote_is_an_error_naming_the_fqn(bad: str) -> None:
    with pytest.raises(FQNError, match="unbalanced quote") as caught:
        fqn.split(bad)
    assert repr(bad) in str(caught.value)


@pytest.mark.parametrize("bad", ["", "svc..t", ".svc", "svc.", 'svc."".t'])
def test_an_empty_part_is_an_error(bad: str) -> None:
    with pytest.raises(FQNError, match="empty part"):
        fqn.split(bad)


def test_an_empty_name_cannot_be_built() -> None:
    with pytest.raises(FQNError, match="cannot be empty"):
        fqn.build("svc", "")
