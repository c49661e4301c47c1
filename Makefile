# Shortcuts for developers; the README's two commands need nothing but Python.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint format dev manifest bench clean

$(BIN)/lifecycle: pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

setup: $(BIN)/lifecycle

demo: setup
	$(BIN)/lifecycle demo

test: setup
	$(BIN)/pytest

# The inner loop: everything but the end-to-end runs (tests marked slow).
test-fast: setup
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

dev: setup
	$(BIN)/lifecycle dev

manifest: setup
	$(BIN)/python -c "from orchestration.dbt_project import prepare_manifest; print(prepare_manifest())"

# Speed and memory of the quality gate on one multi-million-row partition, and the ESP
# adapters' throughput at each ESP's rate limit (a 1M-member first sync against each
# emulator): JSON reports in bench/results/ (data for them under data/bench/).
bench: setup
	$(BIN)/python bench/quality_gate.py
	$(BIN)/python bench/esp_throughput.py

clean:
	rm -rf data .dagster
