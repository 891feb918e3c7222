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

# One JSON line per benchmark (bench/_harness.py), after a first line with the date and commit:
# every bench script in the configuration that keeps the whole target under 20 minutes on 2
# cores (bench/RESULTS.jsonl is one such run). `@` keeps stdout pure JSON lines.
bench:
	@$(MAKE) --no-print-directory install >&2
	@printf '{"name": "bench_run", "date": "%s", "commit": "%s"}\n' \
		"$$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$(git rev-parse HEAD)"
	@$(PYTHON) bench/matmul_peak.py
	@$(PYTHON) bench/predict.py
	@$(PYTHON) bench/train_throughput.py
	@$(PYTHON) bench/precision.py --quick
	@$(PYTHON) bench/variants.py --models small --modes exact,exact_dense,exact_no_splice,cluster
	@$(PYTHON) bench/variants.py --models full --modes startup
	@$(PYTHON) bench/scale_out.py --variants 100
	@$(PYTHON) bench/data_pipeline.py --genome_mb 12 --split_chroms
	@$(PYTHON) bench/sim.py --size small
	@$(PYTHON) bench/predict_genome.py --mb 0.25
