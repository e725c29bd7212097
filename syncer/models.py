"""Entity models in OpenMetadata's shapes, so the OpenMetadata sink can send them as they are.

Field names serialize as OpenMetadata's camelCase (`dataType`, `tableConstraints`); enums carry
OpenMetadata's values. Every entity knows its type, its key, its FQN and its parent's type, which
is all the engine needs: fingerprints, topology and delivery order follow from these.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from syncer import fqn as _fqn


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
        use_enum_values=True,
    )


def _sorted_set(items: list[Any]) -> list[Any]:
    """Unordered collections are kept sorted, so their order never changes a fingerprint."""
    if len(items) < 2:
        return items
    return sorted(items, key=lambda m: orjson.dumps(_plain(m), option=orjson.OPT_SORT_KEYS))


def _plain(value: Any) -> Any:
    return (
        value.model_dump(mode="json", exclude_none=True) if isinstance(value, BaseModel) else value
    )


# --- enums (OpenMetadata's values) -------------------------------------------------------------


class DataType(StrEnum):
    NUMBER = "NUMBER"
    TINYINT = "TINYINT"
    SMALLINT = "SMALLINT"
    INT = "INT"
    BIGINT = "BIGINT"
    BYTEINT = "BYTEINT"
    BYTES = "BYTES"
    FLOAT = "FLOAT"
    DOUBLE = "DOUBLE"
    DECIMAL = "DECIMAL"
    NUMERIC = "NUMERIC"
    TIMESTAMP = "TIMESTAMP"
    TIMESTAMPZ = "TIMESTAMPZ"
    TIME = "TIME"
    DATE = "DATE"
    DATETIME = "DATETIME"
    INTERVAL = "INTERVAL"
    STRING = "STRING"
    MEDIUMTEXT = "MEDIUMTEXT"
    TEXT = "TEXT"
    CHAR = "CHAR"
    LONG = "LONG"
    VARCHAR = "VARCHAR"
    BOOLEAN = "BOOLEAN"
    BINARY = "BINARY"
    VARBINARY = "VARBINARY"
    ARRAY = "ARRAY"
    BLOB = "BLOB"
    LONGBLOB = "LONGBLOB"
    MEDIUMBLOB = "MEDIUMBLOB"
    MAP = "MAP"
    STRUCT = "STRUCT"
    UNION = "UNION"
    SET = "SET"
    GEOGRAPHY = "GEOGRAPHY"
    ENUM = "ENUM"
    JSON = "JSON"
    UUID = "UUID"
    VARIANT = "VARIANT"
    GEOMETRY = "GEOMETRY"
    BYTEA = "BYTEA"
    XML = "XML"
    INET = "INET"
    CIDR = "CIDR"
    MACADDR = "MACADDR"
    TSVECTOR = "TSVECTOR"
    TSQUERY = "TSQUERY"
    POINT = "POINT"
    POLYGON = "POLYGON"
    BIT = "BIT"
    MONEY = "MONEY"
    YEAR = "YEAR"
    CLOB = "CLOB"
    UINT = "UINT"
    LARGEINT = "LARGEINT"
    NULL = "NULL"
    UNKNOWN = "UNKNOWN"


class TableType(StrEnum):
    REGULAR = "Regular"
    EXTERNAL = "External"
    DYNAMIC = "Dynamic"
    VIEW = "View"
    SECURE_VIEW = "SecureView"
    MATERIALIZED_VIEW = "MaterializedView"
    ICEBERG = "Iceberg"
    LOCAL = "Local"
    PARTITIONED = "Partitioned"
    FOREIGN = "Foreign"
    TRANSIENT = "Transient"
    STREAM = "Stream"


ColumnConstraint = Literal["NULL", "NOT_NULL", "UNIQUE", "PRIMARY_KEY"]
ConstraintType = Literal["UNIQUE", "PRIMARY_KEY", "FOREIGN_KEY", "SORT_KEY", "DIST_KEY"]
LineageSource = Literal[
    "Manual",
    "ViewLineage",
    "QueryLineage",
    "PipelineLineage",
    "DashboardLineage",
    "DbtLineage",
    "SparkLineage",
    "OpenLineage",
    "ExternalTableLineage",
    "CrossDatabaseLineage",
    "ChildAssets",
]
TestCaseStatus = Literal["Success", "Failed", "Aborted", "Queued"]


# --- building blocks ---------------------------------------------------------------------------


class TagLabel(_Model):
    tag_fqn: str = Field(alias="tagFQN")
    source: Literal["Classification", "Glossary"] = "Classification"
    label_type: Literal["Manual", "Propagated", "Automated", "Derived"] = "Automated"
    state: Literal["Suggested", "Confirmed"] = "Confirmed"


class EntityReference(_Model):
    type: str
    fully_qualified_name: str


class Column(_Model):
    name: str
    data_type: DataType
    array_data_type: DataType | None = None
    data_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    data_type_display: str | None = None
    description: str | None = None
    constraint: ColumnConstraint | None = None
    ordinal_position: int | None = None
    children: list[Column] | None = None
    tags: list[TagLabel] = Field(default_factory=list)

    _sort_tags = field_validator("tags")(_sorted_set)


class TableConstraint(_Model):
    constraint_type: ConstraintType
    columns: list[str]
    referred_columns: list[str] | None = None


class ColumnLineage(_Model):
    from_columns: list[str]
    to_column: str
    function: str | None = None

    _sort_from = field_validator("from_columns")(sorted)


# --- entities ----------------------------------------------------------------------------------


ENTITY_TYPES: dict[str, type[Entity]] = {}


class Entity(_Model):
    """Something the catalog holds. Subclasses set `entity_type` and `parent_type`."""

    entity_type: ClassVar[str]
    parent_type: ClassVar[str | None] = None
    # Fields that change without the entity changing (timestamps of observation); they are
    # stored and sent but never make an entity count as updated.
    volatile: ClassVar[frozenset[str]] = frozenset()
    # Append-only entities (test results) are never updated or deleted, only added.
    append_only: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "entity_type" in cls.__dict__:
            ENTITY_TYPES[cls.entity_type] = cls

    @property
    def fqn(self) -> str:
        raise NotImplementedError

    @property
    def key(self) -> str:
        """What the state keys this entity by: its FQN unless the type says otherwise."""
        return self.fqn

    @property
    def parent_fqn(self) -> str | None:
        return None

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Keys whose deletion takes this entity with it, and that must exist before it: its
        parent, or a lineage edge's two ends. Stored beside the entity's row in the state."""
        parent = self.parent_fqn
        return (parent,) if parent else ()


