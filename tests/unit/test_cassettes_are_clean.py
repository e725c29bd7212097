"""Every recorded HTTP cassette is safe to publish: no credentials, no cookies, no local paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"
_FILES = sorted(CASSETTES.rglob("*.yaml"))
# What a credential looks like in a recording, whatever the API.
_LEAKS = {
    "an Authorization header": re.compile(r"^\s*authorization:", re.IGNORECASE | re.MULTILINE),
    "a cookie": re.compile(r"^\s*(set-)?cookie:", re.IGNORECASE | re.MULTILINE),
    "a bearer token": re.compile(r"bearer\s+[A-Za-z0-9._~+/-]{8,}", re.IGNORECASE),
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "a password": re.compile(r"""["']?password["']?\s*[:=]\s*["']?(?!\*\*\*)[^\s"',}]{3,}""", re.I),
    "an access token": re.compile(r"""["']?access_token["']?\s*[:=]\s*["'][^"'*]{8,}""", re.I),
}


def test_there_are_cassettes_to_check() -> None:
    assert _FILES, f"no cassettes under {CASSETTES}"


@pytest.mark.parametrize("path", _FILES, ids=lambda p: str(p.relative_to(CASSETTES)))
def test_a_cassette_holds_no_credential_or_cookie(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for what, pattern in _LEAKS.items():
        found = pattern.search(text)
        assert found is None, f"{path.name} holds {what}: {found.group(0)[:40] if found else ''}"
