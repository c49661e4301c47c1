# Shortcuts for developers; the README's two commands need nothing but Python.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint format dev manifest bench clean

$(BIN)/lifecycle: pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

setup: $(BIN)/lifecycle

demo: setup
	$(BIN)/lifecycle demo

test: setup
	$(BIN)/pytest

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

# Speed and memory of the quality gate on one multi-million-row partition: a JSON report in
# bench/results/ (the sample shop for it is generated once under data/bench/).
bench: setup
	$(BIN)/python bench/quality_gate.py

clean:
	rm -rf data .dagster
