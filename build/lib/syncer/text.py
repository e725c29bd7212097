"""Short texts made from errors, for a log line, a record error or a `test-connection` check.

A driver's message often runs over several lines (the statement, a caret under it, hints);
one line is what a report can show and a reader can act on.
"""

from __future__ import annotations

__all__ = ["first_line"]


def first_line(err: BaseException) -> str:
    """The first line of an error's message, or its type's name when the message is empty (an
    error raised without a message would otherwise leave an empty reason)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
