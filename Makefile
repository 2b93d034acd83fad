# Two commands do everything (see README):
#   make study   set up, get Fashion-MNIST, run the whole quick study through papermill, write the report
#   make test    set up, run the test suite (what CI runs)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY      = $(VENV)/bin/python
PROFILE ?= quick

.PHONY: setup browser data study lint test test-all bench clean-cache

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m ipykernel install --user --name mialth --display-name "Python (mialth)" >/dev/null
	touch $@

setup: $(VENV)/.installed browser

# Debian's chromium, which tests/test_browser.py drives through Playwright (`playwright install` would
# download a browser): installed with apt-get when missing, apt-get is there and we are root; otherwise
# a note, and that test skips saying why. Never fails the set-up.
CHROMIUM ?= chromium
browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "chromium: apt-get install failed; tests/test_browser.py will skip"; \
	  else echo "chromium: not installed (needs root and apt-get); tests/test_browser.py will skip"; fi; }

data: setup
	$(PY) -m mialth_utils.data

study: data
	$(PY) -m mialth_utils.sweep study --profile $(PROFILE)

lint: setup
	$(VENV)/bin/ruff check .

test: setup lint
	MPLBACKEND=Agg $(PY) -m pytest -m "not gpu and not slow" -q

test-all: setup
	MPLBACKEND=Agg $(PY) -m pytest -m "not gpu" -q

bench: setup
	$(PY) -m mialth_utils.bench

clean-cache:
	rm -rf results/cache results/runs
