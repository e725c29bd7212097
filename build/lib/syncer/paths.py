"""Paths written in a workflow config are relative to the config file's folder.

`cd ~ && syncer run /etc/syncer/pg.yaml` and `cd /etc/syncer && syncer run pg.yaml` find the
same state file and write the same sink files. The loader (`syncer.config`) validates every
model with a context naming the config's folder (`context_for`); a field typed `ConfigPath`, a
local folder checked by `beside_config`, or a file database's URL checked by
`database_url_beside_config` is made absolute against it. Validated without that context (a
config built in code, a test), a relative path is left as written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

_FOLDER = "config_folder"
# SQLAlchemy dialects whose URL's database is a file path.
FILE_DATABASES = frozenset({"sqlite", "duckdb"})


def context_for(config_file: Path) -> dict[str, Any]:
    """The validation context of a config read from `config_file`."""
    return {_FOLDER: Path(os.path.abspath(config_file)).parent}


def absolute(path: Path, folder: Path) -> Path:
    """`path` (`~` expanded) as an absolute path, a relative one taken from `folder`."""
    path = path.expanduser()
    return path if path.is_absolute() else Path(os.path.abspath(folder / path))


def beside_config(path: Path, info: ValidationInfo) -> Path:
    """A validator: `path` relative to the config's folder, when it is known."""
    folder = _folder(info)
    return path if folder is None else absolute(path, folder)


def database_url_beside_config(url: str, info: ValidationInfo) -> str:
    """A validator: a SQLite or DuckDB URL's relative file relative to the config's folder
    (`sqlite:///data/shop.sqlite`); any other URL as written."""
    folder = _folder(info)
    if folder is None:
        return url
    from sqlalchemy.engine import make_url  # here: most configs name no database
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # the URL's own validator says what is wrong with it
    name = parsed.database
    # `:memory:`, `file:` URIs and MotherDuck's `md:` names are not paths.
    if parsed.get_backend_name() not in FILE_DATABASES or not name or ":" in name:
        return url
    if Path(name).is_absolute():
        return url
    located = absolute(Path(name), folder)
    return parsed.set(database=str(located)).render_as_string(hide_password=False)


def _folder(info: ValidationInfo) -> Path | None:
    context = info.context
    if isinstance(context, dict):
        folder = context.get(_FOLDER)
        if isinstance(folder, Path):
            return folder
    return None


# A file named in a config: relative to the config's folder.
ConfigPath = Annotated[Path, AfterValidator(beside_config)]
