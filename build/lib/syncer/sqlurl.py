"""SQLAlchemy URLs in step configs: checked at load time, never repeated in an error."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def check_sqlalchemy_url(value: str) -> str:
    """`value` if SQLAlchemy can parse it; a pydantic-friendly ValueError otherwise."""
    try:
        make_url(value)
    except ArgumentError:
        # The value is not repeated: it may hold a password.
        raise ValueError(
            "not a SQLAlchemy URL; expected e.g. sqlite:///path/to/file.sqlite"
        ) from None
    return value
