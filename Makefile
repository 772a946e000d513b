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
.PHONY: help install demo test test-fast test-slurm lint bench clean vbench-env figures

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

# VBench 0.1.5 in its own venv (its pins clash with ours); metrics/vbench.py runs it as a
# subprocess. The stamp makes the target idempotent; editing the requirements rebuilds it.
VBENCH_VENV ?= .venv-vbench
$(VBENCH_VENV)/.installed: metrics/vbench-requirements.txt
	test -x $(VBENCH_VENV)/bin/python || python3 -m venv $(VBENCH_VENV)
	$(VBENCH_VENV)/bin/pip install -q --upgrade pip
	$(VBENCH_VENV)/bin/pip install -q $(TORCH_SPEC) -r metrics/vbench-requirements.txt
	$(VBENCH_VENV)/bin/python -c "import vbench, pyiqa, decord, clip, cv2, torch"
	touch $@

vbench-env: $(VBENCH_VENV)/.installed ## Create .venv-vbench with VBench 0.1.5 (weights: docs/vbench.md)

demo: install ## Run the main job on its embedded default (morph + warped retime, efficientnet_lite0, CPU)
	$(PY) bench/run.py

test: install ## Run the test suite (CPU, offline; slurm-marked tests are `make test-slurm`)
	$(PY) -m pytest -q -n 2 -m "not slurm" $(PYTEST_ARGS)

test-fast: install ## Run the tests not marked slow
	$(PY) -m pytest -q -n 2 -m "not slow and not slurm" $(PYTEST_ARGS)

# Root + Debian: the script apt-installs slurmctld/slurmd/slurmdbd/munge/mariadb when missing.
test-slurm: install ## Bring up a local SLURM cluster, run the slurm-marked tests, bring it down
	slurm/local_cluster.sh up || { slurm/local_cluster.sh down; exit 1; }
	export SLURM_CONF=$$(slurm/local_cluster.sh conf); \
	$(PY) -m pytest -q -m slurm --durations=0 $(PYTEST_ARGS); rc=$$?; \
	slurm/local_cluster.sh down; exit $$rc

lint: install ## Ruff lint
	$(VENV)/bin/ruff check .

bench: install ## Performance benchmarks (ratios against baselines measured in the same run)
	$(PY) bench/perf_spf.py
	@if [ -f bench/perf_rope.py ]; then $(PY) bench/perf_rope.py; fi

figures: install ## Regenerate results/ (leaderboard, pacing benchmark, ablation, figures) from fresh CPU runs
	$(PY) bench/figures.py --fresh

clean: ## Remove run outputs and caches (keeps .venv)
	rm -rf runs outputs multirun .pytest_cache .ruff_cache .hypothesis