class _Named(Entity):
    """An entity whose FQN is its parent's FQN plus its own name."""

    name: str
    display_name: str | None = None
    description: str | None = None
    tags: list[TagLabel] = Field(default_factory=list)
    owners: list[EntityReference] = Field(default_factory=list)
    domain: str | None = None  # the domain's FQN
    source_url: str | None = None
    # When the source last changed it: a cursor for incremental reads, never a reason to
    # count the entity as updated (its data may move without its metadata moving).
    updated_at: datetime | None = None

    volatile = frozenset({"updatedAt"})
    _sort_sets = field_validator("tags", "owners")(_sorted_set)

    @property
    def fqn(self) -> str:
        parent = self.parent_fqn
        return _fqn.join(parent, self.name) if parent else _fqn.quote(self.name)


class _Service(_Named):
    service_type: str


class DatabaseService(_Service):
    entity_type = "databaseService"


class PipelineService(_Service):
    entity_type = "pipelineService"


class MlModelService(_Service):
    entity_type = "mlmodelService"


class Database(_Named):
    entity_type = "database"
    parent_type = "databaseService"
    service: str

    @property
    def parent_fqn(self) -> str:
        return _fqn.quote(self.service)


class DatabaseSchema(_Named):
    entity_type = "databaseSchema"
    parent_type = "database"
    database: str  # the database's FQN

    @property
    def parent_fqn(self) -> str:
        return self.database


class Table(_Named):
    entity_type = "table"
    parent_type = "databaseSchema"
    database_schema: str  # the schema's FQN
    table_type: TableType = TableType.REGULAR
    columns: list[Column] = Field(default_factory=list)
    table_constraints: list[TableConstraint] = Field(default_factory=list)
    schema_definition: str | None = None

    _sort_constraints = field_validator("table_constraints")(_sorted_set)

    @property
    def parent_fqn(self) -> str:
        return self.database_schema


