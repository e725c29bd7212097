"""Tags table columns that hold personal data as `PII.Sensitive` or `PII.NonSensitive`.

Columns are classified by their names, types and descriptions; row data is read only when the
config asks for a `sample`, and sampled values never leave the function that reads them (they
are not stored, logged or put on the entity).

Names are compared token by token: `customerEmail`, `customer_email`, `Customer-E-Mail` and
`CUSTOMER EMAIL` all contain the keyword `email`, while `description` and `shipping_id` do not
contain `ip`. A keyword also matches the same letters split differently (`e_mail` matches
`email`, `firstname` matches `first_name`), and accents and case are ignored (`Téléphone`).

Which tag a category gets follows OpenMetadata's own classifier: e-mail addresses, person
names, national ids, card and bank account numbers, IP addresses and passwords are
`PII.Sensitive`; phone numbers, postal addresses, birth dates and gender are
`PII.NonSensitive` (OpenMetadata counts phone, location and date among its non-sensitive
entities). A bare `name` column (`name`, `nombre`, `nom`, `naam`) is left alone, as
OpenMetadata's name scanner does: it is as often a product's name as a person's. Person names
need a qualifier (`first_name`, `vorname`, `apellido`, `customer_name`). Any of this can be
changed with `default_tags`, `disable` and `rules`.

Rules are tried in order, the user's before the built-in ones; the first that matches a column
decides its tag. A column that already carries a tag of the same classification (`PII.*`, set
by a person or an earlier run) keeps it and gets no other.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
import structlog
from pydantic import Field, field_validator, model_validator
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from syncer import fqn as _fqn
from syncer.errors import ConfigError
from syncer.models import Column, DataType, Entity, Table, TableType, TagLabel
from syncer.paths import database_url_beside_config
from syncer.patterns import check_regex
from syncer.processors._common import rebuild
from syncer.processors.pii_builtin import BUILTIN, NOT, SENSITIVE, ValueCheck
from syncer.processors.pii_values import VALUE_CHECKS, passes
from syncer.sqlurl import check_sqlalchemy_url
from syncer.steps import Processor, StepConfig

log = structlog.get_logger("syncer.processors.pii")

_VIEWS = frozenset({TableType.VIEW, TableType.SECURE_VIEW})
# A keyword may match up to this many adjacent name tokens joined (`e_mail_adresse`).
_MAX_SPAN = 6


# --- config ------------------------------------------------------------------------------------


class PiiRule(StepConfig):
    """One category of personal data and how to recognise a column that holds it.

    A column matches when its type is one of `data_types` (if given) and its name contains one
    of `names` (keywords, compared token by token), or its name matches `name_pattern`, or its
    description contains one of `descriptions` (phrases, compared the same way). With sampling,
    a column no rule matched by its metadata matches when enough of its sampled values pass
    `values` (a built-in check) or `value_pattern` (a regex the whole value must match). A rule
    with only `data_types` matches every column of those types.
    """

    name: str = Field(min_length=1)
    """The rule's name (a built-in rule's name replaces it)."""
    tag: str = SENSITIVE
    """The tag a matching column gets."""
    names: list[str] = Field(default_factory=list)
    """Keywords a column name contains, compared token by token."""
    not_names: list[str] = Field(default_factory=list)
    """A column so named never matches."""
    name_pattern: str | None = None
    """Searched in the column name, ignoring case."""
    descriptions: list[str] = Field(default_factory=list)
    """Phrases a column description contains."""
    data_types: list[DataType] | None = None
    """Only columns of these types."""
    values: ValueCheck | None = None
    """A built-in check of sampled values."""
    value_pattern: str | None = None
    """Must match the whole value (stripped), ignoring case."""

    @field_validator("name_pattern", "value_pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        return None if pattern is None else check_regex(pattern)

    @field_validator("tag")
    @classmethod
    def _is_a_tag(cls, tag: str) -> str:
        return _check_tag(tag)

    @field_validator("names", "not_names", "descriptions")
    @classmethod
    def _has_words(cls, keywords: list[str]) -> list[str]:
        for keyword in keywords:
            if not tokens(keyword):
                raise ValueError(f"{keyword!r} has no letters or digits to match")
        return keywords

    @model_validator(mode="after")
    def _recognises_something(self) -> PiiRule:
        if not (
            self.names
            or self.name_pattern
            or self.descriptions
            or self.data_types
            or self.values
            or self.value_pattern
        ):
            raise ValueError(
                f"rule {self.name!r} matches nothing: give names, name_pattern, descriptions,"
                " data_types, values or value_pattern"
            )
        return self


class SampleConfig(StepConfig):
    """Read up to `rows` values of each column no rule could classify by its metadata."""

    url: str
    """SQLAlchemy URL of the database the tables live in; ${env:...} refs allowed."""
    rows: int = Field(default=100, ge=1, le=100_000)
    """Values read per column."""
    min_share: float = Field(default=0.8, gt=0, le=1)
    """Share of the non-null sampled values that must pass a rule's check."""
    views: bool = False
    """Sample views too: reading one runs its query, which may be costly (its tables are sampled
    anyway)."""

    _url_parses = field_validator("url")(check_sqlalchemy_url)
    _url_file = field_validator("url")(database_url_beside_config)  # relative to the config


