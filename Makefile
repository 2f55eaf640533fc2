# The two set-up commands: `make run` (the app on the local engine) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
# package:command — installed by `make test` when missing (as root), or the command is printed.
TEST_PACKAGES = redis-server:redis-server
# The HA environment: HAProxy, a throwaway PostgreSQL (binaries off PATH), headless Chromium.
TEST_PACKAGES += haproxy:haproxy chromium:chromium postgresql:/usr/lib/postgresql/*/bin/initdb

PY = $(VENV)/bin/python

.PHONY: run test venv system-packages clean ha-demo

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

test: venv system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

# N gunicorn instances behind HAProxy, every engine x LB mode x fault: HA_ARGS="--users 20"
ha-demo: venv system-packages
	$(PY) -m harness.ha $(HA_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
