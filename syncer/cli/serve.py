"""`syncer serve`: receive OpenLineage events over HTTP into an inbox (connectors/openlineage).

The inbox, the address and the token come from a workflow whose source is `type: openlineage`
(`source.config.inbox`, `source.config.receiver`), or from the options alone. The options win
over the config. SIGTERM or Ctrl-C stop it after the requests in flight were answered.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from syncer import logging as logs
from syncer import paths
from syncer.cli.app import cli, err
from syncer.cli.listening import check_free, token_from, url_host
from syncer.errors import ConfigError

if TYPE_CHECKING:
    from syncer.connectors.openlineage.config import ReceiverSpec


@dataclass(frozen=True, slots=True)
class _Listener:
    inbox: Path
    host: str
    port: int
    token_ref: str | None
    max_body_bytes: int


@cli.command("serve")
@click.argument("config_path", required=False, type=click.Path(path_type=Path), metavar="[CONFIG]")
@click.option(
    "--inbox",
    "inbox_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The inbox file to append to (created if missing); default: the config's "
    "source.config.inbox.",
)
@click.option("--host", help="The address to listen on (default: 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="The port (default: 5000).")
@click.option(
    "--token",
    "token_ref",
    metavar="REF",
    help="A secret reference (${env:NAME} or ${keyring:service/user}) to the bearer token "
    "requests must carry; required to listen beyond 127.0.0.1, localhost or ::1.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1024),
    help="The largest request body accepted (default: 5 MB).",
)
def serve(
    config_path: Path | None,
    inbox_path: Path | None,
    host: str | None,
    port: int | None,
    token_ref: str | None,
    max_body_bytes: int | None,
) -> None:
    """Receive OpenLineage events (Airflow, Spark, dbt-ol) at POST /api/v1/lineage.

    Each request's events are on disk in the inbox before the answer; the openlineage source
    of `syncer run` reads them from there. Give a workflow CONFIG whose source is openlineage,
    or --inbox."""
    try:
        import uvicorn

        from syncer.connectors.openlineage.inbox import Inbox
        from syncer.connectors.openlineage.receiver import ENDPOINT, create_app, loopback_names
    except ImportError as exc:
        raise ConfigError(
            f"syncer serve needs {exc.name}: pip install 'metadata-syncer[openlineage]'"
        ) from None
    listener = _listener(config_path, inbox_path, host, port, token_ref, max_body_bytes)
    token = _token(listener)
    check_free(listener.host, listener.port)
    _log_requests()
    inbox = Inbox(listener.inbox, create=True)
    app = create_app(
        inbox,
        token=token,
        max_body_bytes=listener.max_body_bytes,
        allowed_hosts=loopback_names(listener.host),
    )
    url = f"http://{url_host(listener.host)}:{listener.port}{ENDPOINT}"
    err.print(f"receiving OpenLineage events at {url} into {listener.inbox}", markup=False)
    with _stop_signals_remembered() as stopped_by:
        try:
            # Our own line per request replaces uvicorn's access log. uvicorn finishes the
            # requests in flight on SIGTERM or SIGINT, then raises the signal again for the
            # handler it found: ours, which only remembers it.
            uvicorn.run(
                app, host=listener.host, port=listener.port, log_level="warning", access_log=False
            )
        finally:
            inbox.close()
    if stopped_by:
        # A server stopped on purpose exits 0: systemd and Kubernetes count it as clean.
        err.print(f"stopped by {signal.Signals(stopped_by[0]).name}", markup=False)


@contextmanager
def _stop_signals_remembered() -> Iterator[list[int]]:
    received: list[int] = []
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, lambda n, _: received.append(n)) for number in stops}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _listener(
    config_path: Path | None,
    inbox_path: Path | None,
    host: str | None,
    port: int | None,
    token_ref: str | None,
    max_body_bytes: int | None,
) -> _Listener:
    from syncer.connectors.openlineage.config import ReceiverSpec

    if config_path is not None:
        inbox, receiver = _from_config(config_path)
    elif inbox_path is not None:
        inbox, receiver = inbox_path, ReceiverSpec()
    else:
        raise ConfigError(
            "syncer serve needs a workflow CONFIG whose source is openlineage, or --inbox PATH"
        )
    chosen = {"host": host, "port": port, "token": token_ref, "max_body_bytes": max_body_bytes}
    overrides = {key: value for key, value in chosen.items() if value is not None}
    try:
        receiver = ReceiverSpec.model_validate(receiver.model_dump() | overrides)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(map(str, ("receiver", *first["loc"])))
        reason = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: {reason} (or --token, --host)") from None
    return _Listener(
        inbox=paths.absolute(inbox_path, Path.cwd()) if inbox_path is not None else inbox,
        host=receiver.host,
        port=receiver.port,
        token_ref=receiver.token,
        max_body_bytes=receiver.max_body_bytes,
    )


def _from_config(config_path: Path) -> tuple[Path, ReceiverSpec]:
    from syncer import config as configs
    from syncer.connectors.openlineage.config import OpenLineageConfig

    shape = configs.parse(config_path, configs.read_yaml(config_path))
    if shape.source.type != "openlineage":
        raise ConfigError(
            f"{config_path}: source.type: is {shape.source.type}, so there is nothing to "
            "receive; give a workflow whose source is openlineage, or --inbox PATH"
        )
    # As offline as `syncer validate`: the token stays a reference until `_token`.
    spec = configs.validate(config_path)
    source: OpenLineageConfig = OpenLineageConfig.model_validate(
        spec.source.config, context=paths.context_for(config_path)
    )
    receiver: ReceiverSpec = source.receiver
    return source.inbox, receiver


def _token(listener: _Listener) -> str | None:
    reference = listener.token_ref
    return None if reference is None else token_from(reference, "SYNCER_LINEAGE_TOKEN")


def _log_requests() -> None:
    """The request log is at info; show it unless --log-level was given."""
    root = click.get_current_context().find_root()
    if root.get_parameter_source("log_level") is click.core.ParameterSource.DEFAULT:
        logs.configure(root.params["log_format"], "info")
