# digitpad: `make run` (serve the shipped model) and `make test` (install everything, run all tests).
# Both create and use .venv. `make run` installs the serving dependencies only (no torch).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# `make run PORT=8080 HOST=0.0.0.0`; unset, digitpad's own settings decide: DIGITPAD_PORT and
# DIGITPAD_HOST from the environment, else 127.0.0.1:8000.
HOST   ?=
PORT   ?=
# setuptools ends every editable install with an "Editable installation." notice (information
# only: folders named like the package may shadow it); filtered so that a quiet install is quiet.
PIP    := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip
# Data beside the project (CI and dev machines have ../shared); override with env vars.
export DIGITPAD_DATA_DIR  ?= $(abspath ../shared/data/mnist)
export DIGITPAD_PENDIGITS ?= $(abspath ../shared/data/pendigits/trajectories-dev.jsonl.gz)
export DIGITPAD_UNIPEN    ?= $(abspath ../shared/data/unipen)
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k preprocess"`.
PYTEST_ARGS ?=
# Test files run in this many processes (pytest-xdist, a file's tests together: its module
# fixtures, a trained tiny model or a live server, are made once). One process keeps about one
# core of two busy (it waits on browsers, servers, subprocesses): two nearly halve the time. 0: one process.
TEST_WORKERS ?= 2

.PHONY: install install-serve run test lint notebook bench clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps make installs idempotent: they re-run only when the build inputs change (the editable
# install compiles the C extensions digitpad/_fastpre.c and _fastpng.c in place, so a changed .c file re-installs).
$(VENV)/.serve-installed: pyproject.toml constraints.txt setup.py digitpad/_fastpre.c digitpad/_fastpng.c | $(BIN)/python
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

# torch==2.13.0 first, from its own line, so that no dependency can pull a CUDA build. Every
# version comes from constraints.txt (what the figures were measured with; `make lock` rewrites it).
$(VENV)/.all-installed: pyproject.toml constraints.txt setup.py digitpad/_fastpre.c digitpad/_fastpng.c | $(BIN)/python
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e '.[train,dev]'
	touch $(VENV)/.serve-installed $@

install-serve: $(VENV)/.serve-installed

install: $(VENV)/.all-installed

run: install-serve
	$(BIN)/digitpad serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

test: install
	$(BIN)/python -m pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check digitpad tests bench

# Re-run the model notebook top to bottom and save its outputs in place.
# A quick check without touching it: make notebook NOTEBOOK_ARGS="--fast --output /tmp/model.ipynb"
notebook: install
	$(BIN)/python notebooks/execute.py notebooks/model.ipynb $(NOTEBOOK_ARGS)

# Pin what is installed now (after `pip install -U ...` in .venv, or ranges widened in pyproject.toml).
lock: install
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.new && mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info digitpad/*.so
