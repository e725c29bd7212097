"""What the server's modules share: the entity collections it serves, a request as recorded and
as matched to its endpoint, and the errors that a handler raises."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from tests.support.openmetadata.http import Reply


@dataclass(frozen=True)
class Collection:
    """An entity collection under /api/v1 and how its create request names its parent."""

    path: str
    entity_type: str
    schema: str
    parent_field: str | None = None  # the request field that holds the parent's FQN
    parent_type: str | None = None


COLLECTIONS: Final = (
    Collection("services/databaseServices", "databaseService", "createDatabaseService"),
    Collection("services/pipelineServices", "pipelineService", "createPipelineService"),
    Collection("services/mlmodelServices", "mlmodelService", "createMlModelService"),
    Collection("databases", "database", "createDatabase", "service", "databaseService"),
    Collection("databaseSchemas", "databaseSchema", "createDatabaseSchema", "database", "database"),
    Collection("tables", "table", "createTable", "databaseSchema", "databaseSchema"),
    Collection("pipelines", "pipeline", "createPipeline", "service", "pipelineService"),
    Collection("mlmodels", "mlmodel", "createMlModel", "service", "mlmodelService"),
    # A test case names its table in `entityLink`, not in a parent field.
    Collection("dataQuality/testCases", "testCase", "createTestCase", None, "table"),
)


@dataclass
class RecordedRequest:
    """One request to /api, as the server saw it."""

    method: str
    path: str  # without the /api prefix, as sent (URL-encoded)
    query: dict[str, str]  # the last value of each query parameter
    headers: dict[str, str]  # names in lower case
    body: Any  # the parsed JSON body, or None
    time: float  # time.monotonic() on arrival
    status: int = 0  # the status answered; 0 for a dropped connection


class HttpError(Exception):
    """Answered with OpenMetadata's error body, `{"code": status, "message": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Invalid(HttpError):
    """A mistake in the request found while handling it: a 400, recorded in `invalid`."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


@dataclass(frozen=True)
class Call:
    """A request matched to an endpoint: what a handler gets."""

    req: RecordedRequest
    params: dict[str, str]  # from the path, still URL-encoded
    collection: Collection | None

    @property
    def coll(self) -> Collection:
        assert self.collection is not None, "only entity endpoints have a collection"
        return self.collection


@dataclass(frozen=True)
class Endpoint:
    handler: Callable[[Call], Reply]
    body: str | None = None  # the schema that the JSON body must match
    items: bool = False  # the body is a JSON array whose items are checked one by one
    content_type: str = "application/json"
    query: Mapping[str, frozenset[str] | None] = field(default_factory=dict)  # None: any value
    required_query: tuple[str, ...] = ()
