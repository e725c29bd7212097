"""Bad input that used to escape as `internal error` (or worse), through the `syncer` command
line: each gets one line on stderr naming the file and what to do, the documented exit code, and
loses nothing. Configs: too big, not UTF-8, nested 50,000 deep, aliases that expand to
gigabytes, a URL with port 99999. State files: cut short, with a corrupt block, a SQLite file,
a full disk mid-commit. And `syncer state check` and `syncer state backup`.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.workspace import Workspace, catalog

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

BLOCK = 256 * 1024  # DuckDB's block size; three 4 KB headers come first


@pytest.fixture
def synced(workspace: Workspace) -> Workspace:
    workspace.write_source(catalog(2000))
    workspace.run()
    return workspace


def one_error_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    """The one line a refused command printed (besides JSON log lines), after checking its exit
    code."""
    assert done.returncode == code, done.stdout + done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("{")]
    assert len(lines) == 1, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def corrupt_every_block(path: Path) -> None:
    with path.open("r+b") as file:
        for start in range(3 * 4096, path.stat().st_size, BLOCK):
            file.seek(start + 1000)
            file.write(b"\xa5" * 64)


# --- configs ------------------------------------------------------------------------------------


def test_a_billion_laughs_config_is_refused_at_once(workspace: Workspace) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    workspace.config.write_text("workflow: shop\n" + "\n".join(lines) + "\n")
    assert workspace.config.stat().st_size < 1024

    commands: list[list[str | Path]] = [
        ["run", workspace.config],
        ["history", "--config", workspace.config],
    ]
    for args in commands:
        message = one_error_line(workspace.syncer(*args, timeout=60), 2)
        assert message.startswith(f"{workspace.config}: aliases (*a")
        assert "expand the config beyond 1,000,000 values" in message


def test_a_config_in_another_encoding_exits_2_naming_the_byte(workspace: Workspace) -> None:
    text = workspace.config.read_text().replace("workflow: shop", "workflow: caf\xe9")
    workspace.config.write_bytes(text.encode("latin-1"))

    message = one_error_line(workspace.syncer("run", workspace.config), 2)

    assert message == (
        f"{workspace.config}: is not UTF-8 text (byte 0xe9 at line 1, column 14); save it as UTF-8"
    )


def test_a_config_nested_50000_deep_exits_2(workspace: Workspace) -> None:
    workspace.config.write_text("workflow: " + "[" * 50_000 + "]" * 50_000 + "\n")

    message = one_error_line(workspace.syncer("run", workspace.config), 2)

    assert message == (
        f"{workspace.config}: lists and mappings nest deeper than 100 levels at line 1, column "
        "110; check brackets and indentation"
    )


def test_a_config_over_1_mb_exits_2(workspace: Workspace) -> None:
    workspace.config.write_text(workspace.config.read_text() + "#" * 1_000_001 + "\n")

    message = one_error_line(workspace.syncer("run", workspace.config), 2)

    assert message == (
        f"{workspace.config}: the file is larger than 1 MB, more than a workflow config can be; "
        "check that it is the right file"
    )


def test_a_url_with_port_99999_is_refused_at_load_naming_the_key(workspace: Workspace) -> None:
    workspace.write_config(
        sinks=[
            {
                "type": "webhook",
                "config": {"url": "http://127.0.0.1:99999/x", "secret": "${env:HOOK_SECRET}"},
            }
        ]
    )
    env = {**workspace.env, "HOOK_SECRET": "a-webhook-secret-of-32-characters"}

    message = one_error_line(workspace.syncer("run", workspace.config, env=env, timeout=30), 2)

    assert message == (
        f"{workspace.config}: sinks.0.config.url: port 99999 is out of range; a port is from 1 "
        "to 65535"
    )
    assert not workspace.state.exists()


# --- damaged and foreign state files ------------------------------------------------------------


def test_a_state_file_cut_in_half_exits_2_saying_it_is_damaged(synced: Workspace) -> None:
    os.truncate(synced.state, synced.state.stat().st_size // 2)

    commands: list[list[str | Path]] = [
        ["run", synced.config],
        ["history", "--config", synced.config],
        ["state", "check", "--config", synced.config],
    ]
    for args in commands:
        message = one_error_line(synced.syncer(*args), 2)
        assert message.startswith(f"state file {synced.state} is damaged (it ends at byte ")
        assert message.endswith(
            "it was cut short); restore it from a backup or move it aside to start over"
        )


def test_a_state_file_with_corrupt_blocks_exits_2_saying_it_is_damaged(synced: Workspace) -> None:
    corrupt_every_block(synced.state)

    commands: list[list[str | Path]] = [
        ["run", synced.config],
        ["sql", "--config", synced.config, "SELECT count(*) FROM changes"],
        ["state", "check", "--state", synced.state],
    ]
    for args in commands:
        message = one_error_line(synced.syncer(*args), 2)
        assert message.startswith(
            f"state file {synced.state} is damaged (a block's checksum does not match its "
            "contents, at byte "
        )
        assert message.endswith("); restore it from a backup or move it aside to start over")


def test_a_sqlite_file_as_the_state_is_refused_without_fetching_an_extension(
    workspace: Workspace, tmp_path: Path
) -> None:
    db = sqlite3.connect(workspace.state)
    db.execute("CREATE TABLE t (a)")
    db.commit()
    db.close()
    home = tmp_path / "home"
    home.mkdir()
    env = {**workspace.env, "HOME": str(home)}

    commands: list[list[str | Path]] = [
        ["run", workspace.config],
        ["history", "--state", workspace.state],
    ]
    for args in commands:
        message = one_error_line(workspace.syncer(*args, env=env), 2)
        assert message == (
            f"{workspace.state} is not a syncer state file (it is a SQLite database): point "
            "--state at another file, or move it away"
        )
    assert list(home.iterdir()) == []  # no ~/.duckdb/extensions: nothing fetched or installed


# --- state check and state backup ---------------------------------------------------------------


def test_state_check_reads_every_table_and_says_ok(synced: Workspace) -> None:
    done = synced.syncer("state", "check", "--config", synced.config)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"state file {synced.state}: OK (schema ")
    assert " rows read)" in done.stdout


def test_state_backup_writes_a_copy_that_opens_as_a_state_file(synced: Workspace) -> None:
    target = synced.root / "backups" / "state.duckdb"

    done = synced.syncer("state", "backup", target, "--config", synced.config)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"backed up {synced.state} to {target} (schema ")
    query = "SELECT count(*), max(seq) FROM changes"
    copy = synced.syncer("sql", "--state", target, "--format", "csv", query)
    original = synced.syncer("sql", "--config", synced.config, "--format", "csv", query)
    assert copy.returncode == 0, copy.stderr
    assert copy.stdout == original.stdout
    assert synced.syncer("state", "check", "--state", target).returncode == 0

    again = synced.syncer("state", "backup", target, "--config", synced.config)
    assert one_error_line(again, 2) == (
        f"{target} already exists: pass --force to replace it, or choose another path"
    )
    forced = synced.syncer("state", "backup", target, "--force", "--config", synced.config)
    assert forced.returncode == 0, forced.stderr


def test_state_backup_waits_for_no_one_while_a_run_holds_the_lock(synced: Workspace) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()",
            str(synced.state),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        done = synced.syncer(
            "state", "backup", synced.root / "copy.duckdb", "--state", synced.state
        )
        message = one_error_line(done, 2)
        assert message.startswith(
            f"state file {synced.state} is in use by another process (PID {holder.pid})"
        )
    finally:
        holder.communicate("", timeout=30)
    assert not (synced.root / "copy.duckdb").exists()


# --- a full disk --------------------------------------------------------------------------------


class DiskWorkspace(Workspace):
    """A workspace whose state file is on a small disk of its own."""

    disk: Path

    @property
    def state(self) -> Path:
        return self.disk / "state.duckdb"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill ({mounted.stderr.strip()}); needs root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """A file that takes all but `leave` bytes of the disk."""
    stats = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - leave))
    return filler


def test_a_full_disk_mid_commit_fails_the_run_and_the_next_run_loses_nothing(
    small_disk: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    ws = DiskWorkspace(tmp_path / "ws", subprocess_env)
    ws.disk = small_disk
    ws.root.mkdir()
    ws.write_source(catalog(5))
    ws.write_config()
    ws.run()
    ws.write_source(catalog(3000, note=" (v2)"))
    filler = fill(small_disk, leave=128 * 1024)

    done = ws.syncer("run", ws.config)

    message = one_error_line(done, 1)
    full = (
        f"no space left on device writing {ws.state} (free some space and re-run; nothing was lost)"
    )
    statuses = ws.run_statuses()
    if statuses[-1] == "failed":
        assert message == full
    else:  # not even the failure could be written: the next run marks the run crashed
        assert statuses[-1] == "running"
        assert message == f"{full}; the run could not be recorded as failed either: the next " + (
            "run marks it crashed"
        )
    assert len(ws.jsonl_lines()) == 11  # nothing of the failed run was delivered

    filler.unlink()
    ws.run()

    clean = Workspace(tmp_path / "clean", subprocess_env)
    clean.root.mkdir()
    clean.write_source(catalog(5))
    clean.write_config()
    clean.run()
    clean.write_source(catalog(3000, note=" (v2)"))
    clean.run()
    assert ws.outcome() == clean.outcome()
    assert ws.run_statuses()[-1] == "succeeded"
