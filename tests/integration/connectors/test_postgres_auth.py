"""A wrong password against a real PostgreSQL server, as a user meets it on the command line.

The shared server on 5432 trusts every TCP connection, whatever the password, so this module
starts its own (`conftest.start_postgres`) with an `hba_file` that asks for scram-sha-256 over
TCP. Only the superuser `postgres` is still trusted, so that the test can set the server up.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.integration.connectors.conftest import HOST, PgServer, start_postgres
from tests.support.workspace import SYNCER, syncer_env

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

PASSWORD_ENV = "SYNCER_PG_PW"
ROLE = "syncer_auth"
DATABASE = "syncer_auth_db"
HBA = f"""\
local all all                  trust
host  all postgres {HOST}/32 trust
host  all all      {HOST}/32 scram-sha-256
"""


@pytest.fixture(scope="module")
def scram_server() -> Iterator[PgServer]:
    """A throwaway server where every role but `postgres` must give its password over TCP."""
    # Outside the server's data directory, readable by `nobody` when the tests run as root.
    hba_dir = Path(tempfile.mkdtemp(prefix="syncer-hba-"))
    try:
        hba_dir.chmod(0o755)
        hba = hba_dir / "pg_hba.conf"
        hba.write_text(HBA)
        hba.chmod(0o644)
        with start_postgres(f"hba_file={hba}", "password_encryption=scram-sha-256") as server:
            yield server
    finally:
        shutil.rmtree(hba_dir, ignore_errors=True)


@dataclass(frozen=True)
class Setup:
    config: Path
    state: Path
    password: str  # the right one


@pytest.fixture
def setup(scram_server: PgServer, tmp_path: Path) -> Iterator[Setup]:
    password = f"right-{uuid.uuid4().hex}"
    scram_server.execute(
        "postgres",
        f"CREATE ROLE {ROLE} LOGIN PASSWORD '{password}'",
        f"CREATE DATABASE {DATABASE}",
        f"GRANT CONNECT ON DATABASE {DATABASE} TO {ROLE}",
    )
    try:
        scram_server.execute(DATABASE, "CREATE TABLE public.t (id integer PRIMARY KEY)")
        config, state = tmp_path / "workflow.yaml", tmp_path / "state.duckdb"
        url = (
            f"postgresql+psycopg://{ROLE}:${{env:{PASSWORD_ENV}}}@{HOST}:{scram_server.port}"
            f"/{DATABASE}"
        )
        spec = {
            "workflow": "pg",
            "source": {"type": "sql", "config": {"url": url, "service_name": "pg"}},
            "sinks": [{"type": "duckdb"}],
            "state": {"path": str(state)},
        }
        config.write_text(yaml.safe_dump(spec))
        yield Setup(config, state, password)
    finally:
        scram_server.execute(
            "postgres", f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", f"DROP ROLE {ROLE}"
        )


def _syncer(setup: Setup, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**syncer_env(), PASSWORD_ENV: password}
    return subprocess.run(
        [str(SYNCER), *args],
        cwd=setup.config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _wrong_password() -> str:
    return f"wrong-{uuid.uuid4().hex}"


def test_a_wrong_password_fails_the_run_in_one_line_that_says_what_to_check(
    setup: Setup, scram_server: PgServer
) -> None:
    wrong = _wrong_password()
    done = _syncer(setup, wrong, "run", str(setup.config))
    output = done.stdout + done.stderr
    assert done.returncode in (1, 2), output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.lstrip().startswith("error:")]
    assert len(errors) == 1, output
    [error] = errors
    assert "password authentication failed" in error, output
    assert "check the user name and password" in error, output
    assert f"{HOST}:{scram_server.port}/{DATABASE}" in error, output
    assert ROLE in error
    assert wrong not in output
    assert setup.password not in output
    if setup.state.exists():
        assert wrong.encode() not in setup.state.read_bytes()
        wal = setup.state.with_name(setup.state.name + ".wal")
        assert not wal.exists() or wrong.encode() not in wal.read_bytes()

    done = _syncer(setup, setup.password, "run", str(setup.config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert setup.password not in done.stdout + done.stderr
    assert setup.password.encode() not in setup.state.read_bytes()


def test_test_connection_with_a_wrong_password_fails_in_one_line(setup: Setup) -> None:
    wrong = _wrong_password()
    done = _syncer(setup, wrong, "test-connection", str(setup.config))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1, output
    assert "password authentication failed" in failed[0], output
    assert "check the user name and password" in failed[0], output
    assert "psycopg.OperationalError" not in failed[0]
    assert wrong not in output

    done = _syncer(setup, setup.password, "test-connection", str(setup.config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert setup.password not in done.stdout + done.stderr


def test_the_server_really_checks_passwords(scram_server: PgServer) -> None:
    """Guards the tests above: with trust auth they would pass a wrong password through."""
    password = _wrong_password()
    scram_server.execute("postgres", f"CREATE ROLE syncer_probe LOGIN PASSWORD '{password}'")
    try:
        dsn = f"host={HOST} port={scram_server.port} user=syncer_probe dbname=postgres"
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"{dsn} password=nope", connect_timeout=5).close()
        psycopg.connect(f"{dsn} password={password}", connect_timeout=5).close()
    finally:
        scram_server.execute("postgres", "DROP ROLE syncer_probe")
