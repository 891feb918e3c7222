# Two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
DEMO_OUT ?= demo_out

.PHONY: install test demo demo-real bench

install:
	$(PIP) install --quiet --disable-pip-version-check -e '.[cpu,test]'

test: install
	$(PYTHON) -m pytest -q tests

demo: install
	$(PYTHON) bin/basenji_demo.py -o $(DEMO_OUT)

demo-real: install
	bash experiments/baskerville_joint/run.sh $(DEMO_OUT)/real

bench: install
	for b in bench/*.py; do $(PYTHON) $$b || exit 1; done
