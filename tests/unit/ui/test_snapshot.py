"""The web view never changes or holds the state file: it reads a copy taken while no run
holds the file, and says so while one does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syncer import fleet
from syncer.statefile import open_state
from syncer.ui.snapshot import Snapshots
from tests.support.engine import SCHEMA, Engine
from tests.unit.ui.conftest import build_shop, client_of, digest, run_shop, write_shop

EVERY_PAGE = (
    "/runs",
    "/runs?workflow=shop&status=partial&page=1",
    "/runs/1",
    "/runs/2",
    "/entity",
    f"/entity?fqn={SCHEMA}.t00",
    f"/lineage?fqn={SCHEMA}.t02&hops=5",
    f"/lineage?fqn={SCHEMA}.t02&level=column&as_of=1",
    "/sinks",
    "/sinks?show=dead",
    "/violations",
    "/streams",
    "/runs/99",
)


@pytest.fixture
def own_shop(tmp_path: Path) -> Engine:
    """A shop of this test's own: the test writes it, or holds it."""
    return build_shop(tmp_path)


def test_browsing_every_page_leaves_the_state_files_bytes_unchanged(own_shop: Engine) -> None:
    before = digest(own_shop.state_path)
    files = sorted(p.name for p in own_shop.directory.iterdir())
    with client_of(own_shop.state_path, features=["busiest-streams"]) as client:
        for page in EVERY_PAGE:
            assert client.get(page).status_code in (200, 404), page
    assert digest(own_shop.state_path) == before
    assert sorted(p.name for p in own_shop.directory.iterdir()) == files  # no WAL, no lock file


def test_a_run_started_while_the_view_serves_succeeds_and_shows_next(own_shop: Engine) -> None:
    with client_of(own_shop.state_path) as client:
        assert re.findall(r'data-run-id="(\d+)"', client.get("/runs").text) == ["2", "1"]
        write_shop(own_shop, ["t00", "t01"])
        run_shop(own_shop)  # would fail at once if the view held the file
        assert re.findall(r'data-run-id="(\d+)"', client.get("/runs").text) == ["3", "2", "1"]


def test_a_view_with_a_copy_keeps_showing_it_while_a_run_holds_the_file(
    own_shop: Engine,
) -> None:
    with client_of(own_shop.state_path) as client:
        assert "busy-banner" not in client.get("/runs").text
        process = _hold(own_shop.state_path)
        try:
            html = client.get("/runs").text
            assert 'id="busy-banner"' in html and "is busy: a run holds it" in html
            assert "Showing the last finished state" in html
            assert re.findall(r'data-run-id="(\d+)"', html) == ["2", "1"]
        finally:
            process.communicate(timeout=30)
        assert "busy-banner" not in client.get("/runs").text


def test_with_no_copy_yet_a_held_file_is_a_503_page_from_its_summary(
    own_shop: Engine,
) -> None:
    store = open_state(own_shop.state_path)
    fleet.leave_summary(store, "shop", 2)  # as `syncer run` leaves it when a run ends
    store.close()
    process = _hold(own_shop.state_path)
    try:
        with client_of(own_shop.state_path) as client:
            response = client.get("/runs")
    finally:
        process.communicate(timeout=30)
    assert response.status_code == 503
    assert 'id="busy-banner"' in response.text and 'id="unavailable"' in response.text
    summary = r'<tr class="summary-row"><td>shop</td><td>2</td><td>partial</td>'
    assert re.search(summary, response.text)


def _hold(path: Path) -> subprocess.Popen[str]:
    """Another process holding the state file as a running `syncer run` does: its run begun,
    until the test closes its stdin."""
    program = (
        "import os, sys\n"
        "from syncer.statefile import open_state\n"
        f"store = open_state({str(path)!r})\n"
        "store.start_run('shop', 'incremental', 'fingerprint', os.getpid())\n"
        "print('holding', flush=True)\n"
        "sys.stdin.read()\n"
        "store.close()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", program], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "holding\n"
    return process


def test_a_copy_taken_while_a_run_began_writing_is_thrown_away(own_shop: Engine) -> None:
    class Racing(Snapshots):
        def _copy(self) -> Path:
            taken = super()._copy()
            os.utime(self.source, ns=(time.time_ns(), time.time_ns() + 10**9))  # a write
            return taken

    snapshots = Racing(own_shop.state_path, interval=0)
    try:
        view = snapshots.view()
        assert view.copy is None
        assert view.busy == f"a run began writing {own_shop.state_path}"
        assert list(snapshots._folder.rglob("*.duckdb")) == []
    finally:
        snapshots.close()


def test_a_state_file_moved_away_is_said_while_the_last_copy_is_shown(
    own_shop: Engine,
) -> None:
    with client_of(own_shop.state_path) as client:
        assert client.get("/runs").status_code == 200
        own_shop.state_path.rename(own_shop.directory / "elsewhere.duckdb")
        response = client.get("/runs")
    assert response.status_code == 200
    assert 'id="problem-banner"' in response.text and "no state file at" in response.text
    assert re.findall(r'data-run-id="(\d+)"', response.text) == ["2", "1"]


def test_the_copies_are_removed_when_the_view_stops(own_shop: Engine) -> None:
    with client_of(own_shop.state_path) as client:
        client.get("/runs")
        folder = client.app.state.ui.snapshots._folder  # type: ignore[attr-defined]
        assert list(folder.rglob("*.duckdb"))
    assert not folder.exists()
