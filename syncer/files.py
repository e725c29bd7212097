"""Files that readers must never see half written: replaced in one rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_atomically(path: Path, content: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `content` in one rename, so that a reader sees the old file or the
    new one, never half of one. The temp file is in the same folder (a rename across file
    systems is not atomic) and does not end in the target's suffix (a collector such as
    node-exporter's skips it). `mode` 0644: the reader may run as another user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
