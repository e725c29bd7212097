"""Deletion policy: which unseen entities a run may delete. Pure: the engine does the I/O.

Candidates. A stream that reads its whole scope offers the live entities it did not see; every
stream, even one that never deletes on its own, offers those that go with a candidate of a
parent stream (a cascade): a child with its parent, a lineage edge with either of its ends.

The fail-safe. Too much missing at once looks like an outage or a permission problem, not like
a user dropping things, so a share of the live entities above `fail_safe_percent` is refused:

- per stream: what a stream would delete (its own missing entities and the children that would
  go with their parent) over the stream's live entities. A refused stream keeps all of them,
  and with them everything they are tied to: the parents they would go with (a child cannot
  outlive its parent) and the entities that would only go with them.
- per workflow: what the whole run would delete over the live entities of the streams that
  delete. Above the share, nothing at all is deleted.

A lineage edge that goes with one of its ends counts through that end only: it says nothing
about the source that its end does not. Streams that never delete on their own (append-only
history, `deletions: never`, an incremental read) are left out of both shares: what they lose
goes with its parent and is counted there.

Verification. What passes the fail-safe is then checked with the source: for each entity that
would be deleted and does not go with something else being deleted (a root), the source is
asked whether that object still exists (`Source.exists`). An answer that it does, a failed
lookup, or (unless allowed) an answer that the source cannot tell a dropped object from one
hidden from it keeps the root and what goes with it. At most `LOOKUPS_PER_STREAM` roots of a
stream are looked up per run: beyond that an evenly spaced sample is, and when any of the
sample is not confirmed gone, the stream's roots left unchecked stay too.

Refused deletions. Of what stays, the run counts as refused (`Counters.refused`) what a guard
the user can lift held back: the fail-safe's share (lifted with --fail-safe-percent or
`deletions.fail_safe_percent`), and an object the source cannot tell dropped from hidden
(lifted with --allow-deletions or `deletions.unverifiable: delete`), each with what stays with
it. Not counted: what the source still finds (it is no deletion), what a failed lookup kept,
and the streams whose deletions were skipped because they had errors or produced nothing
(an unreadable stream says nothing about deletions; the next good run makes them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from syncer.state import Missing
from syncer.steps import Unverifiable

# Lookups per stream and run; beyond it, a sample of this size stands for the rest.
LOOKUPS_PER_STREAM = 50
# Keys a warning names before it says "and N more".
_NAMED = 3
_FIX = "If they are real, run once with --fail-safe-percent (or raise deletions.fail_safe_percent)"

Node = tuple[str, str]  # (stream, key): one key may be held by two streams (two lineage streams)


@dataclass(frozen=True, slots=True)
class StreamCandidates:
    """One stream's deletion candidates, and whether they count against the fail-safe."""

    stream: str
    live: int  # the stream's live entities before the run
    missing: Sequence[Missing]
    # Whether the stream deletes on its own, so that its share is checked and counted in the
    # workflow's; a stream that never does (append-only, `never`, incremental) only cascades.
    checked: bool = True


@dataclass(frozen=True, slots=True)
class Failed:
    """A lookup that raised: the object is kept, and the run says why."""

    reason: str


# What the source answered when asked whether an object still exists (see `Source.exists`).
Answer = bool | Unverifiable | Failed | None


@dataclass(frozen=True, slots=True)
class Lookups:
    """One stream's roots: those to look up, and those left unchecked beyond the bound."""

    asked: list[Missing]
    unchecked: list[Missing]


@dataclass
class Decision:
    """Every candidate of a run, which of them stay, and what the run says about it."""

    nodes: dict[Node, Missing]
    kept: set[Node]
    notes: dict[str, str] = field(default_factory=dict)  # stream -> why some of it stays
    warnings: list[str] = field(default_factory=list)
    refused: set[Node] = field(default_factory=set)  # kept by a guard the user can lift

    def deleted(self, stream: str) -> list[Missing]:
        """What the run deletes of a stream."""
        return [m for (s, k), m in self.nodes.items() if s == stream and (s, k) not in self.kept]

    def refused_in(self, stream: str) -> int:
        """How many of a stream's deletions were refused (see the module's docstring)."""
        return sum(1 for s, _ in self.refused if s == stream)

    def roots(self) -> dict[str, list[Missing]]:
        """By stream, what would be deleted without going with anything else being deleted:
        what the source is asked about. The rest goes with a root."""
        graph = _Graph(self.nodes)
        deleted = set(self.nodes) - self.kept
        found: dict[str, list[Missing]] = defaultdict(list)
        for node, missing in sorted(self.nodes.items()):
            if node not in self.kept and not any(d in deleted for d in graph.deps_of(node)):
                found[node[0]].append(missing)
        return dict(found)


