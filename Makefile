# The README's two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
ADDR ?= 127.0.0.1:8000

# Translations: locale/ja/LC_MESSAGES/django.mo is committed, so neither command needs gettext.
# Integration layer: the real PostgreSQL and Redis on this machine.
IT_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/kpi_planner
IT_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-unit test-integration test-e2e lint format install chromium bench messages clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q ".[dev]"
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runstack --addr $(ADDR)

# Lint first: CI runs `make test`, so the style, the app graph and the types are kept there too.
test: $(STAMP) chromium
	$(MAKE) --no-print-directory lint test-unit test-integration test-e2e

test-unit: $(STAMP)
	$(PY) -m pytest tests --ignore=tests/integration --ignore=tests/e2e

test-integration: $(STAMP)
	DATABASE_URL=$(IT_DATABASE_URL) CELERY_BROKER_URL=$(IT_REDIS_URL) CELERY_RESULT_BACKEND=$(IT_REDIS_URL) \
		$(PY) -m pytest tests/integration

test-e2e: $(STAMP) chromium
	$(PY) -m pytest tests/e2e

# Browser tests use Debian's Chromium (Playwright's own browser download is not reachable here).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

messages: $(STAMP)
	$(PY) manage.py makemessages -l ja --ignore=.venv --ignore=var --no-obsolete
	$(PY) manage.py compilemessages --ignore=.venv

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf var
