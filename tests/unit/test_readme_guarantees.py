"""Every claim of the README's "What syncer guarantees" names tests that exist, so a claim
cannot outlive the test that proves it."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SECTION = re.compile(r"## What syncer guarantees\n(.*?)\n## ", re.DOTALL)
CITED = re.compile(r"`((?:unit|integration|contract)/[\w/]+\.py)((?:::\w+)?)`|`::(\w+)`")


def cited_tests() -> list[tuple[str, str | None]]:
    section = SECTION.search((REPO / "README.md").read_text())
    assert section, "README.md has no 'What syncer guarantees' section"
    cited: list[tuple[str, str | None]] = []
    module = ""
    for path, name, bare in CITED.findall(section.group(1)):
        if path:
            module = path
            cited.append((module, name.removeprefix("::") or None))
        else:
            cited.append((module, bare))  # `::name` continues the module cited before it
    return cited


def test_every_test_the_guarantees_cite_exists() -> None:
    cited = cited_tests()
    assert len(cited) >= 10
    for module, name in cited:
        source = REPO / "tests" / module
        assert source.is_file(), f"README cites {module}, which does not exist"
        if name is not None:
            assert re.search(rf"^def {name}\(", source.read_text(), re.MULTILINE), (
                f"README cites {module}::{name}, which does not exist"
            )
