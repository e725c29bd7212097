"""Secret references in the config: `${env:NAME}` and `${keyring:service/username}`.

References are resolved once, before any work; every resolved value is remembered so that
`redact` can scrub it from log lines, error messages and anything else printed or stored.
"""

from __future__ import annotations

import os
import re
from typing import Any

from syncer.errors import SecretError

_REFERENCE = re.compile(r"\$\{([a-z]+):([^}]*)\}")
_MASK = "***"
_known_values: set[str] = set()


def resolve(value: Any) -> Any:
    """A copy of `value` (nested dicts/lists/strings) with every secret reference resolved."""
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: _lookup(m.group(0), m.group(1), m.group(2)), value)
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


def is_reference(value: str) -> bool:
    """Whether `value` is exactly one secret reference."""
    return _REFERENCE.fullmatch(value) is not None


def redact(text: str) -> str:
    """`text` with every resolved secret value replaced by a mask."""
    for secret in sorted(_known_values, key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return text


def forget_all() -> None:
    """Forget every remembered secret (between independent runs in one process, e.g. tests)."""
    _known_values.clear()


def remember(secret: str) -> None:
    """Treat `secret` as a secret from now on (for values obtained outside the config)."""
    if secret:
        _known_values.add(secret)


def _lookup(reference: str, provider: str, name: str) -> str:
    if provider == "env":
        value = _from_env(reference, name)
    elif provider == "keyring":
        value = _from_keyring(reference, name)
    else:
        raise SecretError(reference, f"unknown provider {provider!r}; use env or keyring")
    remember(value)
    return value


def _from_env(reference: str, name: str) -> str:
    if not name:
        raise SecretError(reference, "names no variable; write ${env:NAME}")
    value = os.environ.get(name)
    if value is None:
        raise SecretError(reference, f"environment variable {name} is not set; export it")
    return value


def _from_keyring(reference: str, name: str) -> str:
    service, sep, username = name.partition("/")
    if not sep or not service or not username:
        raise SecretError(reference, "must be ${keyring:service/username}")
    import keyring  # imported late: its backend discovery is slow and rarely needed
    from keyring.errors import KeyringError

    try:
        value = keyring.get_password(service, username)
    except KeyringError as exc:
        raise SecretError(reference, f"keyring failed ({type(exc).__name__})") from None
    if value is None:
        raise SecretError(
            reference,
            f"no password in the keyring for service {service!r}, user {username!r}; "
            f"add it with `keyring set {service} {username}`",
        )
    return value
