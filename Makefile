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

# One JSON line per benchmark (bench/_harness.py); the issue-15 configuration. Scripts not yet
# on the harness run in their quick form so the whole target stays under 20 minutes on 2 cores.
bench: install
	$(PYTHON) bench/matmul_peak.py
	$(PYTHON) bench/train_throughput.py
	$(PYTHON) bench/predict.py --quick
	$(PYTHON) bench/scale_out.py --variants 100
