# Two commands on a fresh machine: `make run` (set up, then the main job: suites v0 and rl-v0) and `make test` (set up, then the tests).
# torch==2.13.0 is installed first so that the CPU wheel is used (an open range would pull a multi-GB CUDA build).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test test-slow lint bench
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: install
	mkdir -p runs && cd runs && $(abspath $(BIN))/plastic-gym evaluate && $(abspath $(BIN))/plastic-gym evaluate --suite rl-v0

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

test-slow: install
	$(BIN)/python -m pytest -m slow

bench: install
	$(BIN)/python benchmarks/env_throughput.py
	$(BIN)/python benchmarks/plastic_throughput.py
	$(BIN)/python benchmarks/ppo_memory.py
	$(BIN)/python benchmarks/eval_throughput.py
	$(BIN)/python benchmarks/step_inplace.py
