"""How a run ends, for a person and for a program: exit codes (streams and sinks failing,
refused deletions with and without --strict), the JSON document of `run|plan --format json`
checked against the schema syncer ships, `--quiet`, the `run finished` log event, and the
tables a person reads (80 columns, empty results, the order of listings, plain text on a dumb
terminal)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from syncer.schemas import run_schema
from tests.support.workspace import SYNCER, Workspace, catalog

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

ENTITIES = 13  # service, database, one schema, ten tables
SCHEMA = Draft202012Validator(run_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture
def workspace(tmp_path: Path, subprocess_env: dict[str, str]) -> Workspace:
    ws = Workspace(tmp_path, subprocess_env)
    ws.write_source(catalog(10, schemas=1))
    ws.write_config()
    return ws


def document(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON document a `--format json` run printed, once checked against the schema."""
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # one document, on one line
    found: dict[str, Any] = json.loads(lines[0])
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in SCHEMA.iter_errors(found)]
    assert errors == [], errors
    return found


def failing_streams(workspace: Workspace, *names: str) -> None:
    """The source with each of `names` failing as a whole (one error for the stream, as an API
    that refuses the key answers), the other streams as they were."""
    source = catalog(10, schemas=1)
    for stream in source["streams"]:
        if stream["name"] in names:
            stream["records"] = [{"name": stream["name"], "error": "401: the API key is wrong"}]
    workspace.write_source(source)


def drop_tables(workspace: Workspace, count: int) -> None:
    source = catalog(10, schemas=1)
    del source["streams"][3]["records"][:count]
    workspace.write_source(source)


# --- exit codes ---------------------------------------------------------------------------------


def test_a_run_whose_every_stream_fails_exits_1_and_says_it_is_partial(
    workspace: Workspace,
) -> None:
    failing_streams(workspace, "services", "databases", "schemas", "tables")

    done = workspace.syncer("run", workspace.config, "--format", "json")

    assert done.returncode == 1, done.stderr
    run = document(done)
    assert (run["status"], run["exit_code"]) == ("partial", 1)
    assert {name: s["errors"] for name, s in run["streams"].items()} == {
        "services": 1,
        "databases": 1,
        "schemas": 1,
        "tables": 1,
    }
    assert "the run is partial: exit 1 (--allow-partial exits 0)" in done.stderr


def test_a_run_with_one_failing_stream_exits_1_unless_partial_runs_are_allowed(
    workspace: Workspace,
) -> None:
    failing_streams(workspace, "tables")

    done = workspace.syncer("run", workspace.config, "--format", "json")
    allowed = workspace.syncer("run", workspace.config, "--format", "json", "--allow-partial")

    assert done.returncode == 1, done.stderr
    run = document(done)
    assert (run["status"], run["total"]["errors"], run["total"]["created"]) == ("partial", 1, 3)
    assert allowed.returncode == 0, allowed.stderr
    assert (document(allowed)["status"], document(allowed)["exit_code"]) == ("partial", 0)


def test_a_failing_sink_exits_1_and_the_document_shows_its_error_and_backlog(
    workspace: Workspace,
) -> None:
    workspace.write_config(
        sinks=[{"type": "duckdb"}, {"type": "jsonl", "config": {"path": "/proc/nope/out.jsonl"}}]
    )

    done = workspace.syncer("run", workspace.config, "--format", "json")

    assert done.returncode == 1
    run = document(done)
    assert run["status"] == "partial" and run["exit_code"] == 1
    duckdb, jsonl = run["deliveries"]
    assert (duckdb["sink"], duckdb["delivered"], duckdb["error"]) == ("duckdb", ENTITIES, None)
    assert (jsonl["sink"], jsonl["delivered"], jsonl["backlog"]) == ("jsonl", 0, ENTITIES)
    assert "/proc/nope/out.jsonl" in jsonl["error"]
    assert run["error"].startswith("sink jsonl: ")


def test_refused_deletions_are_counted_and_exit_0_without_strict(workspace: Workspace) -> None:
    workspace.run()
    drop_tables(workspace, 5)  # half the tables at once: the fail-safe (20%) refuses them

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 0, done.stderr
    # scanned, unchanged, refused: the columns that are 0 throughout are left out
    assert "│ total     │       8 │         8 │       5 │" in done.stdout
    assert "5 deletions refused by the deletion guards" in done.stdout
    assert "deletions refused: would delete 5 of 10 (50%)" in done.stderr
    assert workspace.query("SELECT status, deleted, refused FROM run_summary WHERE run_id = 2") == [
        ("succeeded", 0, 5)
    ]
    assert workspace.query("SELECT stream, refused FROM run_streams WHERE refused > 0") == [
        ("tables", 5)
    ]


