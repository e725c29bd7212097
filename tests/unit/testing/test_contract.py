"""`syncer.testing.contract`, as a plug-in author uses it: a tiny source of their own passes
the contract in a few lines, and a source that breaks a rule fails with a message that names the
rule, the entity and the fix."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from syncer.errors import SourceError
from syncer.models import (
    Column,
    Database,
    DatabaseSchema,
    DatabaseService,
    Entity,
    EntityReference,
    LineageEdge,
    Table,
    TableType,
)
from syncer.steps import CursorValue, Either, Source, StepConfig, Stream
from syncer.testing import (
    ContractViolation,
    SourceContract,
    SourceContractTests,
    SourceUnderTest,
    check_source,
)
from syncer.testing.contract import DEPENDENCIES, FIRST_RUN, KEYS, LINEAGE, RERUN


class ShopConfig(StepConfig):
    service: str = "shop"


class ShopSource(Source):
    """A plug-in author's source: one database with a table and a view that reads it."""

    config_model = ShopConfig
    config: ShopConfig

    def streams(self) -> list[Stream]:
        return [
            Stream("services", "databaseService", self.services),
            Stream("databases", "database", self.databases),
            Stream("schemas", "databaseSchema", self.schemas),
            Stream("tables", "table", self.tables),
            Stream("lineage", "lineage", derived=True),
        ]

    def services(self, since: CursorValue | None) -> Iterator[Either]:
        yield DatabaseService(name=self.config.service, service_type="Postgres")

    def databases(self, since: CursorValue | None) -> Iterator[Either]:
        yield Database(name="sales", service=self.config.service)

    def schemas(self, since: CursorValue | None) -> Iterator[Either]:
        yield DatabaseSchema(name="public", database=self.database_fqn())

    def tables(self, since: CursorValue | None) -> Iterator[Either]:
        schema = f"{self.database_fqn()}.public"
        yield Table(
            name="orders",
            database_schema=schema,
            columns=[Column(name="id", data_type="INT"), Column(name="total", data_type="DECIMAL")],
            description=self.description(),
        )
        yield Table(
            name="big_orders",
            database_schema=schema,
            table_type=TableType.VIEW,
            columns=[Column(name="id", data_type="INT")],
        )

    def relationships(self, entity: Entity) -> Iterable[Entity]:
        if isinstance(entity, Table) and entity.name == "big_orders":
            orders = f"{entity.database_schema}.orders"
            yield LineageEdge(
                from_entity=EntityReference(type="table", fully_qualified_name=orders),
                to_entity=EntityReference(type="table", fully_qualified_name=entity.fqn),
                source="ViewLineage",
            )

    def database_fqn(self) -> str:
        return f"{self.config.service}.sales"

    def description(self) -> str:
        return "what customers bought"


class TestShopSourceKeepsTheContract(SourceContractTests):
    """All a plug-in author writes to run the contract, one test per rule, over their source."""

    lineage = "ViewLineage"

    def source(self, tmp_path: Path) -> SourceUnderTest:
        return lambda: ShopSource(ShopConfig())


def test_a_source_that_keeps_the_contract_gets_a_report_of_what_it_synced(
    tmp_path: Path,
) -> None:
    report = check_source(ShopSource(ShopConfig()), tmp_path, lineage="ViewLineage")

    assert report.entities == {
        "databaseService": 1,
        "database": 1,
        "databaseSchema": 1,
        "table": 2,
        "lineage": 1,
    }
    assert report.lineage_edges == 1
    assert report.first.counters.created == 6
    assert report.rerun.counters.unchanged == 6


def test_a_source_named_in_a_workflow_block_is_loaded_as_syncer_run_loads_it(
    tmp_path: Path,
) -> None:
    block = {"type": f"{ShopSource.__module__}:ShopSource", "config": {"service": "pg"}}

    report = check_source(block, tmp_path, lineage="ViewLineage")

    assert report.first.status == "succeeded"
    assert (tmp_path / "workflow.yaml").exists()


class OrphanSource(ShopSource):
    """Forgets to emit its schemas: every table's parent is missing."""

    def streams(self) -> list[Stream]:
        return [s for s in super().streams() if s.name != "schemas"]


