# Set-up and everyday tasks. `make demo` and `make test` each install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DOCKER ?= docker
IMAGE ?= metadata-syncer

.PHONY: install demo test lint format bench bench-quick cassettes dbt-artifacts image clean

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

# Re-records the HTTP cassettes under cassettes/: each script installs its tool (MLflow,
# Airflow) into .cache/, starts a real local server, seeds it and records our syncs of it.
cassettes: install
	SYNCER_RECORD_CASSETTES=1 $(BIN)/pytest -q tests/integration/sinks/test_openmetadata_cassette.py
	$(BIN)/python scripts/record_mlflow.py
	$(BIN)/python scripts/record_rest.py
	$(BIN)/python scripts/record_airflow.py

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
	rm -rf $(VENV) .syncer out bench/results .pytest_cache .mypy_cache .ruff_cache
