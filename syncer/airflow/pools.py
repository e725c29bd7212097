"""Source-load budgets: the Airflow pool each workflow's task runs in.

Workflows that read the same server share one pool, named after that server (`syncer-HOST-PORT`),
so that however many workflows a fleet schedules, no more of them read one server at once than
the pool has slots: a database's session limit is a budget of the whole fleet. A workflow's
`airflow.pool` overrides the name. A source without a server (a SQLite file, dbt artifacts), or
whose address is a secret reference, runs in Airflow's `default_pool`.

Pools are Airflow objects, created once by whoever runs Airflow (`airflow pools import` of the
file `pools_document` writes): Airflow 3 parses DAG files without access to its database, so a
DAG file cannot create them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from syncer.config import StepSpec, WorkflowConfig

DEFAULT_POOL = "default_pool"  # Airflow's own, which every installation has
# Where each source type keeps its server's address; the first present wins for other types.
ADDRESS_KEYS = ("url", "host", "base_url", "tracking_uri")
DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "postgresql": 5432,
    "postgres": 5432,
    "redshift": 5439,
    "mysql": 3306,
    "mariadb": 3306,
    "mssql": 1433,
    "oracle": 1521,
}


def source_server(source: StepSpec) -> str | None:
    """`host:port` (or `host` when the scheme has no known port) of the server `source` reads,
    from its config as written; None when it reads no server or the address is a reference."""
    address = next(
        (v for k in ADDRESS_KEYS if isinstance(v := source.config.get(k), str) and v), None
    )
    if address is None or "://" not in address:
        return None
    parts = urlsplit(address)
    # After the last `@`: credentials (references such as ${env:PW} included) never count.
    hostport = parts.netloc.rpartition("@")[2]
    if not parts.hostname or "${" in hostport:
        return None
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.split("+")[0].lower())
    except ValueError:  # a port that is not a number
        return None
    host = parts.hostname.lower()
    return f"{host}:{port}" if port else host


def pool_name(spec: WorkflowConfig) -> str:
    """The pool of a workflow's task: its `airflow.pool`, else its source server's, else
    Airflow's default pool."""
    if spec.airflow is not None and spec.airflow.pool:
        return spec.airflow.pool
    server = source_server(spec.source)
    return f"syncer-{server.replace(':', '-')}" if server else DEFAULT_POOL


def pools_document(specs: Iterable[WorkflowConfig], slots: int) -> dict[str, dict[str, Any]]:
    """The pools that `specs` run in, Airflow's default pool aside, as `airflow pools import
    FILE` reads them: each with `slots` slots and a description naming its workflows."""
    users: dict[str, list[str]] = {}
    for spec in specs:
        users.setdefault(pool_name(spec), []).append(spec.workflow)
    users.pop(DEFAULT_POOL, None)
    return {name: _pool(workflows, slots) for name, workflows in sorted(users.items())}


def _pool(workflows: list[str], slots: int) -> dict[str, Any]:
    return {
        "slots": slots,
        "description": f"syncer workflows reading one server: {', '.join(sorted(workflows))}",
        "include_deferred": False,
    }
