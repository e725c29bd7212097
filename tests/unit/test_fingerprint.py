"""An entity's fingerprint changes when, and only when, something real about it changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syncer.fingerprint import canonical, digest_of, encode, fingerprint, fingerprint_of
from syncer.models import LineageEdge, Pipeline, Table

REPO = Path(__file__).resolve().parents[2]

TABLE: dict[str, Any] = {
    "name": "orders",
    "databaseSchema": "shop.main.sales",
    "description": "One row per order",
    "columns": [
        {"name": "id", "dataType": "INT", "constraint": "PRIMARY_KEY"},
        {
            "name": "email",
            "dataType": "VARCHAR",
            "dataLength": 255,
            "tags": [{"tagFQN": "PII.Sensitive"}, {"tagFQN": "PII.Email"}],
        },
        {"name": "total", "dataType": "DECIMAL", "precision": 10, "scale": 2},
    ],
    "tags": [{"tagFQN": "Tier.Tier1"}, {"tagFQN": "PII.Sensitive"}],
    "owners": [
        {"type": "user", "fullyQualifiedName": "alice"},
        {"type": "team", "fullyQualifiedName": "sales"},
    ],
    "tableConstraints": [
        {"constraintType": "PRIMARY_KEY", "columns": ["id"]},
        {"constraintType": "UNIQUE", "columns": ["email"]},
    ],
}


def table(**changes: Any) -> Table:
    return Table.model_validate({**TABLE, **changes})


def reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def test_the_fingerprint_is_the_same_in_another_process() -> None:
    code = (
        "import orjson, sys\n"
        "from syncer.models import Table\n"
        "from syncer.fingerprint import fingerprint\n"
        "print(fingerprint(Table.model_validate(orjson.loads(sys.argv[1]))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, encode(TABLE)],
        cwd=REPO,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == fingerprint(table())


def test_the_fingerprint_is_128_bits_of_hex() -> None:
    assert len(fingerprint(table())) == 32
    int(fingerprint(table()), 16)


def test_dict_key_order_does_not_change_the_fingerprint() -> None:
    assert fingerprint(Table.model_validate(reversed_keys(TABLE))) == fingerprint(table())
    assert fingerprint_of({"a": 1, "b": {"c": 2, "d": 3}}) == fingerprint_of(
        {"b": {"d": 3, "c": 2}, "a": 1}
    )


@pytest.mark.parametrize("field", ["tags", "owners", "tableConstraints"])
def test_the_order_of_an_unordered_collection_does_not_change_the_fingerprint(field: str) -> None:
    assert fingerprint(table(**{field: TABLE[field][::-1]})) == fingerprint(table())


def test_the_order_of_column_tags_does_not_change_the_fingerprint() -> None:
    columns = [dict(c) for c in TABLE["columns"]]
    columns[1]["tags"] = columns[1]["tags"][::-1]
    assert fingerprint(table(columns=columns)) == fingerprint(table())


def test_the_order_of_column_lineage_does_not_change_the_fingerprint() -> None:
    def edge(columns_lineage: list[dict[str, Any]]) -> LineageEdge:
        return LineageEdge.model_validate(
            {
                "fromEntity": {"type": "table", "fullyQualifiedName": "s.d.x.a"},
                "toEntity": {"type": "table", "fullyQualifiedName": "s.d.x.b"},
                "columnsLineage": columns_lineage,
            }
        )

    lineage = [
        {"fromColumns": ["s.d.x.a.id", "s.d.x.a.k"], "toColumn": "s.d.x.b.id"},
        {"fromColumns": ["s.d.x.a.v"], "toColumn": "s.d.x.b.v"},
    ]
    shuffled = [
        {"fromColumns": ["s.d.x.a.v"], "toColumn": "s.d.x.b.v"},
        {"fromColumns": ["s.d.x.a.k", "s.d.x.a.id"], "toColumn": "s.d.x.b.id"},
    ]
    assert fingerprint(edge(shuffled)) == fingerprint(edge(lineage))
    assert fingerprint(edge(lineage[:1])) != fingerprint(edge(lineage))


def test_the_order_of_pipeline_tasks_and_their_downstreams_does_not_change_the_fingerprint() -> (
    None
):
    tasks = [
        {"name": "extract", "downstreamTasks": ["load", "check"]},
        {"name": "load"},
        {"name": "check"},
    ]
    shuffled = [
        {"name": "check"},
        {"name": "extract", "downstreamTasks": ["check", "load"]},
        {"name": "load"},
    ]
    first = Pipeline(name="daily", service="airflow", tasks=tasks)
    second = Pipeline(name="daily", service="airflow", tasks=shuffled)
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(first) != fingerprint(
        Pipeline(name="daily", service="airflow", tasks=tasks[:2])
    )


def test_the_order_of_columns_changes_the_fingerprint() -> None:
    assert fingerprint(table(columns=TABLE["columns"][::-1])) != fingerprint(table())


@pytest.mark.parametrize(
    "changes",
    [
        {"description": "One row per order line"},
        {"description": None},
        {"name": "orders2"},
        {"tableType": "View"},
        {"tags": [{"tagFQN": "Tier.Tier1"}]},
        {"owners": [{"type": "user", "fullyQualifiedName": "bob"}]},
        {"tableConstraints": []},
        {"columns": [*TABLE["columns"], {"name": "note", "dataType": "TEXT"}]},
        {"columns": [{**TABLE["columns"][0], "dataType": "BIGINT"}, *TABLE["columns"][1:]]},
        {
            "columns": [
                TABLE["columns"][0],
                {**TABLE["columns"][1], "tags": []},
                TABLE["columns"][2],
            ]
        },
        {"schemaDefinition": "create table orders (id int)"},
    ],
)
def test_any_real_change_changes_the_fingerprint(changes: dict[str, Any]) -> None:
    assert fingerprint(table(**changes)) != fingerprint(table())


class ObservedTable(Table):
    """A table type whose observation time is volatile (no entity_type: not registered)."""

    volatile = frozenset({"updatedAt"})


def test_a_volatile_field_does_not_change_the_fingerprint() -> None:
    monday = ObservedTable.model_validate({**TABLE, "updatedAt": "2024-05-06T00:00:00Z"})
    tuesday = ObservedTable.model_validate({**TABLE, "updatedAt": "2024-05-07T00:00:00Z"})
    assert fingerprint(monday) == fingerprint(tuesday)
    assert canonical(monday)["updatedAt"] != canonical(tuesday)["updatedAt"]  # still stored
    renamed = ObservedTable.model_validate(
        {**TABLE, "description": "x", "updatedAt": "2024-05-07T00:00:00Z"}
    )
    assert fingerprint(renamed) != fingerprint(monday)


def test_volatile_fields_are_ignored_only_where_named() -> None:
    data = {"name": "t", "seenAt": 1}
    assert fingerprint_of(data, frozenset({"seenAt"})) == fingerprint_of({"name": "t"})
    assert fingerprint_of(data) != fingerprint_of({"name": "t"})


def test_the_canonical_form_has_no_nulls_and_uses_openmetadata_names() -> None:
    data = canonical(table(description=None))
    assert "description" not in data
    assert data["databaseSchema"] == "shop.main.sales"
    assert data["columns"][0] == {
        "name": "id",
        "dataType": "INT",
        "constraint": "PRIMARY_KEY",
        "tags": [],
    }


def test_a_digest_depends_on_the_values_not_on_which_objects_hold_them() -> None:
    name = "".join(["cust", "omers"])  # a string object of its own, equal to the literal
    shared = ("customers", "customers")
    apart = ("customers", name)
    assert shared[0] is shared[1] and apart[0] is not apart[1]
    assert digest_of(shared) == digest_of(apart)


def test_a_digest_is_the_same_in_another_process() -> None:
    rows = (("orders", 1, "id", "INTEGER", True, None), ("orders", 2, "note", "TEXT", False, "x"))
    code = f"from syncer.fingerprint import digest_of; print(digest_of({rows!r}))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == digest_of(rows)


@pytest.mark.parametrize(
    "changed",
    [
        ("orders", 1, "id", "BIGINT"),
        ("orders", 1, "id", None),
        ("orders", True, "id", "INTEGER"),
        ("orders", 1.0, "id", "INTEGER"),
    ],
)
def test_any_change_of_a_value_or_its_type_changes_the_digest(changed: tuple[object, ...]) -> None:
    assert digest_of(("orders", 1, "id", "INTEGER")) != digest_of(changed)
