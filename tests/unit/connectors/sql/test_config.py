"""The sql source's config is checked up front, with one line naming the key to fix."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.connectors.sql.config import SqlConfig, load_config
from syncer.errors import ConfigError
from syncer.models import TableType


def test_defaults_keep_everything_and_read_view_lineage() -> None:
    config = load_config({"url": "sqlite:///examples/data/shop.sqlite"})
    assert config == SqlConfig(url="sqlite:///examples/data/shop.sqlite")
    assert config.view_lineage is True
    assert config.table_types is None
    assert config.include.tables == [] and config.exclude.schemas == []


def test_table_types_take_openmetadata_values() -> None:
    config = load_config({"url": "duckdb:///x.duckdb", "table_types": ["View", "Regular"]})
    assert config.table_types == [TableType.VIEW, TableType.REGULAR]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"url": "sqlite:///x", "include": {"tables": ["orders(", "ok"]}},
            "sql source: include.tables: 'orders(' is not a valid regex",
        ),
        (
            {"url": "sqlite:///x", "exclude": {"schemas": ["["]}},
            "sql source: exclude.schemas: '[' is not a valid regex",
        ),
        ({"url": "not a url"}, "sql source: url: not a SQLAlchemy URL"),
        ({}, "sql source: url: Field required"),
        (
            {"url": "sqlite:///x", "tables": []},
            "sql source: tables: Extra inputs are not permitted",
        ),
        ({"url": "sqlite:///x", "include": {"views": []}}, "sql source: include.views: Extra"),
        ({"url": "sqlite:///x", "table_types": ["Table"]}, "sql source: table_types.0: Input"),
    ],
)
def test_a_bad_config_is_one_line_naming_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_url_that_does_not_parse_is_not_repeated_in_the_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"url": "pass:word@@nowhere"})
    assert "word" not in str(caught.value)
