"""Built-in sinks: the DuckDB catalog, JSON Lines, OpenMetadata, and the event sinks
(webhook, handler, MQTT, NATS)."""
