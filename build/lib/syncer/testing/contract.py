"""The contract every source keeps, as checks a plug-in author runs over their own source.

A source keeps the contract when a real workflow over it (the real engine, a real state file in
a directory of the test's, the embedded catalog as its sink) shows that:

1. a first run succeeds and creates entities, and no record fails;
2. every entity is a valid model of a known type;
3. every key is the FQN its model builds, and splits back into the parts it was built from;
4. every child has its parent and every lineage edge its two ends, and the run warned of nothing;
5. lineage edges join entities of the source and carry the `source` the test names (or there
   are none, when it names none);
6. the catalog holds exactly the current entities;
7. an immediate re-run changes nothing and sends nothing.

The connectors of syncer itself are held to it by `tests/contract`, which runs these same
checks. A broken rule raises `ContractViolation`, an `AssertionError` that names the rule, each
entity that breaks it, and the usual fix. Three ways to run it:

    # pytest: one test per rule, over a source given as its workflow `source` block,
    # as a built Source, or as a function that builds one (a fresh one per run)
    class TestMySource(SourceContractTests):
        lineage = "PipelineLineage"  # the `source` of its lineage edges; None: it has none

        def source(self, tmp_path: Path) -> SourceUnderTest:
            return {"type": "my_package.source:MySource", "config": {"url": "..."}}

    # every rule in one call, in the order above
    report = check_source(lambda: MySource(MyConfig(url="...")), tmp_path)

    # rule by rule
    contract = SourceContract(MySource(MyConfig(url="...")), tmp_path)
    contract.check_keys()

`run_source` is the in-process run underneath, for tests of processors and sinks over a
`syncer.testing.doubles.ListSource`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import orjson
import pydantic
import yaml

from syncer import config as configs
from syncer import fqn
from syncer.config import LoadedConfig, WorkflowConfig
from syncer.fingerprint import fingerprint_of
from syncer.models import ENTITY_TYPES, Entity, LineageSource
from syncer.sinks.duckdb_catalog import DuckDBCatalogConfig, DuckDBCatalogSink
from syncer.statefile import open_state
from syncer.steps import Processor, Sink, Source
from syncer.workflow import RunResult, Workflow

__all__ = [
    "ContractReport",
    "ContractViolation",
    "SourceContract",
    "SourceContractTests",
    "SourceUnderTest",
    "StoredEntity",
    "check_source",
    "run_source",
]

# A workflow `source` block ({"type": ..., "config": {...}}), loaded as `syncer run` loads it
# (plug-in lookup, secrets); a built Source, run twice (so its `close()` must leave it
# readable); or a function that builds a fresh Source for each run.
SourceUnderTest = Mapping[str, Any] | Source | Callable[[], Source]

WORKFLOW = "contract"
STATE_FILE = "state.duckdb"
CONFIG_FILE = "workflow.yaml"

# The rules, as they name themselves in a ContractViolation.
FIRST_RUN = "a first run succeeds and creates entities"
MODELS = "every entity is a valid model of a known type"
KEYS = "every key is the FQN its model builds and splits back"
DEPENDENCIES = "every child has its parent and every edge its ends"
LINEAGE = "lineage edges join entities of the source"
CATALOG = "the catalog holds exactly the current entities"
RERUN = "an immediate re-run changes and sends nothing"
RULES = (FIRST_RUN, MODELS, KEYS, DEPENDENCIES, LINEAGE, CATALOG, RERUN)

_SHOWN = 20  # problems listed in a message; the rest are counted, and all kept in `problems`


class ContractViolation(AssertionError):
    """A broken rule of the contract: `rule` and one line per problem, each naming its entity."""

    def __init__(self, rule: str, problems: Sequence[str]) -> None:
        self.rule = rule
        self.problems = list(problems)
        lines = [f"  - {p}" for p in self.problems[:_SHOWN]]
        if len(self.problems) > _SHOWN:
            lines.append(f"  ... and {len(self.problems) - _SHOWN} more")
        super().__init__(f"contract rule {rule!r} is broken:\n" + "\n".join(lines))


@dataclass(frozen=True, slots=True)
class StoredEntity:
    """A current entity as the state file holds it: its type, its key and its payload."""

    entity_type: str
    key: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ContractReport:
    """What a source that kept every rule produced."""

    first: RunResult
    rerun: RunResult
    entities: dict[str, int]  # current entities by type, after the first run
    lineage_edges: int
    rules: tuple[str, ...] = RULES  # the rules checked, all kept


def run_source(
    source: Source,
    state_path: Path,
    *,
    processors: Sequence[Processor] = (),
    sinks: Sequence[tuple[str, Sink]] = (),
    workflow: str = "test",
    full_refresh: bool = False,
) -> RunResult:
    """One run of a workflow built in Python (no workflow file) against the state at
    `state_path`, as `syncer run` would do it; the state is closed again, even when it raises.

    Sinks are `(name, sink)` pairs; the name keys the sink's offset in the change log.
    """
    raw: dict[str, Any] = {
        "workflow": workflow,
        "source": {"type": _type_name(source)},
        "processors": [{"type": _type_name(p)} for p in processors],
        "sinks": [{"type": _type_name(s), "name": name} for name, s in sinks],
        "state": {"path": str(state_path)},
    }
    loaded = LoadedConfig(
        state_path.parent / CONFIG_FILE,
        WorkflowConfig.model_validate(raw),
        fingerprint_of(raw),
        source,
        list(processors),
        list(sinks),
    )
    return _run(loaded, state_path, full_refresh=full_refresh)


def _run(loaded: LoadedConfig, state_path: Path, *, full_refresh: bool = False) -> RunResult:
    store = open_state(state_path)
    try:
        return Workflow(loaded, store, full_refresh=full_refresh).run()
    finally:
        store.close()


def _type_name(step: object) -> str:
    cls = type(step)
    return f"{cls.__module__}:{cls.__qualname__}"


class SourceContract:
    """The contract over one source, in a directory of its own (pytest's `tmp_path`).

    The first run happens when a check first needs it; `check_rerun` runs the second. Each
    `check_*` method raises `ContractViolation` if its rule is broken.
    """

    def __init__(
        self, source: SourceUnderTest, workdir: Path, *, lineage: LineageSource | None = None
    ) -> None:
        self.workdir = Path(workdir)
        self.state_path = self.workdir / STATE_FILE
        if self.state_path.exists():
            raise ValueError(
                f"{self.state_path} exists: the contract starts from an empty state; "
                "give it a fresh directory (pytest's tmp_path)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.lineage = lineage
        self._run_once = self._runner(source)
        self._first: RunResult | None = None
        self._rerun: RunResult | None = None
        self._changes_before_rerun = 0  # the last seq of the change log before the re-run

    def _runner(self, source: SourceUnderTest) -> Callable[[], RunResult]:
        """How to run the workflow once: a `source` block is written to a workflow file and
        loaded each run, as `syncer run` does; a Source runs with the catalog built here."""
        if isinstance(source, Mapping):
            path = self.workdir / CONFIG_FILE
            path.write_text(yaml.safe_dump(self._workflow_file(source)))
            return lambda: _run(configs.load(path), self.state_path)

        def run_built() -> RunResult:
            built = source if isinstance(source, Source) else source()
            catalog = DuckDBCatalogSink(DuckDBCatalogConfig())
            return run_source(
                built, self.state_path, sinks=[("duckdb", catalog)], workflow=WORKFLOW
            )

        return run_built

    def _workflow_file(self, source: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "workflow": WORKFLOW,
            "source": dict(source),
            "sinks": [{"type": "duckdb"}],
            "state": {"path": str(self.state_path)},
        }

    # --- the runs and what they left ----------------------------------------------------------

    @property
    def first(self) -> RunResult:
        """The first run, into the empty state; run on first use."""
        return self._first_run()

    def _first_run(self) -> RunResult:
        if self._first is None:
            self._first = self._run_once()
        return self._first

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the state file, as a user auditing it would see them."""
        self._first_run()  # a query is about the state the first run left
        with duckdb.connect(str(self.state_path), read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()

    def entities(self) -> list[StoredEntity]:
        """Every current entity of the state, by key."""
        return [
            StoredEntity(entity_type, key, orjson.loads(payload))
            for entity_type, key, payload in self.rows(
                "SELECT entity_type, fqn, payload::VARCHAR FROM current_entities ORDER BY fqn"
            )
        ]

    # --- the rules --------------------------------------------------------------------------

    def check_first_run(self) -> None:
        first = self.first
        problems = []
        if first.status != "succeeded":
            problems.append(f"the first run {first.status}: {first.error}")
        if first.counters.errors:
            streams = ", ".join(f"{n} ({c.errors})" for n, c in first.streams.items() if c.errors)
            problems.append(
                f"{first.counters.errors} records failed, in streams {streams}: the log's "
                "'record failed' lines say why"
            )
        if first.counters.created == 0:
            problems.append(
                "the first run created no entity: give the source something to read, and list "
                "every stream in `streams()`"
            )
        _require(FIRST_RUN, problems)

    def check_models(self) -> None:
        problems = []
        for stored in self.entities():
            _, problem = _entity_of(stored)
            if problem:
                problems.append(problem)
        _require(MODELS, problems)

    def check_keys(self) -> None:
        problems = []
        for stored in self.entities():
            entity, problem = _entity_of(stored)
            if entity is None:
                problems.append(f"{problem} (so its key cannot be checked)")
                continue
            if entity.fqn != stored.key:
                problems.append(
                    f"{stored.entity_type} {stored.key!r} is keyed apart from the FQN its model "
                    f"builds, {entity.fqn!r}: an entity's `key` is its `fqn`"
                )
            if stored.entity_type != "lineage":  # an edge's key joins two FQNs with '->'
                problem = _splits_back(stored.key)
                if problem:
                    problems.append(f"{stored.entity_type} {stored.key!r} {problem}")
        _require(KEYS, problems)

    def check_dependencies(self) -> None:
        first = self.first
        store = open_state(self.state_path, read_only=True)
        try:
            orphans = store.orphans(WORKFLOW)
        finally:
            store.close()
        problems = [
            f"{entity_type} {key} depends on {missing}, which the source never emitted: emit it "
            "too (a parent's stream is read before its children's), or fix the reference"
            for entity_type, key, missing in orphans
        ]
        if not orphans:  # an orphan is also a warning: say it once
            problems += [f"the first run warned: {warning}" for warning in first.warnings]
        _require(DEPENDENCIES, problems)

    def check_lineage(self) -> None:
        edges = self.rows(
            "SELECT from_fqn, to_fqn, source FROM lineage_edges ORDER BY from_fqn, to_fqn"
        )
        if self.lineage is None:
            problems = [
                f"edge {a} -> {b} ({source}): the test says the source yields no lineage; "
                f"name its edges' source (lineage={source!r})"
                for a, b, source in edges
            ]
            _require(LINEAGE, problems)
            return
        if not edges:
            raise ContractViolation(
                LINEAGE,
                [
                    f"the source yielded no lineage edge, though the test names their source "
                    f"({self.lineage!r}): check `relationships()` and its derived stream, or "
                    "say it has none (lineage=None)"
                ],
            )
        keys = {e.key for e in self.entities() if e.entity_type != "lineage"}
        problems = []
        for a, b, source in edges:
            problems += [
                f"edge {a} -> {b}: its end {end} is no entity of this source: an edge joins "
                "entities the source emits"
                for end in (a, b)
                if end not in keys
            ]
            if source != self.lineage:
                problems.append(
                    f"edge {a} -> {b} has source {source!r}, not {self.lineage!r}: set "
                    "`LineageEdge(source=...)`, or name the source the test expects"
                )
        _require(LINEAGE, problems)

    def check_catalog(self) -> None:
        query = "SELECT entity_type, fqn, fingerprint FROM {} ORDER BY fqn"
        state = set(self.rows(query.format("current_entities")))
        try:
            catalog = set(self.rows(query.format("catalog.entities")))
        except duckdb.Error as exc:
            errors = [r.error for r in self.first.deliveries if r.error]
            raise ContractViolation(
                CATALOG, [f"the catalog cannot be read ({exc}); its delivery said: {errors}"]
            ) from None
        problems = [
            f"{entity_type} {key} (fingerprint {fingerprint}) is current in the state but not "
            "in the catalog"
            for entity_type, key, fingerprint in sorted(state - catalog)
        ]
        problems += [
            f"{entity_type} {key} (fingerprint {fingerprint}) is in the catalog but not current "
            "in the state"
            for entity_type, key, fingerprint in sorted(catalog - state)
        ]
        _require(CATALOG, problems)

    def check_rerun(self) -> RunResult:
        """Run the workflow again (once; later calls check that run again) and check it."""
        if self._rerun is None:
            self._first_run()
            self._changes_before_rerun = self._last_seq()
            self._rerun = self._run_once()
        again = self._rerun
        counters = again.counters
        problems = []
        if again.status != "succeeded":
            problems.append(f"the re-run {again.status}: {again.error}")
        problems += [
            f"the re-run {kind} {key}{_fields(fields)}: the source must yield the same entity "
            "on every read (no time of reading in it, unordered lists sorted)"
            for kind, key, fields in self.rows(
                "SELECT kind, fqn, changed_fields FROM change_log WHERE seq > ? ORDER BY seq",
                [self._changes_before_rerun],
            )
        ]
        moved = (counters.created, counters.updated, counters.deleted, counters.restored)
        if moved != (0, 0, 0, 0):
            problems.append(
                f"the re-run counted {counters.created} created, {counters.updated} updated, "
                f"{counters.deleted} deleted, {counters.restored} restored"
            )
        # A stream with a cursor re-reads only what is at or after its watermark.
        if counters.scanned == 0:
            problems.append(
                "the re-run read nothing: a stream with a cursor yields the records at or after "
                "`since` (inclusive), so at least the last one read comes again"
            )
        elif counters.unchanged != counters.scanned:
            problems.append(
                f"the re-run read {counters.scanned} records, of which only "
                f"{counters.unchanged} were unchanged ({counters.as_dict()})"
            )
        delivered = [r.delivered for r in again.deliveries]
        if delivered != [0]:
            problems.append(f"the re-run delivered changes to the catalog: {delivered}")
        _require(RERUN, problems)
        return again

    def _last_seq(self) -> int:
        seq: int | None = self.rows("SELECT max(seq) FROM change_log")[0][0]
        return seq or 0

    def check_all(self) -> ContractReport:
        """Every rule, in the order of the module's docstring; the first broken one raises."""
        self.check_first_run()
        self.check_models()
        self.check_keys()
        self.check_dependencies()
        self.check_lineage()
        self.check_catalog()
        again = self.check_rerun()
        entities = self.entities()
        by_type: dict[str, int] = {}
        for stored in entities:
            by_type[stored.entity_type] = by_type.get(stored.entity_type, 0) + 1
        return ContractReport(self.first, again, by_type, by_type.get("lineage", 0))


def check_source(
    source: SourceUnderTest, workdir: Path, *, lineage: LineageSource | None = None
) -> ContractReport:
    """Run the whole contract over `source` in `workdir` (empty, e.g. pytest's `tmp_path`):
    what it produced, or a `ContractViolation` naming the first broken rule."""
    return SourceContract(source, workdir, lineage=lineage).check_all()


def _require(rule: str, problems: Sequence[str]) -> None:
    if problems:
        raise ContractViolation(rule, problems)


def _fields(names: Sequence[str] | None) -> str:
    return f" (changed: {', '.join(names)})" if names else ""


def _entity_of(stored: StoredEntity) -> tuple[Entity | None, str | None]:
    """The stored payload as its model, or what is wrong with it."""
    model = ENTITY_TYPES.get(stored.entity_type)
    if model is None:
        known = ", ".join(sorted(ENTITY_TYPES))
        return None, f"{stored.key}: unknown entity type {stored.entity_type!r}; known: {known}"
    try:
        return model.model_validate(stored.payload), None
    except pydantic.ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'payload'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)[:3]
        )
        return None, f"{stored.entity_type} {stored.key}: not a valid {model.__name__}: {details}"


