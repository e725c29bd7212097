"""Every claim of the docs' "What syncer guarantees" page (docs/concepts/guarantees.md, once the
README's section) names tests that exist, so a claim cannot outlive the test that proves it."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "concepts" / "guarantees.md"
SECTION = re.compile(r"^## The claims and their proofs\n(.*?)(?=^## |\Z)", re.DOTALL | re.MULTILINE)
CITED = re.compile(r"`((?:unit|integration|contract)/[\w/]+\.py)((?:::\w+)?)`|`::(\w+)`")


def cited_tests() -> list[tuple[str, str | None]]:
    section = SECTION.search(PAGE.read_text())
    assert section, f"{PAGE.relative_to(REPO)} has no 'The claims and their proofs' section"
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
        assert source.is_file(), f"{PAGE.name} cites {module}, which does not exist"
        if name is not None:
            assert re.search(rf"^def {name}\(", source.read_text(), re.MULTILINE), (
                f"{PAGE.name} cites {module}::{name}, which does not exist"
            )


def test_every_claim_of_the_guarantees_cites_a_test() -> None:
    section = SECTION.search(PAGE.read_text())
    assert section
    rows = [line for line in section.group(1).splitlines() if line.startswith("| ")]
    claims = rows[2:]  # past the header and its rule
    assert claims
    unproven = [row[:80] for row in claims if not CITED.search(row.rsplit("|", 2)[-2])]
    assert unproven == []
