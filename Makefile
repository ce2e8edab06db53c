# flask-itms: `make demo` runs the demo, `make test` runs every test. Both build .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo walkthrough test lint pytest chromium clean

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

# The example CRM with the phone simulator on http://127.0.0.1:5000 (SQLite in instance/).
demo: $(INSTALLED)
	$(PY) -m example_app

# The console walk-through: one PIN opt-in and one STOP, printed step by step.
walkthrough: $(INSTALLED)
	$(PY) -m example_app.walkthrough

# Debian's Chromium for the browser tests; Playwright's own browser download cannot work offline.
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check flask_itms tests example_app
	$(VENV)/bin/ruff format --check flask_itms tests example_app
	$(VENV)/bin/mypy

pytest: $(INSTALLED) chromium
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
