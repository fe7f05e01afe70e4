# crmlab - two commands on a fresh machine: `make run` and `make test`.
# Only python3 (3.11) is assumed; everything else is installed into .venv from requirements.lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SEED   ?= 42
JOBS   ?= 2
WORKSHOP_LANG ?= en

.PHONY: run test data lab workshop lab-workshop refresh-notebooks lint format bench bench-runner bench-features bench-features-10m bench-growth bench-case bench-import clean setup help

help:
	@echo "make run                run every case on the default synthetic data, write reports/"
	@echo "make test               lint + unit tests + notebook smoke runs + nbval"
	@echo "make data               (re)generate the synthetic data under data/synthetic/"
	@echo "make lab                open JupyterLab on notebooks/"
	@echo "make refresh-notebooks  re-execute the committed notebooks with canonical parameters"
	@echo "make workshop           build both cases' workshop kits into workshop/<case>/ and the trainer's"
	@echo "                        solutions beside them (WORKSHOP_LANG=zh: Chinese README)"
	@echo "make lab-workshop       build the kits and open JupyterLab on workshop/"
	@echo "make bench              every benchmark below except the 10M one (bench/; about an hour)"
	@echo "make bench-runner       runner overhead: crmlab run vs the same code in one process"
	@echo "make bench-features     feature build: DuckDB vs plain pandas at 100k and 1M customers"
	@echo "make bench-features-10m the feature build at 100k, 1M and 10M (about 3 GB of data)"
	@echo "make bench-growth       the feature build at 1M, 2M, 5M and 10M: growth in one pass and in passes"
	@echo "make bench-case         each case end to end: DuckDB vs pandas path at 100k and 1M"
	@echo "make bench-import       import of a 200k-row export with free-text comments vs pandas.read_csv"

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,spark]'
	@touch $(STAMP)

data: $(STAMP)
	$(BIN)/crmlab generate --all --seed $(SEED)

run: $(STAMP)
	$(BIN)/crmlab generate --all --seed $(SEED) --if-missing
	$(BIN)/crmlab run --all --jobs $(JOBS)

test: $(STAMP)
	$(BIN)/crmlab generate --all --seed $(SEED) --if-missing
	$(BIN)/ruff check lib tests notebooks bench
	$(BIN)/ruff format --check lib tests bench notebooks
	$(BIN)/python -m pytest -n 2 --durations=15 tests
	$(BIN)/python -m pytest --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:randomly notebooks

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

workshop: $(STAMP)
	$(BIN)/crmlab generate --all --seed $(SEED) --if-missing
	$(BIN)/crmlab workshop retail_satisfaction --out workshop/retail_satisfaction --lang $(WORKSHOP_LANG) --solutions
	$(BIN)/crmlab workshop finance_churn --out workshop/finance_churn --lang $(WORKSHOP_LANG) --solutions

lab-workshop: workshop
	$(BIN)/jupyter lab --notebook-dir=workshop

refresh-notebooks: $(STAMP)
	$(BIN)/crmlab refresh-notebooks

lint: $(STAMP)
	$(BIN)/ruff check lib tests notebooks bench

format: $(STAMP)
	$(BIN)/ruff format lib tests bench notebooks
	$(BIN)/ruff check --fix lib tests notebooks bench

bench: bench-runner bench-features bench-case bench-import

bench-runner: $(STAMP)
	$(BIN)/python bench/bench_runner.py

bench-features: $(STAMP)
	$(BIN)/python bench/bench_features.py

bench-import: $(STAMP)
	$(BIN)/python bench/bench_import.py

bench-features-10m: $(STAMP)
	$(BIN)/python bench/bench_features.py --ten-million

bench-growth: $(STAMP)
	$(BIN)/python bench/bench_features.py --growth

bench-case: $(STAMP)
	$(BIN)/python bench/bench_case.py --case retail_satisfaction
	$(BIN)/python bench/bench_case.py --case finance_churn

clean:
	rm -rf reports/*/ build *.egg-info lib/*.egg-info
