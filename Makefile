# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# What they install is locked in requirements/dev.txt (docs/development.md says why and how).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements/dev.txt
UV     := uv==0.13.10
LATEST := .venv-latest
OLDEST := .venv-oldest

.PHONY: run test test-latest test-oldest-targets lock lint typecheck unit bench clean

$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "scheduler needs Python 3.10 or newer; set PYTHON=python3.x")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
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

# The suite against the newest releases pyproject.toml allows (no lock), then the YAML
# loader's tests against the oldest PyYAML with no nesting limit of its own.
test-latest:
	@test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev,embedded]'
	$(LATEST)/bin/python -m pip list --format freeze > $(LATEST)/versions.txt
	$(LATEST)/bin/python -m pytest -q -p no:cacheprovider
	$(LATEST)/bin/python -m pip install --quiet 'pyyaml==6.0.3'
	$(LATEST)/bin/python -m pytest -q -p no:cacheprovider tests/unit/test_schedule_yaml.py

# The target tests on the oldest releases the extras allow (no lock; dramatiq[redis] 1.17
# brings redis-py 5), as docs/targets.md claims: Celery 5.3.6 with kombu 5.3.4, RQ 2.0.0,
# Dramatiq 1.17.0. .ci/run runs it after make test.
OLDEST_PINS := 'celery[solar]==5.3.6' 'kombu==5.3.4' 'rq==2.0.0' 'dramatiq[redis]==1.17.0'
test-oldest-targets:
	@test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet -e '.[dev,embedded]' $(OLDEST_PINS)
	$(OLDEST)/bin/python -m pip list --format freeze > $(OLDEST)/versions.txt
	$(OLDEST)/bin/python -m pytest -q -p no:cacheprovider tests/integration/test_celery_worker.py \
	  tests/integration/test_targets.py tests/integration/test_targets_rq_dramatiq.py \
	  tests/integration/test_targets_rq_dramatiq_fields.py tests/integration/test_targets_overlap.py \
	  tests/unit/test_schedule_targets.py tests/unit/test_schedule_targets_rq_dramatiq.py \
	  tests/unit/test_check_import_targets.py

# Refresh the lock to the newest releases pyproject.toml allows, for every platform and
# Python 3.10+; commit requirements/dev.txt once `make test` passes on it.
lock: $(STAMP)
	$(PY) -m pip install --quiet '$(UV)'
	$(VENV)/bin/uv pip compile pyproject.toml requirements/build.in --extra dev --extra embedded \
	  --universal --python-version 3.10 --generate-hashes --upgrade --quiet -o $(LOCK)

clean:
	rm -rf $(VENV) $(LATEST) $(OLDEST) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
