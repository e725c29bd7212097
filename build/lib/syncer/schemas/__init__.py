"""JSON Schemas of what syncer prints for programs to read.

`run.schema.json`: the document `syncer run|plan --format json` prints, which the `run finished`
log event carries too (built by `syncer.results.run_document`).
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any


def run_schema() -> dict[str, Any]:
    """The JSON Schema of a run's document."""
    schema: dict[str, Any] = json.loads(
        files(__name__).joinpath("run.schema.json").read_text(encoding="utf-8")
    )
    return schema
