"""The contract case of the `mlflow` source: the recorded first sync of a real `mlflow server`
(three registered models, five experiments) and the re-run recorded right after it, replayed by
vcrpy without any server.

`scripts/record_mlflow.py` (`make cassettes`) records it again. The integration tests of the
source use the same helpers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vcr
import yaml

from tests.contract.cases import REPO, Case

CASSETTES = REPO / "cassettes" / "mlflow"
FIRST_SYNC = CASSETTES / "first_sync.yaml"
# The sync right after the first, nothing changed: its experiments search carries the watermark.
RERUN = CASSETTES / "rerun.yaml"
INCREMENTAL_SYNC = CASSETTES / "incremental_sync.yaml"


def recorded_source(**overrides: Any) -> dict[str, Any]:
    """The `source` block the cassettes were recorded with, with `overrides` in its config."""
    source: dict[str, Any] = yaml.safe_load((CASSETTES / "source.yaml").read_text())
    source["config"].update(overrides)
    return source


def replayer() -> vcr.VCR:
    """Replays only: a request that was not recorded fails the test instead of going out.
    Matched without host and port, which differ between the recording and the replay."""
    return vcr.VCR(
        record_mode="none",
        match_on=["method", "path", "query"],
        decode_compressed_response=True,
    )


def interactions(*cassettes: Path) -> list[dict[str, Any]]:
    return [i for c in cassettes for i in yaml.safe_load(c.read_text())["interactions"]]


@contextmanager
def _first_sync(tmp: Path) -> Iterator[dict[str, Any]]:
    # The suite runs the source twice: the re-run asks for experiments from the watermark on.
    both = tmp / "first_sync_and_rerun.yaml"
    both.write_text(yaml.safe_dump({"interactions": interactions(FIRST_SYNC, RERUN), "version": 1}))
    with replayer().use_cassette(str(both), allow_playback_repeats=True):
        yield recorded_source()


CASES = {"mlflow": Case(_first_sync, lineage=None)}
