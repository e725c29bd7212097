"""The Airflow provider's parts that need no Airflow: how it describes itself, the `airflow:`
block of a workflow file, the pool each workflow runs in, and finding the workflow files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from syncer import DISTRIBUTION, __version__
from syncer.airflow import get_provider_info
from syncer.airflow.pools import DEFAULT_POOL, pool_name, pools_document, source_server
from syncer.airflow.workflows import find_workflows
from syncer.config import StepSpec, WorkflowConfig, load, parse
from syncer.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def spec(source: dict[str, object], airflow: dict[str, object] | None = None) -> WorkflowConfig:
    raw: dict[str, object] = {"workflow": "shop", "source": source}
    if airflow is not None:
        raw["airflow"] = airflow
    return parse(Path("shop.yaml"), raw)


def sql(url: str) -> dict[str, object]:
    return {"type": "sql", "config": {"url": url}}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# --- the provider ------------------------------------------------------------------------------


def test_the_provider_describes_itself_by_the_distribution_name_airflow_requires() -> None:
    info = get_provider_info()
    assert info["package-name"] == DISTRIBUTION  # Airflow refuses a provider whose name differs
    assert info["name"] and info["description"]  # the schema's two required keys
    assert info["versions"] == [__version__]
    integrations = {i["integration-name"] for i in info["integrations"]}
    assert [o["integration-name"] for o in info["operators"]] == list(integrations)
    for operators in info["operators"]:
        for module in operators["python-modules"]:
            assert (REPO / (module.replace(".", "/") + ".py")).is_file()


def test_the_provider_is_registered_under_airflows_entry_point() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    entry = project["entry-points"]["apache_airflow_provider"]["provider_info"]
    assert entry == "syncer.airflow:get_provider_info"
    assert project["optional-dependencies"]["airflow"] == ["apache-airflow>=3.0"]
    assert not any("airflow" in extra for extra in project["optional-dependencies"]["dev"])


def test_the_provider_package_imports_without_airflow() -> None:
    modules = ["syncer.airflow", "syncer.airflow.pools", "syncer.airflow.workflows"]
    modules.append("syncer.airflow.runner")
    check = "import sys; assert not [m for m in sys.modules if m.split('.')[0] == 'airflow']"
    code = "; ".join([*(f"import {m}" for m in modules), check])
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# --- the airflow: block ------------------------------------------------------------------------


def test_a_workflow_without_an_airflow_block_has_none() -> None:
    assert spec(sql("sqlite:///shop.sqlite")).airflow is None


def test_the_airflow_block_reads_schedule_tags_owner_retries_delay_pool_and_mode() -> None:
    block = spec(
        sql("sqlite:///shop.sqlite"),
        {
            "schedule": "*/15 * * * *",
            "tags": ["shop"],
            "owner": "data-platform",
            "retries": 4,
            "retry_delay": 90,
            "pool": "warehouse",
            "mode": "subprocess",
        },
    ).airflow
    assert block is not None
    assert (block.schedule, block.tags, block.owner) == ("*/15 * * * *", ["shop"], "data-platform")
    assert (block.retries, block.retry_delay) == (4, timedelta(seconds=90))
    assert (block.pool, block.mode) == ("warehouse", "subprocess")


def test_the_retry_delay_may_be_an_iso_duration() -> None:
    block = spec(sql("sqlite:///shop.sqlite"), {"retry_delay": "PT5M"}).airflow
    assert block is not None and block.retry_delay == timedelta(minutes=5)


@pytest.mark.parametrize(
    ("airflow", "error"),
    [
        ({"scheduel": "@daily"}, "airflow.scheduel: unknown key"),
        ({"retries": -1}, "airflow.retries: "),
        ({"mode": "thread"}, "airflow.mode: "),
    ],
)
def test_a_bad_airflow_block_names_the_file_and_key(airflow: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=rf"^shop.yaml: {error}"):
        spec(sql("sqlite:///shop.sqlite"), airflow)


def test_syncer_run_loads_a_config_that_holds_an_airflow_block(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "shop.yaml",
        """\
        workflow: shop
        source: {type: sql, config: {url: "sqlite:///shop.sqlite"}}
        airflow: {schedule: "@hourly", tags: [shop]}
        """,
    )
    loaded = load(path)
    assert loaded.spec.airflow is not None and loaded.spec.airflow.schedule == "@hourly"


# --- pools -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "server"),
    [
        (
            sql("postgresql+psycopg://ro:${env:PGPASSWORD}@DB.internal:6432/sales"),
            "db.internal:6432",
        ),
        (sql("postgresql+psycopg://ro@db.internal/sales"), "db.internal:5432"),
        (sql("mysql+pymysql://root@10.0.0.7/shop"), "10.0.0.7:3306"),
        (
            {"type": "rest", "config": {"base_url": "https://api.example.com/v2"}},
            "api.example.com:443",
        ),
        ({"type": "airflow", "config": {"host": "http://airflow:8080"}}, "airflow:8080"),
        ({"type": "mlflow", "config": {"tracking_uri": "http://mlflow"}}, "mlflow:80"),
        (sql("sqlite:///data/shop.sqlite"), None),
        (sql("postgresql://ro@${env:PGHOST}:5432/sales"), None),
        ({"type": "dbt", "config": {"manifest": "target/manifest.json"}}, None),
    ],
)
def test_the_source_server_is_the_host_and_port_of_its_address(
    source: dict[str, object], server: str | None
) -> None:
    assert source_server(StepSpec.model_validate(source)) == server


def test_workflows_reading_one_server_share_one_pool_named_after_it() -> None:
    first = spec(sql("postgresql://a@db.internal:5432/sales"))
    second = spec(sql("postgresql+psycopg://b:${env:PW}@db.internal/crm"))
    assert pool_name(first) == pool_name(second) == "syncer-db.internal-5432"


def test_a_pool_named_in_the_airflow_block_wins() -> None:
    named = spec(sql("postgresql://a@db.internal/sales"), {"pool": "warehouse"})
    assert pool_name(named) == "warehouse"


def test_a_source_without_a_server_runs_in_airflows_default_pool() -> None:
    assert pool_name(spec(sql("sqlite:///shop.sqlite"))) == DEFAULT_POOL


def test_the_pools_document_lists_each_shared_pool_once_for_airflow_pools_import() -> None:
    specs = [
        parse(Path("a.yaml"), {"workflow": "sales", "source": sql("postgresql://a@db/sales")}),
        parse(Path("b.yaml"), {"workflow": "crm", "source": sql("postgresql://b@db/crm")}),
        parse(Path("c.yaml"), {"workflow": "demo", "source": sql("sqlite:///shop.sqlite")}),
    ]
    assert pools_document(specs, slots=3) == {
        "syncer-db-5432": {
            "slots": 3,
            "description": "syncer workflows reading one server: crm, sales",
            "include_deferred": False,
        }
    }


# --- finding workflow files --------------------------------------------------------------------

WORKFLOW = """\
workflow: {name}
source: {{type: sql, config: {{url: "sqlite:///shop.sqlite"}}}}
"""


def test_every_yaml_file_with_a_workflow_key_is_found_in_path_order(tmp_path: Path) -> None:
    write(tmp_path, "b/sales.yml", WORKFLOW.format(name="sales"))
    write(tmp_path, "a.yaml", WORKFLOW.format(name="demo"))
    write(tmp_path, "compose.yaml", "services: {db: {image: postgres}}\n")
    write(tmp_path, "notes.txt", WORKFLOW.format(name="not_yaml"))
    found = find_workflows(tmp_path)
    assert [(f.path.relative_to(tmp_path).as_posix(), f.spec.workflow) for f in found] == [
        ("a.yaml", "demo"),
        ("b/sales.yml", "sales"),
    ]


def test_two_files_naming_one_workflow_are_refused_naming_both(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", WORKFLOW.format(name="sales"))
    second = write(tmp_path, "b.yaml", WORKFLOW.format(name="sales"))
    with pytest.raises(ConfigError, match=rf"^{second}: workflow: 'sales' is also .* {first};"):
        find_workflows(tmp_path)


def test_a_broken_workflow_file_fails_the_folder_unless_told_to_skip_it(tmp_path: Path) -> None:
    broken = write(tmp_path, "a.yaml", "workflow: sales\nsource: {type: sql}\nairflow: {x: 1}\n")
    write(tmp_path, "b.yaml", WORKFLOW.format(name="demo"))
    with pytest.raises(ConfigError, match=rf"^{broken}: .*airflow.x: unknown key"):
        find_workflows(tmp_path)
    assert [f.spec.workflow for f in find_workflows(tmp_path, on_error="skip")] == ["demo"]


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such folder; pass the folder"):
        find_workflows(tmp_path / "nowhere")
