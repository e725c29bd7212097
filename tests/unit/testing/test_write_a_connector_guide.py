"""The code of docs/extending/write-a-connector.md runs as the guide says it does.

Every fenced block on the page titled with a file name (```python title="jobs_source.py"```) is
that file, or a part of it: blocks with one title are joined in the page's order. The Python
files are written to a folder of their own and imported from there, and the guide's own tests
run over syncer's real engine, as a reader who copied them would run them.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from syncer.testing import check_source

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "extending" / "write-a-connector.md"
BLOCK = re.compile(r'^```(?P<lang>\w+) title="(?P<title>[^"]+)"\n(?P<code>.*?)^```$', re.M | re.S)
MODULES = ("jobs_source", "raw_jobs_source", "test_jobs_source", "my_steps", "test_my_steps")


def guide_files() -> dict[str, str]:
    """The files the guide shows, by name: each the guide's blocks of that title, joined."""
    files: dict[str, list[str]] = {}
    for block in BLOCK.finditer(GUIDE.read_text(encoding="utf-8")):
        files.setdefault(block["title"], []).append(block["code"])
    return {title: "\n".join(parts) for title, parts in files.items()}


@pytest.fixture(scope="module")
def guide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    """The guide's Python files, written out and imported as the reader's modules."""
    folder = tmp_path_factory.mktemp("guide")
    for title, code in guide_files().items():
        (folder / title).write_text(code, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        yield {name: importlib.import_module(name) for name in MODULES}
    finally:
        sys.path.remove(str(folder))
        for name in MODULES:
            sys.modules.pop(name, None)


def _tests_of(module: ModuleType) -> list[tuple[str, Callable[[Path], Any]]]:
    """The module's pytest tests, as pytest would collect them, each taking `tmp_path`."""
    found: list[tuple[str, Callable[[Path], Any]]] = []
    for name, value in vars(module).items():
        if name.startswith("test_") and inspect.isfunction(value):
            found.append((name, value))
        elif name.startswith("Test") and inspect.isclass(value):
            instance = value()
            found.extend(
                (f"{name}.{method}", getattr(instance, method))
                for method in dir(value)
                if method.startswith("test_")
            )
    return found


def test_the_guide_shows_every_file_its_tests_import() -> None:
    files = guide_files()
    assert {f"{name}.py" for name in MODULES} <= set(files)
    assert "pyproject.toml" in files


def test_the_guide_s_source_keeps_every_rule_of_the_contract(
    guide: dict[str, ModuleType], tmp_path: Path
) -> None:
    report = check_source(guide["test_jobs_source"].jobs_source, tmp_path)
    assert report.entities == {"pipelineService": 1, "pipeline": 2}


@pytest.mark.parametrize("module", ["test_jobs_source", "test_my_steps"])
def test_the_guide_s_own_tests_pass(
    guide: dict[str, ModuleType], module: str, tmp_path: Path
) -> None:
    tests = _tests_of(guide[module])
    assert tests, f"{module} holds no tests"
    for number, (name, test) in enumerate(tests):
        folder = tmp_path / str(number)
        folder.mkdir()
        try:
            test(folder)
        except Exception as exc:
            raise AssertionError(f"the guide's {module}.{name} fails: {exc}") from exc


def test_the_raw_variant_keeps_the_contract_and_maps_only_the_jobs_that_changed(
    guide: dict[str, ModuleType], tmp_path: Path
) -> None:
    jobs = guide["test_jobs_source"]
    raw_source = guide["raw_jobs_source"].RawJobsSource

    def source() -> Any:
        config = guide["jobs_source"].JobsConfig(url="https://jobs.example", token="test-token")
        return raw_source(config, transport=jobs.FakeTransport(jobs.jobs_api))

    report = check_source(source, tmp_path / "contract")
    assert report.entities == {"pipelineService": 1, "pipeline": 2}

    built: list[str] = []
    original = guide["jobs_source"].JobsSource._pipeline

    def counting(self: Any, job: dict[str, Any]) -> Any:
        built.append(job["id"])
        return original(self, job)

    state = tmp_path / "runs" / "state.duckdb"
    state.parent.mkdir()
    raw_source._pipeline = counting
    try:
        jobs.run_source(source(), state)
        first = list(built)
        built.clear()
        result = jobs.run_source(source(), state)
    finally:
        del raw_source._pipeline
    assert first == ["nightly-orders", "gdpr-purge"]
    assert result.status == "succeeded"
    assert built == []  # the job read again at the watermark was not mapped


def test_the_entry_point_in_the_guide_names_the_guide_s_source_class(
    guide: dict[str, ModuleType],
) -> None:
    pyproject = tomllib.loads(guide_files()["pyproject.toml"])
    target = pyproject["project"]["entry-points"]["syncer.sources"]["jobs"]
    module, _, name = target.partition(":")
    assert getattr(guide[module], name) is guide["jobs_source"].JobsSource


def test_the_guide_s_config_model_refuses_unknown_keys_and_marks_the_token_secret(
    guide: dict[str, ModuleType],
) -> None:
    config = guide["jobs_source"].JobsConfig
    with pytest.raises(ValueError, match="tokn"):
        config.model_validate({"url": "https://jobs.example", "token": "t", "tokn": "t"})
    assert config.model_json_schema()["properties"]["token"]["secret"] is True


def test_the_guide_s_entry_point_makes_its_source_known_by_name_with_its_keys(
    guide: dict[str, ModuleType], tmp_path: Path
) -> None:
    from syncer import schema

    # What `pip install` leaves behind, reduced to what entry points are found by.
    pyproject = tomllib.loads(guide_files()["pyproject.toml"])
    project = pyproject["project"]
    info = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in names.items())
            for group, names in groups.items()
        )
    )
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        keys = {key.name: key for key in schema.config_keys("sources", "jobs")}
    finally:
        sys.path.remove(str(tmp_path))
    assert list(keys) == ["url", "token", "service_name"]
    assert keys["token"].secret
    assert keys["url"].description == "The Jobs API's base URL, e.g. https://jobs.internal"
