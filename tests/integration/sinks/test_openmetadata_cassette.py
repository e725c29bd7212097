"""The first sync of the shop database, recorded once as a vcrpy cassette and replayed without
any server: the sink must send exactly the recorded requests, in order.

`make cassettes` re-records it (SYNCER_RECORD_CASSETTES=1) against the local OpenMetadata test
server, or against a real OpenMetadata when SYNCER_TEST_OPENMETADATA_URL and
SYNCER_TEST_OPENMETADATA_TOKEN are set. Recordings keep no Authorization header and no cookie.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import vcr

from tests.integration.sinks.test_openmetadata import EDGES, TABLES, TOKEN, Shop
from tests.support.openmetadata import OpenMetadataServer
from tests.support.workspace import REPO

CASSETTES = REPO / "cassettes"
FIRST_SYNC = CASSETTES / "openmetadata" / "first_sync.yaml"
RECORDING = os.environ.get("SYNCER_RECORD_CASSETTES") == "1"
# Never reached when replaying: the cassette answers every request.
REPLAY_SERVER = "http://openmetadata.invalid:8585/api"


@contextmanager
def _server() -> Iterator[tuple[str, str]]:
    """The server to record from (its URL and token); the unreachable one when replaying."""
    real = os.environ.get("SYNCER_TEST_OPENMETADATA_URL")
    if not RECORDING:
        yield REPLAY_SERVER, TOKEN
    elif real:
        yield real, os.environ["SYNCER_TEST_OPENMETADATA_TOKEN"]
    else:
        with OpenMetadataServer(token=TOKEN, bulk=True, users=["alice"]) as server:
            yield server.url, TOKEN


def _recorder() -> vcr.VCR:
    return vcr.VCR(
        record_mode="all" if RECORDING else "none",
        # The host differs between recording and replay; what is sent must not.
        match_on=["method", "path", "query", "body"],
        filter_headers=["authorization", "cookie", "set-cookie"],
        decode_compressed_response=True,
    )


def test_the_recorded_first_sync_replays_request_for_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if RECORDING:
        FIRST_SYNC.unlink(missing_ok=True)  # vcrpy would append to the old recording
    with _server() as (url, token):
        monkeypatch.setenv("SYNCER_TEST_OM_TOKEN", token)
        shop = Shop(tmp_path, url)
        with _recorder().use_cassette(str(FIRST_SYNC)) as cassette:
            result = shop.run()

    assert result.status == "succeeded", result.error
    assert [(r.delivered, r.refused) for r in result.deliveries] == [(3 + TABLES + EDGES, 0)]
    if not RECORDING:
        assert cassette.all_played, "the sink sent fewer requests than were recorded"
