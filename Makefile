# The two set-up commands: `make run` (the app on the local engine) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
# package:command — installed by `make test` when missing (as root), or the command is printed.
TEST_PACKAGES = redis-server:redis-server redis-sentinel:redis-sentinel haproxy:haproxy nodejs:node npm:npm
# The HA environment: a throwaway PostgreSQL (binaries off PATH), headless Chromium.
TEST_PACKAGES += chromium:chromium postgresql:/usr/lib/postgresql/*/bin/initdb
# The benchmark (make bench; its quick mode runs in the suite): wrk, ip/tc for --netem,
# valgrind for harness.instructions.
BENCH_PACKAGES = wrk:wrk iproute2:tc valgrind:valgrind
TEST_PACKAGES += $(BENCH_PACKAGES)
# The compatibility run: Python 3.13 + Django 6.x (requirements-compat.txt), the DynamoDB tests
# of the app's suite and of the demo's.
COMPAT_VENV ?= .venv-compat
COMPAT_PY = $(COMPAT_VENV)/bin/python
COMPAT_TESTS ?= -k dynamodb

PY = $(VENV)/bin/python

.PHONY: run test test-compat test-store-errors fuzz venv system-packages node-modules clean ha-demo ha-concurrency ha-migration soak lint format bench

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || scripts/ensure-system-packages python3-venv:/nonexistent
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

system-packages:
	scripts/ensure-system-packages $(TEST_PACKAGES)

# dynalite (npm, package.json) for the DynamoDB tests.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

node-modules: system-packages node_modules/.package-lock.json

# Style: ruff's lint and formatter (config in pyproject.toml); `make format` applies both.
# mypy on session_engines/ (django-stubs, boto3-stubs; [tool.mypy] in pyproject.toml). Then the
# package as PyPI would get it: sdist and wheel built into a temp dir, checked by twine.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	dist=$$(mktemp -d) && trap 'rm -rf "$$dist"' EXIT && \
		$(PY) -m build --quiet --outdir "$$dist" . && \
		$(VENV)/bin/twine check --strict "$$dist"/*

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Two suites, two settings: the reusable app's (tests/session_engines, on its own settings by its
# pytest.ini), then the demo's (pyproject.toml's settings; it leaves tests/session_engines out),
# then the compatibility run. Each runs whatever the others did; any failure fails the target.
test: venv system-packages node-modules lint
	@status=0; \
	$(PY) -m pytest tests/session_engines $(PYTEST_ARGS) || status=1; \
	$(PY) -m pytest $(PYTEST_ARGS) || status=1; \
	$(MAKE) test-compat || status=1; \
	exit $$status

# Every Redis error x engine x operation (tests/session_engines/test_store_errors.py); the
# suite runs one operation per fault and engine.
test-store-errors: venv system-packages
	STORE_ERRORS=full $(PY) -m pytest tests/session_engines/test_store_errors.py $(PYTEST_ARGS)

# The fuzz tests alone, 25 times as many cases (HYPOTHESIS_PROFILE=long, tests/session_engines/
# fuzzing.py): about 50,000. A failure prints its replay; PYTEST_ARGS="--hypothesis-seed=N" too.
fuzz: venv system-packages
	@status=0; \
	HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/session_engines/test_fuzz.py $(PYTEST_ARGS) || status=1; \
	HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/accounts/test_fuzz.py $(PYTEST_ARGS) || status=1; \
	exit $$status

$(COMPAT_VENV)/.installed: requirements.txt requirements-dev.txt requirements-compat.txt
	python313=$$(VENV=$(VENV) scripts/find-python 3.13) && $$python313 -m venv $(COMPAT_VENV)
	$(COMPAT_PY) -m pip install -q --upgrade pip
	$(COMPAT_PY) -m pip install -q -r requirements-dev.txt
	$(COMPAT_PY) -m pip install -q -r requirements-compat.txt
	touch $@

test-compat: $(COMPAT_VENV)/.installed node-modules
	$(COMPAT_PY) -m pytest -q tests/session_engines $(COMPAT_TESTS)
	$(COMPAT_PY) -m pytest -q tests/accounts $(COMPAT_TESTS)

# N gunicorn instances behind HAProxy, every engine x LB mode x fault: HA_ARGS="--users 20";
# then the concurrent-requests table (make ha-concurrency), then a migration of engines.
ha-demo: venv system-packages
	$(PY) -m harness.ha $(HA_ARGS)
	$(PY) -m harness.concurrency $(CONCURRENCY_ARGS)
	$(PY) -m harness.migration $(MIGRATION_ARGS)

# Django's db engine to Redis, and Redis to DynamoDB, under reads through HAProxy, sessions lost
# counted (--paths db-redis,redis-dynamodb):
# MIGRATION_ARGS="--users 20 --idle 200" (--deploy rolling: the control, which loses some)
ha-migration: venv system-packages
	$(PY) -m harness.migration $(MIGRATION_ARGS)

# Parallel updates of one session through HAProxy round-robin, updates lost per engine:
# CONCURRENCY_ARGS="--sessions 20 --parallel 8 --rounds 50"
ha-concurrency: venv system-packages
	$(PY) -m harness.concurrency $(CONCURRENCY_ARGS)

# Soak, then faults under load, through HAProxy and 2 instances per shared store (python -m
# harness.soak; about 20 minutes): SOAK_ARGS="--stores redis,dynamodb --seconds 60 --faults restart"
soak: venv system-packages
	$(PY) -m harness.soak $(SOAK_ARGS)

# Every engine end to end through HAProxy, ratios to Django's signed cookies (out/bench/):
# BENCH_ARGS="--rounds 3 --duration 2", "--quick", "--relay" (or "--netem"), "--overhead-only".
bench: venv system-packages
	$(PY) -m harness.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(COMPAT_VENV) node_modules db.sqlite3 staticfiles .pytest_cache
