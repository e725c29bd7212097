"""Removes or masks what must not be stored or sent: chosen fields, SQL literals and secrets.

Three passes, in this order, over the entity as it serializes (OpenMetadata's camelCase names):

1. `fields`: each path (`description`, `columns.*.description`, `tasks.*.taskSql`; `*` is every
   item of a list, `**` any depth) is removed (set to null, or the list item dropped) or masked.
2. `sql_literals` (off by default): in SQL text fields, every string and number literal becomes
   a placeholder and comments go, so `WHERE email = 'ann@example.com'` is kept as
   `WHERE email = ?`. Text that sqlglot cannot parse completely is masked whole.
3. `secrets` (on by default): in free-text fields (every description, source URL and SQL text),
   what looks like a credential is masked: AWS access key ids, private key blocks,
   `password=`/`pwd=`/`secret=`/`token=` assignments, bearer tokens, JWTs, passwords in URLs
   (`postgresql://app:***@db`) and high-entropy values of `api_key`-like names.

A path that an entity type does not have is skipped. Removing a field the entity cannot do
without (its `name`) makes that entity a record error, not the run's.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import sqlglot
from pydantic import Field, ValidationError, field_validator
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError

from syncer.models import Entity
from syncer.patterns import check_regex
from syncer.processors._common import REMOVE, parse_path, update
from syncer.schema import also_accepts
from syncer.steps import Processor, RecordError, StepConfig

MASK = "***"
SQL_FIELDS = ["schemaDefinition", "sqlQuery", "tasks.*.taskSql"]
SECRET_FIELDS = [
    "**.description",
    "**.sourceUrl",
    *SQL_FIELDS,
    "mlHyperParameters.*.value",
    "parameterValues.*.value",
]


# --- config ------------------------------------------------------------------------------------


def _check_path(path: str) -> str:
    parse_path(path)
    return path


def _on_off(value: Any) -> Any:
    """`true` stands for the block with its defaults, `false` for no block."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


class FieldRule(StepConfig):
    path: str
    """The field's path, e.g. columns.*.description."""
    action: Literal["remove", "mask"] = "mask"
    """Remove the field, or mask its value."""
    mask: str | None = None
    """What a masked value becomes; the processor's `mask` if unset."""

    _path = field_validator("path")(_check_path)


class SqlLiterals(StepConfig):
    fields: list[str] = Field(default_factory=lambda: list(SQL_FIELDS))
    """SQL text fields whose literals are replaced."""
    dialect: str | None = None
    """The sqlglot dialect the SQL is parsed as (postgres, mysql, tsql, …); unset: generic."""
    placeholder: str = Field(default="?", min_length=1)
    """What a literal becomes."""

    @field_validator("fields")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        return [_check_path(p) for p in paths]

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                Dialect.get_or_raise(name)
            except (ValueError, SqlglotError):
                raise ValueError(f"{name!r} is not a SQL dialect sqlglot knows") from None
        return name


class SecretPattern(StepConfig):
    name: str = Field(min_length=1)
    """The pattern's name, shown in what was masked."""
    pattern: str
    """A regex; with a group named `secret`, only that group is masked (`key=` stays readable)."""

    _pattern = field_validator("pattern")(check_regex)


class Secrets(StepConfig):
    fields: list[str] = Field(default_factory=lambda: list(SECRET_FIELDS))
    """Text fields scanned for secrets."""
    patterns: list[SecretPattern] = Field(default_factory=list)
    """Patterns ({name, pattern}) added to the built-in ones."""
    disable: list[str] = Field(default_factory=list)
    """Built-in patterns to leave out."""

    @field_validator("fields")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        return [_check_path(p) for p in paths]

    @field_validator("disable")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in BUILTIN_SECRETS]
        if unknown:
            raise ValueError(
                f"no built-in secret pattern {', '.join(map(repr, unknown))}; built-in are "
                + ", ".join(BUILTIN_SECRETS)
            )
        return names


class RedactConfig(StepConfig):
    fields: list[FieldRule] = Field(default_factory=list)
    """Fields to remove or mask."""
    sql_literals: SqlLiterals | None = Field(
        default=None, json_schema_extra=also_accepts({"type": "boolean"})
    )
    """Replace the literals in SQL text with a placeholder; `true` turns it on with the defaults."""
    secrets: Secrets | None = Field(
        default_factory=Secrets, json_schema_extra=also_accepts({"type": "boolean"})
    )
    """Mask secrets found in text fields; `false` turns it off."""
    mask: str = MASK
    """What masked text becomes."""

    _blocks = field_validator("sql_literals", "secrets", mode="before")(_on_off)


# --- secrets -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Secret:
    name: str
    regex: re.Pattern[str]
    check: Callable[[str], bool] | None = None  # a further test of what the regex found

    def mask(self, text: str, mask: str) -> str:
        return self.regex.sub(lambda m: self._masked(m, mask), text)

    def _masked(self, match: re.Match[str], mask: str) -> str:
        """The match with its `secret` group masked (the whole match if it has none)."""
        group = "secret" if match.groupdict().get("secret") is not None else 0
        if self.check is not None and not self.check(match.group(group)):
            return match.group(0)
        start, end = match.start(group) - match.start(), match.end(group) - match.start()
        whole = match.group(0)
        return whole[:start] + mask + whole[end:]


