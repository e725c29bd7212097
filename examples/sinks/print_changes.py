"""The handler of examples/sinks/handler.yaml: one line per change event, on stderr.

stdout is left to syncer's own summary (`syncer run --format json` prints only its JSON
document there). A handler that raises refuses that event: it is offered again next run.
"""

from __future__ import annotations

import sys
from typing import Any


def on_event(event: dict[str, Any]) -> None:
    line = f"{event['eventType']} {event['entityType']} {event['entityFullyQualifiedName']}"
    description = event.get("changeDescription") or {}
    dropped = [field["name"] for field in description.get("fieldsDeleted", [])]
    if dropped:
        line += " dropped " + ", ".join(dropped)
    print(line, file=sys.stderr)
