# The two commands (README.md):
#   make run    set up, then serve the app with the demo city on the embedded database
#   make test   set up (with the test extra, Chromium and PostGIS), then run the tests
#
# PORT (default 5000) and FIELDCHECK_DATA_DIR (default ./instance) are honoured by
# `make run`; PYTHON picks the interpreter that creates .venv (default python3);
# PYTEST_ARGS is passed to pytest (e.g. make test PYTEST_ARGS='-k health -x').

PORT ?= 5000
FIELDCHECK_DATA_DIR ?= ./instance
PYTEST_ARGS ?=
export PORT FIELDCHECK_DATA_DIR

.PHONY: run test setup setup-test clean-venv

run: setup
	.venv/bin/fieldcheck run

# pytest answers 5 when it collected no tests: a broken collection must not pass quietly.
test: setup-test
	@rc=0; .venv/bin/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure" >&2; fi; \
	exit $$rc

setup:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

# Start again from nothing (the next make run or make test rebuilds .venv).
clean-venv:
	rm -rf .venv
