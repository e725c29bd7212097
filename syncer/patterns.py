"""Include/exclude regular expressions, as configs of sources and processors spell them.

Every step that keeps some names and drops others does it the same way: a name must match one
`include` pattern (when there are any) and no `exclude` pattern, each searched (`re.search`),
not matched whole. Checking the patterns when the config loads turns a typo into a config error
naming the key, instead of a failure halfway through a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["IncludeExclude", "check_regex", "check_regexes"]


def check_regex(pattern: str) -> str:
    """`pattern` if it compiles; a ValueError naming it otherwise (for pydantic validators,
    which put the key in front)."""
    try:
        re.compile(pattern)
    except re.error as err:
        raise ValueError(f"{pattern!r} is not a valid regex ({err})") from None
    return pattern


def check_regexes(patterns: list[str]) -> list[str]:
    """`patterns` if every one compiles; a ValueError naming the first that does not."""
    for pattern in patterns:
        check_regex(pattern)
    return patterns


@dataclass(frozen=True, slots=True)
class IncludeExclude:
    """Which names a pair of pattern lists keeps; compiled once, searched per name."""

    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> IncludeExclude:
        return cls(tuple(map(re.compile, include)), tuple(map(re.compile, exclude)))

    def included(self, name: str) -> bool:
        """Whether `name` matches an include pattern; without any, every name is included."""
        return not self.include or any(p.search(name) for p in self.include)

    def excluded_by(self, name: str) -> re.Pattern[str] | None:
        """The first exclude pattern `name` matches, to say why it was dropped."""
        return next((p for p in self.exclude if p.search(name)), None)

    def keeps(self, name: str) -> bool:
        if not (self.include or self.exclude):  # the usual case, asked of every table
            return True
        return self.included(name) and self.excluded_by(name) is None
