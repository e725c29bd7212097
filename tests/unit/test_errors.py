"""The error tree: drawn whole in `syncer.errors`, each class telling the caller what to do, and
no error raised as the bare root, which would tell it nothing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import syncer.http
from syncer import errors
from syncer.errors import (
    BadResponse,
    ConfigError,
    CredentialsRefused,
    StateLockedError,
    SyncerError,
    Unavailable,
    describe,
)

REPO = Path(__file__).resolve().parents[2]
# A line of the drawing: its indentation, then the class name.
_NODE = re.compile(r"^    ((?:│   |    )*)(?:[├└]── )?(\w+)")


def drawn() -> dict[str, str | None]:
    """Each class in the module docstring's drawing, with the class drawn as its parent."""
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        match = _NODE.match(line)
        cls = getattr(errors, match.group(2), None) if match else None
        if not (match and isinstance(cls, type) and issubclass(cls, Exception)):
            continue  # prose, or a description running on under its class
        depth = len(match.group(1)) // 4 + (1 if "── " in line else 0)
        path[depth:] = [cls.__name__]
        parents[cls.__name__] = path[depth - 1] if depth else None
    return parents


def exception_classes() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }


def test_every_error_class_is_drawn_once_under_its_own_base() -> None:
    tree = drawn()
    assert set(tree) == set(exception_classes())
    for name, parent in tree.items():
        base = exception_classes()[name].__bases__[0]
        assert parent == (None if base is Exception else base.__name__), name


def test_the_http_errors_are_the_trees_own_where_they_used_to_be_imported_from() -> None:
    assert syncer.http.Unavailable is Unavailable
    assert syncer.http.BadResponse is BadResponse
    assert syncer.http.CredentialsRefused is CredentialsRefused


def test_refused_credentials_are_fixed_in_the_config_and_exit_like_a_config_error() -> None:
    refused = CredentialsRefused("refused", url="https://issuer/token", status=401)
    assert isinstance(refused, ConfigError)
    assert (refused.exit_code, refused.url, refused.status) == (2, "https://issuer/token", 401)


@pytest.mark.parametrize("cls", [Unavailable, BadResponse])
def test_an_http_error_keeps_what_it_was_about_and_needs_no_more_than_its_message(
    cls: type[Unavailable | BadResponse],
) -> None:
    assert (cls("GET x: HTTP 500").url, cls("GET x: HTTP 500").status) == (None, None)
    error = cls("GET https://x/a: HTTP 503", url="https://x/a", status=503)
    assert (str(error), error.url, error.status) == (
        "GET https://x/a: HTTP 503",
        "https://x/a",
        503,
    )
    assert not isinstance(error, ConfigError)


def raises_the_root(node: ast.Raise) -> bool:
    if node.exc is None:
        return False
    raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    name = raised.id if isinstance(raised, ast.Name) else getattr(raised, "attr", None)
    return name == "SyncerError"


def test_no_code_raises_the_bare_root() -> None:
    bare = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for package in ("syncer", "connectors", "state")
        for path in sorted((REPO / package).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Raise) and raises_the_root(node)
    ]
    assert bare == []


def test_an_expected_error_is_described_by_its_message_and_anything_else_as_a_bug() -> None:
    assert (
        describe(StateLockedError("state.duckdb is locked; wait")) == "state.duckdb is locked; wait"
    )
    assert describe(Unavailable("GET x: cannot connect")) == "GET x: cannot connect"
    assert describe(KeyError("k")) == "KeyError: 'k'"
    assert issubclass(Unavailable, SyncerError)
