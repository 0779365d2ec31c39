# The two commands: `make up` runs the whole product, `make test` runs the whole test suite.
# Both work on a fresh machine with Python 3.11, Node and no Docker: what they need from the system (nginx;
# for the tests Chromium, docker-compose, promtool) they install from Debian as root, or name and stop.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)

SYSTEM_PACKAGES := $(PYTHON) -m local.system_packages

.PHONY: help venv up test system-packages lint pytest unit router-config migrate reminders settle-storage seed clean spa frontend-check openapi harden bench

help:
	@echo "make up      start everything (embedded PostgreSQL, Redis, S3) at http://localhost:8000"
	@echo "make test    lint, type-check, layering contracts and every test"
	@echo "make unit    the fast unit tests only"
	@echo "make harden the hardening suites at full length (fuzzing, abuse, faults, 60 s load)"
	@echo "make seed       demo users, tasks and attachments in a running make up"
	@echo "make reminders  one reminder pass now (against make up's database unless DATABASE_URL is set)"
	@echo "make settle-storage  carry out now every file change left in the storage outbox (make up's, as above)"
	@echo "make bench      the benchmarks (a few minutes): a table of figures against floors, and a JSON file"

$(VENV)/.installed: requirements-dev.txt layers/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

up: venv spa
	@$(SYSTEM_PACKAGES) up
	$(PY) -m local.up

test: system-packages lint frontend-check pytest

system-packages:
	@$(SYSTEM_PACKAGES) test

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error

# The production build the router serves at /.
spa: frontend/node_modules/.package-lock.json
	cd frontend && npm run build

frontend-check: frontend/node_modules/.package-lock.json
	cd frontend && npm run check:api && npm run typecheck && npm run lint && npm test

# Regenerates the SPA's typed client from the merged OpenAPI document of a running `make up`.
openapi: frontend/node_modules/.package-lock.json
	curl -fsS http://localhost:8000/api/v1/openapi.json | python3 -m json.tool --sort-keys > frontend/openapi.json
	cd frontend && npm run gen:api

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

pytest: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# The hardening suites at full length: fuzzing with more examples, a 60 s load of 32 clients, longer faults.
harden: venv system-packages
	HARDEN=long $(PY) -m pytest tests/hardening $(PYTEST_ARGS)

# Figures, not tests (bench/README.md): seeds its own database, loads the real stack with wrk, prints a table.
bench: venv
	@$(SYSTEM_PACKAGES) bench
	$(PY) -m bench

unit: venv
	$(PY) -m pytest tests/unit -q

router-config: venv
	$(PY) -m infra.router.routing --output infra/router/nginx.conf

migrate: venv
	$(PY) -m tasktracker.adapters.sqlalchemy.migrate upgrade

# `make up`'s embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL name others.
reminders: venv
	DATABASE_URL="$${DATABASE_URL:-postgresql://postgres:@/tasktracker?host=$(CURDIR)/.local/postgres}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:$${LOCAL_REDIS_PORT:-6390}/0}" \
	$(PY) -m functions.reminders.cli run

# Every change in the storage outbox, however young, against `make up`'s services unless named otherwise.
settle-storage: venv
	DATABASE_URL="$${DATABASE_URL:-postgresql://postgres:@/tasktracker?host=$(CURDIR)/.local/postgres}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:$${LOCAL_REDIS_PORT:-6390}/0}" \
	S3_ENDPOINT_URL="$${S3_ENDPOINT_URL:-http://127.0.0.1:$${LOCAL_S3_PORT:-9000}}" \
	AWS_ACCESS_KEY_ID="$${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="$${AWS_SECRET_ACCESS_KEY:-testing}" \
	$(PY) -m functions.reminders.cli settle-storage --grace 0

# Demo users and a few hundred tasks with tags, due dates and attachments, in a running `make up`.
seed: venv
	DATABASE_URL="$${DATABASE_URL:-postgresql://postgres:@/tasktracker?host=$(CURDIR)/.local/postgres}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:$${LOCAL_REDIS_PORT:-6390}/0}" \
	S3_ENDPOINT_URL="$${S3_ENDPOINT_URL:-http://127.0.0.1:$${LOCAL_S3_PORT:-9000}}" \
	AWS_ACCESS_KEY_ID="$${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="$${AWS_SECRET_ACCESS_KEY:-testing}" \
	$(PY) -m local.seed

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
