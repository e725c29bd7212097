"""Deletion policy: which unseen entities a run may delete.

An entity whose parent or lineage end is being deleted goes with it (a cascade). Every other
missing entity counts against the fail-safe: when they are more than the allowed share of the
stream's live entities, none of them is deleted, because that looks like an outage or a
permission problem, not like a user dropping things.
"""

from __future__ import annotations

from dataclasses import dataclass

from state import Missing


@dataclass(frozen=True, slots=True)
class Verdict:
    delete: list[Missing]
    refused: str | None = None  # why the independent deletions were refused, if they were


def decide(missing: list[Missing], live: int, gone: set[str], fail_safe_percent: float) -> Verdict:
    """What to delete of `missing`, given the keys already being deleted in parent streams."""
    cascaded = [m for m in missing if cascades(m, gone)]
    independent = [m for m in missing if not cascades(m, gone)]
    if not independent:
        return Verdict(cascaded)
    base = max(live - len(cascaded), 1)  # what remains once the cascade is done
    share = 100.0 * len(independent) / base
    if share > fail_safe_percent:
        return Verdict(
            cascaded,
            f"would delete {len(independent)} of {base} ({share:.0f}%), more than the "
            f"fail-safe {fail_safe_percent:g}%",
        )
    return Verdict(cascaded + independent)


def cascades(entity: Missing, gone: set[str]) -> bool:
    """Whether a missing entity goes with one being deleted (its parent, or a lineage end)."""
    return not gone.isdisjoint(entity.depends_on)
