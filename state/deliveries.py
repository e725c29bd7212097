"""Deliveries: each sink's offset in the change log, and the changes it refused.

A refused change stays pending and is offered again; one refused for good (or too often)
becomes a dead letter, kept and shown but not offered until someone revives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from syncer.state.connection import first, now, one, scanning

_NEVER = 2**31 - 1  # an attempt count no refusal reaches


def offset(connection: duckdb.DuckDBPyConnection, workflow: str, sink: str) -> int:
    row = first(
        connection.execute(
            'SELECT "offset" FROM deliveries WHERE workflow = ? AND sink = ?', [workflow, sink]
        )
    )
    return int(row[0]) if row else 0


def ensure_sink(connection: duckdb.DuckDBPyConnection, workflow: str, sink: str) -> None:
    """Give a sink its offset row before its first delivery, so its backlog shows."""
    connection.execute(
        "INSERT INTO deliveries VALUES (?, ?, 0, ?) ON CONFLICT DO NOTHING",
        [workflow, sink, now()],
    )


def record_delivery(
    connection: duckdb.DuckDBPyConnection,
    workflow: str,
    sink: str,
    offset: int,
    delivered: Sequence[int],
    refused: dict[int, str],
    *,
    final: Sequence[int] = (),
    dead_letter_after: int | None = None,
) -> None:
    """Advance a sink's offset; clear what it took, remember what it refused.

    A refusal that is `final`, or one that reached `dead_letter_after` attempts, becomes a
    dead letter. The caller holds the transaction that makes these one.
    """
    at = now()
    connection.execute(
        "INSERT INTO deliveries VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        '"offset" = greatest(deliveries."offset", excluded."offset"), '
        "updated_at = excluded.updated_at",
        [workflow, sink, offset, at],
    )
    if delivered:
        with scanning(connection, "acked", {"seq": delivered}, {"seq": "BIGINT"}):
            connection.execute(
                "DELETE FROM pending_deliveries WHERE workflow = ? AND sink = ? "
                "AND seq IN (SELECT seq FROM acked)",
                [workflow, sink],
            )
    if refused:
        _record_refusals(connection, workflow, sink, refused, at)
    if refused and (final or dead_letter_after is not None):
        connection.execute(
            "UPDATE pending_deliveries SET dead_at = ? WHERE workflow = ? AND sink = ? "
            "AND dead_at IS NULL AND (list_contains(?, seq) OR attempts >= ?)",
            [at, workflow, sink, list(final), dead_letter_after or _NEVER],
        )


def _record_refusals(
    connection: duckdb.DuckDBPyConnection,
    workflow: str,
    sink: str,
    refused: dict[int, str],
    at: datetime,
) -> None:
    """One more attempt for each refused change (its first, if it was not pending yet)."""
    table: dict[str, Sequence[Any]] = {"seq": list(refused), "reason": list(refused.values())}
    with scanning(connection, "refused", table, {"seq": "BIGINT"}):
        connection.execute(
            "INSERT INTO pending_deliveries (workflow, sink, seq, attempts, last_error, "
            "first_failed_at, last_failed_at, dead_at) "
            "SELECT $workflow, $sink, seq, 1, reason, $at, $at, NULL FROM refused "
            "ON CONFLICT DO UPDATE SET attempts = pending_deliveries.attempts + 1, "
            "last_error = excluded.last_error, last_failed_at = excluded.last_failed_at",
            {"workflow": workflow, "sink": sink, "at": at},
        )


def revive(
    connection: duckdb.DuckDBPyConnection,
    workflow: str,
    sink: str | None = None,
    seqs: Sequence[int] = (),
) -> int:
    """Offer dead letters again on the next delivery; how many were revived. The caller holds
    the transaction."""
    where = "workflow = ? AND dead_at IS NOT NULL"
    params: list[Any] = [workflow]
    if sink is not None:
        where += " AND sink = ?"
        params.append(sink)
    if seqs:
        where += " AND list_contains(?, seq)"
        params.append(list(seqs))
    count = int(
        one(connection.execute(f"SELECT count(*) FROM pending_deliveries WHERE {where}", params))
    )
    connection.execute(
        f"UPDATE pending_deliveries SET dead_at = NULL, attempts = 0 WHERE {where}", params
    )
    return count
