"""Time travel on the command line: `syncer show FQN --as-of RUN|TIME` and `syncer diff --from
--to`, over a table that is created, updated twice, deleted and restored by real runs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from tests.support.workspace import Workspace, catalog, syncer_env

pytestmark = pytest.mark.slow  # every test runs `syncer` in a subprocess

ORDERS = "warehouse.analytics.s1.t000001"
LATE = "warehouse.analytics.s3.t000003"


@pytest.fixture(scope="module")
def lived(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Run 1 syncs three tables; 2 describes t000001 anew and adds t000003; 3 retypes a column
    of t000001; 4 deletes t000001; 5 restores it as run 3 left it; 6 changes nothing."""
    ws = Workspace(tmp_path_factory.mktemp("timetravel"), syncer_env())
    document = catalog(3)
    tables: list[dict[str, Any]] = document["streams"][3]["records"]
    ws.write_source(document)
    ws.write_config()
    ws.run()
    tables[1]["description"] = "the orders, cleaned"
    tables.append(catalog(4)["streams"][3]["records"][3])
    ws.write_source(document)
    ws.run()
    tables[1]["columns"][1]["dataType"] = "TEXT"
    ws.write_source(document)
    ws.run()
    orders = tables.pop(1)
    ws.write_source(document)
    ws.run("--fail-safe-percent", "100")
    tables.insert(1, orders)
    ws.write_source(document)
    ws.run()
    ws.run()
    return ws


def show(ws: Workspace, *args: str) -> dict[str, Any]:
    done = ws.syncer("show", ORDERS, "--config", ws.config, "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def test_show_prints_an_entity_as_of_each_run_and_the_run_that_wrote_that_version(
    lived: Workspace,
) -> None:
    versions = [show(lived, "--as-of", str(run)) for run in range(1, 7)]

    assert [(v["run_id"], v["kind"], v["deleted"]) for v in versions] == [
        (1, "created", False),
        (2, "updated", False),
        (3, "updated", False),
        (4, "deleted", True),
        (5, "restored", False),
        (5, "restored", False),
    ]
    assert versions[0]["payload"]["description"] == "table 1"
    assert versions[1]["payload"]["description"] == "the orders, cleaned"
    assert versions[1]["payload"]["columns"][1]["dataType"] == "VARCHAR"
    assert versions[2]["payload"]["columns"][1]["dataType"] == "TEXT"
    assert versions[4]["payload"] == versions[2]["payload"]
    assert show(lived)["payload"] == versions[5]["payload"]


def test_show_as_text_says_which_run_wrote_the_version_and_prints_its_payload_pretty(
    lived: Workspace,
) -> None:
    done = lived.syncer("show", ORDERS, "--as-of", "2", "--state", lived.state)
    deleted = lived.syncer("show", ORDERS, "--as-of", "4", "--state", lived.state)

    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[:2] == [
        f"{ORDERS} (table, workflow shop)",
        "as of run 2: the version written by run 2 (updated)",
    ]
    assert json.loads("\n".join(lines[2:]))["description"] == "the orders, cleaned"
    assert lines[2] == "{" and len(lines) > 10  # indented, one field a line
    assert deleted.stdout.splitlines()[1] == "as of run 4: deleted in run 4; as it was last seen:"


def test_show_as_of_a_time_shows_the_last_run_that_had_ended_by_then(lived: Workspace) -> None:
    ended: dict[int, datetime] = dict(lived.query("SELECT run_id, ended_at FROM runs"))
    between = ended[3] + (ended[4] - ended[3]) / 2

    shown = show(lived, "--as-of", between.isoformat())

    assert (shown["as_of_run"], shown["run_id"], shown["kind"]) == (3, 3, "updated")


def test_diff_across_several_runs_lists_created_entities_and_each_changed_field(
    lived: Workspace,
) -> None:
    done = lived.syncer("diff", "--from", "1", "--to", "6", "--config", lived.config)

    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[2:-1]]
    assert rows == [
        ["updated", ORDERS, "columns.c1.dataType", "VARCHAR", "TEXT"],
        ["updated", ORDERS, "description", "table", "1", "the", "orders,", "cleaned"],
        ["created", LATE],
    ]
    assert done.stdout.splitlines()[-1] == "run 1 → run 6: 1 created, 1 updated"


def test_diff_as_json_gives_old_and_new_values_and_the_runs_that_wrote_them(
    lived: Workspace,
) -> None:
    done = lived.syncer(
        "diff", "--from", "2", "--to", "4", "--state", lived.state, "--format", "json"
    )
    restored = lived.syncer(
        "diff", "--from", "4", "--to", "5", "--state", lived.state, "--format", "json"
    )

    assert done.returncode == 0, done.stderr
    assert [
        (d["fqn"], d["change"], d["before_run"], d["after_run"]) for d in json.loads(done.stdout)
    ] == [(ORDERS, "deleted", 2, 4)]
    ((back,),) = [json.loads(restored.stdout)]
    assert (back["change"], back["before_run"], back["after_run"]) == ("restored", 4, 5)


def test_diff_between_runs_that_undo_each_other_finds_no_difference(lived: Workspace) -> None:
    done = lived.syncer("diff", "--from", "3", "--to", "5", "--state", lived.state)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "run 3 → run 5: no differences"


def test_diff_keeps_the_entities_whose_fqn_matches_the_glob(lived: Workspace) -> None:
    done = lived.syncer(
        "diff", "--from", "1", "--fqn", "*.s3.*", "--state", lived.state, "--format", "json"
    )

    assert done.returncode == 0, done.stderr
    assert [(d["fqn"], d["change"]) for d in json.loads(done.stdout)] == [(LATE, "created")]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["show", "warehouse.analytics.s1.t00001"],
            "no entity warehouse.analytics.s1.t00001 in ",
        ),
        (["show", ORDERS, "--as-of", "99"], "--as-of 99: "),
        (["show", ORDERS, "--as-of", "2001-01-01"], "--as-of 2001-01-01: no run of "),
        (["show", LATE, "--as-of", "1"], f"{LATE} did not exist yet as of run 1"),
        (["diff", "--from", "7"], "--from 7: "),
        (["diff", "--from", "5", "--to", "2"], "--from (run 5) is after --to (run 2)"),
    ],
)
def test_an_unknown_fqn_or_run_is_one_line_that_says_what_to_pass_instead(
    lived: Workspace, args: list[str], expected: str
) -> None:
    done = lived.syncer(*args, "--state", lived.state)

    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: {expected}")
    assert any(fix in line for fix in ("did you mean", "pass", "swap")), line


def test_an_unknown_fqn_is_answered_with_the_close_ones(lived: Workspace) -> None:
    done = lived.syncer("show", "warehouse.analytics.s1.t00001", "--state", lived.state)

    assert f"did you mean {ORDERS}?" in done.stderr
