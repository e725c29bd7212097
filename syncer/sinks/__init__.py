"""Built-in sinks: the embedded DuckDB catalog and JSON Lines files."""
