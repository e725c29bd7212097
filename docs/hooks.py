"""MkDocs hooks (mkdocs.yml `hooks:`) that keep the site in step with the code.

- A line `<!-- syncer-config: sources/sql -->` (KIND/TYPE, KIND one of sources, processors,
  sinks) or `<!-- syncer-config: workflow -->` becomes the table of that step's config keys, or
  of the workflow file's own, read from `syncer.schema`: key tables are never written by hand,
  so they cannot drift from the config models. A marker naming a step that does not exist fails
  the build, naming the page.
- Every command of the `syncer` group is registered before the `::: mkdocs-click` directive of
  the CLI reference runs: the group loads its commands' modules lazily (`COMMANDS` in
  syncer/cli/app.py), and mkdocs-click lists only the commands a group already holds once it
  holds any.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click
from mkdocs.exceptions import PluginError

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

    from syncer.schema import ConfigKey

MARKER = re.compile(r"^[ \t]*<!--\s*syncer-config:\s*(?P<what>[^\s>]*)\s*-->[ \t]*$", re.MULTILINE)
# A line that starts like a marker but is not one would stay an invisible HTML comment.
NEAR_MISS = re.compile(r"^[ \t]*<!--\s*syncer-config\b.*$", re.MULTILINE)
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# A fenced code block, from its opening line to the closing fence of the same kind (or the end).
FENCE = re.compile(
    r"(^[ \t]*(?P<fence>`{3,}|~{3,}).*?(?:^[ \t]*(?P=fence)[ \t]*$|\Z))", re.M | re.S
)
KINDS = ("sources", "processors", "sinks")


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    from syncer.cli.app import cli

    with click.Context(cli, info_name="syncer") as ctx:
        for name in cli.list_commands(ctx):
            if cli.get_command(ctx, name) is None:
                raise PluginError(
                    f"syncer.cli.app.COMMANDS names {name!r}, which no module defines"
                )
    return config


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    return replace_markers(markdown, page.file.src_uri)


def replace_markers(markdown: str, page: str) -> str:
    """`markdown` with each marker replaced by its table; a marker shown in a fenced code block
    (a page that explains markers) stays as it is."""
    pieces, end = [], 0
    for fence in FENCE.finditer(markdown):
        pieces += [_replace_in_text(markdown[end : fence.start()], page), fence.group(0)]
        end = fence.end()
    pieces.append(_replace_in_text(markdown[end:], page))
    return "".join(pieces)


def _replace_in_text(text: str, page: str) -> str:
    replaced = MARKER.sub(lambda match: key_table(match.group("what"), page), text)
    for line in NEAR_MISS.findall(replaced):
        raise PluginError(
            f"{page}: {line.strip()!r} is not a config-key marker: write <!-- syncer-config: "
            "KIND/TYPE --> or <!-- syncer-config: workflow -->, alone on a line"
        )
    return replaced


def key_table(what: str, page: str) -> str:
    """The Markdown table that replaces the marker `<!-- syncer-config: WHAT -->` on `page`."""
    # Blank lines around it: a table glued to the paragraph before it is not a table.
    return f"\n{render(keys_of(what, page))}\n"


def keys_of(what: str, page: str) -> list[ConfigKey]:
    from syncer import schema
    from syncer.errors import ConfigError

    if what == "workflow":
        return schema.workflow_keys()
    kind, _, type_name = what.partition("/")
    if kind not in KINDS or not type_name or "/" in type_name:
        raise PluginError(
            f"{page}: <!-- syncer-config: {what} --> names no step: write "
            "<!-- syncer-config: KIND/TYPE --> with KIND one of "
            f"{', '.join(KINDS)} (e.g. sources/sql), or <!-- syncer-config: workflow -->"
        )
    try:
        return schema.config_keys(kind, type_name)  # type: ignore[arg-type]
    except (ConfigError, LookupError) as exc:
        raise PluginError(
            f"{page}: <!-- syncer-config: {what} --> names no installed {kind[:-1]} "
            f"{type_name!r}: {exc}"
        ) from exc


def render(keys: list[ConfigKey]) -> str:
    if not keys:
        return "This step takes no configuration keys."
    rows = [
        "| key | type | default | description | secret |",
        "| --- | --- | --- | --- | :---: |",
    ]
    for key in keys:
        default = "required" if key.required else "" if key.default is None else f"`{key.default}`"
        cells = [f"`{key.name}`", key.type, default, key.description, "yes" if key.secret else ""]
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(rows)


def _cell(text: Any) -> str:
    # A bare pipe ends a cell ("skip | delete"), but one inside a code span does not, and an
    # escaped one there would show its backslash; a line break ends the row.
    flat = " ".join(str(text).split())
    pieces, end = [], 0
    for span in CODE_SPAN.finditer(flat):
        pieces += [flat[end : span.start()].replace("|", "\\|"), span.group(0)]
        end = span.end()
    pieces.append(flat[end:].replace("|", "\\|"))
    return "".join(pieces)
