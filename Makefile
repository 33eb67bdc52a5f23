# Two commands from a fresh clone:
#   make demo   install into .venv and run the whole pipeline on configs/demo.yaml
#   make test   install into .venv with test extras and run the test suite
#   make real   the whole pipeline on real data (configs/real-cpu.yaml, ../shared/corpora) into runs/real-cpu
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS := -q -c constraints.txt -c requirements.lock
LOCK_VENV := .venv-lock

.PHONY: demo test lint install install-test bench real lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt requirements.lock
	$(BIN)/pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml constraints.txt requirements.lock
	$(BIN)/pip install $(PIP_FLAGS) -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/automixer demo configs/demo.yaml

test: install-test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# ruff (pyproject.toml [tool.ruff]: pycodestyle, pyflakes, import order, lines up to 120 characters).
lint: install-test
	$(BIN)/ruff check .

# About 90 minutes on 2 cores; re-run after a crash to resume. Stage wall times: runs/real-cpu/stage_times.tsv.
real: install
	PYTHON=$(BIN)/python benchmarks/run_real.sh configs/real-cpu.yaml

bench: install-test
	$(BIN)/pip install $(PIP_FLAGS) -e '.[test,bench]'
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

# Re-resolve every pinned version from pyproject.toml's ranges (torch stays at constraints.txt's pin).
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q pip-tools)
	$(LOCK_VENV)/bin/pip-compile -q --upgrade --extra test --extra bench --strip-extras -c constraints.txt \
		--no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

clean:
	rm -rf runs/demo
