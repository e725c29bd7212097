"""A local OpenMetadata server for tests: `with OpenMetadataServer() as om: ...`."""

from tests.support.openmetadata.http import DROP
from tests.support.openmetadata.model import RecordedRequest
from tests.support.openmetadata.server import OpenMetadataServer

__all__ = ["DROP", "OpenMetadataServer", "RecordedRequest"]