def _splits_back(key: str) -> str | None:
    """Why an FQN does not split into parts that build it again; None if it does."""
    try:
        parts = fqn.split(key)
    except fqn.FQNError as exc:
        return f"does not split into FQN parts ({exc}): build FQNs with `syncer.fqn.build`"
    rebuilt = fqn.build(*parts)
    if rebuilt != key:
        return (
            f"splits into {parts}, which build {rebuilt!r}: build FQNs with `syncer.fqn.build` "
            "or `join`, which quote a part holding '.' or '\"'"
        )
    return None


class SourceContractTests:
    """Base of a pytest class that holds one source to the contract, one test per rule.

    Name the subclass `Test...` and give it `source(tmp_path)`; set `lineage` if the source
    yields lineage edges. A subclass may instead override `contract(tmp_path)`, to build the
    `SourceContract` itself.
    """

    lineage: ClassVar[LineageSource | None] = None

    def source(self, tmp_path: Path) -> SourceUnderTest:
        raise NotImplementedError(
            f"{type(self).__name__}: define source(self, tmp_path) returning a workflow "
            "`source` block, a Source, or a function that builds one"
        )

    def contract(self, tmp_path: Path) -> SourceContract:
        return SourceContract(self.source(tmp_path), tmp_path, lineage=self.lineage)

    def test_a_first_run_succeeds_and_creates_entities(self, tmp_path: Path) -> None:
        self.contract(tmp_path).check_first_run()

    def test_every_entity_is_a_valid_model_of_a_known_type(self, tmp_path: Path) -> None:
        self.contract(tmp_path).check_models()

    def test_every_key_is_the_fqn_its_model_builds_and_splits_back(self, tmp_path: Path) -> None:
        self.contract(tmp_path).check_keys()

    def test_every_child_has_its_parent_and_every_edge_its_ends(self, tmp_path: Path) -> None:
        self.contract(tmp_path).check_dependencies()

    def test_lineage_edges_join_entities_of_the_source_with_its_lineage_source(
        self, tmp_path: Path
    ) -> None:
        self.contract(tmp_path).check_lineage()

    def test_an_immediate_rerun_changes_and_sends_nothing(self, tmp_path: Path) -> None:
        self.contract(tmp_path).check_rerun()

    def test_the_catalog_holds_exactly_the_current_entities(self, tmp_path: Path) -> None:
        self.contract(tmp_path).check_catalog()
