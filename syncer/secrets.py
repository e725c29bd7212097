"""Secret references in the config: `${env:NAME}` and `${keyring:service/username}`.

References are resolved once, before any work; a resolved value is stripped of surrounding
whitespace (a file or an env file often ends it with a newline). Values that are secrets are
remembered, so that `redact` can scrub them from log lines, error messages and anything else
printed or stored; the others (a host, a URL without a password, a database name) are
configuration and are shown as they are. A secret is:

- the value of every `${keyring:}` reference;
- an `${env:}` value in a secret-bearing field: one its config model declares secret
  (`SecretStr`, or `json_schema_extra={"secret": True}`; `{"secret": False}` says it is not),
  else one whose key names a credential (`is_secret_name`: password, token, api_key,
  private_key, secret, client_secret, credentials, an `Authorization` header...), or in a
  value that reads as an auth header's (`Bearer ${env:TOKEN}`);
- the password of a URL (`postgresql://u:PASS@h/db`: PASS only) in a value that holds a
  reference.

A secret is not only masked as it is: also in the forms a server or a library may show it in
(`forms_of`): URL-encoded (`quote`, `quote_plus`), JSON-escaped, as Python's `repr` of the text
or of its bytes; and a username with a password (an `auth:` block, a URL's `user:password@`)
also as HTTP basic auth's base64 of `user:password` (`remember_basic`, `remember_credentials`).
A secret of at most three characters is masked only where it stands as a whole value (the
whole text, quoted, after `=` or `:`, after `Bearer `), so that a one-letter key does not
mangle every word that holds its letter.

A `${NAME}` (shell or DataHub style) is refused (`refuse_foreign_references`) rather than
taken literally.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import quote, quote_plus, unquote

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo

from syncer.errors import ConfigError, SecretError

__all__ = [
    "SHORT_SECRET",
    "DeclaredSecret",
    "Where",
    "declared_secret",
    "forget_all",
    "forms_of",
    "holds_secret",
    "is_reference",
    "is_secret_name",
    "redact",
    "refuse_foreign_references",
    "remember",
    "remember_basic",
    "remember_credentials",
    "resolve",
]

# The path of a value in a config: keys of mappings and indices of lists.
Where = tuple[str | int, ...]
# Whether the field at a path is a secret, as a config model declares it: None when it does
# not say (then the key's name decides).
DeclaredSecret = Callable[[Where], bool | None]

_REFERENCE = re.compile(r"\$\{([a-z]+):([^}]*)\}")
_ANY_BRACES = re.compile(r"\$\{([^}]*)\}")  # `${...}`: a reference, or a shell/DataHub one
_NAME_IN_BRACES = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MASK = "***"
# A secret this short is masked only where it stands as a whole value (see `_short_pattern`).
SHORT_SECRET = 3
_known_values: set[str] = set()  # the secrets themselves
_forms: set[str] = set()  # every form of every secret that `redact` masks wherever it is
_short_forms: set[str] = set()  # every form of a short secret: masked as a whole value only
_pattern: re.Pattern[str] | None = None  # the forms, longest first; None: nothing to mask
_lock = threading.Lock()

# Keys of a mapping that hold the two halves of a basic-auth pair.
_USER_KEYS = ("username", "user", "client_id")
_PASSWORD_KEYS = ("password", "client_secret")
# `scheme://user:password@` in a URL; the password runs up to the first `@`, as SQLAlchemy
# reads it.
_URL_CREDENTIALS = re.compile(r"[A-Za-z][\w+.\-]*://(?P<user>[^:/@\s]*):(?P<password>[^@\s]*)@")
_PERCENT = re.compile(r"%[0-9A-F]{2}")

# Keys whose values are credentials: a config must name where they come from (a reference),
# never hold the value; `syncer run` refuses one written out, and the JSON Schema says so.
CREDENTIAL_KEYS = frozenset({"token", "password", "secret", "client_secret", "api_key"})

# A key that names a credential, in snake case: its last word says password, token, secret,
# key, credentials, or it is an auth header (Authorization, Cookie).
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:password|passwd|passphrase|secret|token|credentials?|key|apikey"
    r"|authorization|cookie)s?$"
)
# Keys that end like a credential but name configuration.
_NOT_SECRET_NAMES = frozenset(
    {
        "primary_key",
        "primary_keys",
        "foreign_key",
        "foreign_keys",
        "sort_key",
        "partition_key",
        "replication_key",
        "cursor_key",
        "parent_key",
        "next_token",
        "page_token",
        "next_page_token",
    }
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# A value that is an auth header's, whatever its key: `Bearer ${env:T}`, `Authorization: ...`.
_AUTH_VALUE = re.compile(r"(?i)\s*(?:[\w-]*authorization\s*:\s*)?(?:bearer|basic|token)\s")


def resolve(value: Any, declared: DeclaredSecret | None = None) -> Any:
    """A copy of `value` (nested dicts/lists/strings) with every secret reference resolved.

    The values that are secrets are remembered (see the module's docstring): `declared` says
    what a config model declares of the field at a path; where it says nothing, the key's name
    decides."""
    return _resolve(value, (), declared or _declares_nothing)


def is_reference(value: str) -> bool:
    """Whether `value` is exactly one secret reference."""
    return _REFERENCE.fullmatch(value) is not None


def is_secret_name(key: str) -> bool:
    """Whether a config key (`api_key`, `clientSecret`, `X-Api-Key`, `Authorization`) names a
    credential, by its last word."""
    name = _CAMEL.sub("_", key).lower().replace("-", "_").replace(" ", "_")
    return name not in _NOT_SECRET_NAMES and _SECRET_NAME.search(name) is not None


def declared_secret(model: type[BaseModel], where: Where) -> bool | None:
    """What `model` declares of the field at `where` (keys and list indices, into nested
    models, unions, lists and dicts): True for a `SecretStr`/`SecretBytes` field or one marked
    `json_schema_extra={"secret": True}` (the mark covers what is inside the field), False for
    one marked `{"secret": False}`, None when it declares neither or has no such field."""
    annotations: list[Any] = [model]
    said: bool | None = None
    for step in where:
        inner: list[Any] = []
        for member in (m for a in annotations for m in _members(a)):
            if isinstance(step, int) and get_origin(member) in (list, tuple, set, frozenset):
                inner.extend(get_args(member)[:1])
            elif isinstance(step, str) and get_origin(member) is dict:
                inner.extend(get_args(member)[1:2])
            elif (
                isinstance(step, str) and isinstance(member, type) and issubclass(member, BaseModel)
            ):
                field = _field(member, step)
                if field is not None:
                    inner.append(field.annotation)
                    marked = _marked_secret(field)
                    said = marked if marked is not None and said is not True else said
        annotations = inner
        if not annotations:
            return said
    if any(m in (SecretStr, SecretBytes) for a in annotations for m in _members(a)):
        return True
    return said


def refuse_foreign_references(value: Any, path: Path, where: Where = ()) -> None:
    """Raise a `ConfigError` for the first `${NAME}` (shell or DataHub style, `${NAME:-x}`
    too) in a string of `value`: syncer would take it literally, never reading the variable."""
    if isinstance(value, str):
        for match in _ANY_BRACES.finditer(value):
            if not _REFERENCE.fullmatch(match.group(0)):
                name = _NAME_IN_BRACES.match(match.group(1))
                at = ".".join(map(str, where)) or "config"
                raise ConfigError(
                    f"{path}: {at}: `{match.group(0)}` is not a reference syncer reads: write "
                    f"${{env:{name.group(0) if name else 'NAME'}}}"
                )
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_foreign_references(item, path, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            refuse_foreign_references(item, path, (*where, i))


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
        _short_forms.clear()
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


# --- resolving ----------------------------------------------------------------------------------


def _declares_nothing(_: Where) -> bool | None:
    return None


def _resolve(value: Any, where: Where, declared: DeclaredSecret) -> Any:
    if isinstance(value, str):
        return _resolve_text(value, where, declared)
    if isinstance(value, dict):
        return {k: _resolve(v, (*where, k), declared) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, (*where, i), declared) for i, v in enumerate(value)]
    return value


def _resolve_text(text: str, where: Where, declared: DeclaredSecret) -> str:
    if _REFERENCE.search(text) is None:
        return text
    said = declared(where)
    key = next((k for k in reversed(where) if isinstance(k, str)), "")
    secret = said if said is not None else is_secret_name(key) or bool(_AUTH_VALUE.match(text))

    def value_of(match: re.Match[str]) -> str:
        value = _lookup(match.group(0), match.group(1), match.group(2))
        if secret or match.group(1) == "keyring":
            remember(value)
        return value

    resolved = _REFERENCE.sub(value_of, text)
    for match in _URL_CREDENTIALS.finditer(resolved):  # a URL's password, wherever it is
        password = match.group("password")
        if password:
            _remember_all([password, unquote(password)])
    return resolved


def _members(annotation: Any) -> list[Any]:
    """The types an annotation allows: `A | None` and `Annotated[A | B, ...]` are A (and B)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for a in get_args(annotation) for m in _members(a)]
    return [annotation]


