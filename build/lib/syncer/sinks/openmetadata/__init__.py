"""The `openmetadata` sink: committed changes to OpenMetadata's REST API."""

from syncer.sinks.openmetadata.sink import OpenMetadataSink

__all__ = ["OpenMetadataSink"]
