# One command to run the Gateway, one to run the tests; both make their own virtualenv and install
# exactly the versions in constraints.txt, so a fresh machine gets what CI tested. `make upgrade`
# moves those versions forward on purpose, in a commit of its own.
VENV ?= .venv
EXTRAS ?= test
PYTHON ?= python3
BIN := $(VENV)/bin
PIN := --quiet --constraint constraints.txt
JS := tests/realtime/js

.PHONY: serve test lint bench install install-test js upgrade

# the build backend comes from the same pins (no build isolation), so the editable build is
# reproducible too; a stamp per extras set makes a second `make serve` install nothing
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIN) pip setuptools wheel

$(VENV)/.installed-%: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install $(PIN) --no-build-isolation -e ".$(if $(filter none,$*),,[$*])"
	touch $@

install: $(VENV)/.installed-none

install-test: $(VENV)/.installed-$(EXTRAS)

serve: install
	$(BIN)/sophon serve

# the official SignalR client for tests/realtime; skipped (the tests say why) where npm is absent
js: $(JS)/node_modules/.package-lock.json

$(JS)/node_modules/.package-lock.json: $(JS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(JS) --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the official SignalR client tests will be skipped"; fi

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint js
	$(BIN)/pytest -q -n auto

bench: install-test
	$(BIN)/python -m bench

# newest releases the pyproject ranges allow, resolved in a scratch virtualenv, then the suite
upgrade:
	rm -rf .venv-upgrade
	$(PYTHON) -m venv .venv-upgrade
	.venv-upgrade/bin/pip install --quiet --upgrade pip setuptools wheel
	.venv-upgrade/bin/pip install --quiet -e ".[test,local-embeddings]"
	{ echo "# Exact versions that make serve/test/.ci/run install; refresh with 'make upgrade'."; \
	  .venv-upgrade/bin/pip freeze --all --exclude-editable | LC_ALL=C sort -f; } > constraints.txt
	rm -rf .venv-upgrade
	$(MAKE) test EXTRAS=test,local-embeddings
