# The two commands of the README: `make run` (the product on its local defaults) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet
NEED_REDIS := command -v redis-server >/dev/null || (apt-get update && apt-get install -y redis-server)
# The browser tests drive Debian's chromium (never a browser Playwright would download); a CJK font makes the
# Chinese pages render as a person sees them (screenshots, layout checks).
NEED_BROWSER := { test -x /usr/bin/chromium && fc-list :lang=zh | grep -q . ; } || \
	(apt-get update && apt-get install -y chromium fonts-wqy-microhei)

.PHONY: install install-local browser catalogs translations run test lint typecheck pytest bench lock clean

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

# Compiled after the venv (pybabel comes with it), so a separate step rather than a prerequisite.
install-local: $(VENV)/.installed-local node_modules/.installed
	@$(MAKE) --no-print-directory catalogs

install: $(VENV)/.installed node_modules/.installed browser
	@$(MAKE) --no-print-directory catalogs

browser:
	@$(NEED_BROWSER)

# Translations: translations/<locale>/LC_MESSAGES/messages.po is committed; its .mo is built here (and by the
# Dockerfile and zappa's prebuild_script, deploy/translations.py), never committed.
PO_FILES := $(wildcard translations/*/LC_MESSAGES/messages.po)
catalogs: $(PO_FILES:.po=.mo)

%.mo: %.po
	$(BIN)/pybabel compile --statistics --input-file $< --output-file $@

# `make translations` after changing text: extract every marked string (babel.cfg), merge it into each .po,
# compile. `make translations NEW=fr` also starts translations/fr (then add it to factories/i18n.py LANGUAGES).
POT := var/messages.pot
translations: install
	@mkdir -p var
	$(BIN)/pybabel extract --mapping-file babel.cfg --keywords lazy_gettext --keywords _l --keywords lazy_pgettext:1c,2 --keywords t --keywords N_ --keywords Text \
	    --ignore-dirs '.* _* node_modules var' --add-location file --sort-by-file --no-wrap \
	    --project DMS --copyright-holder DMS --msgid-bugs-address '' --output-file $(POT) .
	$(if $(NEW),$(BIN)/pybabel init --input-file $(POT) --output-dir translations --locale $(NEW) --no-wrap)
	$(BIN)/pybabel update --input-file $(POT) --output-dir translations --ignore-obsolete --no-fuzzy-matching --no-wrap
	@$(MAKE) --no-print-directory catalogs

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
