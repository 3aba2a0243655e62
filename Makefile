# Two commands do everything on a fresh machine:
#   make run    create .venv (Python 3.11), install the pinned stack, run `dvc repro`
#   make test   the same set-up, then the test suite
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean-venv

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

run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" python -m pytest

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
