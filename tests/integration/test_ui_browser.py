"""`syncer ui` in a real headless Chromium, over the demo's state: the runs page, a run's
field-level diff, an entity's versions compared, the lineage graph, the sinks, and the token
login of a server bound beyond localhost.

The browser is Debian's `chromium` driven by Playwright from its own venv
(tests/support/browser.py); without them these tests skip, saying to run `make browser`. Each
page is saved as a PNG in a folder under the test's tmp_path; with SYNCER_UPDATE_SCREENSHOTS=1
they are also copied to docs/assets/ui/, which the web UI's how-to shows, so that the docs'
images change on purpose only.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.support.browser import HINT, Browser, UiServer, missing
from tests.support.workspace import SYNCER

REPO = Path(__file__).resolve().parents[2]
DOCS_SHOTS = REPO / "docs/assets/ui"
UPDATE_SHOTS = os.environ.get("SYNCER_UPDATE_SCREENSHOTS") == "1"
TOKEN_ENV = "SYNCER_TEST_UI_TOKEN"
CUSTOMERS = "shop.shop.main.customers"
VIEW = "shop.shop.main.customer_orders"  # customers and orders upstream, a view downstream
# The screenshots docs/how-to/web-ui.md shows; the others stay test artifacts.
FOR_DOCS = ("runs", "run", "entity", "compare", "lineage", "lineage-columns", "sinks", "login")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
needs_browser = pytest.mark.skipif(missing() is not None, reason=missing() or "")


# --- the demo state ----------------------------------------------------------------------------


def widen_email_and_add_phone(database: Path) -> None:
    """A colleague's schema change: customers.email from varchar(120) to varchar(254), and a new
    column customers.phone."""
    with sqlite3.connect(database) as db:
        db.execute("alter table customers add column phone varchar(20)")
        # SQLite cannot alter a column's type; rewriting the declared type in the schema is
        # safe for a change that leaves the stored values as they are.
        db.execute("pragma writable_schema = on")
        db.execute(
            "update sqlite_master set sql = replace(sql, 'email VARCHAR(120)', "
            "'email VARCHAR(254)') where name = 'customers'"
        )


@pytest.fixture(scope="module")
def demo_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's state after two runs, the second after `widen_email_and_add_phone`."""
    folder = tmp_path_factory.mktemp("demo")
    examples = folder / "examples"
    (examples / "data").mkdir(parents=True)
    shutil.copy(REPO / "examples/demo.yaml", examples)
    shutil.copy(REPO / "examples/data/shop.sqlite", examples / "data")
    state = folder / "state.duckdb"

    def sync() -> None:
        command = [str(SYNCER), "run", str(examples / "demo.yaml"), "--state", str(state)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]

    sync()
    widen_email_and_add_phone(examples / "data/shop.sqlite")
    sync()
    return state


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the screenshots go; copied to docs/assets/ui/ at the end when asked to."""
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    if UPDATE_SHOTS:
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        for name in FOR_DOCS:
            if (folder / f"{name}.png").exists():
                shutil.copy(folder / f"{name}.png", DOCS_SHOTS / f"{name}.png")


@pytest.fixture(scope="module")
def browser(shots: Path) -> Browser:
    return Browser(shots)


@pytest.fixture(scope="module")
def pristine(demo_state: Path) -> str:
    """The state file's digest before any page was served."""
    return hashlib.sha256(demo_state.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def ui(
    demo_state: Path, pristine: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UiServer]:
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    with UiServer(["--state", str(demo_state)], log) as server:
        yield server


# --- the skip ----------------------------------------------------------------------------------


def test_without_chromium_or_playwright_the_browser_tests_skip_saying_to_run_make_browser(
    tmp_path: Path,
) -> None:
    no_chromium = missing(chromium=tmp_path / "chromium", venv=tmp_path)
    no_playwright = missing(chromium=Path("/bin/sh"), venv=tmp_path / "venv")
    assert no_chromium is not None and str(tmp_path / "chromium") in no_chromium
    assert no_playwright is not None and str(tmp_path / "venv") in no_playwright
    assert "`make browser`" in HINT and all(HINT in r for r in (no_chromium, no_playwright))


def test_the_web_ui_guide_shows_every_screenshot_at_1280_by_800_and_small() -> None:
    guide = (REPO / "docs/how-to/web-ui.md").read_text()
    for name in FOR_DOCS:
        picture = DOCS_SHOTS / f"{name}.png"
        assert f"](../assets/ui/{name}.png)" in guide, name
        head = picture.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n", name
        size = (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"))
        assert size == (1280, 800), name
        assert picture.stat().st_size < 300_000, name


# --- the pages ---------------------------------------------------------------------------------


@needs_browser
def test_the_runs_page_lists_both_runs_and_the_second_shows_the_widened_column_old_to_new(
    ui: UiServer, browser: Browser
) -> None:
    seen = browser.run(
        """
        import re

        page.goto(params["origin"] + "/")
        rows = page.locator("#runs-table tr.run-row")
        expect(rows).to_have_count(2)
        result["runs"] = rows.evaluate_all(
            "rows => rows.map(r => [r.dataset.runId, r.dataset.status])"
        )
        shot("runs")

        page.locator("tr.run-row[data-run-id='2'] a.run-link").click()
        expect(page).to_have_url(re.compile(r"/runs/2$"))
        customers = page.locator(f"tr.change-row[data-fqn='{params['fqn']}']")
        email = customers.locator("tr.field-row", has_text="columns.email.dataLength")
        expect(email).to_be_visible()
        result["email"] = [email.locator(f"td.{end}").inner_text() for end in ("old", "new")]
        phone = customers.locator("tr.field-row", has_text="columns.phone")
        result["phone"] = [phone.get_attribute("data-change"), phone.locator("td.new").inner_text()]
        result["kinds"] = page.locator("#changes tr.change-row").evaluate_all(
            "rows => rows.map(r => [r.dataset.fqn, r.dataset.kind])"
        )
        result["deliveries"] = page.locator("#deliveries tr.delivery-row").evaluate_all(
            "rows => rows.map(r => r.dataset.sink)"
        )
        page.locator("#changes").evaluate("e => e.previousElementSibling.scrollIntoView()")
        shot("run")

        page.goto(params["origin"] + "/runs")
        page.locator("#runs-filter select[name=status]").select_option("failed")
        page.locator("#runs-filter button[type=submit]").click()
        expect(page.locator("#runs-table")).to_have_count(0)
        result["filtered"] = page.locator("main p.empty").inner_text()
        """,
        origin=ui.origin,
        fqn=CUSTOMERS,
    )
    assert seen["runs"] == [["2", "succeeded"], ["1", "succeeded"]]
    assert seen["email"] == ["120", "254"]
    assert seen["phone"][0] == "added" and '"dataTypeDisplay":"varchar(20)"' in seen["phone"][1]
    # The view selects customers.email: its column widened too.
    assert sorted(seen["kinds"]) == [[VIEW, "updated"], [CUSTOMERS, "updated"]]
    assert sorted(seen["deliveries"]) == ["duckdb", "jsonl"]
    assert seen["filtered"] == "No runs match this filter."


@needs_browser
def test_an_entity_lists_its_versions_and_compares_two_side_by_side(
    ui: UiServer, browser: Browser
) -> None:
    seen = browser.run(
        """
        page.goto(params["origin"] + "/runs/2")
        page.locator(f"tr.change-row[data-fqn='{params['fqn']}'] a.entity-link").click()
        expect(page.locator("h1#title")).to_contain_text(params["fqn"])
        versions = page.locator("#versions tr.version-row")
        expect(versions).to_have_count(2)
        result["versions"] = versions.evaluate_all("rows => rows.map(r => r.dataset.runId)")

        page.locator("tr.version-row[data-run-id='1'] input[name=a]").check()
        page.locator("tr.version-row[data-run-id='2'] input[name=b]").check()
        page.locator("#compare button[type=submit]").click()
        email = page.locator("#diff-fields tr.field-row", has_text="columns.email.dataLength")
        expect(email).to_be_visible()
        result["email"] = [email.locator(f"td.{end}").inner_text() for end in ("old", "new")]
        result["a"] = page.locator("#version-a").inner_text()
        result["b"] = page.locator("#version-b").inner_text()
        result["side_by_side"] = page.evaluate(
            "() => [document.querySelector('#version-a').getBoundingClientRect().left,"
            " document.querySelector('#version-b').getBoundingClientRect().left]"
        )
        shot("entity")
        page.locator("#diff").evaluate("e => e.previousElementSibling.scrollIntoView()")
        shot("compare")
        """,
        origin=ui.origin,
        fqn=CUSTOMERS,
    )
    assert seen["versions"] == ["2", "1"]  # newest first
    assert seen["email"] == ["120", "254"]
    assert '"varchar(120)"' in seen["a"] and '"phone"' not in seen["a"]
    assert '"varchar(254)"' in seen["b"] and '"phone"' in seen["b"]
    left_a, left_b = seen["side_by_side"]
    assert left_a < left_b  # the two versions stand beside each other, older on the left


@needs_browser
def test_the_lineage_graph_is_an_svg_of_the_view_with_its_sources_and_readers(
    ui: UiServer, browser: Browser
) -> None:
    seen = browser.run(
        """
        from urllib.parse import quote

        page.goto(params["origin"] + "/entity?fqn=" + quote(params["fqn"]))
        page.locator("a#entity-lineage").click()
        svg = page.locator("#lineage-graph svg")
        expect(svg).to_be_visible()
        result["nodes"] = svg.locator("g.node").evaluate_all(
            "nodes => nodes.map(n => [n.dataset.fqn, Number(n.dataset.hop)])"
        )
        result["focus"] = svg.locator("g.node.focus").get_attribute("data-fqn")
        result["edges"] = svg.locator("path.edge").evaluate_all(
            "edges => edges.map(e => [e.dataset.from, e.dataset.to])"
        )
        box = svg.bounding_box()
        result["size"] = [box["width"], box["height"]]
        shot("lineage")

        page.locator("#lineage-form select[name=level]").select_option("column")
        page.locator("#lineage-form button[type=submit]").click()
        expect(page.locator("#lineage-form select[name=level]")).to_have_value("column")
        result["column_edges"] = svg.locator("path.edge").evaluate_all(
            "edges => edges.map(e => [e.dataset.from, e.dataset.to])"
        )
        shot("lineage-columns")
        """,
        origin=ui.origin,
        fqn=VIEW,
    )
    orders, revenue = "shop.shop.main.orders", "shop.shop.main.revenue_by_product"
    assert sorted(seen["nodes"]) == sorted([[CUSTOMERS, -1], [orders, -1], [VIEW, 0], [revenue, 1]])
    assert seen["focus"] == VIEW
    assert sorted(seen["edges"]) == [[VIEW, revenue], [CUSTOMERS, VIEW], [orders, VIEW]]
    width, height = seen["size"]
    assert width > 600 and height > 50  # drawn: three columns of boxes
    assert [f"{CUSTOMERS}.email", f"{VIEW}.email"] in seen["column_edges"]
    assert [f"{orders}.ordered_on", f"{VIEW}.order_date"] in seen["column_edges"]


@needs_browser
def test_the_sinks_page_shows_both_sinks_caught_up_with_the_change_log(
    ui: UiServer, browser: Browser
) -> None:
    seen = browser.run(
        """
        page.goto(params["origin"] + "/runs")
        page.locator("#nav a.nav-sinks").click()
        rows = page.locator("#sinks-table tr.sink-row")
        expect(rows).to_have_count(2)
        result["sinks"] = rows.evaluate_all(
            "rows => rows.map(r => [...r.querySelectorAll('td')].map(c => c.innerText))"
        )
        result["refused"] = page.locator("#dead-letters p.empty").inner_text()
        shot("sinks")
        """,
        origin=ui.origin,
    )
    # 15 changes in run 1 and 2 in run 2: every sink's offset is at the last, none owed.
    for workflow, sink, offset, backlog, pending, dead, _updated in seen["sinks"]:
        assert (workflow, offset, backlog, pending, dead) == ("demo", "17", "0", "0", "0"), sink
    assert sorted(row[1] for row in seen["sinks"]) == ["duckdb", "jsonl"]
    assert seen["refused"] == "No refused changes."


@needs_browser
def test_a_server_beyond_localhost_asks_for_its_token_and_refuses_a_wrong_one(
    demo_state: Path, browser: Browser, tmp_path: Path
) -> None:
    token = secrets.token_urlsafe(24)
    env = {**os.environ, TOKEN_ENV: token}
    args = ["--state", str(demo_state), "--host", "0.0.0.0", "--token", f"${{env:{TOKEN_ENV}}}"]
    with UiServer(args, tmp_path / "ui.log", env=env) as server:
        seen = browser.run(
            """
            asked = page.goto(params["origin"] + "/runs/2")
            form = page.locator("#login-form")
            expect(form).to_be_visible()
            result["asked"] = asked.status
            shot("login")
            form.locator("input[name=token]").fill("not-the-token-at-all")
            with page.expect_response(lambda r: r.request.method == "POST") as answer:
                form.locator("button[type=submit]").click()
            expect(page.locator("#login-wrong")).to_be_visible()
            result["wrong"] = [page.locator("#login-wrong").inner_text(), answer.value.status]
            result["runs_after_wrong"] = page.locator("#runs-table").count()
            shot("login-wrong")

            page.locator("#login-form input[name=token]").fill(params["token"])
            page.locator("#login-form button[type=submit]").click()
            expect(page.locator("#runs-table tr.run-row")).to_have_count(2)
            result["page"] = page.content()
            """,
            origin=server.origin,
            token=token,
        )
    assert seen["asked"] == 401
    assert seen["wrong"] == ["That is not the token: check it and try again.", 401]
    assert seen["runs_after_wrong"] == 0
    assert token not in seen["page"]  # let in, and the token is not written into the page


@needs_browser
def test_while_a_run_holds_the_file_the_pages_show_the_last_finished_state_and_say_so(
    demo_state: Path, browser: Browser, tmp_path: Path
) -> None:
    state = tmp_path / "state.duckdb"
    shutil.copy(demo_state, state)
    with UiServer(["--state", str(state)], tmp_path / "ui.log") as server:
        # What a run does: it takes the file's lock, and writes.
        holder = duckdb.connect(str(state))
        try:
            holder.execute("CREATE TABLE run_in_progress (x INTEGER)")
            seen = browser.run(
                """
                page.goto(params["origin"] + "/runs")
                banner = page.locator("#busy-banner")
                for _ in range(20):  # the view looks at the file again every 2 s at most
                    if banner.count():
                        break
                    page.wait_for_timeout(500)
                    page.reload()
                expect(banner).to_be_visible()
                result["banner"] = banner.inner_text()
                result["runs"] = page.locator("#runs-table tr.run-row").count()
                shot("busy")
                """,
                origin=server.origin,
            )
        finally:
            holder.close()
    assert "Showing the last finished state" in seen["banner"]
    assert seen["runs"] == 2


@needs_browser
def test_browsing_every_page_leaves_the_state_file_as_it_was(
    ui: UiServer, browser: Browser, demo_state: Path, pristine: str
) -> None:
    seen = browser.run(
        """
        page.goto(params["origin"] + "/runs")
        links = page.locator("#nav a").evaluate_all("links => links.map(a => a.href)")
        result["pages"] = []
        for link in [*links, params["origin"] + "/runs/1", params["origin"] + "/runs/2"]:
            answer = page.goto(link)
            result["pages"].append([link, answer.status, page.locator("h1").first.inner_text()])
        """,
        origin=ui.origin,
    )
    assert all(status == 200 for _, status, _ in seen["pages"]), seen["pages"]
    assert {"Runs", "Sinks", "Lineage"} <= {title for _, _, title in seen["pages"]}
    assert hashlib.sha256(demo_state.read_bytes()).hexdigest() == pristine