def _field(model: type[BaseModel], key: str) -> FieldInfo | None:
    fields = model.model_fields
    if key in fields:
        return fields[key]
    return next((f for f in fields.values() if key in (f.alias, f.validation_alias)), None)


def _marked_secret(field: FieldInfo) -> bool | None:
    extra = field.json_schema_extra
    marked = extra.get("secret") if isinstance(extra, dict) else None
    return marked if isinstance(marked, bool) else None


# --- masking ------------------------------------------------------------------------------------


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
            (_short_forms if len(secret) <= SHORT_SECRET else _forms).update(forms_of(secret))
        _pattern = re.compile("|".join(_alternatives()))


def _alternatives() -> Iterator[str]:
    if _forms:
        yield _one_of(_forms)
    if _short_forms:
        # A short secret stands as a whole value: the whole text; quoted; after `=` or `:`
        # (a query parameter, `user:PASS@`) up to a separator; after `Bearer `.
        short = _one_of(_short_forms)
        yield rf"\A(?:{short})\Z"
        yield rf"(?<=['\"])(?:{short})(?=['\"])"
        yield rf"(?:(?<=[=:])|(?<=Bearer ))(?:{short})(?=\Z|[\s&@;,'\")\]}}])"


def _one_of(forms: set[str]) -> str:
    ordered = sorted(forms, key=lambda form: (-len(form), form))  # the longest first
    return "|".join(map(re.escape, ordered))


def _lookup(reference: str, provider: str, name: str) -> str:
    if provider == "env":
        value = _from_env(reference, name)
    elif provider == "keyring":
        value = _from_keyring(reference, name)
    else:
        raise SecretError(reference, f"unknown provider {provider!r}; use env or keyring")
    # A secret kept in a file, or an env file, often ends with a newline that is not part of it.
    return value.strip()


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
