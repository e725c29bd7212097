"""The `syncer` command line as a user meets it: a subprocess, its output and its exit code.

Exit codes: 0 success, 1 a failed run, 2 a bad command line, config or state file.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from pathlib import Path

import pytest

from syncer import __version__
from syncer.state import SCHEMA_VERSION
from tests.support.workspace import DOUBLES, SYNCER, Workspace, catalog, unreadable

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

SECRET = "hunter2-b7f1c9d4e8a6"
ENTITIES = 11  # service, database, four schemas, five tables


@pytest.fixture
def synced(workspace: Workspace) -> Workspace:
    """The same workspace after one successful run."""
    workspace.run()
    return workspace


def _edit_source(workspace: Workspace) -> None:
    """Next version of the source: every table described anew, t000000 gone, t000005 new."""
    document = catalog(6, note=" (v2)")
    document["streams"][3]["records"].pop(0)
    workspace.write_source(document)


# --- version and exit codes ----------------------------------------------------------------------


def test_version_prints_the_installed_version_and_the_state_schema(workspace: Workspace) -> None:
    done = workspace.syncer("--version")

    assert done.returncode == 0
    assert done.stdout.strip() == f"syncer {__version__} (state schema {SCHEMA_VERSION})"


def test_a_successful_run_exits_0_and_prints_its_counters_and_deliveries(
    workspace: Workspace,
) -> None:
    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 0, done.stderr
    assert "shop run 1: succeeded" in done.stdout
    assert "│ total     │      11 │      11 │" in done.stdout
    assert f"sink duckdb: {ENTITIES} delivered" in done.stdout
    assert f"sink jsonl: {ENTITIES} delivered" in done.stdout
    assert len(workspace.jsonl_lines()) == ENTITIES


def test_a_second_run_of_an_unchanged_source_sends_nothing(synced: Workspace) -> None:
    done = synced.run()

    assert "│ total     │      11 │        11 │" in done.stdout  # all-zero columns are left out
    assert "created" not in done.stdout
    assert "sink jsonl: 0 delivered" in done.stdout
    assert len(synced.jsonl_lines()) == ENTITIES


def test_an_unknown_config_key_exits_2_naming_the_file_and_the_key_path(
    workspace: Workspace,
) -> None:
    workspace.write_config(
        sinks=[{"type": "jsonl", "config": {"path": str(workspace.jsonl), "pth": "x"}}]
    )

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 2
    assert f"{workspace.config}: sinks.0.config.pth: unknown key" in done.stderr
    assert not workspace.state.exists()


def test_an_unknown_top_level_key_exits_2_naming_it(workspace: Workspace) -> None:
    workspace.write_config(batchsize=10)

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 2
    assert "batchsize: unknown key" in done.stderr


def test_a_missing_config_file_exits_2_naming_it(workspace: Workspace) -> None:
    done = workspace.syncer("run", "nowhere.yaml")

    assert done.returncode == 2
    assert "nowhere.yaml: no such config file" in done.stderr


def test_invalid_yaml_exits_2_naming_the_file_and_line(workspace: Workspace) -> None:
    workspace.config.write_text("workflow: shop\nsource: [unclosed\n", encoding="utf-8")

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 2
    assert str(workspace.config) in done.stderr
    assert "line 3" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_option_exits_2_with_usage(workspace: Workspace) -> None:
    done = workspace.syncer("run", "--colour", workspace.config)

    assert done.returncode == 2
    assert "No such option '--colour'" in done.stderr
    assert not workspace.state.exists()


def test_an_unknown_command_exits_2(workspace: Workspace) -> None:
    done = workspace.syncer("sync", workspace.config)

    assert done.returncode == 2
    assert "No such command 'sync'" in done.stderr


def test_a_run_whose_source_cannot_be_read_exits_1_and_is_recorded_as_failed(
    workspace: Workspace,
) -> None:
    workspace.write_source(unreadable("cannot read tables: host is down"))

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 1
    assert "shop run 1: failed" in done.stdout
    assert "error: cannot read tables: host is down" in done.stderr
    history = workspace.syncer("history", "--config", workspace.config, "--format", "json")
    (run,) = json.loads(history.stdout)
    assert (run["status"], run["error"]) == ("failed", "cannot read tables: host is down")


# --- plan ----------------------------------------------------------------------------------------


def test_plan_lists_the_creates_updates_and_deletes_a_run_would_make(synced: Workspace) -> None:
    _edit_source(synced)

    done = synced.syncer("plan", synced.config)

    assert done.returncode == 0, done.stderr
    planned = [line.split() for line in done.stdout.splitlines()[:6]]
    assert planned == [
        ["updated", "table", "warehouse.analytics.s1.t000001", "(description)"],
        ["updated", "table", "warehouse.analytics.s2.t000002", "(description)"],
        ["updated", "table", "warehouse.analytics.s3.t000003", "(description)"],
        ["updated", "table", "warehouse.analytics.s0.t000004", "(description)"],
        ["created", "table", "warehouse.analytics.s1.t000005"],
        ["deleted", "table", "warehouse.analytics.s0.t000000"],
    ]
    assert "shop plan: succeeded" in done.stdout


def test_plan_leaves_the_state_file_and_the_sinks_untouched(synced: Workspace) -> None:
    _edit_source(synced)
    summary = synced.root / "state.duckdb.summary.json"  # the last run's, for `fleet status`
    before = [path.read_bytes() for path in (synced.state, synced.jsonl, summary)]

    synced.syncer("plan", synced.config)

    assert [path.read_bytes() for path in (synced.state, synced.jsonl, summary)] == before
    assert sorted(p.name for p in synced.root.iterdir()) == [
        "out.jsonl",
        "source.json",
        "state.duckdb",
        "state.duckdb.summary.json",
        "workflow.yaml",
    ]
    # and the run that follows still sees every change
    assert "│ total     │      11 │       1 │       4 │" in synced.run().stdout


def test_plan_without_a_state_file_plans_everything_and_creates_no_file(
    workspace: Workspace,
) -> None:
    done = workspace.syncer("plan", workspace.config)

    assert done.returncode == 0, done.stderr
    assert sum(line.startswith("created") for line in done.stdout.splitlines()) == ENTITIES
    assert not workspace.state.exists()
    assert not workspace.jsonl.exists()
    assert not (workspace.root / ".syncer").exists()


# --- reading the state: history, changes, sql ----------------------------------------------------


def test_history_lists_the_latest_runs_oldest_first_from_the_state_the_config_names(
    synced: Workspace,
) -> None:
    _edit_source(synced)
    synced.run()

    done = synced.syncer("history", "--config", synced.config, "--format", "json")

    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    assert [(r["run_id"], r["status"], r["created"], r["updated"], r["deleted"]) for r in runs] == [
        (1, "succeeded", 11, 0, 0),
        (2, "succeeded", 1, 4, 1),
    ]


def test_read_commands_use_the_state_file_given_by_state_or_config(
    synced: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    by_state = synced.syncer("history", "--state", synced.state, "--format", "csv", cwd=elsewhere)
    by_config = synced.syncer(
        "history", "--config", synced.config, "--format", "csv", cwd=elsewhere
    )
    by_default = synced.syncer("history")

    assert by_state.returncode == by_config.returncode == 0
    assert by_state.stdout == by_config.stdout
    assert [r["status"] for r in csv.DictReader(io.StringIO(by_state.stdout))] == ["succeeded"]
    assert by_default.returncode == 2
    assert "no state file at .syncer/state.duckdb" in by_default.stderr


def test_changes_filters_by_run_and_fqn_glob(synced: Workspace) -> None:
    _edit_source(synced)
    synced.run()

    done = synced.syncer(
        "changes", "--config", synced.config, "--run", "2", "--fqn", "*.t00000[0-2]"
    )
    csv_done = synced.syncer(
        "changes",
        "--state",
        synced.state,
        "--run",
        "2",
        "--fqn",
        "*.t00000[0-2]",
        "--format",
        "csv",
    )

    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(csv_done.stdout)))
    assert [(r["run_id"], r["kind"], r["fqn"]) for r in rows] == [  # oldest first
        ("2", "updated", "warehouse.analytics.s1.t000001"),
        ("2", "updated", "warehouse.analytics.s2.t000002"),
        ("2", "deleted", "warehouse.analytics.s0.t000000"),
    ]
    assert "warehouse.analytics.s1.t000001" in done.stdout
    assert "t000003" not in done.stdout


def test_changes_pending_lists_what_a_sink_refused_until_it_is_accepted(
    workspace: Workspace,
) -> None:
    refusing = {"type": f"{DOUBLES}:RefusingSink", "config": {"refuse": "*.t000003"}}
    workspace.write_config(sinks=[refusing])
    first = workspace.run("--allow-partial")  # a refused change makes a run partial
    workspace.run("--allow-partial")

    done = workspace.syncer(
        "changes", "--pending", "--config", workspace.config, "--format", "json"
    )

    assert f"sink {DOUBLES}:RefusingSink: 10 delivered, 1 refused" in first.stdout
    (pending,) = json.loads(done.stdout)
    assert pending["fqn"] == "warehouse.analytics.s3.t000003"
    assert pending["last_error"] == "rejected by the catalog"
    assert pending["attempts"] == 2

    workspace.write_config(
        sinks=[{**refusing, "config": {"refuse": "nothing"}}],
    )
    workspace.run()
    after = workspace.syncer(
        "changes", "--pending", "--config", workspace.config, "--format", "csv"
    )
    assert after.stdout.splitlines()[1:] == []


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_sql_answers_a_select_in_each_format(synced: Workspace, fmt: str) -> None:
    done = synced.syncer(
        "sql",
        "select entity_type, count(*) as n from current_entities group by 1 order by 1",
        "--config",
        synced.config,
        "--format",
        fmt,
    )

    assert done.returncode == 0, done.stderr
    expected = [("database", 1), ("databaseSchema", 4), ("databaseService", 1), ("table", 5)]
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(done.stdout)))
        assert rows == [["entity_type", "n"], *([t, str(n)] for t, n in expected)]
    elif fmt == "json":
        rows = json.loads(done.stdout)  # one array
        assert rows == [{"entity_type": t, "n": n} for t, n in expected]
    else:
        for entity_type, n in expected:
            assert f"│ {entity_type:<15} │ {n} │" in done.stdout


def test_output_cut_short_by_its_reader_ends_quietly(synced: Workspace) -> None:
    # As `syncer sql … | head -1` does: the reader closes the pipe after one line.
    query = "select range from range(200000)"
    args = [str(SYNCER), "sql", query, "--config", str(synced.config), "--format", "jsonl"]
    with subprocess.Popen(
        args, cwd=synced.root, env=synced.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        assert child.stdout.readline()
        child.stdout.close()
        stderr = child.stderr.read().decode()
        code = child.wait(timeout=60)

    assert code == 1
    assert stderr == ""


@pytest.mark.parametrize(
    "statement",
    ["delete from runs", "drop table changes", "update entities set fingerprint = 'x'"],
)
def test_sql_refuses_writes_and_leaves_the_state_untouched(
    synced: Workspace, statement: str
) -> None:
    before = synced.state.read_bytes()

    done = synced.syncer("sql", statement, "--state", synced.state)

    assert done.returncode == 2
    assert "read-only" in done.stderr
    assert synced.state.read_bytes() == before
    assert synced.query("select count(*) from runs") == [(1,)]


def test_sql_reports_a_bad_query_with_exit_2(synced: Workspace) -> None:
    done = synced.syncer("sql", "select * from no_such_table", "--state", synced.state)

    assert done.returncode == 2
    assert "query failed" in done.stderr
    assert "no_such_table" in done.stderr


# --- state show and reset ------------------------------------------------------------------------


def test_state_show_summarizes_entities_sink_offsets_and_views(synced: Workspace) -> None:
    done = synced.syncer("state", "show", "--config", synced.config)

    assert done.returncode == 0, done.stderr
    assert f"state file: {synced.state}" in done.stdout
    assert "│ shop     │ table           │ 5        │" in done.stdout
    assert (
        "│ shop     │ jsonl  │ 11     │ 0       │ 0       │" in done.stdout
    )  # offset, backlog, refused
    assert "view change_log:" in done.stdout
    assert "table macro entities_as_of(run_id)" in done.stdout


def test_state_reset_forgets_a_workflow_so_its_next_run_starts_from_nothing(
    synced: Workspace,
) -> None:
    done = synced.syncer("state", "reset", "shop", "--yes", "--config", synced.config)

    assert done.returncode == 0, done.stderr
    assert f"reset shop in {synced.state}" in done.stdout
    assert synced.query("select count(*) from runs") == [(0,)]
    assert synced.query("select count(*) from current_entities") == [(0,)]

    rerun = synced.run()
    assert "shop run 2: succeeded" in rerun.stdout  # run ids and seqs are never reused
    assert "│ total     │      11 │      11 │" in rerun.stdout
    assert f"sink jsonl: {ENTITIES} delivered" in rerun.stdout
    # the JSONL file is a log: the re-created entities follow the first run's lines
    lines = synced.jsonl_lines()
    assert len(lines) == 2 * ENTITIES
    assert [line["fqn"] for line in lines[ENTITIES:]] == [line["fqn"] for line in lines[:ENTITIES]]


def test_state_reset_without_yes_asks_and_a_no_keeps_everything(synced: Workspace) -> None:
    done = synced.syncer("state", "reset", "shop", "--state", synced.state, input="n\n")

    assert done.returncode == 1
    assert "Forget every run, entity and change of 'shop'" in done.stdout
    assert synced.query("select count(*) from current_entities") == [(ENTITIES,)]


# --- connectors and logs -------------------------------------------------------------------------


def test_connectors_lists_the_built_in_steps(workspace: Workspace) -> None:
    done = workspace.syncer("connectors")

    assert done.returncode == 0
    listed = {tuple(line.split()[:2]) for line in done.stdout.splitlines()}
    assert {("source", "sql"), ("sink", "duckdb"), ("sink", "jsonl"), ("processor", "filter")} <= (
        listed
    )


def test_log_format_json_writes_one_json_object_per_stderr_line(workspace: Workspace) -> None:
    done = workspace.syncer("--log-format", "json", "--log-level", "info", "run", workspace.config)

    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert [e["event"] for e in events[:2]] == ["created a new state file", "run started"]
    assert {"level", "timestamp"} <= set(events[1])
    assert {e["stream"] for e in events if e["event"] == "reading stream"} == {
        "services",
        "databases",
        "schemas",
        "tables",
    }


# --- secrets -------------------------------------------------------------------------------------


def _with_secret(workspace: Workspace) -> dict[str, str]:
    """Source password `${env:SYNCER_TEST_TOKEN}`; returns an env that sets it to SECRET."""
    workspace.source_config = {"password": "${env:SYNCER_TEST_TOKEN}"}
    workspace.write_config()
    return {**workspace.env, "SYNCER_TEST_TOKEN": SECRET}


def _files_holding(root: Path, text: str) -> list[str]:
    return sorted(
        p.name for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes()
    )


def test_a_secret_from_the_environment_never_reaches_output_logs_state_or_sinks(
    workspace: Workspace,
) -> None:
    env = _with_secret(workspace)
    # a careless source: one bad record's error quotes the password
    document = catalog(5)
    document["streams"][3]["records"].append(
        {"name": "audit_log", "error": "request with token {password} was refused"}
    )
    workspace.write_source(document)

    run = workspace.syncer(
        "--log-format", "json", "--log-level", "debug", "run", workspace.config, env=env
    )
    plan = workspace.syncer("--log-level", "debug", "plan", workspace.config, env=env)
    history = workspace.syncer("history", "--config", workspace.config, env=env)

    assert run.returncode == 1, run.stderr  # partial: a record failed
    # the careless record error was logged, masked
    assert "request with token *** was refused" in run.stderr
    assert "shop run 1: partial" in run.stdout
    for done in (run, plan, history):
        assert SECRET not in done.stdout
        assert SECRET not in done.stderr
    assert _files_holding(workspace.root, SECRET) == []
    assert len(workspace.jsonl_lines()) == ENTITIES


def test_a_secret_in_a_source_error_is_masked_on_screen_and_in_the_state(
    workspace: Workspace,
) -> None:
    env = _with_secret(workspace)
    workspace.write_source(unreadable("cannot read tables: login with {password} refused"))

    done = workspace.syncer("--log-format", "json", "run", workspace.config, env=env)

    assert done.returncode == 1
    assert "cannot read tables: login with *** refused" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert workspace.query("select error from runs") == [
        ("cannot read tables: login with *** refused",)
    ]
    assert _files_holding(workspace.root, SECRET) == []


def test_a_missing_environment_secret_exits_2_naming_the_reference_before_any_work(
    workspace: Workspace,
) -> None:
    _with_secret(workspace)
    env = {k: v for k, v in workspace.env.items() if k != "SYNCER_TEST_TOKEN"}

    done = workspace.syncer("run", workspace.config, env=env)

    assert done.returncode == 2
    assert "secret ${env:SYNCER_TEST_TOKEN}: environment variable SYNCER_TEST_TOKEN is not set" in (
        done.stderr
    )
    assert not workspace.state.exists()


# --- one writer at a time ------------------------------------------------------------------------


def test_a_second_run_on_a_state_file_in_use_fails_at_once_naming_the_file_and_the_holder(
    workspace: Workspace, tmp_path: Path
) -> None:
    reached, release = tmp_path / "reached", tmp_path / "release"
    workspace.write_config(
        sinks=[
            {
                "type": f"{DOUBLES}:GateSink",
                "config": {"reached": str(reached), "release": str(release)},
            }
        ]
    )
    first = workspace.spawn("run", workspace.config)
    try:
        deadline = time.monotonic() + 30
        while not reached.exists():
            assert first.poll() is None, "the first run ended before it held the state"
            assert time.monotonic() < deadline, "the first run never reached its sink"
            time.sleep(0.01)

        started = time.monotonic()
        second = workspace.syncer("run", workspace.config)
        took = time.monotonic() - started

        assert second.returncode == 2
        assert f"state file {workspace.state} is in use by another process" in second.stderr
        assert f"(PID {first.pid})" in second.stderr
        assert took < 5
        assert first.poll() is None  # the first run was not disturbed
    finally:
        release.touch()
        first.wait(timeout=30)
    assert first.returncode == 0
    assert workspace.run_statuses() == ["succeeded"]


# --- violations ----------------------------------------------------------------------------------


def test_violations_lists_the_rules_a_run_broke_and_a_failing_rule_exits_1(
    workspace: Workspace,
) -> None:
    rules = [
        {
            "name": "tables-have-owners",
            "entity_types": ["table"],
            "field": "owners",
            "not_empty": True,
            "action": "warn",
        },
        {
            "name": "no-table-zero",
            "entity_types": ["table"],
            "fqn": r"\.t000000$",
            "field": "name",
            "not_equals": "t000000",
            "action": "fail",
        },
    ]
    workspace.write_config(processors=[{"type": "policy", "config": {"rules": rules}}])

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 1
    assert "rules broken: 1 fail, 5 warn (see `syncer violations --run 1`)" in done.stdout
    assert "entities broke rules whose action is fail" in done.stderr
    listed = workspace.syncer("violations", "--config", workspace.config, "--format", "json")
    rows = json.loads(listed.stdout)
    assert {(r["action"], r["rule"]) for r in rows} == {
        ("fail", "no-table-zero"),
        ("warn", "tables-have-owners"),
    }
    assert len(rows) == 6
    failing = workspace.syncer(
        "violations", "--config", workspace.config, "--action", "fail", "--format", "json"
    )
    [row] = json.loads(failing.stdout)
    assert row["fqn"].endswith(".t000000")