class PiiConfig(StepConfig):
    fqn: str | None = None
    """Only tables whose FQN this regex finds (searched)."""
    rules: list[PiiRule] = Field(default_factory=list)
    """Your rules, tried before the built-in ones."""
    default_rules: bool = True
    """False leaves only `rules`."""
    disable: list[str] = Field(default_factory=list)
    """Built-in rules to leave out."""
    default_tags: dict[str, str] = Field(default_factory=dict)
    """The tag a built-in rule applies, by the rule's name."""
    state: Literal["Suggested", "Confirmed"] = "Suggested"
    """The labels' state: Suggested, as OpenMetadata's auto-classification sets it, or Confirmed, as
    a steward does."""
    sample: SampleConfig | None = None
    """Read sample values of the columns no rule classified by their metadata; unset: no row data is
    read."""

    @field_validator("fqn")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        return None if pattern is None else check_regex(pattern)

    @field_validator("disable")
    @classmethod
    def _known_rules(cls, names: list[str]) -> list[str]:
        _check_builtin(names)
        return names

    @field_validator("default_tags")
    @classmethod
    def _known_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        _check_builtin(list(tags))
        for tag in tags.values():
            _check_tag(tag)
        return tags


def _check_tag(tag: str) -> str:
    try:
        parts = _fqn.split(tag)
    except _fqn.FQNError as exc:
        raise ValueError(f"tag {tag!r}: {exc}") from None
    if len(parts) < 2:
        raise ValueError(f"tag {tag!r} must be Classification.Tag, e.g. {SENSITIVE}")
    return tag


def _check_builtin(names: list[str]) -> None:
    unknown = [n for n in names if n not in DEFAULT_RULES]
    if unknown:
        raise ValueError(
            f"no built-in rule {', '.join(map(repr, unknown))}; built-in are "
            + ", ".join(DEFAULT_RULES)
        )


# --- words ---------------------------------------------------------------------------------------


