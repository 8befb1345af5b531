# The two commands of the README: `make run` and `make test`. Both build .venv/ from scratch when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
# mypyc-modules.txt lists the modules compiled in place (.so beside the .py); VALSYNC_PURE=1 or a
# failed build (no C compiler) leaves pure Python. The stamp depends on the sources, so an edited
# module is rebuilt before it runs; valsync/__init__.py refuses a .so older than its .py.
COMPILED_PY := $(shell sed -e '/^\#/d' -e '/^$$/d' mypyc-modules.txt)
ifeq ($(VALSYNC_PURE),1)
STAMP_BUILD := $(VENV)/.built-pure
else
STAMP_BUILD := $(VENV)/.built-mypyc
endif

.PHONY: run test build clean-compiled lint typecheck unit integration bench soak fuzz chaos valkey-suite clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[mypyc]'
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,mypyc]'
	touch $@ $(STAMP_RUN)

# The build also writes valsync's bytecode once: with PYTHONDONTWRITEBYTECODE set (as on these
# machines) every server start would otherwise compile all of valsync again (0.25 s of CPU).
$(STAMP_BUILD): $(COMPILED_PY) mypyc-modules.txt setup.py | $(STAMP_RUN)
	$(MAKE) clean-compiled
ifneq ($(VALSYNC_PURE),1)
	VALSYNC_MYPYC=1 $(BIN)/python setup.py -q build_ext --inplace -j 2 \
	  || { echo "*** mypyc build failed: valsync runs as pure Python"; $(MAKE) clean-compiled; }
endif
	$(BIN)/python -m compileall -q valsync
	touch $@

build: $(STAMP_BUILD)

clean-compiled:
	rm -rf build $(VENV)/.built-pure $(VENV)/.built-mypyc
	find valsync -name '*.so' -delete

run: $(STAMP_RUN) $(STAMP_BUILD)
	mkdir -p data
	$(BIN)/valsync serve valsync/default.conf --dashboard

lint: $(STAMP_TEST)
	$(BIN)/ruff check valsync tests tools
	$(BIN)/ruff format --check valsync tests tools

typecheck: $(STAMP_TEST)
	$(BIN)/mypy --strict valsync

test: $(STAMP_TEST) $(STAMP_BUILD)
	bash tools/ensure-debian-packages.sh
	$(BIN)/ruff check valsync tests tools
	$(BIN)/ruff format --check valsync tests tools
	$(BIN)/mypy --strict valsync
	$(BIN)/python -m pytest -q -m "not slow" tests

unit: $(STAMP_TEST) $(STAMP_BUILD)
	$(BIN)/python -m pytest -q tests/unit

soak: $(STAMP_TEST) $(STAMP_BUILD)
	$(BIN)/python -m pytest -q -m slow tests

# The fuzzers of tests/unit/fuzz with many more examples (the valsync-fuzz hypothesis profile);
# FUZZ_FACTOR multiplies each fuzzer's budget. Prints the inputs each fuzzer tried.
FUZZ_FACTOR ?= 50
fuzz: $(STAMP_TEST) $(STAMP_BUILD)
	VALSYNC_FUZZ=deep VALSYNC_FUZZ_FACTOR=$(FUZZ_FACTOR) $(BIN)/python -m pytest -q -o faulthandler_timeout=0 tests/unit/fuzz

# Ten minutes of seeded faults under write load (tools/chaos/run.py; SEED=n CHAOS_SECONDS=s)
SEED ?= 1
CHAOS_SECONDS ?= 600
chaos: $(STAMP_TEST) $(STAMP_BUILD)
	$(BIN)/python tools/chaos/run.py --seed $(SEED) --seconds $(CHAOS_SECONDS) --fault-every 1.5

bench: $(STAMP_TEST) $(STAMP_BUILD)
	bash tools/ensure-debian-packages.sh
	rm -f .bench-results.jsonl
	$(BIN)/python tools/bench/throughput.py
	$(BIN)/python tools/bench/replication.py
	$(BIN)/python tools/bench/rdb.py
	$(BIN)/python tools/bench/fullsync.py
	$(BIN)/python tools/bench/dashboard_frame.py
	$(BIN)/python tools/bench/summary.py

# Valkey's own Tcl suite against valsync and real valkey 8.1.8 (FILES=replication,unit or names)
VALKEY_TESTS ?= ../shared/valkey-tests
FILES ?= replication,unit
valkey-suite: $(STAMP_TEST) $(STAMP_BUILD)
	bash tools/ensure-debian-packages.sh
	$(BIN)/python tools/valkey_suite/run.py --suite $(VALKEY_TESTS) --files $(FILES) --failures

clean: clean-compiled
	rm -rf $(VENV) data .mypy_cache .ruff_cache
	find valsync tests tools -name __pycache__ -prune -exec rm -rf {} +
