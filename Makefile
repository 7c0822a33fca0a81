# Set-up, demo, tests and benchmarks. Everything installs into .venv on first use.
# torch is pinned to a CPU build by default; override with e.g. `make test TORCH=torch`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev,cli,plot,postgres,bench

.PHONY: install demo test lint format bench-bo bench-parallel clean

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

lint: install
	$(VENV)/bin/ruff check lightning_autotune tests
	$(VENV)/bin/ruff format --check lightning_autotune tests
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix lightning_autotune tests
	$(VENV)/bin/ruff format lightning_autotune tests

bench-parallel: install
	$(PY) -m benchmarks.parallel

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache autotune.db
