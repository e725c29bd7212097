"""Deletions that would go too far, on real servers: a renamed PostgreSQL schema whose tables
would all go with it, and a MariaDB database revoked from a user who cannot tell revoked from
dropped (no SHOW DATABASES). Nothing is deleted, and the run says why and what to do."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from syncer.connectors.sql.config import load_config
from syncer.connectors.sql.source import SqlSource
from syncer.workflow import RunResult
from tests.integration.connectors.conftest import MySqlServer, PgDatabase
from tests.support.runs import query_state, run_workflow
from tests.support.workspace import SYNCER, syncer_env

PASSWORD_ENV = "SYNCER_TEST_GUARD_PASSWORD"


@dataclass
class Workflow:
    """A workflow file over one server, and the state it writes."""

    tmp: Path
    url: str
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.tmp / "workflow.yaml"

    @property
    def state_path(self) -> Path:
        return self.tmp / "state.duckdb"

    def write(self, **spec: Any) -> Path:
        config = {
            "workflow": "guards",
            "source": {"type": "sql", "config": {"url": self.url, **self.source}},
            "state": {"path": str(self.state_path)},
            **spec,
        }
        self.config_path.write_text(yaml.safe_dump(config))
        return self.config_path

    def run(self, **spec: Any) -> RunResult:
        return run_workflow(self.write(**spec), self.state_path)

    def syncer(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The command line on the workflow file, as a user runs it."""
        return subprocess.run(
            [str(SYNCER), *args, str(self.config_path)],
            cwd=self.tmp,
            env=syncer_env(),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def live(self, entity_type: str) -> set[str]:
        rows = query_state(
            self.state_path,
            "SELECT fqn FROM current_entities WHERE entity_type = ?",
            [entity_type],
        )
        return {fqn for (fqn,) in rows}


# --- PostgreSQL: a renamed schema -------------------------------------------------------------

# Five schemas, one of which holds 100 of the 108 tables.
LAYOUT = {"s_a": 2, "s_b": 2, "s_c": 2, "s_d": 2, "s_big": 100}


@pytest.fixture
def pg(
    pg_database: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workflow]:
    statements = []
    for schema, count in LAYOUT.items():
        statements.append(f"CREATE SCHEMA {schema}")
        statements += [f"CREATE TABLE {schema}.t{i:03d} (id integer)" for i in range(count)]
        statements.append(f"GRANT USAGE ON SCHEMA {schema} TO {pg_database.role}")
    pg_database.execute(*statements)
    monkeypatch.setenv(PASSWORD_ENV, pg_database.password)
    url = (
        f"postgresql+psycopg://{pg_database.role}:${{env:{PASSWORD_ENV}}}"
        f"@127.0.0.1:{pg_database.port}/{pg_database.name}"
    )
    yield Workflow(tmp_path, url, {"service_name": "pg", "include": {"schemas": ["^s_"]}})


def test_renaming_one_of_five_schemas_deletes_nothing_and_warns(
    pg: Workflow, pg_database: PgDatabase
) -> None:
    first = pg.run()
    assert first.status == "succeeded", first.error
    assert len(pg.live("table")) == 108
    pg_database.execute("ALTER SCHEMA s_big RENAME TO s_big_renamed")
    # Again on the next run, when the renamed schema's tables count among the live ones.
    for result, live in ((pg.run(), "108 (93%)"), (pg.run(), "208 (48%)")):
        assert result.status == "succeeded", result.error
        assert result.counters.deleted == 0
        assert result.warnings[0].startswith(
            f"stream tables: deletions refused: would delete 100 of {live}, more than the "
            "fail-safe 20% (100 of them would go with their parent, which stays too)"
        )
        assert "--fail-safe-percent" in result.warnings[0]
        assert result.warnings[1] == (
            "stream schemas: 1 deletion held back because what would go with it stays: "
            f"pg.{pg_database.name}.s_big"
        )
    database = f"pg.{pg_database.name}"
    assert f"{database}.s_big" in pg.live("databaseSchema")
    assert len(pg.live("table")) == 208  # the renamed schema's tables, and the old ones kept


def test_postgres_looks_up_a_database_schema_and_table(
    pg: Workflow, pg_database: PgDatabase
) -> None:
    config = load_config({**pg.source, "url": pg.url.replace(f"${{env:{PASSWORD_ENV}}}", "x")})
    source = SqlSource(config)
    source.targets.connect()
    database = f"pg.{pg_database.name}"
    try:
        assert source.exists("database", database) is True
        assert source.exists("databaseSchema", f"{database}.s_a") is True
        assert source.exists("table", f"{database}.s_a.t001") is True
        pg_database.execute("ALTER SCHEMA s_big RENAME TO s_big_renamed", "DROP TABLE s_a.t001")
        assert source.exists("databaseSchema", f"{database}.s_big") is False
        assert source.exists("databaseSchema", f"{database}.s_big_renamed") is True
        assert source.exists("table", f"{database}.s_big.t000") is False
        assert source.exists("table", f"{database}.s_a.t001") is False
        assert source.exists("databaseSchema", f"{database}.public") is False  # filtered out
        assert source.exists("databaseSchema", f"{database}.pg_catalog") is False
    finally:
        source.close()


def test_postgres_all_databases_looks_a_database_up(pg_database: PgDatabase) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{pg_database.port}/{pg_database.name}"
    source = SqlSource(
        load_config(
            {
                "url": url,
                "service_name": "pg",
                "all_databases": True,
                "include": {"databases": [f"^{pg_database.name}$"]},
            }
        )
    )
    source.targets.connect()
    try:
        assert source.exists("database", f"pg.{pg_database.name}") is True
        assert source.exists("database", "pg.postgres") is False  # left out by the filters
    finally:
        source.close()


# --- MariaDB/MySQL: a database revoked from a user without SHOW DATABASES ---------------------


@dataclass
class Maria:
    """Databases `<main>` and `<main>_x1` … `_x5` with ten tables each, and a user who may read
    them all but lacks SHOW DATABASES."""

    admin: sa.Engine
    main: str
    user: str
    workflow: Workflow

    @property
    def databases(self) -> list[str]:
        return [self.main, *(f"{self.main}_x{i}" for i in range(1, 6))]

    def execute(self, *statements: str) -> None:
        with self.admin.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement.replace("%", "%%"))