def high_entropy(value: str, min_bits: float = 3.5) -> bool:
    """Whether `value` looks random (Shannon entropy per character), as generated keys do."""
    counts = Counter(value)
    bits = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return bits >= min_bits


_VALUE = r"(?P<secret>\"[^\"]*\"|'[^']*'|[^\s,;&\"'<>]+)"
BUILTIN_SECRETS: dict[str, _Secret] = {
    s.name: s
    for s in (
        _Secret("aws_access_key_id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
        _Secret(
            "private_key",
            re.compile(
                r"-----BEGIN[A-Z ]* PRIVATE KEY-----(?:.*?-----END[A-Z ]* PRIVATE KEY-----|.*)",
                re.DOTALL,
            ),
        ),
        _Secret(
            "url_password",
            re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:(?P<secret>[^\s@/]+)@", re.IGNORECASE),
        ),
        _Secret(
            "assignment",
            re.compile(
                r"(?<![a-z0-9])(?:password|passwd|pwd|secret|token)[\"']?\s*[=:]\s*" + _VALUE,
                re.IGNORECASE,
            ),
        ),
        _Secret(
            "bearer_token",
            re.compile(r"\bbearer\s+(?P<secret>[a-z0-9\-._~+/]{8,}=*)", re.IGNORECASE),
        ),
        _Secret("jwt", re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]{4,}")),
        _Secret(
            "api_key",
            re.compile(
                r"(?<![a-z0-9])(?:x[-_])?(?:api|access|secret|private)[-_]?key[\"']?\s*[=:]\s*"
                r"[\"']?(?P<secret>[a-z0-9_\-+/=.]{16,})",
                re.IGNORECASE,
            ),
            high_entropy,
        ),
    )
}


# --- SQL literals --------------------------------------------------------------------------------

# Values written in a statement. Bound parameters ($1, :name) hold none and stay.
SQL_LITERALS = (
    exp.Literal,
    exp.National,
    exp.HexString,
    exp.BitString,
    exp.ByteString,
    exp.RawString,
    exp.UnicodeString,
)
_PARSE_ERRORS = (SqlglotError, ValueError, KeyError, AttributeError, RecursionError)


def redact_literals(sql: str, dialect: str | None = None, placeholder: str = "?") -> str | None:
    """The SQL with every string and number literal as `placeholder` and without comments;
    None if sqlglot cannot parse all of it (a statement it only keeps as raw text included).

    Type parameters (`VARCHAR(20)`) are not values and stay.
    """

    def mark(node: exp.Expr) -> exp.Expr:
        if isinstance(node, SQL_LITERALS) and node.find_ancestor(exp.DataType) is None:
            return exp.Var(this=placeholder)
        return node

    try:
        with _quiet_sqlglot():
            statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
            if any(isinstance(n, exp.Command) for s in statements for n in s.walk()):
                return None
            return "; ".join(
                s.transform(mark).sql(dialect=dialect, comments=False) for s in statements
            )
    except _PARSE_ERRORS:
        return None


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot warns about statements it cannot parse by quoting them: never let SQL that is
    being redacted reach a log."""
    logger = logging.getLogger("sqlglot")
    quiet = _DropAll()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


# --- the processor -------------------------------------------------------------------------------


def _masker(mask: str) -> Callable[[Any], Any]:
    def change(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [change(v) if isinstance(v, str) else v for v in value]
        return mask

    return change


class RedactProcessor(Processor):
    config_model = RedactConfig
    config: RedactConfig

    def __init__(self, config: RedactConfig) -> None:
        super().__init__(config)
        self._fields = [
            (
                parse_path(rule.path),
                (lambda _: REMOVE)
                if rule.action == "remove"
                else _masker(rule.mask if rule.mask is not None else config.mask),
            )
            for rule in config.fields
        ]
        sql = config.sql_literals
        self._sql_paths = [parse_path(p) for p in sql.fields] if sql else []
        self._sql = sql or SqlLiterals()
        secrets = config.secrets
        self._secret_paths = [parse_path(p) for p in secrets.fields] if secrets else []
        self._secrets = (
            [s for name, s in BUILTIN_SECRETS.items() if name not in secrets.disable]
            + [_Secret(p.name, re.compile(p.pattern)) for p in secrets.patterns]
            if secrets
            else []
        )

    def process(self, entity: Entity) -> Entity | RecordError:
        data = entity.model_dump(mode="json")
        changed = False
        for path, change in self._fields:
            changed |= update(data, path, change)
        for path in self._sql_paths:
            changed |= update(data, path, self._literals)
        for path in self._secret_paths:
            changed |= update(data, path, self._masked_secrets)
        if not changed:
            return entity
        try:
            return type(entity).model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            )
            return RecordError(
                entity.fqn,
                f"redact left the {entity.entity_type} invalid ({problems}): mask a text field"
                " instead, or do not remove a field the entity needs",
            )

    def _literals(self, value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            return value
        redacted = redact_literals(value, self._sql.dialect, self._sql.placeholder)
        return self.config.mask if redacted is None else redacted

    def _masked_secrets(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        for secret in self._secrets:
            value = secret.mask(value, self.config.mask)
        return value
