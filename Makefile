# Two entry points: `make demo` and `make test`. Each builds .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_DEMO := $(VENV)/.demo-installed
STAMP_TEST := $(VENV)/.test-installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist

.PHONY: demo test lint bench clean postgresql chromium

# On a machine without an NVIDIA GPU, PyTorch's CPU builds (torch + the torchvision built against it) come from
# PyTorch's own index and are a fraction of the CUDA wheels' size. Where that index cannot be reached (this workplace
# allows only PyPI, Debian and npm) pip falls back to PyPI's default build; nothing is pinned, so `pip install -e .`
# elsewhere keeps whatever torch the user has. Set TORCH_INDEX= (empty) to skip the attempt. (A torch+cpu wheel
# alone does not help: PyPI's torchvision wheels link libtorch_cuda.so and fail to import against a CPU torch.)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
STAMP_TORCH := $(VENV)/.torch-installed

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP_TORCH): | $(BIN)/python
	@if [ -n "$(TORCH_INDEX)" ] && ! command -v nvidia-smi >/dev/null 2>&1; then \
	  $(BIN)/pip --isolated install -q --timeout 10 --retries 0 --index-url $(TORCH_INDEX) "torch>=2.4" "torchvision>=0.19" \
	    2>/dev/null && echo "installed PyTorch's CPU build from $(TORCH_INDEX)" || \
	  echo "note: $(TORCH_INDEX) is not reachable; installing PyPI's default torch build (with CUDA libraries)"; \
	fi
	touch $@

$(STAMP_DEMO): pyproject.toml | $(STAMP_TORCH)
	$(BIN)/pip install -q -e ".[demo]"
	touch $@

$(STAMP_TEST): pyproject.toml | $(STAMP_TORCH)
	$(BIN)/pip install -q -e ".[test,demo]"
	touch $@

demo: $(STAMP_DEMO) | $(FASHION_MNIST)
	$(BIN)/python -m effnet demo --study

# Real Fashion-MNIST for the demo's scaling study and the data tests: Debian's package, installed when we are root
# (CI is).

$(FASHION_MNIST):
	@if [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null || \
	  echo "warning: could not install dataset-fashion-mnist; the demo's study and the real-data tests need it"; \
	else echo "note: run 'apt-get install dataset-fashion-mnist' as root for the demo's study and real-data tests"; fi

# A real PostgreSQL server for the multi-worker study tests (tests/postgres.py starts a throwaway
# cluster on a free port): Debian's package, installed when we are root (CI is). Debian keeps initdb
# out of PATH, in /usr/lib/postgresql/<major>/bin, hence the glob. The package's own "main" cluster
# on port 5432 is started only where an init system runs (policy-rc.d or no /sbin/init blocks it in
# containers) and never gets in the way; a failed start there fails apt-get but leaves the binaries.
PG_BIN_GLOB ?= /usr/lib/postgresql/*/bin

postgresql:
	@if command -v initdb >/dev/null 2>&1 || ls $(PG_BIN_GLOB)/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql </dev/null) >/dev/null || \
	  echo "warning: could not install postgresql; the PostgreSQL storage tests will fail"; \
	else echo "note: run 'apt-get install postgresql' as root for the PostgreSQL storage tests"; fi

# The engine is tested against the newest Optuna (what pip resolves) and the oldest the pyproject allows: the
# oldest is installed on its own with the SQLAlchemy of its day (no other dependencies: the venv has them) and put
# first on the path for those tests. 4.3 is the oldest because a journal file lock left by a killed process blocks
# every later process forever before it (found by this run on 4.0: Optuna 4.3 added the lock's grace period).
# Optuna 4.3's best_value query fails on PostgreSQL through psycopg 3 (a CASE on its enum column); effnet never
# asks for a best value, and that one plain-Optuna test is left out of this run.
OPTUNA_OLDEST := 4.3.0
OLDEST := $(VENV)/optuna-$(OPTUNA_OLDEST)
OLDEST_TESTS := tests/test_engine.py tests/test_postgres_storage.py tests/test_method_trust.py

$(OLDEST): | $(BIN)/python
	$(BIN)/pip install -q --no-deps --target $@ "optuna==$(OPTUNA_OLDEST)" "sqlalchemy==2.0.40"

# Debian's Chromium for the dashboard's browser test (headless), installed when we are root (CI is).
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium </dev/null) >/dev/null || \
	  echo "warning: could not install chromium; the dashboard's browser test will fail"; \
	else echo "note: run 'apt-get install chromium' as root for the dashboard's browser test"; fi

# The suite runs on TEST_WORKERS pytest-xdist workers (one torch thread each; tests/conftest.py): on this project's
# 2-core machine, 2 workers took 7 min where one process took 12-13. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: $(STAMP_TEST) | $(FASHION_MNIST) postgresql chromium $(OLDEST)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=15
	PYTHONPATH=$(OLDEST) $(BIN)/python -m pytest -n $(TEST_WORKERS) -q -p no:cacheprovider $(OLDEST_TESTS) --optuna-version \
	  $(OPTUNA_OLDEST) -k "(engine or postgres or worker or fail or folder or hyperband or confirm) and not best_value"

lint: $(STAMP_TEST)
	$(BIN)/ruff check .

bench: $(STAMP_TEST)
	$(BIN)/python benchmarks/latency.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
