"""Every page of the web view, served from a state written by real runs: status, content,
paging, and one-line answers to bad links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from syncer import secrets
from tests.support.engine import SCHEMA, Engine
from tests.support.step_doubles import RefusingSink, RefusingSinkConfig
from tests.unit.ui.conftest import TABLES, client_of, write_shop

T00 = f"{SCHEMA}.t00"


def rows(html: str, css_class: str) -> int:
    return len(re.findall(rf'<tr class="{css_class}[ "]', html))


def test_the_home_page_leads_to_the_runs(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/runs"


def test_the_runs_page_lists_every_run_newest_first_with_status_and_counters(
    client: TestClient,
) -> None:
    html = client.get("/runs").text
    assert 'id="runs-table"' in html
    assert re.findall(r'data-run-id="(\d+)"', html) == ["2", "1"]
    assert 'data-status="partial"' in html
    assert '<a class="run-link" href="/runs/1">1</a>' in html
    assert re.findall(r'class="run-bar status-partial" data-run="(\d+)"', html) == ["2", "1"]


def test_the_runs_page_filters_by_workflow_and_status(client: TestClient) -> None:
    assert rows(client.get("/runs?workflow=shop&status=partial").text, "run-row") == 2
    assert rows(client.get("/runs?status=succeeded").text, "run-row") == 0
    assert "No runs match this filter" in client.get("/runs?workflow=other").text


def test_the_runs_page_is_paged(client: TestClient) -> None:
    first = client.get("/runs?size=1").text
    assert re.findall(r'data-run-id="(\d+)"', first) == ["2"]
    assert 'class="pager-next" href="/runs?size=1&amp;page=2"' in first
    second = client.get("/runs?size=1&page=2").text
    assert re.findall(r'data-run-id="(\d+)"', second) == ["1"]
    assert "pager-next" not in second and "pager-prev" in second


def test_a_run_shows_its_changes_by_entity_type_with_their_field_level_diff(
    client: TestClient,
) -> None:
    html = client.get("/runs/2").text
    assert 'data-entity-type="table"' in html and 'data-entity-type="lineage"' in html
    assert f'data-fqn="{T00}" data-kind="updated"' in html
    assert '<td class="field">columns.email</td>' in html
    assert f'data-fqn="{SCHEMA}.t05" data-kind="deleted"' in html


def test_a_run_shows_its_warnings_and_deliveries_per_sink(client: TestClient) -> None:
    html = client.get("/runs/1").text
    assert "tables-are-described" in html  # the policy's warnings, stored as violations
    assert 'data-sink="catalog"' in html
    delivery = re.search(r'data-sink="catalog">(.*?)</tr>', html, re.S)
    assert delivery is not None
    # offset, offered, pending (t03 and the two edges that wait for it), dead, total
    cells = re.findall(r'class="num">(\d+)<', delivery.group(1))
    assert cells[2:] == ["3", "0", "14"]


def test_a_run_says_when_no_deletion_was_refused(client: TestClient) -> None:
    html = client.get("/runs/2").text
    assert re.search(r'id="refused-deletions">\s*<p class="empty">None.</p>', html)


def test_a_runs_changes_are_paged(client: TestClient) -> None:
    html = client.get("/runs/1?size=5").text
    assert rows(html, "change-row") == 5
    assert "pager-next" in html


def test_an_entity_shows_its_versions_and_compares_the_last_two_by_default(
    client: TestClient,
) -> None:
    html = client.get("/entity", params={"fqn": T00}).text
    assert rows(html, "version-row") == 2
    assert 'id="diff"' in html and "columns.email" in html
    assert 'id="version-a"' in html and 'id="version-b"' in html
    assert '<a class="run-link" href="/runs/2">run 2</a>' in html


def test_any_two_versions_of_an_entity_can_be_compared(client: TestClient) -> None:
    seqs = re.findall(
        r'class="version-row[^"]*" data-seq="(\d+)"',
        client.get("/entity", params={"fqn": T00}).text,
    )
    newest, oldest = seqs
    same = client.get("/entity", params={"fqn": T00, "a": oldest, "b": oldest}).text
    assert 'id="diff-same"' in same
    backwards = client.get("/entity", params={"fqn": T00, "a": newest, "b": oldest}).text
    assert re.search(
        r'data-change="deleted"><td>deleted</td><td class="field">columns.email', backwards
    )


def test_the_entity_search_lists_current_entities_paged(client: TestClient) -> None:
    html = client.get("/entity", params={"q": "t0", "size": 3}).text
    assert rows(html, "entity-row") == 3
    assert "pager-next" in html
    assert f'data-fqn="{SCHEMA}.t05"' not in client.get("/entity?q=t05").text  # deleted


def test_the_lineage_page_draws_the_graph_around_an_entity_both_ways(client: TestClient) -> None:
    html = client.get("/lineage", params={"fqn": f"{SCHEMA}.t02"}).text
    assert '<div id="lineage-graph">\n<svg' in html
    hops = dict(re.findall(r'data-fqn="([^"]+)" data-hop="(-?\d+)"', html))
    assert hops == {
        f"{SCHEMA}.t00": "-2",
        f"{SCHEMA}.t01": "-1",
        f"{SCHEMA}.t02": "0",
        f"{SCHEMA}.t03": "1",
        f"{SCHEMA}.t04": "2",
    }
    assert html.count('<path class="edge"') == 4
    assert 'id="lineage-note"' not in html


def test_the_lineage_page_shows_the_graph_as_of_a_run_and_at_column_level(
    client: TestClient,
) -> None:
    now = client.get("/lineage", params={"fqn": T00, "hops": 5}).text
    then = client.get("/lineage", params={"fqn": T00, "hops": 5, "as_of": 1}).text
    assert f'data-fqn="{SCHEMA}.t05"' not in now  # deleted by run 2
    assert f'data-fqn="{SCHEMA}.t05"' in then
    columns = client.get("/lineage", params={"fqn": T00, "level": "column"}).text
    assert f'data-fqn="{SCHEMA}.t01.id" data-hop="1"' in columns


def test_the_lineage_page_notes_when_the_node_limit_cut_the_graph(client: TestClient) -> None:
    html = client.get("/lineage", params={"fqn": f"{SCHEMA}.t02", "nodes": 2}).text
    assert 'id="lineage-note"' in html
    assert len(re.findall(r'<g class="node', html)) == 2


def test_the_sinks_page_shows_offsets_backlog_and_refused_changes_with_their_errors(
    client: TestClient,
) -> None:
    html = client.get("/sinks").text
    assert 'data-sink="catalog" data-workflow="shop"' in html
    assert rows(html, "dead-letter-row") == 3
    assert "rejected by the catalog" in html
    assert rows(client.get("/sinks?show=dead").text, "dead-letter-row") == 0


def test_the_violations_page_lists_violations_filtered_by_action_and_paged(
    client: TestClient,
) -> None:
    html = client.get("/violations?size=4").text
    assert rows(html, "violation-row") == 4 and "pager-next" in html
    assert rows(client.get("/violations?action=fail").text, "violation-row") == 0
    assert rows(client.get("/violations?run=2&size=500").text, "violation-row") == 5


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("/runs/99", "run 99 is not in this state file"),
        (f"/entity?fqn={SCHEMA}.t0", f"no entity {SCHEMA}.t0 in this state file: did you mean"),
        (f"/entity?fqn={T00}&a=1", f"?a=1 is not a version of {T00}"),
        (f"/lineage?fqn={T00}&as_of=99", "no run 99 in this state file"),
        (f"/lineage?fqn={SCHEMA}.t0", f"no entity {SCHEMA}.t0 in this state file: did you mean"),
    ],
)
def test_an_unknown_run_or_entity_is_a_404_page_with_a_one_line_reason(
    client: TestClient, url: str, reason: str
) -> None:
    response = client.get(url)
    assert response.status_code == 404
    found = re.search(r'<p class="reason">(.*?)</p>', response.text)
    assert found is not None and reason in found.group(1) and "\n" not in found.group(1)


@pytest.mark.parametrize(
    "url",
    [
        "/runs?status=bogus",
        "/runs?page=0",
        "/runs?size=abc",
        "/runs?size=100000",
        f"/lineage?fqn={T00}&hops=6",
        f"/lineage?fqn={T00}&level=row",
        f"/lineage?fqn={T00}&as_of=x",
        "/violations?action=explode",
        f"/entity?fqn={T00}&a=-1",
    ],
)
def test_a_bad_query_parameter_is_a_400_naming_it(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    name = url.split("?")[1].split("&")[-1].split("=")[0]
    assert f"?{name}=" in response.text


def test_a_path_that_no_panel_serves_is_a_404(client: TestClient) -> None:
    assert client.get("/nowhere").status_code == 404


def test_the_stylesheet_ships_inside_the_package(client: TestClient) -> None:
    response = client.get("/static/ui.css")
    assert response.status_code == 200 and "#lineage-graph" in response.text
    assert "http" not in client.get("/runs").text.split("<body>")[0]  # nothing from elsewhere


def test_each_page_keeps_the_state_it_shows_apart_from_the_state_file(shop: Engine) -> None:
    with client_of(shop.state_path) as client:
        assert client.get("/runs").status_code == 200
        copy = client.app.state.ui.snapshots.view().copy  # type: ignore[attr-defined]
    assert copy is not None and copy.store.path != str(shop.state_path)


def test_a_secret_the_run_met_never_reaches_a_page(tmp_path: Path) -> None:
    password = "hunter2-of-the-warehouse"
    secrets.remember(password)  # as loading the workflow's config does
    engine = Engine(tmp_path, workflow="shop")
    write_shop(engine, TABLES)
    reason = f"login as admin:{password} refused"
    engine.run(sinks={"catalog": RefusingSink(RefusingSinkConfig(refuse="*", reason=reason))})
    secrets.forget_all()  # the view is another process: it never loaded the config
    with client_of(engine.state_path) as client:
        for page in ("/runs", "/runs/1", "/sinks", f"/entity?fqn={T00}"):
            response = client.get(page)
            assert response.status_code == 200 and password not in response.text, page
        assert "login as admin:" in client.get("/sinks").text


def test_a_run_shows_the_deletions_the_fail_safe_refused_and_why(tmp_path: Path) -> None:
    engine = Engine(tmp_path, workflow="shop")
    write_shop(engine, TABLES)
    engine.run()
    write_shop(engine, TABLES[:1])  # five of six tables gone at once: past the fail-safe
    engine.run()
    with client_of(engine.state_path) as client:
        html = client.get("/runs/2").text
    refused = re.search(r'id="refused-deletions">(.*?)</div>', html, re.S)
    assert refused is not None
    assert re.search(r"<p>\d+ deletions were held back", refused.group(1))
    assert "<li><b>tables</b>: " in refused.group(1)