@pytest.fixture
def maria(mysql_server: MySqlServer, tmp_path: Path) -> Iterator[Maria]:
    main = f"syncer_guard_{uuid.uuid4().hex[:8]}"
    user, password = f"syncer_ro_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = sa.create_engine(mysql_server.url(), isolation_level="AUTOCOMMIT")
    url = f"mysql+pymysql://{user}:{password}@127.0.0.1:{mysql_server.port}/{main}"
    source = {"service_name": "maria", "include": {"schemas": [f"^{main}(_x[0-9])?$"]}}
    srv = Maria(admin, main, user, Workflow(tmp_path, url, source))
    try:
        srv.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        for database in srv.databases:
            srv.execute(
                f"CREATE DATABASE `{database}`",
                *(f"CREATE TABLE `{database}`.t{i} (id INT)" for i in range(10)),
                f"GRANT SELECT, SHOW VIEW ON `{database}`.* TO '{user}'@'%'",
            )
        yield srv
    finally:
        srv.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        for database in srv.databases:
            srv.execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.dispose()


def test_a_database_revoked_without_show_databases_is_kept_until_deletions_are_allowed(
    maria: Maria,
) -> None:
    workflow, revoked = maria.workflow, f"{maria.main}_x5"
    first = workflow.run()
    assert first.status == "succeeded", first.error
    schema = f"maria.{maria.main}.{revoked}"
    assert schema in workflow.live("databaseSchema") and len(workflow.live("table")) == 60
    maria.execute(f"REVOKE SELECT, SHOW VIEW ON `{revoked}`.* FROM '{maria.user}'@'%'")
    # One database of six and ten tables of sixty: within the fail-safe. Only the lookup,
    # which cannot tell revoked from dropped without SHOW DATABASES, holds them back.
    result = workflow.run()
    assert result.status == "succeeded", result.error
    assert result.counters.deleted == 0
    grantee = f"'{maria.user}'@'%'"
    assert result.warnings == [
        f"stream schemas: {schema} not deleted, nor what goes with it: user {grantee} lacks "
        "SHOW DATABASES, so a database whose access was revoked looks dropped; GRANT SHOW "
        f"DATABASES ON *.* TO {grantee} would make it certain; if it was dropped, run with "
        "--allow-deletions (or set deletions.unverifiable: delete)"
    ]
    assert schema in workflow.live("databaseSchema") and len(workflow.live("table")) == 60

    planned = workflow.syncer("plan", "--allow-deletions")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert f"deleted   databaseSchema  {schema}" in planned.stdout
    done = workflow.syncer("run", "--allow-deletions")
    assert done.returncode == 0, done.stdout + done.stderr
    assert schema not in workflow.live("databaseSchema")
    assert len(workflow.live("table")) == 50


def test_a_database_dropped_while_the_user_holds_show_databases_is_deleted(
    maria: Maria,
) -> None:
    maria.execute(f"GRANT SHOW DATABASES ON *.* TO '{maria.user}'@'%'")
    workflow, dropped = maria.workflow, f"{maria.main}_x5"
    assert workflow.run().status == "succeeded"
    maria.execute(f"DROP DATABASE `{dropped}`")
    result = workflow.run()
    assert result.status == "succeeded", result.error
    assert result.counters.deleted == 11 and result.warnings == []
    assert f"maria.{maria.main}.{dropped}" not in workflow.live("databaseSchema")


def test_mysql_looks_up_schemas_and_tables_exactly(maria: Maria) -> None:
    config = load_config({**maria.workflow.source, "url": maria.workflow.url})
    source = SqlSource(config)
    source.targets.connect()
    schema = f"maria.{maria.main}.{maria.main}"
    try:
        assert source.exists("databaseSchema", schema) is True
        assert source.exists("table", f"{schema}.t3") is True
        assert source.exists("table", f"{schema}.T3") is False  # compared exactly
        assert source.exists("table", f"{schema}.gone") is False  # it sees the whole database
        missing = source.exists("databaseSchema", f"maria.{maria.main}.{maria.main}_x9")
        assert not isinstance(missing, bool) and missing is not None
        assert missing.fix == f"GRANT SHOW DATABASES ON *.* TO '{maria.user}'@'%'"
    finally:
        source.close()
