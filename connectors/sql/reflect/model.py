"""What a reflector reads from one database schema, before it is mapped to entities."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import Any, Literal, Protocol, runtime_checkable

TableKind = Literal["table", "view", "materialized_view", "partitioned", "foreign"]
# Decides, from a table's plain name, whether it is read at all; filtering before reflection
# lets the generic path ask the server for the kept tables only.
NameFilter = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class RawColumn:
    name: str
    type: str  # as the database reports it: "VARCHAR(20)", "DECIMAL(10,2)", "" in SQLite
    nullable: bool
    ordinal: int  # 1-based
    default: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class RawForeignKey:
    columns: tuple[str, ...]
    referred_schema: str
    referred_table: str
    referred_columns: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ColumnRows:
    """A table's columns as the driver returned them, built into `RawColumn`s only when the
    table is mapped. Hashing the rows costs a fraction of building objects from them, and a
    re-run maps only the tables whose digest moved: a reflector reading a whole catalog in a
    few statements leaves its columns so. `rows` must hold everything `fill` reads (the
    spelling of a type the driver gives as an oid, say), and `fill` must not touch the
    connection: it runs in the engine's thread, after the reflector has moved on."""

    rows: tuple[Any, ...]
    names: tuple[str, ...]
    fill: Callable[[RawTable], None]  # sets the table's columns, and what else the rows give


class RowGroups:
    """A catalog statement's rows, sorted by their first value (a relation's name or position,
    in the order the reflector reads the relations), handed over a relation at a time.
    Grouped by `itertools.groupby`, in C: hundreds of thousands of column rows pass through
    here on every run. The first row is fetched when rows are first asked for."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self._groups = groupby(rows, key=itemgetter(0))
        self._next: tuple[Any, Iterator[Any]] | None = None
        self._started = False

    def take(self, relation: object) -> list[Any]:
        """The rows of `relation`, the next in the rows' order (none if it has none)."""
        if not self._started:
            self._next, self._started = next(self._groups, None), True
        if self._next is None or self._next[0] != relation:
            return []
        taken = list(self._next[1])
        self._next = next(self._groups, None)
        return taken


@dataclass(slots=True)
class RawTable:
    name: str
    kind: TableKind = "table"
    comment: str | None = None
    definition: str | None = None  # a view's SQL
    # Set when this one table could not be read (a view over a dropped table); the rest of
    # the schema is still read, and the source reports this table as a record error.
    error: str | None = None
    columns: list[RawColumn] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    unique: list[tuple[str, ...]] = field(default_factory=list)
    foreign_keys: list[RawForeignKey] = field(default_factory=list)
    # Columns not built yet (`complete` builds them); `columns` is empty meanwhile.
    column_rows: ColumnRows | None = None

    def column_names(self) -> tuple[str, ...]:
        if self.column_rows is not None:
            return self.column_rows.names
        return tuple(c.name for c in self.columns)

    def complete(self) -> RawTable:
        """This table with its columns built, for mapping."""
        deferred, self.column_rows = self.column_rows, None
        if deferred is not None:
            deferred.fill(self)
        return self


def _getter(cls: type, *, without: tuple[str, ...] = ()) -> Callable[[Any], tuple[Any, ...]]:
    """Every field of a dataclass but `without`, as one tuple: new fields are never missed."""
    names = [f.name for f in fields(cls) if f.name not in without]
    assert len(names) > 1, "attrgetter gives a tuple for two names or more"
    return attrgetter(*names)


_NESTED = ("columns", "foreign_keys", "column_rows")
_TABLE, _COLUMN, _FOREIGN_KEY = (
    _getter(RawTable, without=_NESTED),
    _getter(RawColumn),
    _getter(RawForeignKey),
)


def plain(table: RawTable) -> tuple[Any, ...]:
    """Everything a reflector read of a table, as plain tuples: what its raw digest hashes
    (the `repr` of tuples of strings, numbers and None is exact, and much faster than that of
    dataclasses)."""
    deferred = table.column_rows
    return (
        _TABLE(table),
        deferred.rows if deferred is not None else tuple(map(_COLUMN, table.columns)),
        tuple(map(_FOREIGN_KEY, table.foreign_keys)),
    )


def reflection_order(table: RawTable) -> tuple[bool, str]:
    """Tables before views (and other relations), each by name: a view's lineage can then use
    the columns reflected for the tables of its own schema."""
    return (table.kind != "table", table.name)


CheckLine = tuple[str, bool, str]


class Reflector(Protocol):
    """Reads one database's catalog in bulk, a schema at a time, never a round trip per table."""

    dialect: str

    def schemas(self) -> list[str]: ...

    def tables(self, schema: str, keep: NameFilter) -> Iterable[RawTable]:
        """Every table and view of `schema` whose name `keep` accepts, fully described.

        A list is sorted by the source (`reflection_order`); any other iterable is read
        lazily, page by page, and must already come in that order. A reflection error may be
        raised by the call or, for a lazy iterable, while it is read.
        """
        ...

    def close(self) -> None: ...


@runtime_checkable
class ReadsWholeDatabase(Protocol):
    """A server reflector that reads several schemas on one connection, with a few statements
    whatever their number (PostgreSQL), instead of one schema at a time on a pool."""

    def database_tables(
        self, schemas: list[str], keep: NameFilter
    ) -> Iterator[tuple[str, Iterator[RawTable]]]:
        """Each schema, in the order given, with its tables as `Reflector.tables` yields them;
        a schema that cannot be read raises while its tables are read."""
        ...


class ChecksPrivileges(Protocol):
    """A server reflector that can tell, before a run, whether the user may read what it needs."""

    def privilege_checks(self, schemas: list[str]) -> list[CheckLine]:
        """A `test-connection` line per privilege the kept `schemas` need: (check, ok, detail)."""
        ...


@dataclass(frozen=True, slots=True)
class Lookup:
    """What one catalog lookup found of a schema, or of a table of it.

    When it was not found but may only be hidden from the login user (MySQL shows only what the
    user holds a privilege on), `hidden` says why a miss is not certain and `grant` what would
    make it so.
    """

    found: bool
    kind: TableKind | None = None  # a table's kind, when it was found
    hidden: str | None = None
    grant: str | None = None


class LooksUp(Protocol):
    """A reflector that can look one schema or table up, with one catalog query: what the
    source asks before the engine deletes one (`Source.exists`)."""

    def lookup(self, schema: str, table: str | None = None) -> Lookup:
        """The schema, or with `table` that table or view of it; a system schema is not found."""
        ...


@dataclass(frozen=True, slots=True)
class LoggedStatement:
    """One statement a server's query log kept: its id, its (normalized) text, how often it
    ran, and (MySQL) the database it ran in, which unqualified names belong to."""

    queryid: int
    query: str
    calls: int
    schema: str | None = None


class QueryLogUnavailable(Exception):
    """A server's query log cannot be read; the message says what is wrong and how to enable it.

    `partial` holds the statements that could be read when only some were hidden.
    """

    def __init__(
        self,
        log: str,
        problem: str,
        how_to_enable: str,
        partial: list[LoggedStatement] | None = None,
    ) -> None:
        self.problem = problem
        self.partial = partial or []
        super().__init__(
            f"query lineage needs {log}, which cannot be read: {problem}; to enable it, "
            f"{how_to_enable}"
        )