class LineageEdge(Entity):
    """A directed edge between two entities, with column lineage; delivered after both ends
    (and the pipeline it goes through, if any)."""

    entity_type = "lineage"
    from_entity: EntityReference
    to_entity: EntityReference
    columns_lineage: list[ColumnLineage] = Field(default_factory=list)
    sql_query: str | None = None
    source: LineageSource = "Manual"
    description: str | None = None
    # The pipeline that moves data along the edge (OpenMetadata's lineageDetails.pipeline).
    pipeline: EntityReference | None = None

    _sort_columns = field_validator("columns_lineage")(_sorted_set)

    @property
    def fqn(self) -> str:
        return f"{self.from_entity.fully_qualified_name}->{self.to_entity.fully_qualified_name}"

    @property
    def ends(self) -> tuple[str, str]:
        return self.from_entity.fully_qualified_name, self.to_entity.fully_qualified_name

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Both ends, and the pipeline the edge goes through: delivered after it, and gone
        with it (a sink such as OpenMetadata refers to the pipeline by id)."""
        if self.pipeline is None:
            return self.ends
        return (*self.ends, self.pipeline.fully_qualified_name)


class Task(_Model):
    name: str
    display_name: str | None = None
    description: str | None = None
    task_type: str | None = None
    task_sql: str | None = None
    downstream_tasks: list[str] = Field(default_factory=list)
    source_url: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    tags: list[TagLabel] = Field(default_factory=list)
    owners: list[EntityReference] = Field(default_factory=list)

    _sort_sets = field_validator("downstream_tasks", "tags", "owners")(_sorted_set)


class Pipeline(_Named):
    entity_type = "pipeline"
    parent_type = "pipelineService"
    service: str
    tasks: list[Task] = Field(default_factory=list)
    schedule_interval: str | None = None
    start_date: datetime | None = None
    concurrency: int | None = None

    _sort_tasks = field_validator("tasks")(_sorted_set)

    @property
    def parent_fqn(self) -> str:
        return _fqn.quote(self.service)


class MlFeature(_Model):
    name: str
    data_type: Literal["numerical", "categorical"] | None = None
    description: str | None = None
    feature_algorithm: str | None = None


class MlHyperParameter(_Model):
    name: str
    value: str | None = None
    description: str | None = None


class MlStore(_Model):
    storage: str | None = None  # where the model's artifacts are kept
    image_repository: str | None = None


class MlModel(_Named):
    entity_type = "mlmodel"
    parent_type = "mlmodelService"
    service: str
    algorithm: str
    ml_features: list[MlFeature] = Field(default_factory=list)
    ml_hyper_parameters: list[MlHyperParameter] = Field(default_factory=list)
    target: str | None = None
    server: str | None = None
    ml_store: MlStore | None = None

    # Not the features: their order is the signature's input order, which the model's users
    # rely on, and the source gives it the same on every run.
    _sort_sets = field_validator("ml_hyper_parameters")(_sorted_set)

    @property
    def parent_fqn(self) -> str:
        return _fqn.quote(self.service)


class TestCaseParameterValue(_Model):
    name: str
    value: str | None = None


def entity_link(table_fqn: str, column: str | None = None) -> str:
    """OpenMetadata's entity link for a table, or for one of its columns."""
    if column is None:
        return f"<#E::table::{table_fqn}>"
    return f"<#E::table::{table_fqn}::columns::{column}>"


class TestCase(_Named):
    entity_type = "testCase"
    parent_type = "table"
    __test__ = False  # not a pytest class
    table: str  # the table's FQN
    column: str | None = None
    test_definition: str
    parameter_values: list[TestCaseParameterValue] = Field(default_factory=list)

    _sort_params = field_validator("parameter_values")(_sorted_set)

    @property
    def entity_link(self) -> str:
        return entity_link(self.table, self.column)

    @property
    def parent_fqn(self) -> str:
        return self.table

    @property
    def fqn(self) -> str:
        base = _fqn.join(self.table, self.column) if self.column else self.table
        return _fqn.join(base, self.name)


class TestResultValue(_Model):
    name: str | None = None
    value: str | None = None


class TestCaseResult(Entity):
    """One execution of a test case: append-only, keyed by test case and timestamp."""

    entity_type = "testCaseResult"
    parent_type = "testCase"
    append_only = True
    __test__ = False
    test_case: str  # the test case's FQN
    timestamp: int  # milliseconds since the epoch
    test_case_status: TestCaseStatus
    result: str | None = None
    test_result_value: list[TestResultValue] = Field(default_factory=list)
    passed_rows: int | None = None
    failed_rows: int | None = None

    @property
    def fqn(self) -> str:
        return f"{self.test_case}@{self.timestamp}"

    @property
    def parent_fqn(self) -> str:
        return self.test_case


ExecutionStatus = Literal["Successful", "Failed", "Pending", "Skipped"]


class TaskStatus(_Model):
    name: str
    execution_status: ExecutionStatus
    start_time: int | None = None  # milliseconds since the epoch
    end_time: int | None = None
    log_link: str | None = None


class PipelineStatus(Entity):
    """One run of a pipeline (a DAG run) and its tasks: append-only, keyed by start time."""

    entity_type = "pipelineStatus"
    parent_type = "pipeline"
    append_only = True
    pipeline: str  # the pipeline's FQN
    timestamp: int  # when the run started, milliseconds since the epoch
    execution_status: ExecutionStatus
    task_status: list[TaskStatus] = Field(default_factory=list)
    end_time: int | None = None  # when the run ended: the cursor of a stream of finished runs

    _sort_tasks = field_validator("task_status")(_sorted_set)

    @property
    def fqn(self) -> str:
        # The stamp goes inside the last part, so that a quoted pipeline name (a job called
        # `etl.load`) still splits back: `svc."etl.load@1700000000000"`. Unquoted, this is
        # `pipeline@timestamp` as before.
        *parents, name = _fqn.split(self.pipeline)
        return _fqn.build(*parents, f"{name}@{self.timestamp}")

    @property
    def parent_fqn(self) -> str:
        return self.pipeline


class Record(Entity):
    """A record of a JSON API that maps to no catalog entity: kept, diffed and delivered as it
    is, keyed by its endpoint and primary key."""

    entity_type = "record"
    volatile = frozenset({"updatedAt"})
    endpoint: str
    id: str  # the record's primary key, as text
    data: dict[str, Any]
    updated_at: datetime | None = None  # a cursor, as on named entities

    @property
    def fqn(self) -> str:
        return _fqn.build(self.endpoint, self.id)


Column.model_rebuild()
