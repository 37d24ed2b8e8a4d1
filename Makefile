# The README's two commands: `make run` and `make test`. Each bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test test-unit test-integration lint bench lock clean demo

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

# Embedded default unless DATABASE_URL / CELERY_BROKER_URL are set: SQLite + filesystem broker,
# mail as .eml files under var/mail/. With DEBUG off the static files are collected first.
run: install
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	@case "$${DEBUG:-true}" in 1|[Tt]rue|yes|on) ;; *) $(PY) manage.py collectstatic --noinput -v 0 ;; esac
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed_demo
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DEBUG=$${DEBUG:-true} $(VENV)/bin/honcho start -f Procfile

test: install
	bash scripts/test.sh

test-unit: install
	$(PY) -m pytest -n auto -m "not integration" -q

test-integration: install
	bash scripts/test.sh integration

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) -m bench $(BENCH_ARGS)

# Regenerate the lock from pyproject.toml's direct pins (a fresh venv, then freeze).
lock:
	rm -rf /tmp/itsm-lock-venv && $(PYTHON) -m venv /tmp/itsm-lock-venv
	$(PYTHON) scripts/deps.py > /tmp/itsm-lock-venv/direct.txt
	/tmp/itsm-lock-venv/bin/pip install --quiet -r /tmp/itsm-lock-venv/direct.txt
	/tmp/itsm-lock-venv/bin/pip freeze > requirements.lock

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