def test_refused_deletions_exit_1_with_strict_saying_why_and_how_to_allow_them(
    workspace: Workspace,
) -> None:
    workspace.run()
    drop_tables(workspace, 5)

    strict = workspace.syncer("run", workspace.config, "--strict", "--format", "json")
    allowed = workspace.syncer("run", workspace.config, "--strict", "--fail-safe-percent", "60")

    assert strict.returncode == 1
    run = document(strict)
    assert (run["status"], run["exit_code"], run["refused_deletions"]) == ("succeeded", 1, 5)
    assert "5 deletions were refused: exit 1 (--strict)" in strict.stderr
    assert "--fail-safe-percent" in strict.stderr and "--allow-deletions" in strict.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert workspace.query("SELECT status, deleted, refused FROM run_summary WHERE run_id = 3") == [
        ("succeeded", 5, 0)
    ]


# --- machine-readable runs ----------------------------------------------------------------------


def test_run_and_plan_print_one_document_that_the_shipped_schema_accepts(
    workspace: Workspace,
) -> None:
    planned = workspace.syncer("plan", workspace.config, "--format", "json")
    assert not workspace.state.exists()
    ran = workspace.syncer("run", workspace.config, "--format", "json")

    assert planned.returncode == 0 and ran.returncode == 0, planned.stderr + ran.stderr
    plan, run = document(planned), document(ran)
    assert (plan["kind"], plan["run_id"], len(plan["planned"])) == ("plan", None, ENTITIES)
    assert plan["deliveries"] == []
    assert (run["kind"], run["run_id"], run["workflow"], run["status"]) == (
        "run",
        1,
        "shop",
        "succeeded",
    )
    assert run["exit_code"] == 0 and run["duration_seconds"] >= 0
    assert run["total"]["created"] == ENTITIES and run["streams"]["tables"]["created"] == 10
    assert [(d["sink"], d["delivered"]) for d in run["deliveries"]] == [
        ("duckdb", ENTITIES),
        ("jsonl", ENTITIES),
    ]
    assert (run["warnings"], run["refused_deletions"], run["error"]) == ([], 0, None)


def test_json_logs_end_with_a_run_finished_event_carrying_the_document(
    workspace: Workspace,
) -> None:
    done = workspace.syncer("--log-format", "json", "run", workspace.config, "--format", "json")

    assert done.returncode == 0, done.stderr
    last = json.loads(done.stderr.splitlines()[-1])
    assert (last.pop("event"), last.pop("level")) == ("run finished", "info")
    last.pop("timestamp")
    assert last == document(done)


def test_quiet_prints_nothing_on_success_and_what_went_wrong_otherwise(
    workspace: Workspace,
) -> None:
    first = workspace.syncer("run", workspace.config, "--quiet")  # creates the state file
    again = workspace.syncer("--log-format", "json", "run", workspace.config, "--quiet")
    drop_tables(workspace, 5)
    refused = workspace.syncer("run", workspace.config, "--quiet", "--strict")

    for done in (first, again):
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert refused.returncode == 1
    assert "warning: stream tables: deletions refused" in refused.stderr
    assert "5 deletions were refused: exit 1 (--strict)" in refused.stderr
    assert "shop run 3: succeeded" in refused.stdout


# --- tables for people ----------------------------------------------------------------------------


def test_history_fits_80_columns_and_wide_shows_the_rest(workspace: Workspace) -> None:
    workspace.run()
    drop_tables(workspace, 1)
    workspace.run()
    env = {**workspace.env, "COLUMNS": "80"}

    done = workspace.syncer("history", "--config", workspace.config, env=env)
    wide = workspace.syncer("history", "--config", workspace.config, "--wide", env=env)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].split() == [
        "run",
        "workflow",
        "status",
        "started",
        "UTC",
        "duration",
        "created",
        "updated",
        "deleted",
        "errors",
    ]
    # oldest first, the latest last; numbers in full
    assert [line.split()[:3] for line in lines[2:]] == [
        ["1", "shop", "succeeded"],
        ["2", "shop", "succeeded"],
    ]
    assert lines[2].split()[-4:] == ["13", "0", "0", "0"]
    assert lines[3].split()[-4:] == ["0", "0", "1", "0"]
    assert wide.returncode == 0, wide.stderr
    header = wide.stdout.splitlines()[0].split()
    assert {"scanned", "unchanged", "refused", "mode", "syncer_version", "error"} <= set(header)


