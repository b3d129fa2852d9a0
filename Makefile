# One command to run the Gateway, one to run the tests; both make their own virtualenv.
VENV ?= .venv
EXTRAS ?= test
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: serve test lint bench install install-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"

serve: install
	$(BIN)/sophon serve

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -n auto

bench: install-test
	$(BIN)/python -m bench
