# spf-bench developer targets. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torch/torchvision pinned to the builds on the project's machines' local disk; override on a
# GPU node (e.g. `make install TORCH_SPEC="torch torchvision"`).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
PYTEST_ARGS ?=
export HF_HUB_OFFLINE ?= 1
export WANDB_MODE ?= offline

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint bench clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e ".[dev]"
	$(PIP) check
	touch $@

install: $(VENV)/.installed ## Create .venv and install spf-bench with its dev tools

demo: install ## Run the main job on its embedded default (morph + warped retime, efficientnet_lite0, CPU)
	$(PY) bench/run.py

test: install ## Run the test suite (CPU, offline)
	$(PY) -m pytest -q -n 2 $(PYTEST_ARGS)

test-fast: install ## Run the tests not marked slow
	$(PY) -m pytest -q -n 2 -m "not slow" $(PYTEST_ARGS)

lint: install ## Ruff lint
	$(VENV)/bin/ruff check .

bench: install ## Performance benchmarks (ratios against baselines measured in the same run)
	$(PY) bench/perf_spf.py
	@if [ -f bench/perf_rope.py ]; then $(PY) bench/perf_rope.py; fi

clean: ## Remove run outputs and caches (keeps .venv)
	rm -rf runs outputs multirun .pytest_cache .ruff_cache .hypothesis
