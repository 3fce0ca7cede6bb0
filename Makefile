# `make gsN` serves lesson N; `make test` runs everything. Run `make help` for the rest.
# A new lesson folder (gsN_topic/) needs no change here: the pattern rules find it.

PYTHON ?= python3
PORT ?= 8000
# 0.0.0.0 serves a classroom: every interface, and the machine's addresses as allowed hosts.
HOST ?= 127.0.0.1
WORKERS ?= 4
DOCS_PORT ?= 8001
# How many lessons' test suites run at once in `make test`.
JOBS ?= 2
VENV := .venv
PY := $(VENV)/bin/python
# A copy of the requirements the environment was built from: when the pins change, it is stale.
STAMP := $(VENV)/requirements.installed
# Material for MkDocs prints a banner about its successor on every build; the pins are deliberate.
export NO_MKDOCS_2_WARNING := 1

.DEFAULT_GOAL := help
.PHONY: help venv test lint docs docs-build bench bench-quick bench-stack clean exercise check solution gs8-stack

help:
	@echo "targets:"
	@echo "  make gsN             serve lesson N with Daphne on http://\$$HOST:\$$PORT/"
	@echo "  make gsN-workers     serve lesson N with uvicorn and \$$WORKERS processes (needs REDIS_URL)"
	@echo "  make exercise gsN    write exercises/gsN_*/: lesson N with its key code taken out"
	@echo "  make check gsN       run the lesson's tests on your exercise: what is done, what is next"
	@echo "  make solution gsN    your exercise against the lesson's code, as a diff"
	@echo "  make gs8-stack       gs8 as in production: nginx (https://127.0.0.1:8443/), gunicorn, two"
	@echo "                       uvicorn hosts, a worker, Redis with Sentinel, PostgreSQL"
	@echo "  make test            every lesson's tests, ruff, the docs build, one summary"
	@echo "  make docs            serve the docs site on http://127.0.0.1:\$$DOCS_PORT/"
	@echo "  make docs-build      build the docs strictly into site/"
	@echo "  make bench           measure the lessons' servers; results and charts go into docs/"
	@echo "  make bench-quick     a reduced benchmark, under two minutes"
	@echo "  make bench-stack     the production stack's capacity (10,000 sockets, a host killed)"
	@echo "  make lint            ruff"
	@echo "  make venv            create .venv from requirements.txt (the other targets do it too)"
	@echo "  make clean           remove .venv, site/ and build/"
	@echo "variables (make gs4 PORT=8001, or PORT=8001 make gs4):"
	@echo "  PORT                  the lesson's port ($(PORT))"
	@echo "  HOST                  where to listen ($(HOST)); 0.0.0.0 = a classroom, every interface"
	@echo "  WORKERS               uvicorn processes for make gsN-workers ($(WORKERS))"
	@echo "  JOBS                  lessons' test suites that make test runs at once ($(JOBS))"
	@echo "  DOCS_PORT             the port of make docs ($(DOCS_PORT))"
	@echo "  REDIS_URL             a Redis channel layer, e.g. redis://127.0.0.1:6379/0 (default: in memory)"
	@echo "  DATABASE_URL          a PostgreSQL database from gs5 on, e.g. postgres://user@host/db"
	@echo "  DJANGO_SECRET_KEY     the secret key (a development key by default)"
	@echo "  DJANGO_DEBUG          1 (default) or 0; 0 needs a real DJANGO_SECRET_KEY"
	@echo "  DJANGO_ALLOWED_HOSTS  comma-separated hosts (default 127.0.0.1,localhost,[::1])"
	@echo "without make (any OS): python -m tools.lesson gs1   (see docs/practice.md)"
	@echo "lessons: $(sort $(wildcard gs[0-9]*_*))"

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "Python 3.10 or newer is needed (Django 5.2); found: $$($(PYTHON) --version)"; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	@# pip compiles every package now: where PYTHONDONTWRITEBYTECODE is set (as on the CI
	@# machines), nothing compiled later is kept, and every process would compile again.
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	cp requirements.txt $(STAMP)

venv: $(STAMP)

# gs8's production layout on this machine (an explicit rule wins over the patterns below).
gs8-stack: $(STAMP)
	@PORT=$(if $(filter command line environment,$(origin PORT)),$(PORT),8443) WORKERS=$(if $(filter command line environment,$(origin WORKERS)),$(WORKERS),2) $(PY) gs8_production/deploy/stack.py

# The shortest stem wins, so `make gs4-workers` takes this rule and `make gs4` the next one.
gs%-workers: $(STAMP)
	@$(PY) tools/lesson.py gs$*-workers --host $(HOST) --port $(PORT) --workers $(WORKERS)

gs%: $(STAMP)
	@$(PY) tools/lesson.py gs$* --host $(HOST) --port $(PORT)

# `make exercise gs4`: the second word names the lesson, and must not serve it as well.
ifneq ($(filter exercise check solution,$(firstword $(MAKECMDGOALS))),)
LESSON := $(word 2,$(MAKECMDGOALS))
ifneq ($(LESSON),)
$(eval $(LESSON):;@:)
endif
endif

exercise check solution: $(STAMP)
	@$(PY) tools/lesson.py $@ $(LESSON)

test: $(STAMP)
	@JOBS=$(JOBS) $(PY) tools/run_tests.py

bench: $(STAMP)
	@$(PY) bench/run.py

bench-quick: $(STAMP)
	@$(PY) bench/run.py --quick

bench-stack: $(STAMP)
	@$(PY) bench/run.py --only stack

lint: $(STAMP)
	$(VENV)/bin/ruff check .

docs: $(STAMP)
	$(VENV)/bin/mkdocs serve -a 127.0.0.1:$(DOCS_PORT)

docs-build: $(STAMP)
	$(VENV)/bin/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) site build
