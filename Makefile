# Set-up, demo, tests and benchmarks. Everything installs into .venv on first use.
# torch is pinned to a CPU build by default; override with e.g. `make test TORCH=torch`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev,cli,plot,postgres,bench,ray

.PHONY: install demo test test-postgres lint format bench-bo bench-multiobjective bench-pruning bench-parallel clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) examples/digits.py

test: install
	$(PY) -m pytest -q

# The store tests against a throwaway PostgreSQL server (installed from Debian's packages if missing).
test-postgres: install
	eval "$$(.ci/postgres.sh)" && $(PY) -m pytest tests/storage -q

lint: install
	$(VENV)/bin/ruff check lightning_autotune tests
	$(VENV)/bin/ruff format --check lightning_autotune tests
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix lightning_autotune tests
	$(VENV)/bin/ruff format lightning_autotune tests

bench-bo: install
	$(PY) -m benchmarks.bo --out benchmarks/results/bo

bench-multiobjective: install
	PYTHONPATH=. $(PY) benchmarks/multiobjective.py
	$(PY) -m benchmarks.mo_latency

bench-pruning: install
	$(PY) -m benchmarks.pruning

bench-parallel: install
	$(PY) -m benchmarks.parallel --epochs 50 --out benchmarks/results/parallel/e50
	$(PY) -m benchmarks.parallel --epochs 200 --out benchmarks/results/parallel/e200

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache autotune.db
