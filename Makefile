# Two commands a new user needs: `make demo` and `make test`. While editing: `make test-fast`
# (the tests not marked slow, under a minute) and `make lint`.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
DEMO_OUT ?= demo_out

.PHONY: install lint test test-fast demo demo-real bench

install:
	$(PIP) install --quiet --disable-pip-version-check -e '.[cpu,distributed,test]'

lint: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

test: install lint
	$(PYTHON) -m pytest -q tests

test-fast: install
	$(PYTHON) -m pytest -q -m "not slow" tests

demo: install
	$(PYTHON) bin/basenji_demo.py -o $(DEMO_OUT)

demo-real: install
	bash experiments/baskerville_joint/run.sh $(DEMO_OUT)/real

bench: install
	for b in bench/*.py; do $(PYTHON) $$b || exit 1; done
