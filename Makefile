# `make run` sets everything up on a fresh machine and starts the studio on the sample data
# (imported only when the store is new: `SAMPLE=0 make run` starts empty); `make test` runs the
# tests. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DB ?= studio.duckdb

.PHONY: setup run test test-fast lint bench screenshots clean

setup: $(VENV)/.installed

# torch is installed first, pinned to the CPU wheel, so pip pulls no CUDA packages.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

HOST ?= 127.0.0.1
PORT ?= 7860

SAMPLE ?= 1

run: setup
	@if [ "$(SAMPLE)" = 1 ] && [ ! -e "$(DB)" ]; then \
		$(BIN)/sft-studio --db $(DB) init --sample; \
	else \
		$(BIN)/sft-studio --db $(DB) init; \
	fi
	$(BIN)/sft-studio --db $(DB) ui --host $(HOST) --port $(PORT)

# The tests run real llama.cpp servers (llama-cpp-python's and llama-server): built once from
# source into ~/.cache/sft-studio (about 13 minutes on 2 cores), reused after that.
test: setup
	bash tests/setup_llama_cpp.sh $(VENV)
	$(BIN)/python -m pytest -q

# ruff over the library, mypy over the store, the Studio facade and its services (both set up
# in pyproject.toml); .ci/run runs it before the tests.
lint: setup
	$(BIN)/python -m ruff check studio generators trainer
	$(BIN)/python -m mypy

# The quick loop while working: no slow tests, no browser, no llama.cpp build.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

bench: setup
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/import_speed.py
	$(BIN)/python benchmarks/data_paging.py
	$(BIN)/python benchmarks/generate_speed.py
	$(BIN)/python benchmarks/teacher_load.py
	$(BIN)/python benchmarks/corrupt_speed.py
	$(BIN)/python benchmarks/corrupt_realism.py
	$(BIN)/python benchmarks/embed_speed.py
	$(BIN)/python benchmarks/dedupe_speed.py
	$(BIN)/python benchmarks/score_speed.py
	$(BIN)/python benchmarks/export_speed.py
	$(BIN)/python benchmarks/export_model_speed.py

screenshots: setup
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache
