"""The sql source on a real MariaDB/MySQL server at 127.0.0.1:3306 (or the throwaway one
`conftest.mysql_server` starts when nothing answers there), through the whole workflow.

Each test gets two uniquely named databases (the second for cross-database keys and views) and,
where it needs one, its own user; all are dropped afterwards, even when the test fails.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
import yaml

from syncer.connectors.sql.config import load_config
from syncer.connectors.sql.reflect.mysql import MySQLReflector
from syncer.connectors.sql.source import SqlSource
from syncer.workflow import RunResult
from tests.integration.connectors.conftest import MySqlServer
from tests.support.runs import query_state, run_workflow
from tests.support.workspace import REPO, SYNCER

HOST = "127.0.0.1"
SERVICE = "maria"

MAIN_DDL = """
CREATE TABLE customers (
    id INT PRIMARY KEY COMMENT 'Who buys',
    email VARCHAR(255) NOT NULL UNIQUE,
    active TINYINT(1) NOT NULL DEFAULT 1,
    visits INT(11),
    big BIGINT UNSIGNED,
    notes MEDIUMTEXT,
    photo LONGBLOB,
    tier ENUM('gold','silver'),
    tags SET('a','b'),
    prefs JSON,
    seen_at DATETIME(6),
    born YEAR,
    flag BIT(1),
    home GEOMETRY,
    balance DECIMAL(10,2)
) COMMENT 'People who buy';
CREATE TABLE orders (
    id INT,
    line INT,
    customer_id INT NOT NULL,
    total DECIMAL(12,2),
    PRIMARY KEY (id, line),
    CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
);
CREATE TABLE `odd.name` (`a col` INT, `MixedCase` INT, `größe` VARCHAR(10));
CREATE TABLE `Mixed Case` (`Id` INT PRIMARY KEY);
CREATE TABLE `ünïcode` (id INT);
CREATE VIEW big_orders AS
    SELECT o.id AS order_id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id
    WHERE o.total > 100;
CREATE VIEW big_order_emails AS SELECT email FROM big_orders;
CREATE VIEW odd_view AS SELECT `a col`, `MixedCase` FROM `odd.name`;
"""
# {main} is the first database's name.
OTHER_DDL = """
CREATE TABLE payments (
    id INT PRIMARY KEY,
    customer_id INT,
    CONSTRAINT fk_payer FOREIGN KEY (customer_id) REFERENCES `{main}`.customers (id)
);
CREATE VIEW customer_payments AS
    SELECT p.id, c.email FROM payments p JOIN `{main}`.customers c ON c.id = p.customer_id;
