# Set-up and everyday commands. Everything runs inside .venv, created on first use.
#   make demo   train the digits example, eager and compiled with dj.jit (creates .venv)
#   make test   lint, then the whole test suite
#   make lint   ruff only
#   make bench  benchmarks against numpy and the peers (updates bench/RESULTS.md)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Reinstall only when the project's dependencies change.
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[test]'
	$(PY) -m compileall -q dualgrad dualgrad_jit
	$(PY) -m dualgrad_jit.backends.llvm.library
	touch $@

demo: $(STAMP)
	$(PY) examples/train_digits.py --out result/digits

lint: $(STAMP)
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install -e '.[test,bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(PY) -m dualgrad_jit.backends.llvm.library
	$(PY) bench/eager_overhead.py
	$(PY) bench/run_all.py

clean:
	rm -rf build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
