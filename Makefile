# hashmatch: the two commands a newcomer needs are `make demo` and `make test`.
# Each creates the project's virtual environment (.venv) when it is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit integration e2e format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hashmatch demo

lint: $(STAMP)
	$(BIN)/ruff check layers functions tests benchmarks
	$(BIN)/ruff format --check layers functions tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

unit: $(STAMP)
	$(BIN)/python -m pytest -m unit tests

integration: $(STAMP)
	$(BIN)/python -m pytest -m integration tests

e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e tests

format: $(STAMP)
	$(BIN)/ruff check --fix layers functions tests benchmarks
	$(BIN)/ruff format layers functions tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_image_speed.py
	$(BIN)/python benchmarks/bench_robustness.py
	$(BIN)/python benchmarks/bench_index.py
	$(BIN)/python benchmarks/bench_video.py

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
