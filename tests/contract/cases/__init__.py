"""The connectors the contract suite runs over: each module here holds a `CASES` dict.

A case is a context manager that prepares a real source (in a temporary directory, or a
uniquely named database on a local server that it drops after) and yields its workflow
`source` block, and the `source` its lineage edges are expected to carry (None: it has none).
A case whose server or recording is not there skips with what to install. The suite holds each
case's source to `syncer.testing.contract`, the contract plug-in authors run too.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncer.models import LineageSource

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Case:
    source: Callable[[Path], AbstractContextManager[dict[str, Any]]]
    lineage: LineageSource | None = None  # the `source` of the lineage edges it yields


def all_cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for module in pkgutil.iter_modules(__path__):
        cases.update(importlib.import_module(f"{__name__}.{module.name}").CASES)
    return cases