"""
MAIN_TABLES = [
    "customers",
    "orders",
    "odd.name",
    "Mixed Case",
    "ünïcode",
    "big_orders",
    "big_order_emails",
    "odd_view",
]
OTHER_TABLES = ["payments", "customer_payments"]


def _statements(ddl: str) -> list[str]:
    return [s.strip() for s in ddl.split(";") if s.strip()]


@dataclass
class Server:
    """Two fresh databases on the server, and a way to run SQL as root and create users."""

    admin: sa.Engine
    main: str
    other: str
    port: int
    users: list[str] = field(default_factory=list)

    def execute(self, *statements: str) -> None:
        with self.admin.connect() as con:
            for statement in statements:
                # PyMySQL formats every statement with %: a literal % is written %%.
                con.exec_driver_sql(statement.replace("%", "%%"))

    def url(self, credentials: str = "root") -> str:
        return f"mysql+pymysql://{credentials}@{HOST}:{self.port}/{self.main}"

    def create_user(self, password: str) -> str:
        name = f"syncer_ro_{uuid.uuid4().hex[:8]}"
        self.users.append(name)
        self.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'")
        return name


@pytest.fixture
def server(mysql_server: MySqlServer) -> Iterator[Server]:
    main = f"syncer_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(mysql_server.url(), isolation_level="AUTOCOMMIT")
    srv = Server(admin, main, f"{main}_b", mysql_server.port)
    try:
        srv.execute(f"CREATE DATABASE `{srv.main}`", f"CREATE DATABASE `{srv.other}`")
        srv.execute(f"USE `{srv.main}`", *_statements(MAIN_DDL))
        srv.execute(f"USE `{srv.other}`", *_statements(OTHER_DDL.format(main=srv.main)))
        yield srv
    finally:
        for user in srv.users:
            srv.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        srv.execute(
            f"DROP DATABASE IF EXISTS `{srv.other}`", f"DROP DATABASE IF EXISTS `{srv.main}`"
        )
        srv.admin.dispose()


@dataclass
class Deployment:
    """A workflow over the two databases, with the state file it writes."""

    tmp: Path
    server: Server
    url: str

    @property
    def state_path(self) -> Path:
        return self.tmp / "state.duckdb"

    def write(
        self, url: str | None = None, source: dict[str, Any] | None = None, **spec: Any
    ) -> Path:
        """The workflow file; `source` adds or overrides options of the source's config."""
        schemas = f"^{self.server.main}(_b)?$"
        config = {
            "workflow": "mysql",
            "source": {
                "type": "sql",
                "config": {
                    "url": url or self.url,
                    "service_name": SERVICE,
                    "include": {"schemas": [schemas]},
                    **(source or {}),
                },
            },
            "sinks": [{"type": "jsonl", "config": {"path": str(self.tmp / "changes.jsonl")}}],
            "state": {"path": str(self.state_path)},
            **spec,
        }
        self.tmp.mkdir(parents=True, exist_ok=True)
        config_path = self.tmp / "workflow.yaml"
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True))
        return config_path

    def run(
        self, url: str | None = None, source: dict[str, Any] | None = None, **spec: Any
    ) -> RunResult:
        config_path = self.write(url, source, **spec)
        return run_workflow(config_path, self.state_path)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return query_state(self.state_path, sql)

    def entities(self, entity_type: str) -> dict[str, dict[str, Any]]:
        rows = self.query(
            f"SELECT fqn, payload FROM current_entities WHERE entity_type = '{entity_type}'"
        )
        return {fqn: orjson.loads(payload) for fqn, payload in rows}

    def edges(self) -> set[tuple[str, str]]:
        return {(f, t) for f, t in self.query("SELECT from_fqn, to_fqn FROM lineage_edges")}

    def snapshot(self) -> dict[str, Any]:
        """Every entity's payload by type, and the order in which the changes were logged."""
        types = ("databaseService", "database", "databaseSchema", "table", "lineage")
        order = [fqn for (fqn,) in self.query("SELECT fqn FROM change_log ORDER BY seq")]
        return {"order": order, **{t: self.entities(t) for t in types}}

    def test_connection(self, url: str) -> subprocess.CompletedProcess[str]:
        """`syncer test-connection` on the workflow file, as a user runs it."""
        config_path = self.write(url)
        return subprocess.run(
            [str(SYNCER), "test-connection", str(config_path)],
            cwd=self.tmp,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def table_fqn(self, name: str, schema: str | None = None) -> str:
        part = f'"{name}"' if "." in name else name
        return f"{SERVICE}.{self.server.main}.{schema or self.server.main}.{part}"


@pytest.fixture
def deployment(server: Server, tmp_path: Path) -> Deployment:
    return Deployment(tmp_path, server, server.url())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- entities, FQNs and types -------------------------------------------------------------


def test_every_table_and_view_of_both_databases_is_created_under_one_fqn_scheme(
    deployment: Deployment,
) -> None:
    result = deployment.run()
    assert result.status == "succeeded", result.error
    main, other = deployment.server.main, deployment.server.other
    assert set(deployment.entities("databaseService")) == {SERVICE}
    assert set(deployment.entities("database")) == {f"{SERVICE}.{main}"}
    assert set(deployment.entities("databaseSchema")) == {
        f"{SERVICE}.{main}.{main}",
        f"{SERVICE}.{main}.{other}",
    }
    assert set(deployment.entities("table")) == {
        *(deployment.table_fqn(n) for n in MAIN_TABLES),
        *(deployment.table_fqn(n, other) for n in OTHER_TABLES),
    }


def test_column_types_comments_and_keys_are_read_field_by_field(deployment: Deployment) -> None:
    deployment.run()
    tables = deployment.entities("table")
    customers = tables[deployment.table_fqn("customers")]
    assert customers["tableType"] == "Regular"
    assert customers["description"] == "People who buy"
    columns = {c["name"]: c for c in customers["columns"]}
    assert list(columns) == [
        "id", "email", "active", "visits", "big", "notes", "photo", "tier", "tags", "prefs",
        "seen_at", "born", "flag", "home", "balance",
    ]  # fmt: skip
    expected = {
        "id": ("INT", "int(11)", None, None, None),
        "email": ("VARCHAR", "varchar(255)", 255, None, None),
        "active": ("TINYINT", "tinyint(1)", None, None, None),
        "visits": ("INT", "int(11)", None, None, None),
        "big": ("BIGINT", "bigint(20) unsigned", None, None, None),
        "notes": ("MEDIUMTEXT", "mediumtext", None, None, None),
        "photo": ("LONGBLOB", "longblob", None, None, None),
        "tier": ("ENUM", "enum('gold','silver')", None, None, None),
        "tags": ("SET", "set('a','b')", None, None, None),
        "prefs": ("JSON", "json", None, None, None),
        "seen_at": ("DATETIME", "datetime(6)", None, None, None),
        "born": ("YEAR", "year(4)", None, None, None),
        "flag": ("BIT", "bit(1)", 1, None, None),
        "home": ("GEOMETRY", "geometry", None, None, None),
        "balance": ("DECIMAL", "decimal(10,2)", None, 10, 2),
    }
    got = {
        name: (
            c["dataType"],
            c.get("dataTypeDisplay"),
            c.get("dataLength"),
            c.get("precision"),
            c.get("scale"),
        )
        for name, c in columns.items()
    }
    # MySQL 8 drops display widths (int, bigint unsigned, year) that MariaDB keeps.
    if got["id"][1] == "int":
        expected.update(
            id=("INT", "int", None, None, None),
            visits=("INT", "int", None, None, None),
            big=("BIGINT", "bigint unsigned", None, None, None),
            born=("YEAR", "year", None, None, None),
        )
    assert got == expected
    assert [c["ordinalPosition"] for c in columns.values()] == list(range(1, 16))
    assert columns["id"]["description"] == "Who buys"
    assert columns["id"]["constraint"] == "PRIMARY_KEY"
    assert columns["email"]["constraint"] == "NOT_NULL"
    assert columns["notes"]["constraint"] == "NULL"
    constraints = {c["constraintType"]: c for c in customers["tableConstraints"]}
    assert constraints["PRIMARY_KEY"]["columns"] == ["id"]
    assert constraints["UNIQUE"]["columns"] == ["email"]


def test_composite_and_cross_database_foreign_keys_name_their_referred_columns(
    deployment: Deployment,
) -> None:
    deployment.run()
    tables = deployment.entities("table")
    customers = deployment.table_fqn("customers")
    orders = tables[deployment.table_fqn("orders")]
    assert {c["constraintType"]: c.get("columns") for c in orders["tableConstraints"]} == {
        "PRIMARY_KEY": ["id", "line"],
        "FOREIGN_KEY": ["customer_id"],
    }
    assert all(c["constraint"] != "PRIMARY_KEY" for c in orders["columns"])
    payments = tables[deployment.table_fqn("payments", deployment.server.other)]
    [fk] = [c for c in payments["tableConstraints"] if c["constraintType"] == "FOREIGN_KEY"]
    assert fk["columns"] == ["customer_id"]
    assert fk["referredColumns"] == [f"{customers}.id"]
    [fk] = [c for c in orders["tableConstraints"] if c["constraintType"] == "FOREIGN_KEY"]
    assert fk["referredColumns"] == [f"{customers}.id"]


def test_names_that_need_quoting_keep_their_spelling(deployment: Deployment) -> None:
    deployment.run()
    tables = deployment.entities("table")
    odd = tables[deployment.table_fqn("odd.name")]
    assert deployment.table_fqn("odd.name").endswith('."odd.name"')
    assert odd["name"] == "odd.name"
    assert [c["name"] for c in odd["columns"]] == ["a col", "MixedCase", "größe"]
    assert tables[deployment.table_fqn("Mixed Case")]["columns"][0]["name"] == "Id"
    assert tables[deployment.table_fqn("ünïcode")]["name"] == "ünïcode"


def test_views_carry_their_sql_and_no_comment(deployment: Deployment) -> None:
    deployment.run()
    view = deployment.entities("table")[deployment.table_fqn("big_orders")]
    assert view["tableType"] == "View"
    assert "description" not in view or view["description"] is None
    assert "from" in view["schemaDefinition"].lower()
    assert [c["name"] for c in view["columns"]] == ["order_id", "email"]


# --- lineage -------------------------------------------------------------------------------


def test_views_over_tables_views_and_other_databases_get_table_lineage(
    deployment: Deployment,
) -> None:
    deployment.run()
    fqn = deployment.table_fqn
    other = deployment.server.other
    assert deployment.edges() == {
        (fqn("orders"), fqn("big_orders")),
        (fqn("customers"), fqn("big_orders")),
        (fqn("big_orders"), fqn("big_order_emails")),
        (fqn("odd.name"), fqn("odd_view")),
        (fqn("payments", other), fqn("customer_payments", other)),
        (fqn("customers"), fqn("customer_payments", other)),
    }


def test_view_lineage_names_the_source_columns(deployment: Deployment) -> None:
    deployment.run()
    fqn = deployment.table_fqn
    columns = {
        (f, t): orjson.loads(c)
        for f, t, c in deployment.query(
            "SELECT from_fqn, to_fqn, columns_lineage FROM lineage_edges"
        )
    }
    big = fqn("big_orders")
    assert columns[(fqn("orders"), big)] == [
        {"fromColumns": [f"{fqn('orders')}.id"], "toColumn": f"{big}.order_id"}
    ]
    assert columns[(fqn("customers"), big)] == [
        {"fromColumns": [f"{fqn('customers')}.email"], "toColumn": f"{big}.email"}
    ]
    odd = fqn("odd_view")
    assert {tuple(c["fromColumns"]): c["toColumn"] for c in columns[(fqn("odd.name"), odd)]} == {
        (f"{fqn('odd.name')}.a col",): f"{odd}.a col",
        (f"{fqn('odd.name')}.MixedCase",): f"{odd}.MixedCase",
    }


# --- re-runs and changes --------------------------------------------------------------------


def test_an_immediate_rerun_sends_nothing(deployment: Deployment) -> None:
    first = deployment.run()
    changes = deployment.query("SELECT count(*) FROM changes")[0][0]
    result = deployment.run()
    assert first.counters.created == changes
    assert result.status == "succeeded"
    assert result.counters.changed == 0
    assert deployment.query("SELECT count(*) FROM changes")[0][0] == changes
    assert all(r.delivered == 0 for r in result.deliveries)


def test_adding_a_column_yields_exactly_one_update_naming_it(deployment: Deployment) -> None:
    deployment.run()
    other = deployment.server.other
    deployment.server.execute(f"ALTER TABLE `{other}`.payments ADD COLUMN note VARCHAR(20)")
    result = deployment.run()
    assert (result.counters.created, result.counters.updated, result.counters.deleted) == (0, 1, 0)
    [(fqn, kind, fields)] = deployment.query(
        f"SELECT fqn, kind, changed_fields FROM change_log WHERE run_id = {result.run_id}"
    )
    assert (fqn, kind, fields) == (
        deployment.table_fqn("payments", other),
        "updated",
        ["columns.note"],
    )


def test_dropping_a_view_deletes_it_and_its_lineage(deployment: Deployment) -> None:
    deployment.run()
    deployment.server.execute(f"DROP VIEW `{deployment.server.main}`.big_order_emails")
    result = deployment.run()
    assert result.status == "succeeded", result.warnings
    gone = deployment.table_fqn("big_order_emails")
    assert deployment.query(
        f"SELECT entity_type, kind FROM change_log WHERE run_id = {result.run_id} ORDER BY seq"
    ) == [("lineage", "deleted"), ("table", "deleted")]
    assert gone not in deployment.entities("table")
    assert all(gone not in edge for edge in deployment.edges())


def test_a_view_over_a_dropped_table_is_a_record_error_and_deletes_nothing(
    deployment: Deployment,
) -> None:
    deployment.run()
    deployment.server.execute(f"DROP TABLE `{deployment.server.main}`.`odd.name`")
    result = deployment.run()
    assert result.status == "partial"
    assert result.counters.deleted == 0
    assert any("odd_view" in w or "deletions skipped" in w for w in result.warnings)


# --- permissions and failures ---------------------------------------------------------------


def test_a_database_whose_access_is_revoked_warns_and_deletes_nothing(
    deployment: Deployment,
) -> None:
    srv = deployment.server
    password = uuid.uuid4().hex
    user = srv.create_user(password)
    srv.execute(
        f"GRANT SHOW DATABASES ON *.* TO '{user}'@'%'",
        f"GRANT SELECT, SHOW VIEW ON `{srv.main}`.* TO '{user}'@'%'",
        f"GRANT SELECT, SHOW VIEW ON `{srv.other}`.* TO '{user}'@'%'",
    )
    url = srv.url(f"{user}:{password}")
    # Even a fail-safe that allows any share must not let revoked access delete anything.
    spec = {"deletions": {"fail_safe_percent": 100}}
    first = deployment.run(url, **spec)
    assert first.status == "succeeded", first.error
    tables_before = set(deployment.entities("table"))
    srv.execute(f"REVOKE SELECT, SHOW VIEW ON `{srv.other}`.* FROM '{user}'@'%'")
    result = deployment.run(url, **spec)
    assert result.status == "partial"
    assert result.counters.deleted == 0
    assert any("deletions skipped" in w for w in result.warnings), result.warnings
    assert set(deployment.entities("table")) == tables_before
    errors = " ".join(result.warnings)
    assert password not in errors


def _assert_one_line_failure(deployment: Deployment, result: RunResult, *needles: str) -> str:
    assert result.status == "failed"
    assert result.error is not None
    assert "\n" not in result.error
    assert result.error.startswith("cannot list the schemas of"), result.error
    for needle in needles:
        assert needle in result.error, result.error
    # The source failed before its service and database were synced.
    assert deployment.query("SELECT count(*) FROM entities")[0][0] == 0
    return result.error


def test_an_unreachable_port_fails_the_run_in_one_line(deployment: Deployment) -> None:
    port = _free_port()
    url = f"mysql+pymysql://root@{HOST}:{port}/{deployment.server.main}"
    result = deployment.run(url)
    _assert_one_line_failure(deployment, result, str(port))


def test_a_missing_database_fails_the_run_in_one_line(deployment: Deployment) -> None:
    missing = f"syncer_missing_{uuid.uuid4().hex[:8]}"
    result = deployment.run(f"mysql+pymysql://root@{HOST}:{deployment.server.port}/{missing}")
    _assert_one_line_failure(deployment, result, missing, "Unknown database")


def test_a_wrong_password_fails_in_one_line_that_never_shows_it(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = deployment.server.create_user(uuid.uuid4().hex)
    wrong = f"wrong{uuid.uuid4().hex}"
    monkeypatch.setenv("SYNCER_TEST_MYSQL_PASSWORD", wrong)
    url = deployment.server.url(f"{user}:${{env:SYNCER_TEST_MYSQL_PASSWORD}}")
    result = deployment.run(url)
    error = _assert_one_line_failure(deployment, result, user, "Access denied")
    assert wrong not in error
    assert all(wrong not in w for w in result.warnings)
    stored = deployment.query("SELECT coalesce(error, '') FROM runs")
    assert all(wrong not in e for (e,) in stored)


# --- test-connection ------------------------------------------------------------------------


def _lines(output: str) -> list[str]:
    return [re.sub(r"\s+", " ", line).strip() for line in output.splitlines()]


def _reader(srv: Server) -> tuple[str, str]:
    """A least-privilege user that may read both databases: (user, password)."""
    password = uuid.uuid4().hex
    user = srv.create_user(password)
    srv.execute(
        f"GRANT SHOW DATABASES ON *.* TO '{user}'@'%'",
        f"GRANT SELECT, SHOW VIEW ON `{srv.main}`.* TO '{user}'@'%'",
        f"GRANT SELECT, SHOW VIEW ON `{srv.other}`.* TO '{user}'@'%'",
    )
    return user, password


def test_test_connection_passes_for_a_least_privilege_user(deployment: Deployment) -> None:
    srv = deployment.server
    user, password = _reader(srv)
    done = deployment.test_connection(srv.url(f"{user}:{password}"))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _lines(done.stdout)
    assert "ok SHOW DATABASES: granted" in lines, done.stdout
    assert f"ok database {srv.main}: readable" in lines
    assert f"ok database {srv.other}: readable" in lines
    assert "ok SHOW VIEW: granted on every kept database" in lines
    assert "FAIL" not in done.stdout
    assert password not in done.stdout + done.stderr


def test_test_connection_fails_naming_the_revoked_database_and_its_grant(
    deployment: Deployment,
) -> None:
    srv = deployment.server
    user, password = _reader(srv)
    srv.execute(f"REVOKE SELECT, SHOW VIEW ON `{srv.other}`.* FROM '{user}'@'%'")
    done = deployment.test_connection(srv.url(f"{user}:{password}"))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = _lines(done.stdout)
    assert [line for line in lines if line.startswith("FAIL")] == [
        f"FAIL database {srv.other}: {user}@% holds no privilege in it:"
        f" GRANT SELECT, SHOW VIEW ON `{srv.other}`.* TO '{user}'@'%'"
    ], done.stdout
    assert f"ok database {srv.main}: readable" in lines
    assert password not in done.stdout + done.stderr


def test_test_connection_warns_without_show_databases_or_show_view(
    deployment: Deployment,
) -> None:
    srv = deployment.server
    password = uuid.uuid4().hex
    user = srv.create_user(password)
    srv.execute(
        f"GRANT SELECT ON `{srv.main}`.* TO '{user}'@'%'",
        f"GRANT SELECT, SHOW VIEW ON `{srv.other}`.* TO '{user}'@'%'",
    )
    done = deployment.test_connection(srv.url(f"{user}:{password}"))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _lines(done.stdout)
    [databases] = [line for line in lines if line.startswith("ok SHOW DATABASES:")]
    assert "looks dropped" in databases
    assert f"GRANT SHOW DATABASES ON *.* TO '{user}'@'%'" in databases
    [views] = [line for line in lines if line.startswith("ok SHOW VIEW:")]
    assert f"missing on {srv.main}," in views
    assert f"GRANT SHOW VIEW ON `{srv.main}`.* TO '{user}'@'%'" in views


# --- statement timeout, concurrency and paging --------------------------------------------


def test_statement_timeout_seconds_and_concurrency_reach_every_session(server: Server) -> None:
    config = load_config({"url": server.url(), "statement_timeout_seconds": 2.5, "concurrency": 3})
    source = SqlSource(config)
    try:
        reflector = source.targets.open()
        assert isinstance(reflector, MySQLReflector)
        with reflector.engine.connect() as conn:
            version = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
            if "mariadb" in version.lower():
                timeout = float(conn.exec_driver_sql("SELECT @@max_statement_time").scalar())
            else:
                timeout = int(conn.exec_driver_sql("SELECT @@max_execution_time").scalar()) / 1000
        pool = reflector.engine.pool
        assert isinstance(pool, sa.pool.QueuePool)
        assert (pool.size(), pool._max_overflow) == (3, 0)
    finally:
        source.close()
    assert timeout == 2.5


def test_concurrency_3_reads_exactly_what_concurrency_1_reads(
    server: Server, tmp_path: Path
) -> None:
    extra = [f"{server.main}_c", f"{server.main}_d"]
    try:
        for name in extra:
            server.execute(
                f"CREATE DATABASE `{name}`",
                f"CREATE TABLE `{name}`.facts (id INT PRIMARY KEY, customer_id INT,"
                f" CONSTRAINT fk_{name[-1]} FOREIGN KEY (customer_id)"
                f" REFERENCES `{server.main}`.customers (id))",
                f"CREATE VIEW `{name}`.emails AS SELECT f.id, c.email FROM `{name}`.facts f"
                f" JOIN `{server.main}`.customers c ON c.id = f.customer_id",
            )
        include = {"schemas": [f"^{server.main}(_[bcd])?$"]}
        snapshots = {}
        for concurrency in (1, 3):
            deployment = Deployment(tmp_path / f"c{concurrency}", server, server.url())
            result = deployment.run(source={"include": include, "concurrency": concurrency})
            assert result.status == "succeeded", result.error
            snapshots[concurrency] = deployment.snapshot()
    finally:
        server.execute(*(f"DROP DATABASE IF EXISTS `{name}`" for name in extra))
    assert len(snapshots[3]["databaseSchema"]) == 4
    assert len(snapshots[3]["table"]) == len(MAIN_TABLES) + len(OTHER_TABLES) + 4
    assert snapshots[3] == snapshots[1]


def test_page_size_7_reads_exactly_what_the_default_page_size_reads(
    server: Server, tmp_path: Path
) -> None:
    statements = []
    for i in range(30):
        parent = f", parent INT, FOREIGN KEY (parent) REFERENCES w{i - 1:02d} (id)" if i else ""
        statements.append(
            f"CREATE TABLE w{i:02d} (id INT PRIMARY KEY, note JSON{parent}) COMMENT 'wide {i}'"
        )
    statements.append("CREATE VIEW w_view AS SELECT a.id FROM w00 a JOIN w29 b ON b.id = a.id")
    server.execute(f"USE `{server.main}`", *statements)
    snapshots = {}
    for page_size in (None, 7):
        deployment = Deployment(tmp_path / f"page_{page_size}", server, server.url())
        options = {} if page_size is None else {"page_size": page_size}
        result = deployment.run(source=options)
        assert result.status == "succeeded", result.error
        snapshots[page_size] = deployment.snapshot()
    tables = snapshots[7]["table"]
    assert len(tables) == len(MAIN_TABLES) + len(OTHER_TABLES) + 31
    w05 = tables[f"{SERVICE}.{server.main}.{server.main}.w05"]
    assert w05["description"] == "wide 5"
    assert [(c["name"], c["dataType"]) for c in w05["columns"]] == [
        ("id", "INT"),
        ("note", "JSON"),
        ("parent", "INT"),
    ]
    assert snapshots[7] == snapshots[None]
    reflector = MySQLReflector(sa.create_engine(server.url()), page_size=7)
    try:
        names = [t.name for t in reflector.tables(server.main, lambda n: n.startswith("w"))]
    finally:
        reflector.close()
    assert names == [f"w{i:02d}" for i in range(30)] + ["w_view"]
