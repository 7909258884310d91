# The two commands (README): `make demo` runs the main job, `make test` runs the tests.
# Each creates .venv on first use and installs only what it needs.
# TORCH pins torch's version; the index this project's machines use serves its CPU build.
# Where the index would pull CUDA wheels (stock PyPI on Linux), or on a GPU machine, name the
# build's index, e.g.
#   make test TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=
BIN := $(VENV)/bin

.PHONY: demo test lint bench default-model reproduce clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[cpu]'
	touch $@

$(VENV)/.full: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip freeze | grep -i '^torch==' > $(VENV)/torch-constraint.txt
	$(BIN)/python -m pip install -q -c $(VENV)/torch-constraint.txt -e '.[cpu,train,export,dev]'
	touch $@ $(VENV)/.core

# The main job: ask the embedded default model about an example clip (no --model).
demo: $(VENV)/.core
	$(BIN)/vtedge ask examples/state.mp4 "What colour was the square when the circle vanished?" \
		--options "A. red" --options "B. green" --options "C. blue" --options "D. yellow"

test: $(VENV)/.full
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.full
	$(BIN)/ruff check vtedge kernels train export benchmarks tests

# Train the embedded default model from nothing (seeded) and install it in vtedge/default_model/.
default-model: $(VENV)/.full
	$(BIN)/python -m benchmarks.default_model

# SFT vs SFT + GRPO vs the shipped INT8 bundle over 3 seeds -> benchmarks/REPRODUCE.md.
reproduce: $(VENV)/.full
	$(BIN)/python -m benchmarks.reproduce

bench: $(VENV)/.full
	$(BIN)/python -m benchmarks.decode
	$(BIN)/python -m benchmarks.patchify
	$(BIN)/python -m benchmarks.kernels
	$(BIN)/python -m benchmarks.vision_graph

clean:
	rm -rf $(VENV) build .pytest_cache
