"""What the connectors share with the processors: include/exclude patterns (`syncer.patterns`)
and one-line error texts (`syncer.text`)."""

from __future__ import annotations

import pytest

from syncer.patterns import IncludeExclude, check_regex, check_regexes
from syncer.text import first_line


def test_a_pattern_that_does_not_compile_is_named() -> None:
    assert check_regex("^a.*") == "^a.*"
    assert check_regexes(["a", "b"]) == ["a", "b"]
    with pytest.raises(ValueError, match=r"'\[a' is not a valid regex \(unterminated"):
        check_regexes(["ok", "[a"])


def test_include_patterns_are_searched_and_exclude_patterns_win() -> None:
    names = IncludeExclude.of(include=["^sales", "orders"], exclude=["_tmp$"])
    assert names.keeps("sales_daily") and names.keeps("all_orders")
    assert not names.keeps("marketing")
    assert not names.keeps("sales_tmp")
    assert names.excluded_by("sales_tmp") == names.exclude[0]
    assert names.excluded_by("sales") is None


def test_without_patterns_every_name_is_kept() -> None:
    assert IncludeExclude.of().keeps("anything")
    assert IncludeExclude.of(exclude=["x"]).included("x")


def test_an_error_is_one_line_or_its_type() -> None:
    assert first_line(ValueError("\n  first\nsecond\n")) == "first"
    assert first_line(OSError()) == "OSError"
    assert first_line(RuntimeError("   ")) == "RuntimeError"
