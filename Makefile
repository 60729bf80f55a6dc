# Two commands do all the set-up on a fresh machine (README.md):
#   make run   -- the app on the embedded default database
#   make test  -- the whole suite; first the Debian packages it needs (below)
#   make run-pg -- the app on a throwaway PostgreSQL (needs `apt-get install postgresql`)
# Both create .venv/ at the repository root when it is missing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
MNIST_DIR ?= $(if $(wildcard ../shared/datasets/mnist/t10k-images-idx3-ubyte.gz),$(abspath ../shared/datasets/mnist),)
export MNIST_DIR

# What the tests need that pip cannot install: PostgreSQL's server (the database tests
# run on a real one, scripts/pg_cluster.py) and Debian's Chromium (the browser tests;
# Playwright's own browser download is never used).
MISSING_PACKAGES := $(strip \
  $(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) \
  $(if $(wildcard /usr/bin/chromium),,chromium))

.PHONY: run run-pg db-upgrade test system-packages venv lint bench train clean

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

test: system-packages venv
	$(PY) -m ruff check .
	$(PY) -m pytest

# Installs MISSING_PACKAGES with apt-get when run as root; otherwise stops, naming the
# command to run, before anything is installed or tested.
system-packages:
ifneq ($(MISSING_PACKAGES),)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing the Debian packages the tests need: $(MISSING_PACKAGES)"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(MISSING_PACKAGES); \
	else \
	  echo "make test needs $(MISSING_PACKAGES), which pip cannot install. Run" >&2; \
	  echo "    sudo apt-get install -y $(MISSING_PACKAGES)" >&2; \
	  echo "(or make test as root, which does it), then make test again." >&2; \
	  exit 1; \
	fi
endif

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
