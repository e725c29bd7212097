"""Reading dbt's artifacts: what is accepted, and the one line a user gets for what is not."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from syncer.connectors.dbt.artifacts import ArtifactError, LocalArtifacts, parse
from tests.unit.connectors.dbt.runs import ARTIFACTS, load


def _manifest_of_version(version: int) -> bytes:
    manifest = load("manifest.json")
    manifest["metadata"]["dbt_schema_version"] = (
        f"https://schemas.getdbt.com/dbt/manifest/v{version}.json"
    )
    return orjson.dumps(manifest)


@pytest.mark.parametrize("version", [9, 10, 11, 12])
def test_manifests_of_dbt_1_5_and_later_are_read(version: int) -> None:
    artifact = parse("manifest.json", "target/manifest.json", _manifest_of_version(version))
    assert artifact.version == version
    assert artifact.data["metadata"]["adapter_type"] == "duckdb"


def test_the_committed_artifacts_are_dbt_1_10s() -> None:
    reader = LocalArtifacts(ARTIFACTS)
    versions = {
        name: reader.load(name, required=True).version  # type: ignore[union-attr]
        for name in ("manifest.json", "catalog.json", "run_results.json")
    }
    assert versions == {"manifest.json": 12, "catalog.json": 1, "run_results.json": 6}


def test_a_manifest_too_old_names_its_version_its_dbt_and_the_versions_read() -> None:
    with pytest.raises(ArtifactError) as caught:
        parse("manifest.json", "target/manifest.json", _manifest_of_version(7))
    message = str(caught.value)
    assert message == (
        "target/manifest.json: dbt manifest schema v7 (written by dbt 1.3) is not supported; "
        "this source reads v9 to v12 (dbt 1.5 and later): rebuild the project with dbt 1.5 or "
        "later"
    )


def test_a_manifest_from_a_future_dbt_names_its_version_and_says_to_upgrade() -> None:
    with pytest.raises(ArtifactError) as caught:
        parse("manifest.json", "target/manifest.json", _manifest_of_version(99))
    message = str(caught.value)
    assert "manifest schema v99 is not supported" in message
    assert "reads v9 to v12" in message
    assert message.endswith("upgrade syncer")
    assert "\n" not in message


def test_a_truncated_manifest_is_one_line_naming_the_file() -> None:
    body = (ARTIFACTS / "manifest.json").read_bytes()[:5000]
    with pytest.raises(ArtifactError) as caught:
        parse("manifest.json", "/srv/dbt/target/manifest.json", body)
    message = str(caught.value)
    assert message.startswith("/srv/dbt/target/manifest.json: is not valid JSON (")
    assert "truncated" in message
    assert "\n" not in message


def test_a_run_results_file_in_place_of_the_manifest_is_named_as_such() -> None:
    body = (ARTIFACTS / "run_results.json").read_bytes()
    with pytest.raises(ArtifactError, match="is a dbt run-results artifact, not a manifest"):
        parse("manifest.json", "target/manifest.json", body)


@pytest.mark.parametrize("body", [b"[1, 2]", b"{}", b'{"metadata": {"dbt_schema_version": 3}}'])
def test_json_that_is_no_dbt_artifact_is_refused(body: bytes) -> None:
    with pytest.raises(ArtifactError, match="is not a dbt manifest artifact"):
        parse("manifest.json", "target/manifest.json", body)


def test_an_unknown_run_results_version_names_it() -> None:
    run_results = load("run_results.json")
    run_results["metadata"]["dbt_schema_version"] = (
        "https://schemas.getdbt.com/dbt/run-results/v3.json"
    )
    with pytest.raises(ArtifactError) as caught:
        parse("run_results.json", "target/run_results.json", orjson.dumps(run_results))
    assert str(caught.value) == (
        "target/run_results.json: dbt run-results schema v3 is not supported; this source "
        "reads v4 to v6: regenerate it with dbt 1.5 or later"
    )


def test_a_missing_manifest_says_where_it_was_looked_for_and_what_writes_it(
    tmp_path: Path,
) -> None:
    with pytest.raises(ArtifactError) as caught:
        LocalArtifacts(tmp_path).load("manifest.json", required=True)
    assert str(caught.value) == (
        f"{tmp_path}/manifest.json: not found; point `path` at the dbt project's target/ "
        "folder after dbt build, dbt run or dbt docs generate"
    )


def test_a_missing_optional_artifact_is_none(tmp_path: Path) -> None:
    assert LocalArtifacts(tmp_path).load("catalog.json", required=False) is None


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"/nowhere: no such folder"):
        LocalArtifacts(tmp_path / "nowhere").load("catalog.json", required=False)


def test_generated_at_is_an_aware_timestamp() -> None:
    artifact = LocalArtifacts(ARTIFACTS).load("run_results.json", required=True)
    assert artifact is not None
    assert artifact.generated_at.utcoffset() is not None
    assert artifact.generated_at.isoformat().startswith(
        load("run_results.json")["metadata"]["generated_at"][:19]
    )
