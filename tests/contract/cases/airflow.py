"""The contract case of the `airflow` source: a first sync of a real Airflow 3 and its immediate
re-run, replayed from the cassette `scripts/record_airflow.py` recorded (`make cassettes`).

The recording's `asset_services` is left out here. With it, assets that name tables become
pipeline-table edges, and the tables belong to another source's workflow: this state never
holds them, which the suite's orphan check would rightly flag. Without it, the same recorded
answers give edges between the DAGs that an asset joins, both ends synced by this source; the
pipeline-table edges are tested in tests/integration/connectors/test_airflow.py.

The helpers here (`recorded_source`, `replaying`) serve those tests too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import vcr
from vcr.cassette import Cassette
from vcr.request import Request

from tests.contract.cases import REPO, Case

RECORDED = REPO / "cassettes" / "airflow"
FIRST_SYNC = RECORDED / "first_sync.yaml"
INCREMENTAL_SYNC = RECORDED / "incremental_sync.yaml"
TEST_CONNECTION = RECORDED / "test_connection.yaml"
PASSWORD_ENV = "SYNCER_TEST_AIRFLOW_PASSWORD"


def recorded_source() -> dict[str, Any]:
    """The source block the cassettes were recorded with (its host never answers)."""
    if not FIRST_SYNC.exists():
        pytest.skip("no Airflow recording: run `make cassettes` (scripts/record_airflow.py)")
    block: dict[str, Any] = json.loads((RECORDED / "source.json").read_text())
    return block


def _same_body(sent: Request, recorded: Request) -> None:
    # The token request's recorded body had its password replaced; every other body must match.
    if sent.path.endswith("/auth/token"):
        return
    assert _json(sent.body) == _json(recorded.body)


def _json(body: bytes | str | None) -> Any:
    return json.loads(body) if body else None


@contextmanager
def replaying(cassette: Path) -> Iterator[Cassette]:
    """Requests answered from `cassette`, in recorded order; one it lacks fails the request.

    The host differs between recording and replay; method, path, query and body must not.
    """
    recorder = vcr.VCR(
        record_mode="none",
        match_on=["method", "path", "query", "airflow_body"],
        decode_compressed_response=True,
    )
    recorder.register_matcher("airflow_body", _same_body)
    with pytest.MonkeyPatch.context() as patch:
        # Any value does: the recorded token endpoint answers whatever is sent.
        patch.setenv(PASSWORD_ENV, "replay-password-unused")
        with recorder.use_cassette(str(cassette)) as played:
            yield played


@contextmanager
def _airflow_3(tmp: Path) -> Iterator[dict[str, Any]]:
    block = recorded_source()
    del block["config"]["asset_services"]
    with replaying(FIRST_SYNC):
        yield block


CASES = {"airflow-3": Case(_airflow_3, lineage="PipelineLineage")}
