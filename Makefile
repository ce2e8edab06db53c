# flask-itms: `make demo` runs the demo, `make test` runs every test, `make bench` the benchmarks
# (README, Performance), `make soak` the full-size soak on PostgreSQL. All build .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo walkthrough test lint pytest chromium wrk bench soak clean

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

# Debian's wrk drives the webhook benchmark (and its smoke test in the suite).
wrk:
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check flask_itms tests example_app bench
	$(VENV)/bin/ruff format --check flask_itms tests example_app bench
	$(VENV)/bin/mypy

pytest: $(INSTALLED) chromium wrk
	$(PY) -m pytest $(PYTEST_ARGS)

# Every benchmark: bench/results/latest.md and the README's table. PostgreSQL runs too when
# ITMS_BENCH_DATABASE_URL (or ITMS_TEST_DATABASE_URL) names a database it may wipe.
BENCH_ARGS ?=
bench: $(INSTALLED) wrk
	$(PY) -m bench $(BENCH_ARGS)

# The soak at full size (ITMS_SOAK_WEBHOOKS, default 50,000) on PostgreSQL.
soak: $(INSTALLED)
	@test -n "$$ITMS_TEST_DATABASE_URL" || { echo "make soak needs ITMS_TEST_DATABASE_URL: a PostgreSQL database it may wipe"; exit 2; }
	ITMS_SOAK_WEBHOOKS=$${ITMS_SOAK_WEBHOOKS:-50000} $(PY) -m pytest -p no:cacheprovider -q -s tests/test_soak.py -k postgresql

test: lint pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
