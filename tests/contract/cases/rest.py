"""The contract cases of the `rest` source: its two examples, replayed from their recordings.

Each case replays `cassettes/rest/<example>_first_sync.yaml` (see `scripts/record_rest.py`),
which holds a first sync and an immediate re-run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vcr
import yaml

from tests.contract.cases import REPO, Case

CASSETTES = REPO / "cassettes" / "rest"


def _source(example: str, base_url: str) -> dict[str, Any]:
    raw = yaml.safe_load((REPO / "examples" / "rest" / f"{example}.yaml").read_text())
    source: dict[str, Any] = raw["source"]
    source["config"]["base_url"] = base_url
    return source


@contextmanager
def _replay(example: str) -> Iterator[None]:
    recorder = vcr.VCR(
        record_mode="none",
        match_on=["method", "path", "query"],
        decode_compressed_response=True,
    )
    cassette = str(CASSETTES / f"{example}_first_sync.yaml")
    with recorder.use_cassette(cassette, allow_playback_repeats=True):
        yield


@contextmanager
def _mlflow(tmp: Path) -> Iterator[dict[str, Any]]:
    source = _source("mlflow", "http://mlflow.invalid:5000")
    with _replay("mlflow"):
        yield source


@contextmanager
def _jobs(tmp: Path) -> Iterator[dict[str, Any]]:
    source = _source("jobs", "http://jobs.invalid:8008")
    before = os.environ.get("JOBS_API_KEY")
    os.environ["JOBS_API_KEY"] = "replay-key-not-recorded"
    try:
        with _replay("jobs"):
            yield source
    finally:
        if before is None:
            os.environ.pop("JOBS_API_KEY", None)
        else:
            os.environ["JOBS_API_KEY"] = before


CASES = {
    "rest-mlflow": Case(_mlflow),
    "rest-jobs": Case(_jobs),
}
