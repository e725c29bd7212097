"""The state file's identity: a random uuid made when the file was created (or upgraded to
schema v5), never changed afterwards, kept in the one-row table `state_identity`.

Sinks that keep their own record of what they wrote (the JSONL file) key it by this id, so
that what one state file delivered is never taken for another's: seqs are numbered per file,
and a new file (the old one deleted) numbers from 1 again.
"""

from __future__ import annotations

import duckdb

from syncer.state.connection import one


def state_id(connection: duckdb.DuckDBPyConnection) -> str:
    """The file's id, as text (`xxxxxxxx-xxxx-...`)."""
    return str(one(connection.execute("SELECT id::VARCHAR FROM state_identity")))