def decide(streams: Sequence[StreamCandidates], fail_safe_percent: float) -> Decision:
    """Apply the fail-safe, per stream and per workflow, to every candidate of a run."""
    nodes = {(s.stream, m.key): m for s in streams for m in s.missing}
    graph = _Graph(nodes)
    decision = Decision(nodes, set())
    refused: set[Node] = set()
    counted_total = 0
    for s in streams:
        if not s.checked or not s.missing:
            continue
        counted = [m for m in s.missing if graph.counts((s.stream, m.key))]
        counted_total += len(counted)
        if not counted:
            continue
        share = 100.0 * len(counted) / max(s.live, 1)
        if share <= fail_safe_percent:
            continue
        cascaded = sum(1 for m in counted if graph.deps_of((s.stream, m.key)))
        reason = (
            f"would delete {len(counted)} of {s.live} ({share:.0f}%), more than the fail-safe "
            f"{fail_safe_percent:g}%"
        )
        if cascaded:
            reason += f" ({cascaded} of them would go with their parent, which stays too)"
        decision.notes[s.stream] = reason
        decision.warnings.append(
            f"stream {s.stream}: deletions refused: {reason}; nothing was deleted. {_FIX}"
        )
        refused.update((s.stream, m.key) for m in counted)
    held = graph.held(refused)
    decision.kept = refused | set(held)
    decision.refused = set(decision.kept)
    _report_held(decision, held)

    live = sum(s.live for s in streams if s.checked)
    share = 100.0 * counted_total / max(live, 1)
    if counted_total and share > fail_safe_percent:
        reason = (
            f"would delete {counted_total} of the workflow's {live} entities ({share:.0f}%), "
            f"more than the fail-safe {fail_safe_percent:g}%"
        )
        remaining = set(nodes) - decision.kept
        for stream in sorted({s for s, _ in remaining}):
            decision.notes.setdefault(stream, f"the workflow's deletions were refused: {reason}")
        if remaining:  # else each refusal has been reported with its own numbers
            decision.warnings.append(
                f"deletions refused for the whole run: {reason}; nothing was deleted. {_FIX}"
            )
        decision.kept = set(nodes)
        decision.refused = set(nodes)
    return decision


def lookups(decision: Decision, limit: int = LOOKUPS_PER_STREAM) -> dict[str, Lookups]:
    """By stream, the roots to ask the source about: all of them up to `limit`, else an evenly
    spaced sample of `limit` (the same one on every run over the same candidates)."""
    found = {}
    for stream, roots in decision.roots().items():
        asked = sample(roots, limit)
        chosen = {m.key for m in asked}
        found[stream] = Lookups(asked, [m for m in roots if m.key not in chosen])
    return found


def sample(items: Sequence[Missing], limit: int) -> list[Missing]:
    """At most `limit` of `items`, evenly spaced, first and last included."""
    if len(items) <= limit:
        return list(items)
    if limit <= 1:
        return list(items[:limit])
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def why_kept(answer: Answer, *, allow_unverifiable: bool) -> str | None:
    """Why the source's answer keeps an object; None when it may go."""
    if answer is True:
        return "the source still finds it (its listing left it out)"
    if isinstance(answer, Failed):
        return f"checking that it is gone failed: {answer.reason}"
    if isinstance(answer, Unverifiable) and not allow_unverifiable:
        fix = f"{answer.fix} would make it certain; " if answer.fix else ""
        return (
            f"{answer.reason}; {fix}if it was dropped, run with --allow-deletions "
            "(or set deletions.unverifiable: delete)"
        )
    return None


