# Two commands do all the set-up on a fresh machine (README.md):
#   make run   -- the app on the embedded default database
#   make test  -- the whole suite
# Both create .venv/ at the repository root when it is missing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
MNIST_DIR ?= $(if $(wildcard ../shared/datasets/mnist/t10k-images-idx3-ubyte.gz),$(abspath ../shared/datasets/mnist),)
export MNIST_DIR

.PHONY: run test venv lint bench train clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	$(PY) run_model.py evaluate

test: venv
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

train: venv
	$(PY) run_model.py

bench: venv
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
