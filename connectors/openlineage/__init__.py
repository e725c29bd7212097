"""OpenLineage: a receiver (`syncer serve`) that stores the events jobs send in an inbox, and the
openlineage source that turns the inbox into pipelines, runs and lineage."""

from syncer.connectors.openlineage.config import OpenLineageConfig, ReceiverSpec
from syncer.connectors.openlineage.inbox import Inbox, InboxEvent
from syncer.connectors.openlineage.source import OpenLineageSource

__all__ = ["Inbox", "InboxEvent", "OpenLineageConfig", "OpenLineageSource", "ReceiverSpec"]
