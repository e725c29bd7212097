"""One contract suite over every connector: entities, FQNs, parents, lineage ends, re-runs.

The rules and their tests are `syncer.testing.contract`'s, the ones a plug-in author runs over
their own source; this module only runs them over each case of `tests/contract/cases/`. A new
connector joins with a module there (see its docstring).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncer.testing.contract import SourceContract, SourceContractTests
from tests.contract.cases import all_cases

CASES = all_cases()


class TestEveryConnector(SourceContractTests):
    """Each rule's test, once per case: the case's source prepared in `tmp_path` and kept
    ready (a recording replaying, a database there) for as long as the test runs."""

    _contract: SourceContract

    @pytest.fixture(autouse=True, params=sorted(CASES))
    def _case(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
        case = CASES[request.param]
        with case.source(tmp_path) as source:
            self._contract = SourceContract(source, tmp_path, lineage=case.lineage)
            yield

    def contract(self, tmp_path: Path) -> SourceContract:
        return self._contract
