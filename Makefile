# Set-up and everyday tasks. `make demo` and `make test` each install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint format bench cassettes dbt-artifacts clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet --upgrade pip
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

bench: install
	PYTHONPATH=. $(BIN)/python -m bench.run
	PYTHONPATH=. $(BIN)/python -m bench.postgres

clean:
	rm -rf $(VENV) .syncer out bench/results .pytest_cache .mypy_cache .ruff_cache
