"""A synthetic source for the benchmark: one service, one database, ~N/1000 schemas, N tables.

Everything is generated lazily and deterministically from the config, so memory does not grow
with N and two runs with the same config yield the same entities, byte for byte.

Changes between runs: the tables are walked in a fixed pseudo-random order (a multiplicative
permutation of their indexes), and each generation advances `changed_percent` % of N steps
along that order, altering the tables it passes. A table's variant is the number of times it
has been passed up to this generation, so a re-run with the same `generation` changes nothing
and going from generation g-1 to g changes exactly `round(N * changed_percent / 100)` tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cache

from pydantic import Field

from syncer.models import (
    Column,
    Database,
    DatabaseSchema,
    DatabaseService,
    DataType,
    Table,
    TableConstraint,
    TableType,
)
from syncer.steps import CursorValue, Either, Source, StepConfig, Stream

SOURCE_TYPE = "bench.synthetic:SyntheticSource"  # as a workflow's `source.type`
SERVICE = "bench_warehouse"
DATABASE = "analytics"

_DOMAINS = ("sales", "marketing", "finance", "ops", "product", "support", "hr", "logistics")
_PREFIXES = ("fct", "dim", "stg", "raw", "int", "agg")
_NOUNS = (
    "orders",
    "customers",
    "payments",
    "sessions",
    "events",
    "invoices",
    "shipments",
    "products",
    "inventory",
    "accounts",
    "subscriptions",
    "clicks",
)

# name, type, display, length, precision, scale, description
_ColumnSpec = tuple[str, DataType, str, int | None, int | None, int | None, str]
_POOL: tuple[_ColumnSpec, ...] = (
    ("customer_id", DataType.BIGINT, "bigint", None, None, None, "Customer who owns the row"),
    ("order_id", DataType.BIGINT, "bigint", None, None, None, "Order the row belongs to"),
    ("created_at", DataType.TIMESTAMP, "timestamp", None, None, None, "When the row was created"),
    ("updated_at", DataType.TIMESTAMPZ, "timestamptz", None, None, None, "Last modification"),
    ("email", DataType.VARCHAR, "varchar(255)", 255, None, None, "Contact e-mail address"),
    ("first_name", DataType.VARCHAR, "varchar(100)", 100, None, None, "Given name"),
    ("last_name", DataType.VARCHAR, "varchar(100)", 100, None, None, "Family name"),
    ("country_code", DataType.CHAR, "char(2)", 2, None, None, "ISO 3166-1 alpha-2 country"),
    ("amount", DataType.DECIMAL, "decimal(12,2)", None, 12, 2, "Amount in the row's currency"),
    ("quantity", DataType.INT, "int", None, None, None, "Number of units"),
    ("unit_price", DataType.NUMERIC, "numeric(10,2)", None, 10, 2, "Price of one unit"),
    ("status", DataType.VARCHAR, "varchar(32)", 32, None, None, "Lifecycle status"),
    ("is_active", DataType.BOOLEAN, "boolean", None, None, None, "Whether the row is active"),
    ("event_date", DataType.DATE, "date", None, None, None, "Business date of the event"),
    ("payload", DataType.JSON, "json", None, None, None, "Raw payload as received"),
    ("session_uuid", DataType.UUID, "uuid", None, None, None, "Client session identifier"),
    ("score", DataType.DOUBLE, "double", None, None, None, "Model score between 0 and 1"),
    ("notes", DataType.TEXT, "text", None, None, None, "Free-text notes"),
    ("duration_ms", DataType.BIGINT, "bigint", None, None, None, "Duration in milliseconds"),
    ("currency", DataType.CHAR, "char(3)", 3, None, None, "ISO 4217 currency code"),
    ("ip_address", DataType.INET, "inet", None, None, None, "Client IP address"),
    ("region", DataType.VARCHAR, "varchar(64)", 64, None, None, "Sales region"),
    ("discount", DataType.FLOAT, "float", None, None, None, "Discount share, 0 to 1"),
    ("raw_blob", DataType.BLOB, "blob", None, None, None, "Opaque binary attachment"),
)
# What a changed column turns into: two types other than its own, alternating between variants.
_ALTERED = (DataType.TEXT, DataType.STRING, DataType.CLOB)


class SyntheticConfig(StepConfig):
    tables: int = Field(default=100_000, ge=0)
    columns: int = Field(default=10, ge=1)
    changed_percent: float = Field(default=0, ge=0, le=100)
    seed: int = 0
    generation: int = Field(default=0, ge=0)


class SyntheticSource(Source):
    config_model = SyntheticConfig
    config: SyntheticConfig

    def __init__(self, config: SyntheticConfig) -> None:
        super().__init__(config)
        n = config.tables
        self.schemas = max(1, round(n / 1000)) if n else 0
        self._step = _coprime_step(n, config.seed)
        self._offset = (config.seed * 7919) % n if n else 0
        self._passed = config.generation * round(n * config.changed_percent / 100)

    def streams(self) -> list[Stream]:
        return [
            Stream("databaseServices", "databaseService", read=self._services),
            Stream("databases", "database", read=self._databases),
            Stream("databaseSchemas", "databaseSchema", read=self._schemas),
            Stream("tables", "table", read=self._tables),
        ]

    def _services(self, since: CursorValue | None) -> Iterator[Either]:
        yield DatabaseService(
            name=SERVICE, service_type="Postgres", description="Synthetic benchmark service"
        )

    def _databases(self, since: CursorValue | None) -> Iterator[Either]:
        yield Database(name=DATABASE, service=SERVICE, description="Synthetic database")

    def _schemas(self, since: CursorValue | None) -> Iterator[Either]:
        for k in range(self.schemas):
            yield self._schema(k)

    # --- generation -----------------------------------------------------------------------

    def _schema(self, k: int) -> DatabaseSchema:
        domain = _DOMAINS[k % len(_DOMAINS)]
        return DatabaseSchema(
            name=_schema_name(k),
            database=f"{SERVICE}.{DATABASE}",
            description=f"Tables of the {domain} domain, partition {k}",
        )

    def _tables(self, since: CursorValue | None) -> Iterator[Table]:
        n, schemas = self.config.tables, self.schemas
        for i in range(n):
            schema = f"{SERVICE}.{DATABASE}.{_schema_name(i * schemas // n)}"
            yield self._table(i, schema, self.variant(i))

    def variant(self, i: int) -> int:
        """How many times table `i` has been altered up to this generation."""
        n = self.config.tables
        rank = (i * self._step + self._offset) % n
        if self._passed <= rank:
            return 0
        return (self._passed - rank - 1) // n + 1

    def _table(self, i: int, schema: str, variant: int) -> Table:
        prefix = _PREFIXES[i % len(_PREFIXES)]
        noun = _NOUNS[(i // len(_PREFIXES)) % len(_NOUNS)]
        width = self.config.columns
        columns = [_column(0, 0, 0)]
        columns.extend(_column((i + j) % len(_POOL), j, j // len(_POOL)) for j in range(1, width))
        if variant % 2 == 1:  # odd variants change the last column's type
            last = columns[-1]
            altered = [t for t in _ALTERED if t != last.data_type][(variant // 2) % 2]
            columns[-1] = last.model_copy(
                update={
                    "data_type": altered,
                    "data_type_display": altered.value.lower(),
                    "data_length": None,
                    "precision": None,
                    "scale": None,
                }
            )
        elif variant:  # even variants add a column instead
            columns.append(_added_column(variant, width))
        is_view = i % 10 == 9
        return Table(
            name=f"{prefix}_{noun}_{i:07d}",
            database_schema=schema,
            table_type=TableType.VIEW if is_view else TableType.REGULAR,
            description=f"{noun.capitalize()} ({prefix} layer), synthetic table {i}",
            columns=columns,
            table_constraints=[_PRIMARY_KEY],
            schema_definition=f"SELECT * FROM raw_{noun}_{i:07d}" if is_view else None,
        )


_PRIMARY_KEY = TableConstraint(constraint_type="PRIMARY_KEY", columns=["id"])


@cache
def _schema_name(k: int) -> str:
    return f"{_DOMAINS[k % len(_DOMAINS)]}_{k:04d}"


@cache
def _column(pool_index: int, position: int, repeat: int) -> Column:
    """A column of the pool at an ordinal position; shared between tables (never mutated)."""
    if position == 0:
        return Column(
            name="id",
            data_type=DataType.BIGINT,
            data_type_display="bigint",
            description="Surrogate key",
            constraint="PRIMARY_KEY",
            ordinal_position=1,
        )
    name, data_type, display, length, precision, scale, description = _POOL[pool_index]
    return Column(
        name=f"{name}_{repeat}" if repeat else name,
        data_type=data_type,
        data_type_display=display,
        data_length=length,
        precision=precision,
        scale=scale,
        description=description,
        constraint="NOT_NULL" if data_type is DataType.BIGINT else "NULL",
        ordinal_position=position + 1,
    )


@cache
def _added_column(variant: int, width: int) -> Column:
    return Column(
        name=f"added_attr_v{variant}",
        data_type=DataType.VARCHAR,
        data_type_display="varchar(64)",
        data_length=64,
        description=f"Attribute added in change {variant}",
        constraint="NULL",
        ordinal_position=width + 1,
    )


def _coprime_step(n: int, seed: int) -> int:
    """A multiplier that permutes 0..n-1 (coprime with n), so ranks are a shuffle of indexes."""
    if n <= 1:
        return 1
    step = (2_654_435_761 + seed * 40_503) % n or 1
    while math.gcd(step, n) != 1:
        step += 1
    return step
