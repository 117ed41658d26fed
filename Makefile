# One command to set up and run, one to set up and test. Everything installs from PyPI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MLFLOW3 := .venvs/mlflow3
MLFLOW2 := .venvs/mlflow2
STAMP := $(VENV)/.installed

.PHONY: help run test install compat-venvs lint typecheck pytest bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install Cairn with its dev tools

run: install  ## install everything and start the server on the embedded default (SQLite + ./cairn-data)
	$(BIN)/cairn server

$(MLFLOW3)/.installed:
	$(PYTHON) -m venv $(MLFLOW3)
	$(MLFLOW3)/bin/pip install --quiet 'mlflow==3.17.2' scikit-learn pandas
	touch $@

$(MLFLOW2)/.installed:
	$(PYTHON) -m venv $(MLFLOW2)
	$(MLFLOW2)/bin/pip install --quiet 'mlflow==2.22.5' scikit-learn pandas
	touch $@

compat-venvs: $(MLFLOW3)/.installed $(MLFLOW2)/.installed  ## the stock mlflow clients used by tests/compat

lint: install  ## ruff
	$(BIN)/ruff check cairn tests benchmarks examples
	$(BIN)/ruff format --check cairn tests benchmarks examples

typecheck: install  ## mypy --strict
	$(BIN)/mypy

pytest: install compat-venvs
	$(BIN)/pytest -q

test: lint typecheck pytest  ## install everything and run the whole test suite

.venvs/fml/.installed:
	$(PYTHON) -m venv .venvs/fml
	.venvs/fml/bin/pip install --quiet 'fasttrackml==0.6.0'
	touch $@

bench: install $(MLFLOW3)/.installed .venvs/fml/.installed  ## Cairn vs MLflow 3.17.2 vs FastTrackML 0.6.0 (docs/benchmarks.md)
	$(BIN)/python benchmarks/run.py

clean:  ## remove the virtualenvs and caches
	rm -rf $(VENV) .venvs .pytest_cache .mypy_cache .ruff_cache
