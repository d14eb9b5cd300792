# The two commands of the README: `make run` (the product on its local defaults) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet
NEED_REDIS := command -v redis-server >/dev/null || (apt-get update && apt-get install -y redis-server)

.PHONY: install install-local run test lint typecheck pytest bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# `make run` needs the runtime and moto_server only (the `local` extra); the tests and tools add `dev`
# (zappa, moto[server] with every AWS service's dependencies, ruff, mypy), which takes minutes more to install.
$(VENV)/.installed-local: pyproject.toml | $(BIN)/python
	@$(NEED_REDIS)
	$(PIP) -e '.[local]'
	touch $@

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@$(NEED_REDIS)
	$(PIP) -e '.[dev]'
	touch $@

# --omit=optional (also in .npmrc): pouchdb-server's sqlite3 adapter would compile for minutes; unused here.
node_modules/.installed: package.json package-lock.json
	npm ci --omit=optional --no-audit --no-fund --loglevel=error
	touch $@

install-local: $(VENV)/.installed-local node_modules/.installed

install: $(VENV)/.installed node_modules/.installed

run: install-local
	$(BIN)/dms dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

bench: install
	$(BIN)/python -m bench

# requirements.lock: the worker image's runtime dependencies (pyproject's [project].dependencies, no extras)
# with every file's hash, for the image's Python 3.12 on x86_64 Linux; the Dockerfile installs only these.
# `make lock` keeps each pin pyproject.toml still allows; `make lock LOCK_FLAGS=--upgrade` moves all to the newest.
UV_VERSION := 0.13.9
UV := var/uv-$(UV_VERSION)/bin/uv
LOCK_FLAGS ?=

$(UV):
	$(PYTHON) -m venv var/uv-$(UV_VERSION)
	var/uv-$(UV_VERSION)/bin/pip install --quiet uv==$(UV_VERSION)

lock: $(UV)
	$(UV) pip compile pyproject.toml --python-version 3.12 --python-platform x86_64-manylinux_2_28 \
	    --generate-hashes --custom-compile-command 'make lock' $(LOCK_FLAGS) --output-file requirements.lock

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
