# Set-up and everyday tasks. `make demo` and `make test` each install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DOCKER ?= docker
IMAGE ?= metadata-syncer
# apt-get as root (`make browser`)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install demo test lint format bench bench-quick cassettes dbt-artifacts image docs docs-serve clean schema airflow-env

install: $(VENV)/.installed

# A venv or a clone installed before the rename to metadata-syncer holds the old name's
# metadata (`syncer`), whose entry points would load beside the new ones: it goes first.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet --upgrade pip
	$(BIN)/pip uninstall --quiet --quiet --yes syncer
	rm -rf syncer.egg-info
	$(BIN)/pip install --quiet --quiet -e '.[dev]'
	touch $@

# Syncs the bundled shop database into the embedded catalog twice: the second run sends nothing.
demo: install
	rm -f .syncer/demo.duckdb .syncer/demo.duckdb.wal out/demo-changes.jsonl
	$(BIN)/syncer run examples/demo.yaml
	$(BIN)/syncer run examples/demo.yaml
	$(BIN)/syncer sql --config examples/demo.yaml \
		"select run_id, status, scanned, created, updated, unchanged, deleted from run_summary"

test: install
	$(BIN)/pytest

# The published JSON Schema of a workflow file, from the built-in steps: editors read it, and a
# test fails when it is stale (tests/unit/test_schema.py).
schema: install
	$(BIN)/syncer schema --builtin > syncer/schemas/workflow.schema.json.tmp
	mv syncer/schemas/workflow.schema.json.tmp syncer/schemas/workflow.schema.json

# Re-records the HTTP cassettes under cassettes/: each script installs its tool (MLflow,
# Airflow) into .cache/, starts a real local server, seeds it and records our syncs of it.
cassettes: install
	SYNCER_RECORD_CASSETTES=1 $(BIN)/pytest -q tests/integration/sinks/test_openmetadata_cassette.py
	$(BIN)/python scripts/record_mlflow.py
	$(BIN)/python scripts/record_rest.py
	$(BIN)/python scripts/record_airflow.py

# The Airflow 3 venv of the Airflow provider's tests (~/.cache/syncer-tests/airflow3; the tests
# install it themselves when it is missing, and skip saying to run this when they cannot).
airflow-env: install
	$(BIN)/python tests/integration/test_airflow_provider.py

# The headless browser of `syncer ui`'s end-to-end tests (tests/integration/test_ui_browser.py,
# which skip without it): Debian's chromium from apt when missing, and Playwright's Python API
# in ~/.cache/syncer-tests/browser-venv (Playwright's own browser download is not used).
.PHONY: browser
browser: install
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update && \
	$(SUDO) apt-get install --yes --no-install-recommends chromium; }
	$(BIN)/python tests/support/browser.py install

# Rebuilds the dbt artifacts under tests/fixtures/dbt/ by running dbt-core 1.10 on the test project.
dbt-artifacts: install
	$(BIN)/python scripts/dbt_artifacts.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Every case beside its floor (bench/README.md); bench-quick runs them small, to check the harness.
bench: install
	PYTHONPATH=. $(BIN)/python -m bench.run

bench-quick: install
	PYTHONPATH=. $(BIN)/python -m bench.run --quick

# The docs site (mkdocs.yml, docs/): strict, so a broken link or an unknown config marker fails.
# NO_MKDOCS_2_WARNING: Material's banner about MkDocs 2 would bury the build's own messages.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict

# The container image (Dockerfile), where a Docker engine runs: `make image IMAGE=name:tag`;
# DOCKER=podman builds it with Podman; DOCKER_BUILD_FLAGS='--build-arg EXTRAS=postgres' and so on.
image:
	@command -v $(DOCKER) >/dev/null 2>&1 || { echo "make image: $(DOCKER) not found: install \
	Docker (https://docs.docker.com/engine/install/), or name another builder: make image \
	DOCKER=podman" >&2; exit 1; }
	@$(DOCKER) info >/dev/null 2>&1 || { echo "make image: $(DOCKER) cannot reach its engine: \
	start it (sudo systemctl start docker), or check DOCKER_HOST" >&2; exit 1; }
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) --tag $(IMAGE) .
	@$(DOCKER) run --rm $(IMAGE) --version

clean:
	rm -rf $(VENV) .syncer out site bench/results .pytest_cache .mypy_cache .ruff_cache
