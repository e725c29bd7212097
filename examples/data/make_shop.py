"""Rebuild examples/data/shop.sqlite from shop.sql, next to this script."""

from __future__ import annotations

import sqlite3
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build(sql_file: Path = HERE / "shop.sql", target: Path = HERE / "shop.sqlite") -> Path:
    # Rebuilt from scratch so the file holds exactly what shop.sql says, and nothing stale.
    target.unlink(missing_ok=True)
    with sqlite3.connect(target) as conn:
        conn.executescript(sql_file.read_text(encoding="utf-8"))
    conn.close()
    return target


if __name__ == "__main__":
    print(build())
