# Two commands do everything on a fresh machine:
#   make run    create .venv (Python 3.11), install the pinned stack, run `dvc repro`, `dvc push`
#   make test   the same set-up plus the test extras (requirements-test.lock), then the test suite
#   make pull   fetch models, vocabulary and caches of this commit from the DVC remote instead of training
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run push pull test lint bench clean-venv

$(STAMP): requirements.lock
	@py=$$(for c in $${PYTHON:-} python3.11 python3; do \
	    if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
	      echo $$c; break; fi; done); \
	if [ -z "$$py" ]; then \
	  echo "error: Python 3.11 not found (mxnet 1.9.1 and the pinned stack need it)." >&2; \
	  echo "       Install it (e.g. 'pyenv install 3.11' or 'apt-get install python3.11 python3.11-venv')," >&2; \
	  echo "       or point PYTHON=/path/to/python3.11 at one." >&2; exit 1; fi; \
	echo "using $$py ($$($$py --version))"; \
	rm -rf $(VENV) && $$py -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $(STAMP)

# The S3 plugin and moto's S3 server, for the sharing tests; `make run` needs neither.
$(TEST_STAMP): $(STAMP) requirements-s3.lock requirements-test.lock
	$(BIN)/python -m pip install --quiet -r requirements-test.lock
	touch $(TEST_STAMP)

run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc push

push: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc push

pull: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc pull

# One worker per core (pytest-xdist); an idle worker takes half of the other's remaining tests (worksteal), so
# the long real-dvc tests do not end up queued on one worker. PYTEST_ARGS= runs everything in one process.
PYTEST_ARGS ?= -n auto --dist worksteal
test: $(TEST_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# The benchmark extra (CPU torch, for the PyTorch column) is installed here only, never by run/test.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) requirements-bench.lock
	$(BIN)/python -m pip install --quiet -r requirements-bench.lock
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" python -m benchmarks.throughput $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
