# minicloud — the two commands are `make run` and `make test`; see README.md.
SHELL := /bin/bash
VENV_PY := .venv/bin/python
PYTEST_ARGS ?=
BENCH_ARGS ?=
VM_BENCH_ARGS ?=
STORAGE_BENCH_ARGS ?=
APP_BENCH_ARGS ?=
SCALE_BENCH_ARGS ?=
NETWORK_BENCH_ARGS ?=
PG_DATA ?= .data/pg

.PHONY: help run test deps bench lint clean distclean

help:
	@echo "make run        install what is missing, start PostgreSQL, the worker and the console on http://127.0.0.1:8080"
	@echo "make test       install what is missing and run the whole test suite (PYTEST_ARGS='-k foo' to narrow)"
	@echo "make bench      benchmarks: API overhead (BENCH_ARGS='--duration 5' to shorten), then VM boot (VM_BENCH_ARGS='--count 3'), then object streaming (STORAGE_BENCH_ARGS='--mib 64'), then app deploys (APP_BENCH_ARGS='--apps 10'), then cost against platform size (SCALE_BENCH_ARGS='--sizes 100,2000'), then security groups on the wire (NETWORK_BENCH_ARGS='--rounds 2')"
	@echo "make lint       ruff (and shellcheck when installed)"
	@echo "make clean      stop the local PostgreSQL cluster and delete .data/"
	@echo "make distclean  clean, and delete .venv/"

run:
	bash scripts/run.sh

deps:
	bash scripts/install-deps.sh

test: deps
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

bench: deps
	$(VENV_PY) bench/api_overhead.py $(BENCH_ARGS)
	$(VENV_PY) bench/vm_boot.py $(VM_BENCH_ARGS)
	$(VENV_PY) bench/storage_stream.py $(STORAGE_BENCH_ARGS)
	$(VENV_PY) bench/app_deploy.py $(APP_BENCH_ARGS)
	$(VENV_PY) bench/scale.py $(SCALE_BENCH_ARGS)
	$(VENV_PY) bench/network.py $(NETWORK_BENCH_ARGS)

lint: deps
	@if $(VENV_PY) -m ruff --version >/dev/null 2>&1; then \
	  echo "ruff check src tests"; $(VENV_PY) -m ruff check src tests; \
	else echo "lint: ruff is not installed in .venv; skipping"; fi
	@if command -v shellcheck >/dev/null; then \
	  echo "shellcheck scripts/*.sh .ci/run"; shellcheck scripts/*.sh .ci/run; \
	else echo "lint: shellcheck is not installed; skipping shell scripts"; fi

clean:
	@if [ -f "$(PG_DATA)/postmaster.pid" ]; then bash scripts/pg.sh stop "$(PG_DATA)" || true; fi
	@if [ -d .data/swift ]; then bash scripts/swift.sh stop .data/swift || true; fi
	rm -rf .data

distclean: clean
	rm -rf .venv
