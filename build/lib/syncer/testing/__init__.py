"""Test helpers for code built on syncer, shipped with it like `structlog.testing`.

- `syncer.testing.contract`: the contract every source keeps (entities, FQNs, parents, lineage
  ends, an idempotent re-run), checked over a real workflow: `SourceContractTests` (a pytest
  base class, one test per rule), `check_source` (every rule at once), `SourceContract` (rule by
  rule), each broken rule a `ContractViolation`; and `run_source`, one in-process run of a
  workflow built in Python.
- `syncer.testing.doubles`: `ListSource` (streams of `ListStream`s given as Python lists) and
  `MemorySink` (remembers what it was given; refuses chosen keys, or is down).
- `syncer.testing.http`: `FakeTransport` and `Reply`, an in-process HTTP server stand-in for
  `syncer.http.HttpClient(transport=...)`.

Every name is importable from here, but a module is only imported when one of its names is
first used, so that importing one helper never pulls in the others (nor `requests`, nor the
engine).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syncer.testing.contract import (
        ContractReport,
        ContractViolation,
        SourceContract,
        SourceContractTests,
        SourceUnderTest,
        check_source,
        run_source,
    )
    from syncer.testing.doubles import (
        ListSource,
        ListSourceConfig,
        ListStream,
        MemorySink,
        MemorySinkConfig,
    )
    from syncer.testing.http import FakeTransport, Reply

# Each public name, and the module that defines it.
_MODULES = {
    "ContractReport": "contract",
    "ContractViolation": "contract",
    "SourceContract": "contract",
    "SourceContractTests": "contract",
    "SourceUnderTest": "contract",
    "check_source": "contract",
    "run_source": "contract",
    "ListSource": "doubles",
    "ListSourceConfig": "doubles",
    "ListStream": "doubles",
    "MemorySink": "doubles",
    "MemorySinkConfig": "doubles",
    "FakeTransport": "http",
    "Reply": "http",
}

__all__ = [
    "ContractReport",
    "ContractViolation",
    "FakeTransport",
    "ListSource",
    "ListSourceConfig",
    "ListStream",
    "MemorySink",
    "MemorySinkConfig",
    "Reply",
    "SourceContract",
    "SourceContractTests",
    "SourceUnderTest",
    "check_source",
    "run_source",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
