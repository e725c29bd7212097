"""What a MySQL/MariaDB login may see: its grants, and the checks `test-connection` prints.

information_schema shows only what the user holds a privilege on, so a database whose access
was revoked looks exactly like a dropped one; these grants tell the two apart, or say which
GRANT would.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from syncer.connectors.sql.reflect.model import CheckLine

# MySQL's "access denied" error codes: to a database, to a table, to a column.
ACCESS_DENIED = frozenset({1044, 1142, 1143})
_USER_PRIVILEGES = (
    "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = %s"
)
# TABLE_SCHEMA is a LIKE pattern when the grant was written with wildcards.
_SCHEMA_PRIVILEGES = (
    "SELECT TABLE_SCHEMA, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES"
    " WHERE GRANTEE = %s"
)


@dataclass(frozen=True, slots=True)
class Grants:
    """The login user's global privileges, and the database patterns it holds any privilege on."""

    grantee: str  # 'user'@'host', as a GRANT names it
    current: str  # user@host, as CURRENT_USER() shows it
    global_privileges: frozenset[str]
    # (database, privilege): a LIKE pattern when the grant was written with wildcards
    per_database: frozenset[tuple[str, str]]

    @property
    def databases(self) -> frozenset[str]:
        """Patterns of the databases the user holds any privilege on."""
        return frozenset(pattern for pattern, _ in self.per_database)

    @property
    def sees_every_database(self) -> bool:
        return not self.global_privileges.isdisjoint({"SHOW DATABASES", "SELECT"})

    def sees_every_table_of(self, schema: str) -> bool:
        return "SELECT" in self.global_privileges or any(
            like(pattern, schema) for pattern in self.databases
        )


def grants_of(conn: sa.Connection) -> Grants:
    """The login user's grants, read once per reflector."""
    current = str(conn.exec_driver_sql("SELECT CURRENT_USER()").scalar())
    user, _, host = current.rpartition("@")
    grantee = f"'{user}'@'{host}'"
    return Grants(
        grantee,
        current,
        frozenset(str(p).upper() for (p,) in fetch(conn, _USER_PRIVILEGES, grantee)),
        frozenset(
            (str(pattern), str(p).upper())
            for pattern, p in fetch(conn, _SCHEMA_PRIVILEGES, grantee)
        ),
    )


def privilege_checks(conn: sa.Connection, grants: Grants, schemas: list[str]) -> list[CheckLine]:
    """SHOW DATABASES, some privilege in each kept database, and SHOW VIEW on those."""
    checks = [_show_databases(grants)]
    readable_schemas = []
    for schema in schemas:
        if readable(conn, schema):
            readable_schemas.append(schema)
            checks.append((f"database {schema}", True, "readable"))
        else:
            checks.append(
                (
                    f"database {schema}",
                    False,
                    f"{grants.current} holds no privilege in it:"
                    f" GRANT SELECT, SHOW VIEW ON {_quoted(schema)}.* TO {grants.grantee}",
                )
            )
    checks.append(_show_view(grants, readable_schemas))
    return checks


def _show_databases(grants: Grants) -> CheckLine:
    if "SHOW DATABASES" in grants.global_privileges:
        return ("SHOW DATABASES", True, "granted")
    return (
        "SHOW DATABASES",
        True,
        "warning: not granted, so a database whose access is revoked looks"
        f" dropped; GRANT SHOW DATABASES ON *.* TO {grants.grantee}",
    )


def _show_view(grants: Grants, schemas: list[str]) -> CheckLine:
    if "SHOW VIEW" in grants.global_privileges:
        return ("SHOW VIEW", True, "granted on *.*")
    missing = [
        s
        for s in schemas
        if not any(p == "SHOW VIEW" and like(pattern, s) for pattern, p in grants.per_database)
    ]
    if not missing:
        return ("SHOW VIEW", True, "granted on every kept database")
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return (
        "SHOW VIEW",
        True,
        f"warning: missing on {shown}, whose views sync without SQL or lineage;"
        f" GRANT SHOW VIEW ON {_quoted(missing[0])}.* TO {grants.grantee}",
    )


def _quoted(schema: str) -> str:
    return "`" + schema.replace("`", "``") + "`"


def like(pattern: str, name: str) -> bool:
    """Whether a grant's database pattern (`%`, `_`, `\\` escapes) matches `name`."""
    regex, escaped = "", False
    for char in pattern:
        if escaped:
            regex += re.escape(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            regex += ".*"
        elif char == "_":
            regex += "."
        else:
            regex += re.escape(char)
    return re.fullmatch(regex, name, re.DOTALL) is not None


def fetch(conn: sa.Connection, sql: str, *params: str | Sequence[str]) -> list[Any]:
    # PyMySQL writes a tuple parameter as a parenthesized list: `IN %s` takes a page's names.
    return list(conn.exec_driver_sql(sql, params).all())


def readable(conn: sa.Connection, schema: str) -> bool:
    """Whether the user holds some privilege in `schema` (`SHOW CREATE DATABASE` succeeds)."""
    quoted = "`" + schema.replace("`", "``") + "`"
    try:
        conn.exec_driver_sql(f"SHOW CREATE DATABASE {quoted}").all()
    except DBAPIError as err:
        code = err.orig.args[0] if err.orig is not None and err.orig.args else None
        if code not in ACCESS_DENIED:
            raise
        return False
    return True
