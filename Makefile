# The two commands: `make up` runs the whole product, `make test` runs the whole test suite.
# Both work on a fresh machine with Python 3.11, Node and no Docker: what they need from the system (nginx;
# for the tests Chromium, docker-compose, promtool) they install from Debian as root, or name and stop.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# This checkout's code, layer included: the virtual environment installs the layer editable, pointing at the
# checkout that made it, so a second checkout sharing it (one commit against another in the bench) would
# otherwise run the first one's layer.
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers

SYSTEM_PACKAGES := $(PYTHON) -m local.system_packages

.PHONY: help venv up test compose-up compose-down compose-test system-packages lint pytest unit router-config migrate reminders deliver settle-storage seed clean spa frontend-check openapi harden bench \
	lambda-python lambda-build lambda-test

help:
	@echo "make up      start everything (embedded PostgreSQL, Redis, S3) at http://localhost:8000"
	@echo "make test    lint, type-check, layering contracts and every test"
	@echo "make unit    the fast unit tests only"
	@echo "make harden the hardening suites at full length (fuzzing, abuse, faults, 60 s load)"
	@echo "make seed       demo users, tasks and attachments in a running make up"
	@echo "make reminders  one reminder pass now (against make up's database unless DATABASE_URL is set)"
	@echo "make deliver    send now the e-mails and webhook deliveries due in the outbox (make up's, as above)"
	@echo "make settle-storage  carry out now every file change left in the storage outbox (make up's, as above)"
	@echo "make bench      the benchmarks (a few minutes): a table of figures against floors, and a JSON file"
	@echo "make compose-up     every image built and docker-compose.yml running (Docker, or podman), healthy"
	@echo "make compose-down   its containers and networks removed (VOLUMES=1: its named volumes too)"
	@echo "make compose-test   the API suite through the router container, restarts, volumes, reminders, dev reload"
	@echo "make lambda-test sam build, then every built function under the Lambda emulator on the template's Python"

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
bench: venv lambda-build
	@$(SYSTEM_PACKAGES) bench
	LAMBDA_PYTHON="$$($(LAMBDA_VENV)/bin/python -c 'import sys; print(sys._base_executable)')" $(PY) -m bench

unit: venv
	$(PY) -m pytest tests/unit -q

# The route table (layers/tasktracker/routes.toml) as an nginx config.
router-config: venv
	$(PY) -m infra.router.routing --output infra/router/nginx.conf

migrate: venv
	$(PY) -m tasktracker.adapters.sqlalchemy.migrate upgrade

# `make up`'s embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL name others.
reminders: venv
	DATABASE_URL="$${DATABASE_URL:-postgresql://postgres:@/tasktracker?host=$(CURDIR)/.local/postgres}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:$${LOCAL_REDIS_PORT:-6390}/0}" \
	SMTP_URL="$${SMTP_URL:-smtp://127.0.0.1:$${LOCAL_SMTP_PORT:-1025}}" \
	$(PY) -m functions.reminders.cli run

# The e-mails and webhook deliveries due in the outbox, sent now through `make up`'s mail server unless SMTP_URL is set.
deliver: venv
	DATABASE_URL="$${DATABASE_URL:-postgresql://postgres:@/tasktracker?host=$(CURDIR)/.local/postgres}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:$${LOCAL_REDIS_PORT:-6390}/0}" \
	SMTP_URL="$${SMTP_URL:-smtp://127.0.0.1:$${LOCAL_SMTP_PORT:-1025}}" \
	WEBHOOK_ALLOW_PRIVATE_TARGETS="$${WEBHOOK_ALLOW_PRIVATE_TARGETS:-true}" \
	$(PY) -m functions.reminders.cli deliver

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

# The product in containers from docker-compose.yml, S3 as its moto profile: Docker where its daemon answers,
# podman otherwise (installed from Debian as root; images that cannot be pulled are stood in for, see
# infra/docker/standins/). ROUTER_PORT moves the router off :8000.
compose-up: venv
	@$(SYSTEM_PACKAGES) compose
	$(PY) -m local.compose up

compose-down: venv
	$(PY) -m local.compose down $(if $(filter 1,$(VOLUMES)),--volumes)

# Its own project (tasktracker-test) on other ports, removed with its volumes at the end.
compose-test: venv
	@$(SYSTEM_PACKAGES) compose
	$(PY) -m tests.compose.run $(PYTEST_ARGS)

# The Lambda path: `sam build` of infra/aws/template.yaml without a container, then the built functions under
# the AWS Lambda Runtime Interface Emulator (shipped in the aws-sam-cli wheel), on the template's Python, with
# the unit tests on that Python too (tests/lambda/conftest.py). Needs python<runtime> on PATH (pyenv works).
LAMBDA_PY_VERSION := $(shell sed -n 's/^ *Runtime: *python\(3\.[0-9]*\) *$$/\1/p' infra/aws/template.yaml | head -1)
# The first python<runtime> that runs: on PATH (a pyenv shim answers only when that version is selected),
# else pyenv's own install of it.
LAMBDA_PYTHON ?= $(shell for p in $$(which -a python$(LAMBDA_PY_VERSION) 2>/dev/null) $$HOME/.pyenv/versions/$(LAMBDA_PY_VERSION)*/bin/python$(LAMBDA_PY_VERSION); do "$$p" -c '' 2>/dev/null && { echo "$$p"; break; }; done)
SAM_VENV := .local/venv-sam
LAMBDA_VENV := .local/venv-lambda
LAMBDA_BUILD := .local/aws-sam

lambda-python:
	@test -n "$(LAMBDA_PYTHON)" || { echo "make lambda-test needs python$(LAMBDA_PY_VERSION), the template's Lambda runtime, on PATH (pyenv install $(LAMBDA_PY_VERSION))"; exit 1; }

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli
	touch $@

# The tests' own virtualenv on the template's Python, and awslambdaric alone in .local/lambda-runtime (what
# Lambda's /var/runtime holds): a function sees only its built folder, the layer and that.
$(LAMBDA_VENV)/.installed: requirements-dev.txt layers/pyproject.toml | lambda-python
	$(LAMBDA_PYTHON) -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/pip install -q -r requirements-dev.txt
	rm -rf .local/lambda-runtime
	$(LAMBDA_VENV)/bin/pip install -q --target .local/lambda-runtime awslambdaric
	touch $@

# sam finds python<runtime> on PATH: the interpreter's own directory goes first (a pyenv shim would do, slowly).
# It runs inside .local/aws-sam, where it keeps its dependency cache (.aws-sam/deps) too.
# Lambda's code folders are read-only, so a function without bytecode compiles every module at every cold start:
# the build is compiled with the runtime's Python, hash-checked-free because unzipping does not keep mtimes.
lambda-build: venv $(SAM_VENV)/.installed $(LAMBDA_VENV)/.installed
	$(PY) -m infra.aws.bundle
	mkdir -p $(LAMBDA_BUILD)
	cd $(LAMBDA_BUILD) && PATH="$$($(CURDIR)/$(LAMBDA_VENV)/bin/python -c 'import os, sys; print(os.path.dirname(sys._base_executable))'):$$PATH" \
		SAM_CLI_TELEMETRY=0 $(CURDIR)/$(SAM_VENV)/bin/sam build -t $(CURDIR)/infra/aws/template.yaml \
		--build-dir build --cache-dir cache --cached --parallel
	$(LAMBDA_VENV)/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash $(LAMBDA_BUILD)/build

lambda-test: lambda-build
	$(LAMBDA_VENV)/bin/python -m pytest tests/unit -q
	$(LAMBDA_VENV)/bin/python -m pytest tests/lambda $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
