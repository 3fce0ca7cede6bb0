# `make gsN` serves lesson N; `make test` runs everything. Run `make help` for the rest.
# A new lesson folder (gsN_topic/) needs no change here: the pattern rules find it.

PYTHON ?= python3
PORT ?= 8000
WORKERS ?= 4
# How many lessons' test suites run at once in `make test`.
JOBS ?= 2
VENV := .venv
PY := $(VENV)/bin/python
# A copy of the requirements the environment was built from: when the pins change, it is stale.
STAMP := $(VENV)/requirements.installed
# Material for MkDocs prints a banner about its successor on every build; the pins are deliberate.
export NO_MKDOCS_2_WARNING := 1

.DEFAULT_GOAL := help
.PHONY: help venv test lint docs docs-build bench bench-quick clean

help:
	@echo "make gsN           serve lesson N on http://127.0.0.1:\$$PORT/ (PORT=$(PORT)) with Daphne"
	@echo "make gsN-workers   serve lesson N with uvicorn and \$$WORKERS processes (needs REDIS_URL)"
	@echo "make test          every lesson's tests, ruff, the docs build, one summary (JOBS=$(JOBS) at once)"
	@echo "make docs          serve the docs site on http://127.0.0.1:8001/"
	@echo "make docs-build    build the docs strictly into site/"
	@echo "make bench         measure the lessons' servers; results and charts go into docs/"
	@echo "make bench-quick   a reduced benchmark, under a minute"
	@echo "make lint          ruff"
	@echo "make clean         remove .venv, site/ and build/"
	@echo "lessons: $(sort $(wildcard gs[0-9]*_*))"

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "Python 3.10 or newer is needed (Django 5.2); found: $$($(PYTHON) --version)"; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	cp requirements.txt $(STAMP)

venv: $(STAMP)

# The shortest stem wins, so `make gs4-workers` takes this rule and `make gs4` the next one.
gs%-workers: $(STAMP)
	@$(PY) tools/lesson.py workers $* --port $(PORT) --workers $(WORKERS)

gs%: $(STAMP)
	@$(PY) tools/lesson.py serve $* --port $(PORT)

test: $(STAMP)
	@JOBS=$(JOBS) $(PY) tools/run_tests.py

bench: $(STAMP)
	@$(PY) bench/run.py

bench-quick: $(STAMP)
	@$(PY) bench/run.py --quick

lint: $(STAMP)
	$(VENV)/bin/ruff check .

docs: $(STAMP)
	$(VENV)/bin/mkdocs serve -a 127.0.0.1:8001

docs-build: $(STAMP)
	$(VENV)/bin/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) site build
