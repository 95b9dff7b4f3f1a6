# The README's two commands are `make demo` and `make test`; both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DURATION ?= 60
MINUTES ?= 5

.PHONY: setup demo test bench lint chaos clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/liquidity-bot demo --duration $(DURATION)

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/run_all.py

# Chaos soak: the bot against the faulty simulator, kill -9 halfway, audited against the ledger.
chaos: $(STAMP)
	$(PY) -m liquidity_bot.chaos --minutes $(MINUTES)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

# (also the compiled experiment's extensions, if bench/compile_hot.py built any)
clean:
	-$(PYTHON) bench/compile_hot.py --clean
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
