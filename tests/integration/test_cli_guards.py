"""What the command line does when things go wrong around a run: sinks that are down,
interruptions, resets, the fail-safe override, and queries that try to write."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.support.receiver import Receiver, Reply
from tests.support.workspace import Workspace, catalog

pytestmark = pytest.mark.slow


@pytest.fixture
def workspace(tmp_path: Path, subprocess_env: dict[str, str]) -> Workspace:
    ws = Workspace(tmp_path, subprocess_env)
    ws.write_source(catalog(10, schemas=1))
    ws.write_config()
    return ws


def test_a_sink_that_is_down_makes_the_run_partial_exit_1_and_shows_its_backlog(
    workspace: Workspace,
) -> None:
    workspace.write_config(
        sinks=[{"type": "duckdb"}, {"type": "jsonl", "config": {"path": "/proc/nope/out.jsonl"}}]
    )
    done = workspace.syncer("run", workspace.config)
    assert done.returncode == 1
    assert "sink jsonl: 0 delivered; FAILED" in done.stdout
    assert "sink duckdb: 13 delivered" in done.stdout
    assert workspace.query("SELECT status FROM run_summary") == [("partial",)]
    pending = workspace.syncer("changes", "--pending", "--config", workspace.config)
    assert "sink jsonl has 13 changes not yet delivered" in pending.stdout


def test_a_refused_change_makes_the_run_partial_exit_1_unless_partial_runs_are_allowed(
    workspace: Workspace,
) -> None:
    workspace.write_source(catalog(10, schemas=2))
    refusing = {"type": "tests.support.step_doubles:RefusingSink", "name": "picky"}
    workspace.write_config(sinks=[{**refusing, "config": {"refuse": "*.s0"}}])

    done = workspace.syncer("run", workspace.config)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "shop run 1: partial" in done.stdout
    # the schema's five tables wait for it: said once, for the schema, not once per table
    assert "sink picky: 8 delivered, 1 refused, 5 waiting" in done.stdout
    assert done.stdout.count("wait for") == 1
    assert "5 changes wait for warehouse.analytics.s0, which sink picky refused" in done.stdout
    assert "--allow-partial" in done.stderr
    assert workspace.query("SELECT status FROM run_summary") == [("partial",)]

    allowed = workspace.syncer("run", workspace.config, "--allow-partial")

    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "shop run 2: partial" in allowed.stdout
    assert workspace.query("SELECT status FROM run_summary ORDER BY run_id") == [
        ("partial",),
        ("partial",),
    ]


@pytest.mark.parametrize(
    ("stop", "code", "reason"),
    [
        (signal.SIGINT, 130, "interrupted by the user"),
        # what `timeout`, systemd, cron and Kubernetes send to stop a job
        (signal.SIGTERM, 143, "stopped by SIGTERM"),
    ],
    ids=["SIGINT", "SIGTERM"],
)
def test_sigint_stops_a_run_that_the_next_run_completes(
    tmp_path: Path, workspace: Workspace, stop: signal.Signals, code: int, reason: str
) -> None:
    workspace.write_source(catalog(20_000, schemas=4))
    workspace.write_config(batch_size=500)
    process = workspace.spawn("run", workspace.config)
    deadline = time.monotonic() + 60
    while not workspace.logged('"stream": "tables"') and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    process.send_signal(stop)
    assert process.wait(timeout=60) == code, workspace.log.read_text()[-3000:]
    assert workspace.query("SELECT status, error FROM run_summary") == [("interrupted", reason)]
    workspace.run()
    tables = workspace.query("SELECT count(*) FROM current_entities WHERE entity_type = 'table'")
    assert tables == [(20_000,)]
    assert workspace.query("SELECT count(*) FROM change_log WHERE kind = 'created'") == [(20_006,)]


def test_sigterm_while_a_webhook_receiver_is_slow_saves_what_it_took_and_resends_one_request(
    workspace: Workspace,
) -> None:
    entities = 33  # a service, a database, a schema, 30 tables
    workspace.write_source(catalog(30, schemas=1))
    workspace.env["HOOK_SECRET"] = "guards-hook-secret-5c2e8f1a"
    hook = {"url": "", "secret": "${env:HOOK_SECRET}", "batch_size": 2}
    with Receiver() as receiver:
        hook["url"] = receiver.url
        workspace.write_config(sinks=[{"type": "webhook", "name": "hook", "config": hook}])
        receiver.default = Reply(delay=0.05)
        process = workspace.spawn("run", workspace.config)
        deadline = time.monotonic() + 60
        while len(receiver.accepted()) < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 143, workspace.log.read_text()[-3000:]
        assert workspace.query("SELECT status, error FROM run_summary") == [
            ("interrupted", "stopped by SIGTERM")
        ]
        # the requests answered before the signal are recorded as taken: the service, the
        # database and the schema (each alone: a request ends before a change that depends on
        # one in it) and at least one pair of tables
        ((offset,),) = workspace.query('SELECT "offset" FROM deliveries')
        assert offset >= 5
        receiver.default = Reply()
        workspace.run()
        sent = Counter(event["id"] for event in receiver.events())
    assert len(sent) == entities
    assert sum(count - 1 for count in sent.values()) <= 2  # one request's worth at most


def test_the_fail_safe_can_be_raised_for_one_run_from_the_command_line(
    workspace: Workspace,
) -> None:
    workspace.run()
    document = catalog(10, schemas=1)
    del document["streams"][3]["records"][:5]
    workspace.write_source(document)
    refused = workspace.syncer("run", workspace.config)
    assert refused.returncode == 0
    assert "deletions refused" in refused.stderr
    allowed = workspace.syncer("run", workspace.config, "--fail-safe-percent", "60")
    assert allowed.returncode == 0
    assert workspace.query("SELECT count(*) FROM change_log WHERE kind = 'deleted'") == [(5,)]


def test_reset_takes_the_workflow_from_the_config_and_clears_the_catalog_too(
    workspace: Workspace,
) -> None:
    workspace.run()
    done = workspace.syncer("state", "reset", "--config", workspace.config, "--yes")
    assert done.returncode == 0, done.stderr
    assert workspace.query("SELECT count(*) FROM catalog.entities") == [(0,)]
    assert workspace.query("SELECT count(*) FROM entities") == [(0,)]


def test_reset_of_an_unknown_workflow_exits_2_naming_the_known_ones(workspace: Workspace) -> None:
    workspace.run()
    done = workspace.syncer("state", "reset", "shopp", "--state", workspace.state, "--yes")
    assert done.returncode == 2
    assert "has no workflow 'shopp' (it has: shop)" in done.stderr


def test_sql_refuses_to_write_files_and_to_run_several_statements(workspace: Workspace) -> None:
    workspace.run()
    target = workspace.root / "leak.csv"
    copy = workspace.syncer(
        "sql", f"copy (select * from runs) to '{target}'", "--state", workspace.state
    )
    assert copy.returncode == 2
    assert not target.exists()
    several = workspace.syncer("sql", "select 1; select 2", "--state", workspace.state)
    assert several.returncode == 2
    assert "one statement at a time" in several.stderr


def test_a_sink_pointed_at_the_state_file_is_refused_before_the_run(workspace: Workspace) -> None:
    workspace.write_config(sinks=[{"type": "duckdb", "config": {"path": str(workspace.state)}}])
    done = workspace.syncer("run", workspace.config)
    assert done.returncode == 2
    assert "sinks.0.config.path: is the state file" in done.stderr
    assert not workspace.state.exists()


def test_json_output_nests_json_columns_and_csv_writes_lists_as_json(workspace: Workspace) -> None:
    workspace.run()
    done = workspace.syncer(
        "sql",
        "select fqn, payload, [1, 2] as numbers from current_entities order by fqn limit 1",
        "--state",
        workspace.state,
        "--format",
        "json",
    )
    (row,) = orjson.loads(done.stdout)  # one array
    assert row["payload"]["name"] == row["fqn"] and row["numbers"] == [1, 2]
    csv = workspace.syncer(
        "sql", "select [1, 2] as numbers", "--state", workspace.state, "--format", "csv"
    )
    assert csv.stdout.splitlines() == ["numbers", '"[1,2]"']


def test_prune_forgets_delivered_history_but_keeps_current_payloads_and_backlog(
    workspace: Workspace,
) -> None:
    workspace.run()
    document = catalog(10, schemas=1, note=" (v2)")  # every table updated
    workspace.write_source(document)
    workspace.run()
    before = workspace.query("SELECT fqn, payload::VARCHAR FROM current_entities ORDER BY fqn")
    done = workspace.syncer("state", "prune", "--keep-days", "0", "--config", workspace.config)
    assert done.returncode == 0, done.stderr
    assert "pruned shop: 10 changes" in done.stdout  # the tables' first versions
    after = workspace.query("SELECT fqn, payload::VARCHAR FROM current_entities ORDER BY fqn")
    assert after == before
    assert workspace.query("SELECT count(*) FROM changes") == [(13,)]
    workspace.run()  # nothing changed: nothing is sent, nothing is numbered twice
    assert workspace.query("SELECT count(*) FROM changes") == [(13,)]


def test_a_bug_is_one_line_unless_debug_shows_its_traceback(workspace: Workspace) -> None:
    workspace.source_type = "tests.support.step_doubles:BrokenSource"
    workspace.write_config()
    done = workspace.syncer("run", workspace.config)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: internal error: RuntimeError: boom: a bug in a plug-in "
        "(run with --debug for the traceback, and please report it)"
    )
    debug = workspace.syncer("--debug", "run", workspace.config)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