def test_empty_results_say_so(workspace: Workspace) -> None:
    workspace.run()

    runs = workspace.syncer("history", "--config", workspace.config, "--workflow", "other")
    changes = workspace.syncer("changes", "--config", workspace.config, "--run", "9")
    events = workspace.syncer("events", "--config", workspace.config, "--run", "9")
    as_json = workspace.syncer(
        "changes", "--config", workspace.config, "--run", "9", "--format", "json"
    )

    assert (runs.returncode, runs.stdout) == (0, "no runs\n")
    assert (changes.returncode, changes.stdout) == (0, "no changes\n")
    assert (events.returncode, events.stdout) == (0, "no events\n")
    assert json.loads(as_json.stdout) == []


def test_changes_and_events_list_the_latest_in_the_same_order_as_one_json_array(
    workspace: Workspace,
) -> None:
    workspace.run()
    drop_tables(workspace, 1)
    workspace.run()
    args = ("--config", workspace.config, "--limit", "4", "--format", "json")

    changes = json.loads(workspace.syncer("changes", *args).stdout)
    events = json.loads(workspace.syncer("events", *args).stdout)
    table = workspace.syncer("changes", "--config", workspace.config, "--limit", "4").stdout

    assert [c["seq"] for c in changes] == [11, 12, 13, 14]  # the latest four, oldest first
    assert [e["entityFullyQualifiedName"] for e in events] == [c["fqn"] for c in changes]
    assert [e["eventType"] for e in events][-1] == "entitySoftDeleted"
    seqs = [line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│")]
    assert seqs == ["11", "12", "13", "14"]


# --- terminals ------------------------------------------------------------------------------------


def in_a_terminal(workspace: Workspace, term: str, *args: str | Path) -> tuple[int, bytes]:
    """Run `syncer ARGS` with a pseudo-terminal for stdin, stdout and stderr; its exit code and
    every byte it wrote."""
    env = {**workspace.env, "TERM": term}
    env.pop("COLUMNS", None)
    env.pop("NO_COLOR", None)
    main, child = pty.openpty()
    process = subprocess.Popen(
        [str(SYNCER), *map(str, args)],
        cwd=workspace.root,
        env=env,
        stdin=child,
        stdout=child,
        stderr=child,
        close_fds=True,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return process.wait(timeout=120), b"".join(chunks)


def screen(output: bytes) -> list[str]:
    """The lines a terminal shows for `output`: carriage returns, erased lines and moves up
    applied, colours dropped."""
    lines: list[str] = [""]
    row = column = 0
    text = re.sub(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]", "", output.decode("utf-8", "replace"))
    for token in re.findall(r"\x1b\[2K|\x1b\[1A|\r|\n|[^\x1b\r\n]+", text):
        if token == "\r":
            column = 0
        elif token == "\n":
            row += 1
            column = 0
            if row == len(lines):
                lines.append("")
        elif token == "\x1b[2K":
            lines[row] = ""
        elif token == "\x1b[1A":
            row = max(row - 1, 0)
        else:
            line = lines[row].ljust(column)
            lines[row] = line[:column] + token + line[column + len(token) :]
            column += len(token)
    return lines


def test_a_dumb_terminal_gets_plain_text(workspace: Workspace) -> None:
    workspace.run()
    drop_tables(workspace, 5)  # a warning is logged while the run goes

    code, output = in_a_terminal(workspace, "dumb", "run", workspace.config)

    assert code == 0, output
    assert b"\x1b" not in output
    assert b"deletions refused" in output and b"shop run 2: succeeded" in output


def test_log_lines_are_printed_above_the_progress_display_not_into_it(
    workspace: Workspace,
) -> None:
    workspace.run()
    drop_tables(workspace, 5)

    code, output = in_a_terminal(workspace, "xterm-256color", "run", workspace.config)

    assert code == 0, output
    assert b"\x1b[2K" in output  # the progress display was drawn (and erased)
    shown = screen(output)
    (warning,) = [line for line in shown if "stream tables: deletions refused" in line]
    assert re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z \[warning\s*\] stream tables:", warning), warning
    assert not any("read" in line or "starting" in line for line in shown)
