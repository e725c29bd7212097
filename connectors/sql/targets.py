"""The databases the sql source reads: the URL's one, or with `all_databases` every database of
a PostgreSQL server that the filters keep, each connected once per run.

Opening a database and listing its schemas proves that it is reachable and, for a file, that
it is a database of its kind; so it happens before the first record of any stream, and a
source that cannot be read fails before its service is synced (or a fixed URL would leave a
wrong service behind). With `all_databases`, one database that cannot be read is kept with its
error, and the others go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from syncer import fqn
from syncer.connectors.sql.config import SqlConfig
from syncer.connectors.sql.reflect import FILE_DIALECTS, Reflector, open_reflector
from syncer.connectors.sql.scope import Scope
from syncer.errors import SourceError
from syncer.steps import RecordError
from syncer.text import first_line

# (schema, table) lower-cased -> (schema, table, its columns) as reflected, and the order in
# which it was reflected (0, 1, ...). The columns are one string, joined by NUL (which no
# identifier holds): one object per table instead of one per column, 60,000 tables long.
Known = dict[tuple[str, str], tuple[str, str, str, int]]
COLUMN_SEPARATOR = "\x00"
# A relation as a view's digest covers it: (schema, name, columns joined by COLUMN_SEPARATOR).
Relation = tuple[str, str, str]
Named = dict[str, tuple[Relation, ...]]
# PostgreSQL's words for a rejected login, whose fix is the credentials, not the network.
_AUTH_FAILED = ("password authentication failed", "no password supplied")


@dataclass(eq=False)
class Target:
    """One database the source reads: its name and FQN, the URL that reaches it, its reflector
    and schemas (read once per run), or why it cannot be read.

    `known` holds the tables this run reflected in it, as reflected (so that SQL spelling a
    name in another case still finds its table), and only in it (so that lineage never mixes
    same-named tables of two databases). The `tables` stream fills it; view lineage (a view
    comes after the tables of its schema) and the `query_lineage` stream (listed after
    `tables`) read it: the source relies on the engine reading its streams in their order.

    `horizons` says, for each view read, how many tables were known when it was read: its
    lineage resolves against those only, so that it is the same however far the tables stream
    has been read ahead (`Stream.read_ahead`) by the time the engine derives it.
    `named` holds, by name lower-cased, every relation of that name read so far (its schema,
    name and columns), in the order they came: a view's digest covers those its SQL names,
    since its lineage resolves against them."""

    name: str
    fqn: str
    url: URL
    reflector: Reflector | None = None
    all_schemas: list[str] | None = None
    error: str | None = None
    known: Known = field(default_factory=dict)
    horizons: dict[str, int] = field(default_factory=dict)  # a view's key -> len(known)
    named: Named = field(default_factory=dict)


class Targets:
    """The databases of one source, opened on first use and closed with the source."""

    def __init__(
        self,
        config: SqlConfig,
        scope: Scope,
        service_name: str,
        database_name: str,
        reflector: Reflector | None = None,
    ) -> None:
        self._config = config
        self._scope = scope
        self.url: URL = config.sqlalchemy_url
        self.dialect = self.url.get_backend_name()
        self._service_name = service_name
        self._database_name = database_name
        # The reflector on the URL's database: the one read, or, with all_databases, the one
        # the server's databases are listed from.
        self._reflector = reflector
        self._targets: list[Target] | None = None

    @property
    def is_open(self) -> bool:
        """Whether the URL's database has been opened (nothing connects before it is)."""
        return self._reflector is not None

    def open(self) -> Reflector:
        """The reflector on the URL's database; a bad URL or a missing file raises with what
        to fix."""
        if self._reflector is None:
            self._reflector = self._open_url(self.url)
        return self._reflector

    def connect(self) -> list[Target]:
        """The databases read, each with its schemas listed once."""
        if self._targets is None:
            reflector = self.open()
            if self._config.all_databases:
                try:
                    names = self.database_names()
                except Exception as err:
                    raise SourceError(self.unreadable(err, self.url, "databases")) from err
                self.open_databases([n for n in names if self._scope.keeps_database(n)])
            else:
                try:
                    schemas = reflector.schemas()
                except Exception as err:
                    raise SourceError(self.unreadable(err, self.url)) from err
                database_fqn = fqn.build(self._service_name, self._database_name)
                target = Target(self._database_name, database_fqn, self.url, reflector, schemas)
                self._targets = [target]
        assert self._targets is not None
        return self._targets

    def readable(self, *, report_errors: bool = True) -> Iterator[Target | RecordError]:
        """Each kept database in turn, or, when `report_errors`, the error of one that cannot
        be read: the engine skips deletions in a stream with errors, so nothing of such a
        database is taken for deleted. A database is released once its caller moves on."""
        for target in self.connect():
            if not self._scope.keeps_database(target.name):
                continue
            if target.error is not None:
                if report_errors:
                    yield RecordError(target.fqn, target.error)
                continue
            yield target
            self.release(target)

    def database_names(self) -> list[str]:
        """The databases of the server that accept connections, templates left out."""
        lister = getattr(self.open(), "databases", None)
        if lister is None:
            raise SourceError("all_databases: this database's reflector cannot list databases")
        return [str(name) for name in lister()]

    def open_databases(self, names: list[str]) -> list[Target]:
        """The run's databases: one per name, connected and with its schemas listed, or with
        the reason it cannot be read; each on its own engine (the URL's database on the one
        it has)."""
        targets = []
        for name in names:
            url = self.url.set(database=name)
            target = Target(name, fqn.build(self._service_name, name), url)
            try:
                reflector = self.open() if name == self.url.database else self._open_url(url)
                target.reflector = reflector
                target.all_schemas = reflector.schemas()
            except Exception as err:
                target.error = (
                    f"{self.unreadable(err, url)}, or leave the database out with exclude.databases"
                )
            self.release(target)
            targets.append(target)
        self._targets = targets
        return targets

    def release(self, target: Target) -> None:
        """With all_databases, close the idle connections of a database between streams, so
        a server with many databases is not held open once per database. The engine opens
        new ones when the database is read again."""
        if not self._config.all_databases or target.reflector is None:
            return
        engine = getattr(target.reflector, "engine", None)
        if engine is not None:
            engine.dispose()

    def target_of(self, schema_fqn: str) -> Target | None:
        """The database a schema belongs to, by its FQN; the only one without all_databases."""
        targets = self._targets or []
        if not self._config.all_databases:
            return targets[0] if targets else None
        database_fqn = fqn.parent(schema_fqn)
        return next((t for t in targets if t.fqn == database_fqn), None)

    def unreadable(self, err: Exception, url: URL, what: str = "schemas") -> str:
        """Why a database's `what` cannot be listed, and what to fix."""
        where = url.render_as_string(hide_password=True)
        if isinstance(err, DBAPIError) and err.orig is not None:
            err = err.orig  # the driver's own words, without SQLAlchemy's wrapping
        if self.dialect in FILE_DIALECTS:
            return (
                f"{self.dialect} file {url.database} cannot be read as a {self.dialect}"
                f" database ({first_line(err)}): fix url {where}"
            )
        reason = first_line(err)
        if any(marker in reason for marker in _AUTH_FAILED):
            return (
                f"cannot list the {what} of {where}: {reason}; check the user name and"
                " password given in url (directly or through ${env:...})"
            )
        return (
            f"cannot list the {what} of {where}: {reason}; check that the"
            " database is reachable and the user may read its catalog"
        )

    def close(self) -> None:
        for target in self._targets or []:
            if target.reflector is not None and target.reflector is not self._reflector:
                target.reflector.close()
        self._targets = None
        if self._reflector is not None:
            self._reflector.close()
            self._reflector = None

    def _open_url(self, url: URL) -> Reflector:
        return open_reflector(
            url,
            statement_timeout_seconds=self._config.statement_timeout_seconds,
            concurrency=self._config.concurrency,
            page_size=self._config.page_size,
        )


def default_database(url: URL) -> str:
    """A file database is named by its file's stem; a server's by the URL's database."""
    if url.get_backend_name() in FILE_DIALECTS and url.database:
        return Path(url.database).stem
    return url.database or url.get_backend_name()
