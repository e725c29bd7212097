"""Errors, grouped by what the caller should do about them.

    SyncerError                 raised on purpose; `str()` is one line that ends with the fix
    ├── ConfigError             fix the config or command line, then run again (exit 2)
    │   ├── SecretError         a secret reference cannot be resolved
    │   └── CredentialsRefused  a server refused the configured credentials (url, status)
    ├── Unavailable             retry later: a server could not be reached, or kept failing,
    │                           after every retry (url, status); a sink's backlog waits
    ├── BadResponse             skip what was asked for: a server answered, but not with what
    │                           was asked (an error status, an HTML page, broken JSON)
    ├── SourceError             stop reading the source (or a stream): it cannot be read at all
    ├── SinkError               stop delivering to this sink; its backlog waits for the next run
    └── PolicyError             fail the run: entities broke rules whose action is `fail` (they
                                were kept out; the rest was committed)

    StateError                  stop: the state file cannot be used as it is (exit 2); from
    └── StateLockedError        `state`, which imports nothing of ours: another process holds it

Connectors refine `SourceError` for their own failures (`AirflowApiError`, the rest source's
`PageError`, dbt's `ArtifactError`); callers catch the classes drawn here. `SyncerError` itself is
only ever caught, never raised: its subclass is what tells the caller what to do.

`Expected` is both roots: an error of either kind is shown as its one-line message, anything
else as a bug. Record-level problems are not exceptions: sources and processors return a
`RecordError` so that one bad record never stops a run; a source turns a `BadResponse` (or an
`Unavailable`) met while reading one record into that record's error.
"""

from __future__ import annotations

from syncer.state.errors import StateError, StateLockedError

__all__ = [
    "BadResponse",
    "ConfigError",
    "CredentialsRefused",
    "Expected",
    "PolicyError",
    "SecretError",
    "SinkError",
    "SourceError",
    "StateError",
    "StateLockedError",
    "SyncerError",
    "Unavailable",
    "describe",
]


class SyncerError(Exception):
    """Base of every error syncer raises on purpose; `str()` is one line that says what to do.

    Raise one of its subclasses, never this class itself: the subclass tells the caller what
    to do about the error."""

    exit_code = 1


class ConfigError(SyncerError):
    """The config or command line is wrong; nothing will work until the user changes it."""

    exit_code = 2


class SecretError(ConfigError):
    def __init__(self, reference: str, reason: str) -> None:
        self.reference = reference
        super().__init__(f"secret {reference}: {reason}")


class CredentialsRefused(ConfigError):
    """A server (an API or a token issuer) refused the credentials the config gives it: trying
    again with the same ones cannot help."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url  # without its query, which may hold a key
        self.status = status


class Unavailable(SyncerError):
    """A server could not be reached, or kept failing (timeouts, 429, 5xx), after every retry.

    Nothing is wrong with what was asked: the same request may well succeed on the next run."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url  # without its query, which may hold a key
        self.status = status  # the last retryable HTTP status; None when nothing answered


class BadResponse(SyncerError):
    """A server answered, but not with what was asked for: an error status, a redirect, an HTML
    page, broken JSON, or JSON of another shape. Asking again will not help; the caller skips
    what it asked for (a record, a page) and goes on."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url  # without its query, which may hold a key
        self.status = status


class SourceError(SyncerError):
    """The source cannot be read at all (or one of its streams): the run records the failure."""


class PolicyError(SyncerError):
    """Entities broke policy rules whose action is `fail`: they were kept out, and the run fails
    so that someone looks at them."""


class SinkError(SyncerError):
    """A sink cannot take deliveries now; its backlog waits in the change log for the next run."""


# Errors raised on purpose, whose message is meant for the user as it is.
Expected = (SyncerError, StateError)


def describe(exc: BaseException) -> str:
    """One line for the user: an expected error's own message, else its type and message."""
    return str(exc) if isinstance(exc, Expected) else f"{type(exc).__name__}: {exc}"
