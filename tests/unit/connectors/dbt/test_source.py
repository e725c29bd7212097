"""The dbt source through the real engine: re-runs, a changed project, removed models, the
results' watermark, and broken artifacts that fail clearly without losing anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from syncer.connectors.dbt import DbtConfig, DbtSource
from tests.unit.connectors.dbt.runs import (
    ARTIFACTS,
    ARTIFACTS_V2,
    DbtRuns,
    copy_artifacts,
    load,
    write_json,
)

STG_ORDERS = "warehouse.shop.main.stg_orders"
CUSTOMER_ORDERS = "warehouse.shop.main_marts.customer_orders"


@pytest.fixture
def runs(tmp_path: Path) -> DbtRuns:
    return DbtRuns(tmp_path)


def test_a_first_run_syncs_the_project_and_a_rerun_sends_nothing(runs: DbtRuns) -> None:
    first = runs.run(ARTIFACTS)
    assert first.status == "succeeded", first.error
    assert first.warnings == []
    assert {name: c.created for name, c in first.streams.items()} == {
        "services": 1,
        "databases": 1,
        "schemas": 5,
        "tables": 9,
        "test_cases": 16,
        "test_results": 16,
        "lineage": 8,
    }
    again = runs.run(ARTIFACTS)
    assert again.counters.changed == 0
    assert again.streams["test_results"].unchanged == 16


def test_a_changed_project_updates_the_model_adds_the_test_and_only_the_new_results(
    runs: DbtRuns,
) -> None:
    runs.run(ARTIFACTS)
    second = runs.run(ARTIFACTS_V2)
    assert second.status == "succeeded", second.error
    changes = runs.changes(second.run_id)
    assert ("updated", "table", STG_ORDERS) in changes
    assert [c for c in changes if c[1] == "testCase"] == [
        (
            "created",
            "testCase",
            "warehouse.shop.main_marts.orders.order_date.not_null_orders_order_date",
        )
    ]
    results = [c for c in changes if c[1] == "testCaseResult"]
    assert len(results) == 17 and {kind for kind, _, _ in results} == {"created"}
    assert second.counters.deleted == 0
    assert runs.entities("table")[STG_ORDERS]["description"] == (
        "Orders, cleaned; one row per order placed in the shop."
    )
    changed = runs.rows(
        "SELECT changed_fields FROM change_log WHERE run_id = ? AND entity_type = 'table'",
        [second.run_id],
    )
    assert changed == [(["description"],)]


def test_the_results_watermark_is_the_latest_result_and_an_older_file_is_not_read(
    runs: DbtRuns,
) -> None:
    runs.run(ARTIFACTS_V2)
    latest = max(r["timestamp"] for r in runs.entities("testCaseResult").values())
    assert runs.watermark("test_results") == str(latest)
    # A stale copy of an earlier build's run_results.json: its results are older than what
    # was synced, and are not read (nor sent) again.
    older = runs.run(ARTIFACTS)
    assert older.status == "succeeded", older.error
    assert older.streams["test_results"].scanned == 0
    assert runs.watermark("test_results") == str(latest)
    # The older manifest lacks the test added since, so that test's one result goes with it.
    assert len(runs.entities("testCaseResult")) == 16


def test_a_full_refresh_reads_every_result_again_and_sends_none_twice(runs: DbtRuns) -> None:
    runs.run(ARTIFACTS)
    refreshed = runs.run(ARTIFACTS, full_refresh=True)
    assert refreshed.streams["test_results"].scanned == 16
    assert refreshed.counters.changed == 0


@pytest.mark.parametrize("full_refresh", [False, True])
def test_a_model_removed_from_the_project_is_deleted_with_its_tests_and_lineage(
    runs: DbtRuns, tmp_path: Path, full_refresh: bool
) -> None:
    target = copy_artifacts(ARTIFACTS, tmp_path / "target")
    runs.run(target)
    manifest = load("manifest.json")
    gone = [
        uid
        for uid, node in manifest["nodes"].items()
        if uid == "model.shop.customer_orders"
        or node.get("attached_node") == "model.shop.customer_orders"
    ]
    for uid in gone:
        del manifest["nodes"][uid]
    write_json(target / "manifest.json", manifest)
    second = runs.run(target, full_refresh=full_refresh)
    assert second.status == "succeeded", second.error
    deleted = {(t, key) for kind, t, key in runs.changes(second.run_id) if kind == "deleted"}
    assert ("table", CUSTOMER_ORDERS) in deleted
    assert len([t for t, _ in deleted if t == "testCase"]) == 3
    assert {key for t, key in deleted if t == "lineage"} == {
        f"warehouse.shop.main.stg_customers->{CUSTOMER_ORDERS}",
        f"warehouse.shop.main_marts.orders->{CUSTOMER_ORDERS}",
    }
    assert CUSTOMER_ORDERS not in runs.entities("table")


def test_the_results_of_a_removed_test_go_with_it(runs: DbtRuns, tmp_path: Path) -> None:
    target = copy_artifacts(ARTIFACTS, tmp_path / "target")
    runs.run(target)
    manifest = load("manifest.json")
    del manifest["nodes"]["test.shop.not_null_orders_order_id.cf6c17daed"]
    write_json(target / "manifest.json", manifest)
    second = runs.run(target)
    assert second.warnings == []
    assert not [k for k in runs.entities("testCaseResult") if "not_null_orders_order_id@" in k]


def test_a_schema_dbt_no_longer_writes_to_is_kept(runs: DbtRuns, tmp_path: Path) -> None:
    # The schema is the warehouse's: deleting it would take the sql source's tables with it.
    target = copy_artifacts(ARTIFACTS, tmp_path / "target")
    runs.run(target)
    manifest = load("manifest.json")
    del manifest["nodes"]["snapshot.shop.orders_snapshot"]
    write_json(target / "manifest.json", manifest)
    second = runs.run(target)
    assert ("deleted", "table", "warehouse.shop.main_snapshots.orders_snapshot") in runs.changes(
        second.run_id
    )
    assert "warehouse.shop.main_snapshots" in runs.entities("databaseSchema")


def test_without_catalog_and_run_results_the_manifest_alone_is_synced(
    runs: DbtRuns, tmp_path: Path
) -> None:
    target = copy_artifacts(ARTIFACTS, tmp_path / "target")
    (target / "catalog.json").unlink()
    (target / "run_results.json").unlink()
    result = runs.run(target)
    assert result.status == "succeeded", result.error
    assert result.warnings == []
    assert result.streams["test_results"].scanned == 0
    columns = runs.entities("table")[CUSTOMER_ORDERS]["columns"]
    assert [c["name"] for c in columns] == ["customer_id", "lifetime_value", "first_order_date"]


# --- broken artifacts ---------------------------------------------------------------------------


def _state_after_a_good_run(runs: DbtRuns, tmp_path: Path) -> tuple[Path, int, int]:
    target = copy_artifacts(ARTIFACTS, tmp_path / "target")
    runs.run(target)
    live = len(runs.rows("SELECT fqn FROM current_entities"))
    return target, runs.change_count(), live


def test_a_truncated_manifest_fails_the_run_naming_the_file_and_loses_nothing(
    runs: DbtRuns, tmp_path: Path
) -> None:
    target, changes, live = _state_after_a_good_run(runs, tmp_path)
    manifest = target / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:20_000])
    result = runs.run(target)
    assert result.status == "failed"
    assert result.error is not None and "\n" not in result.error
    assert result.error.startswith(f"{manifest}: is not valid JSON (")
    assert runs.change_count() == changes
    assert len(runs.rows("SELECT fqn FROM current_entities")) == live


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (7, "dbt manifest schema v7 (written by dbt 1.3) is not supported; this source reads "
         "v9 to v12"),
        (99, "dbt manifest schema v99 is not supported; this source reads v9 to v12"),
    ],
)  # fmt: skip
def test_a_manifest_of_an_unsupported_version_fails_naming_it(
    runs: DbtRuns, tmp_path: Path, version: int, expected: str
) -> None:
    target, changes, _ = _state_after_a_good_run(runs, tmp_path)
    manifest = load("manifest.json")
    manifest["metadata"]["dbt_schema_version"] = (
        f"https://schemas.getdbt.com/dbt/manifest/v{version}.json"
    )
    write_json(target / "manifest.json", manifest)
    result = runs.run(target)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith(f"{target / 'manifest.json'}: {expected}")
    assert runs.change_count() == changes


def test_a_truncated_run_results_fails_only_the_results_and_keeps_their_watermark(
    runs: DbtRuns, tmp_path: Path
) -> None:
    _state_after_a_good_run(runs, tmp_path)
    watermark = runs.watermark("test_results")
    v2 = copy_artifacts(ARTIFACTS_V2, tmp_path / "target_v2")
    run_results = v2 / "run_results.json"
    good = run_results.read_bytes()
    run_results.write_bytes(good[:3000])
    broken = runs.run(v2)
    assert broken.status == "partial"
    assert broken.streams["test_results"].errors == 1
    assert broken.streams["test_results"].created == 0
    # The rest of the project is synced: the changed model and the new test case.
    assert broken.streams["tables"].updated == 1
    assert broken.streams["test_cases"].created == 1
    assert runs.watermark("test_results") == watermark
    run_results.write_bytes(good)
    fixed = runs.run(v2)
    assert fixed.streams["test_results"].created == 17


def _latest_statuses(runs: DbtRuns) -> dict[str, str]:
    """Each test case's latest status, as OpenMetadata shows it: that of its newest result."""
    latest: dict[str, tuple[int, str]] = {}
    for result in runs.entities("testCaseResult").values():
        case, stamp = result["testCase"], result["timestamp"]
        if case not in latest or stamp > latest[case][0]:
            latest[case] = (stamp, result["testCaseStatus"])
    return {case.rsplit(".", 1)[-1]: status for case, (_, status) in latest.items()}


