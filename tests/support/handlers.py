"""Event handlers for the handler sink's tests, named `tests.support.handlers:record` in a config.

`record` keeps every event it is given in `RECEIVED` and raises for the FQNs in `FAILING`, as a
handler whose downstream system rejects some events would.
"""

from __future__ import annotations

from typing import Any

RECEIVED: list[dict[str, Any]] = []
FAILING: set[str] = set()
NOT_A_FUNCTION = 42


def record(event: dict[str, Any]) -> None:
    fqn = event["entityFullyQualifiedName"]
    if fqn in FAILING:
        raise ValueError(f"downstream rejected {fqn}\nsecond line of the message")
    RECEIVED.append(event)


class Recorder:
    @staticmethod
    def handle(event: dict[str, Any]) -> None:
        record(event)
