"""The sql source's answer to "does this object still exist?", asked before a deletion.

One point lookup in the catalog per object (`LooksUp.lookup`): a database, a schema, or a table
or view. An object the config's filters leave out does not exist, whatever the server holds:
narrowing the filters removes it from the catalog. A reflector that cannot look one up (the
generic SQLAlchemy path) answers None, and the engine keeps its old behaviour.
"""

from __future__ import annotations

from syncer import fqn
from syncer.connectors.sql.config import SqlConfig
from syncer.connectors.sql.mapping import TABLE_TYPES
from syncer.connectors.sql.reflect import LooksUp, Lookup
from syncer.connectors.sql.scope import Scope
from syncer.connectors.sql.targets import Target, Targets
from syncer.steps import Unverifiable

# The FQN parts of each entity type the source can look up.
_DEPTH = {"database": 2, "databaseSchema": 3, "table": 4}


class Existence:
    """Looks one database, schema or table of the source up."""

    def __init__(self, config: SqlConfig, scope: Scope, targets: Targets, service: str) -> None:
        self._config = config
        self._scope = scope
        self._targets = targets
        self._service = service

    def exists(self, entity_type: str, key: str) -> bool | Unverifiable | None:
        depth = _DEPTH.get(entity_type)
        if depth is None:
            return None
        try:
            parts = fqn.split(key)
        except fqn.FQNError:
            return None
        if len(parts) != depth or parts[0] != self._service:
            return None
        if not self._scope.keeps_database(parts[1]):
            return False
        database_fqn = fqn.build(*parts[:2])
        target = next((t for t in self._targets.connect() if t.fqn == database_fqn), None)
        if depth == 2:
            return self._database(parts[1], target)
        if target is None or target.reflector is None or not hasattr(target.reflector, "lookup"):
            return None  # a database not read here: its own lookup decides
        looks_up: LooksUp = target.reflector  # type: ignore[assignment]
        schema = parts[2]
        if not self._scope.keeps_schema(schema):
            return False
        if depth == 3:
            return _answer(looks_up.lookup(schema))
        table = parts[3]
        if not self._scope.keeps_table(table):
            return False
        found = looks_up.lookup(schema, table)
        kept = self._config.table_types
        if found.kind is not None and kept is not None and TABLE_TYPES[found.kind] not in kept:
            return False  # a table that became a view, when only tables are kept
        return _answer(found)

    def _database(self, name: str, target: Target | None) -> bool | None:
        if target is not None:
            return True  # read in this run
        if not self._config.all_databases:
            return False  # the source reads one database, and this is not it (any more)
        lister = getattr(self._targets.open(), "database_exists", None)
        return None if lister is None else bool(lister(name))


def _answer(found: Lookup) -> bool | Unverifiable:
    if found.found:
        return True
    if found.hidden is not None:
        return Unverifiable(found.hidden, found.grant)
    return False