def test_docs_generate_after_a_failing_build_leaves_the_failures_the_latest_statuses(
    runs: DbtRuns, tmp_path: Path
) -> None:
    built = runs.run(ARTIFACTS)
    assert built.status == "succeeded", built.error
    before = _latest_statuses(runs)
    assert before["not_null_customer_orders_first_order_date"] == "Failed"
    assert before["accepted_values_stg_customers_country__GB__US__NL"] == "Failed"  # warn
    watermark = runs.watermark("test_results")
    # `dbt docs generate` rewrites run_results.json: every node it compiled is a success,
    # stamped later than the build.
    target = copy_artifacts(ARTIFACTS, tmp_path / "docs_generated")
    generated = load("run_results.json")
    generated["args"].update(which="generate", invocation_command="dbt docs generate")
    generated["metadata"]["generated_at"] = "2026-11-24T06:00:00.000000Z"
    for result in generated["results"]:
        result.update(status="success", failures=None, message=None)
        result["timing"] = [
            {
                "name": "compile",
                "started_at": "2026-11-24T05:59:58.000000Z",
                "completed_at": "2026-11-24T05:59:59.000000Z",
            }
        ]
    write_json(target / "run_results.json", generated)
    with capture_logs() as logs:
        again = runs.run(target)
    assert again.status == "succeeded", again.error
    assert again.streams["test_results"].scanned == 0
    assert again.counters.changed == 0
    assert _latest_statuses(runs) == before
    assert runs.watermark("test_results") == watermark
    [note] = [e for e in logs if e["log_level"] == "warning" and "run_results" in e["event"]]
    assert "`dbt docs generate`" in note["event"]
    assert note["where"] == str(target / "run_results.json")
    # test-connection says so too, without failing.
    report = DbtSource(DbtConfig(path=str(target), service_name="warehouse")).test_connection()
    assert report.ok
    [detail] = [d for name, _, d in report.checks if name == "run_results.json"]
    assert "written by `dbt docs generate`" in detail


def test_test_connection_names_each_artifact_and_its_version() -> None:
    source = DbtSource(DbtConfig(path=str(ARTIFACTS), service_name="warehouse"))
    report = source.test_connection()
    source.close()
    assert report.ok
    assert [(name, ok) for name, ok, _ in report.checks] == [
        ("manifest.json", True),
        ("catalog.json", True),
        ("run_results.json", True),
    ]
    assert "schema v12 (dbt 1.10" in report.checks[0][2]
    assert "9 tables, 16 test cases" in report.checks[0][2]


def test_test_connection_fails_on_a_folder_without_a_manifest(tmp_path: Path) -> None:
    source = DbtSource(DbtConfig(path=str(tmp_path), service_name="warehouse"))
    report = source.test_connection()
    assert not report.ok
    assert report.checks[0][2].startswith(f"{tmp_path}/manifest.json: not found")
