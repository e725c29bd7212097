"""Where a value is found in a JSON record: JMESPath expressions, and text templates made of them.

An expression reads the record (`name`, `tags[?key=='team'].value | [0]`); one that starts with
`parent.` reads the parent record of a child endpoint instead. A leading `$.` (JSONPath's root)
is accepted and ignored, so `$.name` and `name` are the same. A record field literally named
`parent` is reached as `"parent"`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from syncer.text import first_line

JSON = Any  # a parsed JSON value
PARENT = "parent."


class ExpressionError(ValueError):
    """An expression or template that does not parse; the message names it."""


class EvaluationError(ExpressionError):
    """An expression that failed on one document (a function given the wrong type)."""


class MissingValue(LookupError):
    """A template placeholder that found nothing in the record."""

    def __init__(self, expression: str) -> None:
        super().__init__(expression)
        self.expression = expression


class Expression:
    """One compiled expression, and whether it reads the parent record."""

    def __init__(self, text: str) -> None:
        self.text = text
        body = text.strip()
        if body == "$":
            body = "@"
        body = body.removeprefix("$.")
        self.on_parent = body.startswith(PARENT)
        if self.on_parent:
            body = body[len(PARENT) :]
        self._compiled = _compile(body, text)

    def search(self, record: JSON, parent: JSON = None) -> JSON:
        try:
            return self._compiled.search(parent if self.on_parent else record)
        except JMESPathError as exc:
            reason = first_line(exc)
            raise EvaluationError(f"`{self.text}` failed: {reason}") from None

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


class Template:
    """Text with `{expression}` placeholders; `{{` and `}}` stand for literal braces."""

    _TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")

    def __init__(self, text: str) -> None:
        self.text = text
        self.parts: list[str | Expression] = []
        last = 0
        for match in self._TOKEN.finditer(text):
            self._literal(text[last : match.start()])
            token = match.group(0)
            if token in ("{{", "}}"):
                self._literal(token[0])
            elif match.group(1) is None or not match.group(1).strip():
                raise ExpressionError(
                    f"template {text!r}: unbalanced or empty brace at {match.start()}; "
                    "write {{ or }} for a literal brace"
                )
            else:
                self.parts.append(Expression(match.group(1)))
            last = match.end()
        self._literal(text[last:])

    @property
    def expressions(self) -> list[Expression]:
        return [p for p in self.parts if isinstance(p, Expression)]

    def render(self, record: JSON, parent: JSON = None, *, url_quote: bool = False) -> str:
        """The text with each placeholder's value; `MissingValue` if one finds nothing."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.search(record, parent)
            if value is None:
                raise MissingValue(part.text)
            text = _text(value)
            out.append(quote(text, safe="") if url_quote else text)
        return "".join(out)

    def _literal(self, text: str) -> None:
        if not text:
            return
        if self.parts and isinstance(self.parts[-1], str):
            self.parts[-1] += text
        else:
            self.parts.append(text)


def _text(value: JSON) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compile(body: str, text: str) -> ParsedResult:
    try:
        return jmespath.compile(body)
    except JMESPathError as exc:
        reason = first_line(exc).split(": Parse error")[0].rstrip(":")
        raise ExpressionError(f"{text!r} is not a valid JMESPath expression: {reason}") from None
