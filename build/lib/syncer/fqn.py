"""Fully qualified names, built and split with OpenMetadata's quoting rules.

A part that contains the separator is wrapped in double quotes; a double quote inside a quoted
part is doubled, so that every FQN splits back into exactly the parts it was built from.
"""

from __future__ import annotations

SEPARATOR = "."
_QUOTE = '"'


class FQNError(ValueError):
    """An FQN that cannot be split: unbalanced quotes or an empty part."""


def quote(part: str) -> str:
    if not part:
        raise FQNError("an FQN part cannot be empty")
    if SEPARATOR in part or _QUOTE in part:
        return _QUOTE + part.replace(_QUOTE, _QUOTE * 2) + _QUOTE
    return part


def build(*parts: str) -> str:
    """Join name parts into one FQN, quoting the parts that need it."""
    return SEPARATOR.join(quote(p) for p in parts)


def join(parent: str, name: str) -> str:
    """The FQN of `name` under an already built `parent` FQN."""
    return f"{parent}{SEPARATOR}{quote(name)}" if parent else quote(name)


def split(fqn: str) -> list[str]:
    """The unquoted parts of an FQN; the inverse of `build`."""
    parts: list[str] = []
    buf: list[str] = []
    in_quotes = False
    i = 0
    while i < len(fqn):
        ch = fqn[i]
        if in_quotes:
            if ch == _QUOTE and fqn[i + 1 : i + 2] == _QUOTE:
                buf.append(_QUOTE)
                i += 1
            elif ch == _QUOTE:
                in_quotes = False
            else:
                buf.append(ch)
        elif ch == _QUOTE and not buf:
            in_quotes = True
        elif ch == SEPARATOR:
            parts.append(_part(buf, fqn))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if in_quotes:
        raise FQNError(f"unbalanced quote in FQN {fqn!r}")
    parts.append(_part(buf, fqn))
    return parts


def parent(fqn: str) -> str | None:
    """The FQN one level up, or None for a top-level name."""
    parts = split(fqn)
    return build(*parts[:-1]) if len(parts) > 1 else None


def _part(buf: list[str], fqn: str) -> str:
    if not buf:
        raise FQNError(f"empty part in FQN {fqn!r}")
    return "".join(buf)
