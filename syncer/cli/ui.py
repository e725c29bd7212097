"""`syncer ui`: serve the read-only web view of a state file (syncer.ui)."""

from __future__ import annotations

from pathlib import Path

import click

from syncer.cli.app import cli, config_option, err, existing_state_file, state_option
from syncer.cli.listening import check_free, token_from, url_host
from syncer.errors import ConfigError


@cli.command("ui")
@state_option
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8765,
    show_default=True,
    help="The port to listen on.",
)
@click.option(
    "--token",
    "token_ref",
    metavar="REF",
    help="A secret reference (${env:NAME} or ${keyring:service/user}) to the token that "
    "requests must carry; required to listen beyond 127.0.0.1, localhost or ::1.",
)
@click.option(
    "--feature",
    "features",
    multiple=True,
    metavar="NAME",
    help="Show this experimental panel too (repeat for more); adds to the config's ui.features.",
)
def ui(
    state_path: Path | None,
    config_path: Path | None,
    host: str,
    port: int,
    token_ref: str | None,
    features: tuple[str, ...],
) -> None:
    """Serve a read-only web view of the state: runs, diffs, entities, lineage, sinks.

    The pages read a copy of the state file taken while no run holds it, so a running
    `syncer run` is never blocked; while one holds it, they show the last finished state."""
    try:
        import uvicorn

        from syncer.ui.app import Settings, create_app
        from syncer.ui.auth import loopback_names, needs_token
    except ImportError as exc:
        raise ConfigError(
            f"syncer ui needs {exc.name}: pip install 'metadata-syncer[ui]'"
        ) from None
    token = _token(token_ref, host, needs_token(host))
    check_free(host, port)
    path = existing_state_file(state_path, config_path, doing=": nothing to show")
    turned_on = set(features) | _config_features(config_path)
    settings = Settings(
        path, token=token, features=sorted(turned_on), allowed_hosts=loopback_names(host)
    )
    app = create_app(settings)
    err.print(f"serving {path} at http://{url_host(host)}:{port}/ (Ctrl-C stops)", markup=False)
    # uvicorn's access log names paths and query strings only; the token travels in a header
    # or a cookie, which it never logs.
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _token(reference: str | None, host: str, required: bool) -> str | None:
    if reference is None:
        if required:
            raise ConfigError(
                f"--host {host} listens beyond this machine: pass --token '${{env:NAME}}' "
                "naming the token requests must carry, or listen on 127.0.0.1"
            )
        return None
    return token_from(reference, "SYNCER_UI_TOKEN")


def _config_features(config_path: Path | None) -> set[str]:
    if config_path is None:
        return set()
    from syncer import config as configs

    spec = configs.parse(config_path, configs.read_yaml(config_path))
    return {name for name, on in spec.ui.features.items() if on}
