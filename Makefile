# Two commands do all the set-up on a fresh machine (README.md):
#   make run   -- the app on the embedded default database
#   make test  -- the whole suite
#   make run-pg -- the app on a throwaway PostgreSQL (needs `apt-get install postgresql`)
# Both create .venv/ at the repository root when it is missing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
MNIST_DIR ?= $(if $(wildcard ../shared/datasets/mnist/t10k-images-idx3-ubyte.gz),$(abspath ../shared/datasets/mnist),)
export MNIST_DIR

.PHONY: run run-pg db-upgrade test venv lint bench train clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

run: venv db-upgrade
	$(PY) -m streamlit run streamlit/app.py --server.port 8501

# The feedback store to the newest schema (DATABASE_OWNER_URL / DATABASE_URL, else SQLite).
db-upgrade: venv
	$(PY) -m db.migrate upgrade

# Start a throwaway PostgreSQL, migrate it, run the app on it; Ctrl-C stops and removes it.
run-pg: venv
	$(PY) scripts/pg_cluster.py run -- sh -c \
	  '$(PY) -m db.migrate upgrade && exec $(PY) -m streamlit run streamlit/app.py'

test: venv
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

train: venv
	$(PY) run_model.py

# Every benchmark, results in results/bench/ and README's tables; ARGS=--quick for a short run.
bench: venv
	$(PY) -m benchmarks $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