def tokens(text: str) -> tuple[str, ...]:
    """The words of a name: split at separators, camelCase humps and digit runs; lower case,
    without accents (`e-MailAdresse2` -> `e`, `mail`, `adresse`, `2`)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words: list[str] = []
    for chunk in re.split(r"[\W_]+", plain):
        words.extend(_humps(chunk))
    return tuple(w.casefold() for w in words if w)


def _humps(chunk: str) -> list[str]:
    words: list[str] = []
    start = 0
    for i in range(1, len(chunk)):
        prev, cur, nxt = chunk[i - 1], chunk[i], chunk[i + 1 : i + 2]
        if (
            (cur.isupper() and (prev.islower() or prev.isdigit()))
            or (cur.isupper() and prev.isupper() and nxt.islower())
            or (cur.isdigit() != prev.isdigit())
        ):
            words.append(chunk[start:i])
            start = i
    words.append(chunk[start:])
    return words


def spans(words: Sequence[str]) -> frozenset[str]:
    """Every run of up to `_MAX_SPAN` adjacent words, joined: what a keyword is compared to."""
    return frozenset(
        "".join(words[i:j])
        for i in range(len(words))
        for j in range(i + 1, min(i + _MAX_SPAN, len(words)) + 1)
    )


def _keys(keywords: list[str]) -> frozenset[str]:
    return frozenset("".join(tokens(k)) for k in keywords)


# --- built-in rules ---------------------------------------------------------------------------

DEFAULT_RULES: dict[str, PiiRule] = {
    name: PiiRule(
        name=name,
        tag=tag,
        data_types=types,
        names=names.split(),
        not_names=NOT.get(name, "").split(),
        descriptions=[p for p in phrases.split("|") if p],
        values=check,
    )
    for name, tag, types, names, phrases, check in BUILTIN
}


# --- rules made ready to match ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    """A rule made ready to match: keywords joined, patterns compiled."""

    name: str
    tag: str
    keywords: frozenset[str]
    vetoes: frozenset[str]
    phrases: frozenset[str]
    name_pattern: re.Pattern[str] | None
    data_types: frozenset[str] | None
    check: Callable[[str], bool] | None

    @classmethod
    def of(cls, rule: PiiRule, tag: str) -> _Rule:
        check: Callable[[str], bool] | None = None
        if rule.values is not None:
            check = VALUE_CHECKS[rule.values]
        elif rule.value_pattern is not None:
            check = _whole_match(re.compile(rule.value_pattern, re.IGNORECASE))
        return cls(
            name=rule.name,
            tag=tag,
            keywords=_keys(rule.names),
            vetoes=_keys(rule.not_names),
            phrases=_keys(rule.descriptions),
            name_pattern=re.compile(rule.name_pattern, re.IGNORECASE)
            if rule.name_pattern
            else None,
            data_types=frozenset(t.value for t in rule.data_types) if rule.data_types else None,
            check=check,
        )

    @property
    def by_metadata(self) -> bool:
        return bool(self.keywords or self.phrases or self.name_pattern)

    def fits_type(self, column: Column) -> bool:
        return self.data_types is None or column.data_type in self.data_types

    def matches(self, column: Column, words: frozenset[str]) -> bool:
        """Whether the column's metadata (name, type, description) says it is this category;
        `words` are the `spans` of its name."""
        if not self.fits_type(column) or self.vetoes & words:
            return False
        if not self.by_metadata:
            return self.check is None  # a type-only rule
        if self.keywords & words:
            return True
        if self.name_pattern is not None and self.name_pattern.search(column.name):
            return True
        return bool(
            self.phrases and column.description and self.phrases & spans(tokens(column.description))
        )


def _whole_match(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: pattern.fullmatch(value) is not None


# --- the processor -------------------------------------------------------------------------------


class PiiProcessor(Processor):
    config_model = PiiConfig
    config: PiiConfig

    def __init__(self, config: PiiConfig) -> None:
        super().__init__(config)
        self._fqn = re.compile(config.fqn) if config.fqn is not None else None
        rules = [_Rule.of(r, r.tag) for r in config.rules]
        if config.default_rules:
            rules += [
                _Rule.of(r, config.default_tags.get(name, r.tag))
                for name, r in DEFAULT_RULES.items()
                if name not in config.disable
            ]
        self._rules = rules
        self._value_rules = [(r, r.check) for r in rules if r.check is not None]
        self._classifications = frozenset(_classification(r.tag) for r in rules)
        self._engine = _sampling_engine(config.sample.url) if config.sample else None
        self._where = (
            make_url(config.sample.url).render_as_string(hide_password=True)
            if config.sample
            else ""
        )

    @property
    def record_only(self) -> bool:
        """Sampled values can change while the catalog does not: with sampling, every table is
        mapped and classified again on each run."""
        return self._engine is None

    def process(self, entity: Entity) -> Entity:
        if not isinstance(entity, Table) or not entity.columns:
            return entity
        if self._fqn is not None and not self._fqn.search(entity.fqn):
            return entity
        columns = [self._by_metadata(c) for c in entity.columns]
        sample = self.config.sample
        if self._engine and sample and (sample.views or entity.table_type not in _VIEWS):
            columns = self._by_values(entity, columns, self._engine, sample)
        if all(new is old for new, old in zip(columns, entity.columns, strict=True)):
            return entity
        return rebuild(entity, columns=columns)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def _by_metadata(self, column: Column) -> Column:
        children = column.children
        if children:
            new_children = [self._by_metadata(c) for c in children]
            if any(new is not old for new, old in zip(new_children, children, strict=True)):
                column = column.model_copy(update={"children": new_children})
        words = spans(tokens(column.name))
        rule = next((r for r in self._rules if r.matches(column, words)), None)
        return column if rule is None else self._tagged(column, rule.tag)

    def _tagged(self, column: Column, tag: str) -> Column:
        if _classification(tag) in {_classification(t.tag_fqn) for t in column.tags}:
            return column  # someone (or an earlier run) classified it already
        label = TagLabel(
            tag_fqn=tag, source="Classification", label_type="Automated", state=self.config.state
        )
        return column.model_copy(update={"tags": [*column.tags, label]})

    def _unclassified(self, column: Column) -> bool:
        return not any(_classification(t.tag_fqn) in self._classifications for t in column.tags)

    def _by_values(
        self, table: Table, columns: list[Column], engine: sa.Engine, sample: SampleConfig
    ) -> list[Column]:
        """Columns that no rule matched by metadata, classified by a sample of their values.

        The values stay in this function's locals: nothing about them but the verdict leaves.
        """
        candidates = [
            i
            for i, c in enumerate(columns)
            if self._unclassified(c) and any(r.fits_type(c) for r, _ in self._value_rules)
        ]
        if not candidates:
            return columns
        try:
            rows = _read_sample(engine, table, [columns[i].name for i in candidates], sample.rows)
        except Exception as err:
            # Never the error's text: a driver may quote the data it choked on.
            log.warning(
                "table not sampled; its columns are classified by their names only",
                table=table.fqn,
                error=type(err).__name__,
                url=self._where,
            )
            return columns
        result = list(columns)
        for position, index in enumerate(candidates):
            column = columns[index]
            values = [row[position] for row in rows]
            for rule, check in self._value_rules:
                if rule.fits_type(column) and passes(check, values, sample.min_share):
                    result[index] = self._tagged(column, rule.tag)
                    break
        return result


def _classification(tag: str) -> str:
    return _fqn.split(tag)[0]


def _read_sample(engine: sa.Engine, table: Table, names: list[str], rows: int) -> list[Any]:
    schema = _fqn.split(table.database_schema)[-1]
    columns: list[sa.ColumnClause[Any]] = [sa.column(n) for n in names]
    query = sa.select(*columns).select_from(sa.table(table.name, schema=schema)).limit(rows)
    with engine.connect() as conn:
        return list(conn.execute(query).fetchall())


def _sampling_engine(text: str) -> sa.Engine:
    """An engine for sampling; a SQLite file is opened read-only (and must exist: sampling
    never creates an empty database)."""
    url: URL = make_url(text)
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or not path.is_file():
            raise ConfigError(f"sample.url: sqlite file {path} does not exist: fix url {where}")
        uri = path.resolve().as_uri() + "?mode=ro"
        return sa.create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool
        )
    try:
        # One connection, kept for the run, where the dialect pools them.
        pool_class = getattr(url.get_dialect(), "get_pool_class", None)
        if pool_class is not None and issubclass(pool_class(url), sa.pool.QueuePool):
            return sa.create_engine(url, pool_size=1, max_overflow=0)
        return sa.create_engine(url)
    except ImportError as err:
        raise ConfigError(
            f"sample.url: the {url.get_backend_name()} driver for {where} needs the module"
            f" {err.name}: install it, or name an installed driver in the URL's scheme"
        ) from None
    except (NoSuchModuleError, ArgumentError) as err:
        raise ConfigError(
            f"sample.url: cannot open {where} ({type(err).__name__}); check the URL's scheme"
            " and install its driver"
        ) from None
