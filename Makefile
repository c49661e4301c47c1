# Shortcuts for developers; the README's two commands need nothing but Python.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint format dev manifest bench bench-components clean

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

# The pipeline at three shop sizes (small 5k, medium 100k, large 1M customers): a full rebuild
# and a new day through Dagster, stage by stage; reports in bench/results/pipeline_<scale>.*.
# `make bench SCALES=small` for one; shops and runs go to $(BENCH_DIR).
SCALES ?= small medium large
BENCH_DIR ?= data/bench
bench: setup
	$(BIN)/lifecycle bench --scale $(SCALES) --workdir $(BENCH_DIR)

# Components on their own: the quality gate on one multi-million-row partition, the ESP
# adapters' throughput at each ESP's rate limit (a 1M-member first sync against each emulator),
# and the churn model's fit and scoring of 1M customers beside its peer library.
bench-components: setup
	$(BIN)/python bench/quality_gate.py
	$(BIN)/python bench/esp_throughput.py
	$(BIN)/python bench/churn_model.py

clean:
	rm -rf data .dagster