def confirm(
    decision: Decision,
    asked: Mapping[str, Lookups],
    answers: Mapping[Node, Answer],
    *,
    allow_unverifiable: bool,
) -> Decision:
    """The decision once the source has answered for the roots it was asked about: a root it
    does not confirm stays with what goes with it, and so do a stream's unchecked roots when
    one of its sample was not confirmed."""
    stays: set[Node] = set()
    unverified: set[Node] = set()  # what stays only until the user allows it: refused
    for stream, lookup in asked.items():
        kept_here = 0
        other_reasons = False
        for missing in lookup.asked:
            node = (stream, missing.key)
            answer = answers.get(node)
            why = why_kept(answer, allow_unverifiable=allow_unverifiable)
            if why is None:
                continue
            kept_here += 1
            stays.add(node)
            if isinstance(answer, Unverifiable):
                unverified.add(node)
            else:
                other_reasons = True
            decision.notes.setdefault(stream, f"{missing.key} not deleted: {why}")
            decision.warnings.append(
                f"stream {stream}: {missing.key} not deleted, nor what goes with it: {why}"
            )
        if kept_here and lookup.unchecked:
            unchecked = {(stream, m.key) for m in lookup.unchecked}
            stays.update(unchecked)
            if not other_reasons:
                unverified.update(unchecked)
            decision.warnings.append(
                f"stream {stream}: {_count(len(lookup.unchecked), 'more deletion')} held back "
                f"unchecked, because {kept_here} of the {len(lookup.asked)} checked were not "
                f"confirmed gone (at most {len(lookup.asked)} lookups per stream and run): "
                f"{_named(m.key for m in lookup.unchecked)}"
            )
    if stays:
        graph = _Graph(decision.nodes)
        decision.kept = graph.closure(decision.kept | stays)
        found_or_failed = graph.closure(stays - unverified)
        decision.refused |= graph.closure(unverified) - found_or_failed
    return decision


def cascades(entity: Missing, gone: set[str]) -> bool:
    """Whether a missing entity goes with one being deleted (its parent, or a lineage end)."""
    return not gone.isdisjoint(entity.depends_on)


class _Graph:
    """What each candidate goes with, among the candidates."""

    def __init__(self, nodes: Mapping[Node, Missing]) -> None:
        self._nodes = nodes
        self._by_key: dict[str, list[Node]] = defaultdict(list)
        for node in nodes:
            self._by_key[node[1]].append(node)
        self._dependents: dict[Node, list[Node]] = defaultdict(list)
        for node in nodes:
            for dep in self.deps_of(node):
                self._dependents[dep].append(node)

    def deps_of(self, node: Node) -> list[Node]:
        """The candidates this one would go with."""
        found = (self._by_key.get(key, ()) for key in self._nodes[node].depends_on)
        return [dep for deps in found for dep in deps if dep != node]

    def counts(self, node: Node) -> bool:
        """Whether a candidate counts in its stream's share: missing on its own, or going with
        its parent (a lineage edge going with an end counts through that end)."""
        parent = self._nodes[node].parent_key
        deps = self.deps_of(node)
        return not deps or any(dep[1] == parent for dep in deps)

    def closure(self, kept: Iterable[Node]) -> set[Node]:
        """`kept`, and what must stay with it (see `held`)."""
        result = set(kept)
        return result | set(self.held(result))

    def held(self, kept: set[Node]) -> dict[Node, bool]:
        """What must stay because `kept` does, each with whether it stays because something
        that would go with it stays (True: a kept child keeps its parent, so that nothing is
        left without one) or because all it would go with stays (False)."""
        found: dict[Node, bool] = {}
        stack = list(kept)
        while stack:
            node = stack.pop()
            for dep in self.deps_of(node):
                if dep not in kept and dep not in found:
                    found[dep] = True
                    stack.append(dep)
            for child in self._dependents.get(node, ()):
                if child in kept or child in found:
                    continue
                if all(d in kept or d in found for d in self.deps_of(child)):
                    found[child] = False
                    stack.append(child)
        return found


def _report_held(decision: Decision, held: Mapping[Node, bool]) -> None:
    """Warn, by stream, about what stays only because something it is tied to does."""
    by_reason: dict[tuple[str, bool], list[str]] = defaultdict(list)
    for (stream, key), up in sorted(held.items()):
        by_reason[(stream, up)].append(key)
    for (stream, up), keys in by_reason.items():
        it, they = ("it", "it") if len(keys) == 1 else ("them", "they")
        what = f"what would go with {it} stays" if up else f"what {they} would go with stays"
        text = f"{_count(len(keys), 'deletion')} held back because {what}"
        decision.notes.setdefault(stream, text)
        decision.warnings.append(f"stream {stream}: {text}: {_named(keys)}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _named(keys: Iterable[str]) -> str:
    keys = list(keys)
    shown = ", ".join(keys[:_NAMED])
    return shown + (f" and {len(keys) - _NAMED} more" if len(keys) > _NAMED else "")
