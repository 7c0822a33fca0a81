# Set-up, demo, tests, docs and benchmarks. Everything installs into .venv on first use.
# torch is pinned to a CPU build by default; override with e.g. `make test TORCH=torch`.
# Each target installs only the extras it needs; a stamp file per set of extras records what is
# installed, so `make test` after `make demo` adds the rest.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_EXTRAS := demo
TEST_EXTRAS := dev,cli,plot,postgres,bench,ray,docs,dashboard,evolutionary

.PHONY: install demo test test-postgres lint format docs docs-serve \
	bench-bo bench-bo-batch bench-bo-async bench-multiobjective bench-mo-latency bench-pruning \
	bench-parallel bench-callbacks bench-cases bench-tabular bench-tabular-build bench-bo-latency bench-multifidelity clean

# The interpreter and the pinned torch, installed before anything that depends on torch.
$(VENV)/.base:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	touch $@

$(VENV)/.demo: $(VENV)/.base pyproject.toml
	$(PY) -m pip install -q -e ".[$(DEMO_EXTRAS)]"
	touch $@

$(VENV)/.test: $(VENV)/.base pyproject.toml
	$(PY) -m pip install -q -e ".[$(TEST_EXTRAS)]"
	touch $@

install: $(VENV)/.test

demo: $(VENV)/.demo
	$(PY) examples/digits.py

# The 15 slowest tests are listed at the end, so a test that grows shows in every CI log.
test: $(VENV)/.test
	$(PY) -m pytest -q --durations=15

# The store tests against a throwaway PostgreSQL server (installed from Debian's packages if missing).
test-postgres: $(VENV)/.test
	eval "$$(.ci/postgres.sh)" && $(PY) -m pytest tests/storage -q

lint: $(VENV)/.test
	$(VENV)/bin/ruff check lightning_autotune tests
	$(VENV)/bin/ruff format --check lightning_autotune tests
	$(VENV)/bin/mypy

format: $(VENV)/.test
	$(VENV)/bin/ruff check --fix lightning_autotune tests
	$(VENV)/bin/ruff format lightning_autotune tests

# The documentation site (MkDocs, Material theme, API reference from the docstrings) in site/.
# --strict turns a broken link or an unresolved reference into an error.
docs: $(VENV)/.test
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: $(VENV)/.test
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# Each benchmark writes its table (results.md) and plot to benchmarks/results/<name>/, the paths
# that docs/results.md includes. They take from minutes (cases) to hours (bo).
bench-bo: $(VENV)/.test
	$(PY) -m benchmarks.bo --seeds 30 --budgets 20 50 --no-latency --out benchmarks/results/bo

bench-bo-batch: $(VENV)/.test
	$(PY) -m benchmarks.bo --seeds 30 --budgets 20 50 --peers ours ours_q4 --no-latency \
		--out benchmarks/results/bo_batch

bench-bo-async: $(VENV)/.test
	$(PY) -m benchmarks.bo --seeds 20 --budgets 20 50 \
		--peers ours ours_async4 optuna_gp optuna_gp_async4 --no-latency \
		--out benchmarks/results/bo_async

bench-multiobjective: $(VENV)/.test
	PYTHONPATH=. $(PY) benchmarks/multiobjective.py

bench-mo-latency: $(VENV)/.test
	$(PY) -m benchmarks.mo_latency --sizes 25 100 --repeats 5

bench-pruning: $(VENV)/.test
	$(PY) -m benchmarks.pruning

bench-parallel: $(VENV)/.test
	$(PY) -m benchmarks.parallel --epochs 50 --out benchmarks/results/parallel_e50
	$(PY) -m benchmarks.parallel --epochs 200 --out benchmarks/results/parallel_e200

bench-callbacks: $(VENV)/.test
	PYTHONPATH=. $(PY) benchmarks/callbacks_overhead.py --model mlp --rounds 7
	PYTHONPATH=. $(PY) benchmarks/callbacks_overhead.py --model cnn --rounds 7

# Seconds per suggestion (CPU time, one BLAS thread for every sampler so the clocks compare).
bench-bo-latency: $(VENV)/.test
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=. nice -n 10 $(PY) -m benchmarks.bo_latency

# Staged and multi-fidelity search: synthetic functions, then real training (an hour each on 2 cores).
bench-multifidelity: $(VENV)/.test
	PYTHONPATH=. $(PY) -m benchmarks.multifidelity --seeds 3 --budget 12.5
	PYTHONPATH=. $(PY) -m benchmarks.multifidelity --suite real --seeds 3 --budget 5

# Samplers and pruners on the stored learning-curve tables (no training), and the tables' rebuild.
bench-tabular: $(VENV)/.test
	PYTHONPATH=. $(PY) -m benchmarks.tabular

bench-tabular-build: $(VENV)/.test
	PYTHONPATH=. nice -n 10 $(PY) -m benchmarks.tabular_build --configs 256 --epochs 20 --chunk 64

bench-cases: $(VENV)/.test
	PYTHONPATH=. $(PY) examples/case_image_classification.py
	PYTHONPATH=. $(PY) examples/case_image_classification.py --data mnist1d --max-epochs 40
	PYTHONPATH=. $(PY) examples/case_sequence_labeling.py

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache autotune.db
