"""Secret references in the config: `${env:NAME}` and `${keyring:service/username}`.

References are resolved once, before any work; a resolved value is stripped of surrounding
whitespace (a file or an env file often ends it with a newline) and remembered, so that
`redact` can scrub it from log lines, error messages and anything else printed or stored.

A secret is not only masked as it is: also in the forms a server or a library may show it in
(`forms_of`): URL-encoded (`quote`, `quote_plus`), JSON-escaped, as Python's `repr` of the text
or of its bytes; and a username with a password (an `auth:` block, a URL's `user:password@`)
also as HTTP basic auth's base64 of `user:password` (`remember_basic`, `remember_credentials`).
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from syncer.errors import SecretError

_REFERENCE = re.compile(r"\$\{([a-z]+):([^}]*)\}")
_MASK = "***"
_known_values: set[str] = set()  # the secrets themselves
_forms: set[str] = set()  # every form of every secret that `redact` masks
_pattern: re.Pattern[str] | None = None  # the forms, longest first; None: nothing to mask
_lock = threading.Lock()

# Keys of a mapping that hold the two halves of a basic-auth pair.
_USER_KEYS = ("username", "user", "client_id")
_PASSWORD_KEYS = ("password", "client_secret")
# `scheme://user:password@` in a URL; the password runs up to the first `@`, as SQLAlchemy
# reads it.
_URL_CREDENTIALS = re.compile(r"[A-Za-z][\w+.\-]*://(?P<user>[^:/@\s]*):(?P<password>[^@\s]*)@")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


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
    """`text` with every form of every remembered secret replaced by a mask."""
    pattern = _pattern
    return text if pattern is None else pattern.sub(_MASK, text)


def holds_secret(text: str) -> bool:
    """Whether `text` shows a remembered secret in any of its forms."""
    pattern = _pattern
    return pattern is not None and pattern.search(text) is not None


def forget_all() -> None:
    """Forget every remembered secret (between independent runs in one process, e.g. tests)."""
    global _pattern
    with _lock:
        _known_values.clear()
        _forms.clear()
        _pattern = None


def remember(secret: str) -> None:
    """Treat `secret` as a secret from now on (for values obtained outside the config): it and
    its stripped value, in every form of `forms_of`."""
    _remember_all([secret, secret.strip()])


def remember_basic(username: str, password: str) -> None:
    """Treat `password`, and HTTP basic auth's base64 of `username:password`, as secrets."""
    tokens = [base64.b64encode(b).decode("ascii") for b in _encodings(f"{username}:{password}")]
    _remember_all([password, password.strip(), *tokens, *(t.rstrip("=") for t in tokens)])


def remember_credentials(config: Any) -> None:
    """Remember the basic-auth forms of every username and password pair in a resolved config
    whose password holds a secret: a mapping's `username`/`user`/`client_id` with its
    `password`/`client_secret`, and a URL's `user:password@` (also URL-decoded, as SQLAlchemy
    and HTTP clients decode it)."""
    if isinstance(config, dict):
        user = next((config[k] for k in _USER_KEYS if isinstance(config.get(k), str)), None)
        for key in _PASSWORD_KEYS:
            password = config.get(key)
            if isinstance(password, str) and isinstance(user, str) and holds_secret(password):
                remember_basic(user, password)
        for item in config.values():
            remember_credentials(item)
    elif isinstance(config, list | tuple):
        for item in config:
            remember_credentials(item)
    elif isinstance(config, str):
        for match in _URL_CREDENTIALS.finditer(config):
            user, password = match.group("user"), match.group("password")
            if password and holds_secret(password):
                remember_basic(user, password)
                remember_basic(unquote(user), unquote(password))


def forms_of(secret: str) -> set[str]:
    """The ways `secret` may be shown: as it is, URL-encoded (`quote` and `quote_plus`, with
    upper- or lower-case hex), JSON-escaped, and in Python's `repr` of the text and its bytes."""
    encoded = {
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        quote_plus(secret, safe="/"),
    }
    encoded |= {_PERCENT.sub(lambda m: m.group(0).lower(), e) for e in encoded}
    forms = {secret, *encoded}
    for escaped in (json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        forms |= {escaped, escaped.replace("/", "\\/")}
    return {form for form in forms | _python_escapes(secret) if form}


def _python_escapes(secret: str) -> set[str]:
    # A repr escapes ' only when the whole text also holds a ", so both ways are masked: each
    # repr below is of the secret followed by '" (forcing the escape), then cut back to it.
    shown = {repr(secret + "'\"")[1:-4], ascii(secret + "'\"")[1:-4]}
    shown |= {repr(encoded + b"'\"")[2:-4] for encoded in _encodings(secret)}
    return shown | {s.replace("\\'", "'") for s in shown}


def _encodings(text: str) -> list[bytes]:
    # requests encodes basic auth and headers as latin-1; most other clients as utf-8.
    encoded = []
    for charset in ("latin-1", "utf-8"):
        try:
            encoded.append(text.encode(charset))
        except UnicodeEncodeError:
            continue
    return encoded


def _remember_all(secrets: Iterable[str]) -> None:
    global _pattern
    with _lock:
        new = {s for s in secrets if s and s not in _known_values}
        if not new:
            return
        _known_values.update(new)
        for secret in new:
            _forms.update(forms_of(secret))
        ordered = sorted(_forms, key=lambda form: (-len(form), form))  # the longest first
        _pattern = re.compile("|".join(map(re.escape, ordered)))


def _lookup(reference: str, provider: str, name: str) -> str:
    if provider == "env":
        value = _from_env(reference, name)
    elif provider == "keyring":
        value = _from_keyring(reference, name)
    else:
        raise SecretError(reference, f"unknown provider {provider!r}; use env or keyring")
    # A secret kept in a file, or an env file, often ends with a newline that is not part of it.
    value = value.strip()
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
