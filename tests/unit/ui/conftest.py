"""A state written by real runs of the engine, and the web view serving it.

The shop: six tables in a lineage chain (t00 → t01 → … → t05, with column lineage), a policy
that warns about tables without a description, and a sink that refuses t03. Run 1 creates
everything; run 2 adds a column to t00 and drops t05.
"""

from __future__ import annotations

import hashlib
import itertools
import tomllib
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from syncer.processors.policy import PolicyConfig, PolicyProcessor
from syncer.ui.app import Settings, create_app
from syncer.ui.panels import GROUP, Panel, installed_panels
from tests.support.engine import SCHEMA, Engine, catalog, table
from tests.support.step_doubles import RefusingSink, RefusingSinkConfig

REPO = Path(__file__).resolve().parents[3]
TABLES = [f"t{i:02d}" for i in range(6)]
WARN = {
    "name": "tables-are-described",
    "entity_types": ["table"],
    "field": "description",
    "not_empty": True,
    "action": "warn",
}


def registered() -> list[EntryPoint]:
    """The panels pyproject.toml registers under `syncer.ui`, as an install would see them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    points = project["project"]["entry-points"][GROUP]
    return [EntryPoint(name, value, GROUP) for name, value in points.items()]


def builtin_panels() -> list[Panel]:
    return installed_panels(registered())


def edge(source: str, target: str) -> dict[str, Any]:
    return {
        "from_entity": {"type": "table", "fully_qualified_name": f"{SCHEMA}.{source}"},
        "to_entity": {"type": "table", "fully_qualified_name": f"{SCHEMA}.{target}"},
        "columns_lineage": [
            {"from_columns": [f"{SCHEMA}.{source}.id"], "to_column": f"{SCHEMA}.{target}.id"}
        ],
    }


def write_shop(engine: Engine, names: list[str], *, email: bool = False) -> None:
    tables = [
        table(name, columns=("id", "name", "email") if email and name == "t00" else ("id", "name"))
        for name in names
    ]
    streams = catalog(tables)
    edges = [edge(a, b) for a, b in itertools.pairwise(names)]
    streams.append({"name": "lineage", "entity_type": "lineage", "records": edges})
    engine.write(streams)


def run_shop(engine: Engine) -> None:
    engine.run(
        processors=[PolicyProcessor(PolicyConfig.model_validate({"rules": [WARN]}))],
        sinks={"catalog": RefusingSink(RefusingSinkConfig(refuse=f"{SCHEMA}.t03"))},
    )


def build_shop(directory: Path) -> Engine:
    engine = Engine(directory, workflow="shop")
    write_shop(engine, TABLES)
    run_shop(engine)
    write_shop(engine, TABLES[:-1], email=True)
    run_shop(engine)
    return engine


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return build_shop(tmp_path_factory.mktemp("shop"))


def client_of(state: Path, **settings: Any) -> TestClient:
    options: dict[str, Any] = {"panels": builtin_panels(), "refresh_seconds": 0.0, **settings}
    return TestClient(create_app(Settings(state, **options)))


@pytest.fixture
def client(shop: Engine) -> Iterator[TestClient]:
    with client_of(shop.state_path) as client:
        yield client


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
