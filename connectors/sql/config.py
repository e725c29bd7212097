"""The sql source's config: which database to read, and which of its objects to keep."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from sqlalchemy.engine import URL, make_url

from syncer.errors import ConfigError
from syncer.models import TableType
from syncer.paths import database_url_beside_config
from syncer.patterns import IncludeExclude, check_regexes
from syncer.sqlurl import check_sqlalchemy_url
from syncer.steps import StepConfig


class NamePatterns(StepConfig):
    """Regular expressions matched (with `re.search`) against plain names, not FQNs."""

    databases: list[str] = Field(default_factory=list)
    """Regexes (searched) on database names."""
    schemas: list[str] = Field(default_factory=list)
    """Regexes (searched) on schema names."""
    tables: list[str] = Field(default_factory=list)
    """Regexes (searched) on table and view names."""

    _compile = field_validator("databases", "schemas", "tables")(check_regexes)


# What the include/exclude patterns are matched against.
NameKind = Literal["databases", "schemas", "tables"]


class SqlConfig(StepConfig):
    url: str = Field(
        examples=[
            "postgresql+psycopg://syncer:${env:PGPASSWORD}@db.internal:5432/sales",
            "mysql+pymysql://syncer:${env:MYSQL_PASSWORD}@db.internal:3306/shop",
            "sqlite:///data/shop.sqlite",
        ]
    )
    """SQLAlchemy URL of the database, e.g.
    postgresql+psycopg://user:${env:PGPASSWORD}@host:5432/sales; a file's path is relative to the
    config file's folder."""
    service_name: str | None = None
    """The database service: the first part of every FQN; default: the dialect."""
    database_name: str | None = None
    """The second part of every FQN; default: the file's stem, or the URL's database."""
    include: NamePatterns = NamePatterns()
    """Names to keep; none given: everything."""
    exclude: NamePatterns = NamePatterns()
    """Names to leave out."""
    table_types: list[TableType] | None = None
    """Keep only these tableTypes; unset: all."""
    view_lineage: bool = True
    """Derive lineage from view definitions."""
    query_lineage: bool = False
    """Lineage from the statements the server logged (pg_stat_statements, performance_schema):
    INSERT … SELECT, CREATE TABLE … AS, UPDATE … FROM/JOIN, MERGE; literals redacted."""
    all_databases: bool = False
    """PostgreSQL: read every database of the server that `include.databases`/`exclude.databases`
    keep, each under its own name; the URL's database is only the one connected to first."""
    statement_timeout_seconds: float = Field(default=60, gt=0)
    """Every catalog statement is stopped after this long, so a locked catalog fails one schema
    instead of hanging the run."""
    concurrency: int = Field(default=2, ge=1, le=16)
    """Schemas reflected at once, each on its own pooled connection (the pool is this big)."""
    page_size: int = Field(default=5000, ge=1)
    """Tables whose columns and constraints one catalog query round reads (server dialects), so a
    schema of any size is read in pages of bounded memory."""

    _url_parses = field_validator("url")(check_sqlalchemy_url)
    # A SQLite or DuckDB file relative to the config file's folder.
    _url_file = field_validator("url")(database_url_beside_config)

    def names(self, kind: NameKind) -> IncludeExclude:
        """The include/exclude patterns of one kind of name, compiled."""
        return IncludeExclude.of(getattr(self.include, kind), getattr(self.exclude, kind))

    @property
    def sqlalchemy_url(self) -> URL:
        return make_url(self.url)


def load_config(raw: Mapping[str, Any]) -> SqlConfig:
    """Validate a raw mapping; a problem becomes one `ConfigError` line naming the key."""
    try:
        return SqlConfig.model_validate(raw)
    except ValidationError as err:
        first = err.errors(include_url=False, include_input=False)[0]
        key = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        # An error of the whole model has no location.
        text = f"sql source: {key}: {message}" if key else f"sql source: {message}"
        raise ConfigError(text) from None
