"""A local OpenMetadata server for tests: `with OpenMetadataServer() as om: ...`."""

from tests.support.openmetadata.server import DROP, OpenMetadataServer, RecordedRequest

__all__ = ["DROP", "OpenMetadataServer", "RecordedRequest"]
