"""What the commands that listen on a port share (`syncer ui`, `syncer serve`): the token that
requests must carry, and a port checked free before anything starts."""

from __future__ import annotations

import socket

from syncer import secrets
from syncer.errors import ConfigError

# Shorter tokens can be guessed by trying: `secrets.token_urlsafe()` gives 43 characters.
MIN_TOKEN_LENGTH = 16


def token_from(reference: str, example: str) -> str:
    """The token a secret reference names (`${env:NAME}`), remembered for masking; never a token
    written on the command line, where other users of the machine can read it."""
    if not secrets.is_reference(reference):
        raise ConfigError(
            f"--token takes a secret reference such as '${{env:{example}}}', not the token "
            "itself (a command line is visible to other users): export it and name it"
        )
    value = str(secrets.resolve(reference))
    secrets.remember(value)
    if len(value) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"token {reference} is shorter than {MIN_TOKEN_LENGTH} characters: use a longer "
            "random token (python -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    return value


def check_free(host: str, port: int) -> None:
    """Refuse a port that is taken, in one line, before the app is built (uvicorn would log a
    traceback-like error and exit 1)."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ConfigError(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror}): pick another "
            "--port, or stop what listens on it"
        ) from None


def url_host(host: str) -> str:
    """A host as it is written in a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host
