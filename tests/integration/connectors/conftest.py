"""Real database servers for the integration tests, and a throw-away database per test.

PostgreSQL. Each database (`syncer_test_<hex>`) and its login role (`syncer_ro_<hex>`) are
dropped after the test, whether it passed or not. They live on the server at 127.0.0.1:5432.

MariaDB/MySQL. `mysql_server` is the server at 127.0.0.1:3306, where root logs in without a
password; `test_mysql.py` creates its databases and users there and drops them after each test.

Fallback. When nothing answers on those ports but the server's binaries are installed, one
throwaway server per session is started instead (`start_postgres`, `start_mariadb`): in a
temporary directory, on a free port, as `nobody` for PostgreSQL when the tests run as root
(it refuses root), and removed with its directory at the end. Without binaries the tests are
skipped with the package to install. The ports can be set through the environment, which is
also how the fallback is tested while the shared servers run (port 1 never answers):

    SYNCER_TEST_PG_PORT=1 SYNCER_TEST_MYSQL_PORT=1 \\
        .venv/bin/pytest -q tests/integration/connectors

The query-log tests always start their own server, configured to keep a query log.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

HOST = "127.0.0.1"
PG_PORT = int(os.environ.get("SYNCER_TEST_PG_PORT", "5432"))
MYSQL_PORT = int(os.environ.get("SYNCER_TEST_MYSQL_PORT", "3306"))
PG_MISSING = "PostgreSQL binaries not found: apt-get install postgresql"
MARIADB_MISSING = "MariaDB binaries not found: apt-get install mariadb-server"


def answers(port: int, host: str = HOST) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# --- PostgreSQL -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgServer:
    port: int

    def dsn(self, database: str) -> str:
        return f"host={HOST} port={self.port} user=postgres dbname={database} connect_timeout=5"

    def execute(self, database: str, *statements: str) -> None:
        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode())


@dataclass(frozen=True)
class PgDatabase:
    name: str
    role: str  # a login role with CONNECT, USAGE and SELECT only: what syncer reads as
    password: str  # planted in the URL through ${env:...}; trust auth ignores it
    port: int = PG_PORT

    def execute(self, *statements: str) -> None:
        """Run statements as the superuser, in this database, each committed."""
        PgServer(self.port).execute(self.name, *statements)


def pg_binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


@contextmanager
def start_postgres(*settings: str) -> Iterator[PgServer]:
    """A throwaway PostgreSQL (trust auth, superuser `postgres`) with `-c` `settings`; skips
    the test when the binaries are missing."""
    bindir = pg_binaries()
    if bindir is None:
        pytest.skip(PG_MISSING)
    root = Path(tempfile.mkdtemp(prefix="syncer-pg-"))
    try:
        data, sockets = root / "data", root / "sockets"
        sockets.mkdir()
        run_as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("nobody")
            for path in (root, sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
            run_as = ["runuser", "-u", "nobody", "--"]
        port = free_port()

        def run(*args: str) -> None:
            subprocess.run([*run_as, *args], cwd=root, check=True, capture_output=True, timeout=60)

        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync")
        options = " ".join(
            [f"-p {port} -c listen_addresses={HOST} -k {sockets} -c fsync=off"]
            + [f"-c {s}" for s in settings]
        )
        pg_ctl = str(bindir / "pg_ctl")
        log = str(root / "server.log")
        run(pg_ctl, "-D", str(data), "-o", options, "-l", log, "-w", "start")
        try:
            yield PgServer(port)
        finally:
            subprocess.run(
                [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                cwd=root,
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The server on 127.0.0.1:5432 (`SYNCER_TEST_PG_PORT`), else a throwaway one."""
    if answers(PG_PORT):
        yield PgServer(PG_PORT)
        return
    if pg_binaries() is None:
        pytest.skip(
            f"PostgreSQL is not running on {HOST}:{PG_PORT} and its binaries are not installed:"
            " apt-get install postgresql"
        )
    with start_postgres() as server:
        yield server


@contextmanager
def new_pg_database(pg_server: PgServer) -> Iterator[PgDatabase]:
    """An empty database, a read-only login role allowed to connect to it, both dropped after."""
    suffix = uuid.uuid4().hex[:12]
    db = PgDatabase(
        f"syncer_test_{suffix}", f"syncer_ro_{suffix}", f"pw-{uuid.uuid4().hex}", pg_server.port
    )
    with psycopg.connect(pg_server.dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
        try:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(db.role), sql.Literal(db.password)
                )
            )
            admin.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(db.name), sql.Identifier(db.role)
                )
            )
            yield db
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name))
            )
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(db.role)))


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[PgDatabase]:
    with new_pg_database(pg_server) as db:
        yield db


# --- MariaDB/MySQL ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MySqlServer:
    port: int

    def url(self, credentials: str = "root", database: str = "") -> str:
        return f"mysql+pymysql://{credentials}@{HOST}:{self.port}/{database}"


def mariadb_binaries() -> tuple[str, str] | None:
    """`mariadb-install-db` and `mariadbd` (or MySQL's names for them)."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = next(
        (
            found
            for name in ("mariadbd", "mysqld")
            if (found := shutil.which(name) or shutil.which(name, path="/usr/sbin"))
        ),
        None,
    )
    return (install, server) if install and server else None


@contextmanager
def start_mariadb(*options: str) -> Iterator[MySqlServer]:
    """A throwaway MariaDB (root without a password, over TCP on 127.0.0.1) with extra
    `mariadbd` `options`; skips the test when the binaries are missing."""
    binaries = mariadb_binaries()
    if binaries is None:
        pytest.skip(MARIADB_MISSING)
    install, server = binaries
    root = Path(tempfile.mkdtemp(prefix="syncer-maria-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        data = root / "data"
        # mariadbd runs as root only when told to; as anyone else it runs as itself.
        user = "root" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                f"--user={user}",
                "--skip-test-db",
            ],
            cwd=root,
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = free_port()
        with (root / "server.log").open("wb") as log:
            process = subprocess.Popen(
                [
                    server,
                    "--no-defaults",
                    f"--datadir={data}",
                    f"--socket={root / 's.sock'}",
                    f"--port={port}",
                    f"--bind-address={HOST}",
                    f"--pid-file={root / 'server.pid'}",
                    f"--user={user}",
                    "--skip-name-resolve",
                    *options,
                ],
                cwd=root,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the throwaway MariaDB did not start: "
                    + (root / "server.log").read_text(errors="replace")[-2000:]
                )
            time.sleep(0.1)
        yield MySqlServer(port)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[MySqlServer]:
    """The server on 127.0.0.1:3306 (`SYNCER_TEST_MYSQL_PORT`), else a throwaway one."""
    if answers(MYSQL_PORT):
        yield MySqlServer(MYSQL_PORT)
        return
    if mariadb_binaries() is None:
        pytest.skip(
            f"MariaDB/MySQL is not running on {HOST}:{MYSQL_PORT} and its binaries are not"
            " installed: start it, or apt-get install mariadb-server"
        )
    with start_mariadb() as server:
        yield server