def test_a_child_without_its_parent_breaks_the_contract_naming_both(tmp_path: Path) -> None:
    contract = SourceContract(OrphanSource(ShopConfig()), tmp_path, lineage="ViewLineage")

    with pytest.raises(ContractViolation) as raised:
        contract.check_dependencies()

    assert raised.value.rule == DEPENDENCIES
    assert raised.value.problems == [
        f"table shop.sales.public.{name} depends on shop.sales.public, which the source never "
        "emitted: emit it too (a parent's stream is read before its children's), or fix the "
        "reference"
        for name in ("big_orders", "orders")
    ]
    assert "every child has its parent" in str(raised.value)


class HandQuotedSource(ShopSource):
    """Quotes every part of its FQNs by hand, where `syncer.fqn` quotes only parts that need it."""

    def database_fqn(self) -> str:
        return f'"{self.config.service}"."sales"'


def test_a_key_that_its_parts_do_not_build_again_breaks_the_contract(tmp_path: Path) -> None:
    contract = SourceContract(HandQuotedSource(ShopConfig()), tmp_path, lineage="ViewLineage")

    with pytest.raises(ContractViolation) as raised:
        contract.check_keys()

    assert raised.value.rule == KEYS
    assert raised.value.problems[0] == (
        "databaseSchema '\"shop\".\"sales\".public' splits into ['shop', 'sales', 'public'], "
        "which build 'shop.sales.public': build FQNs with `syncer.fqn.build` or `join`, which "
        "quote a part holding '.' or '\"'"
    )
    assert len(raised.value.problems) == 3  # the schema and its two tables


class RestlessSource(ShopSource):
    """Puts how often it was read into a description: every run changes it."""

    reads = 0

    def description(self) -> str:
        RestlessSource.reads += 1
        return f"read {RestlessSource.reads} times"


def test_a_rerun_that_changes_an_entity_breaks_the_contract_naming_it_and_the_field(
    tmp_path: Path,
) -> None:
    contract = SourceContract(RestlessSource(ShopConfig()), tmp_path, lineage="ViewLineage")
    contract.check_first_run()  # the first run is fine: it is the re-run that differs

    with pytest.raises(ContractViolation) as raised:
        contract.check_rerun()

    assert raised.value.rule == RERUN
    assert raised.value.problems[0] == (
        "the re-run updated shop.sales.public.orders (changed: description): the source must "
        "yield the same entity on every read (no time of reading in it, unordered lists sorted)"
    )
    assert "1 updated" in raised.value.problems[1]
    assert "delivered changes to the catalog: [1]" in raised.value.problems[-1]


def test_lineage_the_test_does_not_expect_breaks_the_contract_naming_the_edge(
    tmp_path: Path,
) -> None:
    contract = SourceContract(ShopSource(ShopConfig()), tmp_path, lineage=None)

    with pytest.raises(ContractViolation) as raised:
        contract.check_lineage()

    assert raised.value.rule == LINEAGE
    assert raised.value.problems == [
        "edge shop.sales.public.orders -> shop.sales.public.big_orders (ViewLineage): the test "
        "says the source yields no lineage; name its edges' source (lineage='ViewLineage')"
    ]


def test_lineage_of_another_source_than_the_test_names_breaks_the_contract(
    tmp_path: Path,
) -> None:
    with pytest.raises(ContractViolation, match="has source 'ViewLineage', not 'DbtLineage'"):
        check_source(ShopSource(ShopConfig()), tmp_path, lineage="DbtLineage")


class FailingSource(ShopSource):
    def tables(self, since: CursorValue | None) -> Iterator[Either]:
        raise SourceError("connection refused by db.example:5432")


def test_a_first_run_that_fails_breaks_the_contract_with_the_runs_error(tmp_path: Path) -> None:
    with pytest.raises(ContractViolation) as raised:
        check_source(FailingSource(ShopConfig()), tmp_path)

    assert raised.value.rule == FIRST_RUN
    assert "the first run failed" in raised.value.problems[0]
    assert "connection refused by db.example:5432" in raised.value.problems[0]


def test_the_contract_starts_from_an_empty_state_only(tmp_path: Path) -> None:
    check_source(ShopSource(ShopConfig()), tmp_path, lineage="ViewLineage")

    with pytest.raises(ValueError, match="give it a fresh directory"):
        SourceContract(ShopSource(ShopConfig()), tmp_path)
