# spf-bench developer targets. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SPF := $(VENV)/bin/spf-bench
PIP := $(VENV)/bin/pip
# torch/torchvision pinned to the builds on the project's machines' local disk; override on a
# GPU node (e.g. `make install TORCH_SPEC="torch torchvision"`).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
PYTEST_ARGS ?=
export HF_HUB_OFFLINE ?= 1
export WANDB_MODE ?= offline

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast test-slurm lint bench clean vbench-env figures train-toy known-warp toy128

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
	$(SPF) run

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
	$(VENV)/bin/ruff format --check .

bench: install ## Performance benchmarks (ratios against baselines measured in the same run)
	$(SPF) study perf_spf
	$(SPF) study perf_measure
	$(SPF) study perf_rope

known-warp: install ## Known-retiming benchmark on real footage, both SPF estimators (results/known_warp/, ~7 CPU-min first run)
	OMP_NUM_THREADS=1 $(SPF) study known_warp --out results/known_warp

# `make figures`: each stage is its own bench entry point writing under $(FIGURES_RUNS); then
# `spf-bench figures` only reads them and writes results/. Runs: conf/experiment/figures_*.yaml,
# once per embedder, into $(FIGURES_RUNS)/<model>-<embedder>. One torch thread, as the
# committed results/ were made.
FIGURES_RUNS ?= runs/figures
FIGURES_EMBEDDERS ?= efficientnet_lite0 pixel
figures: install ## Regenerate results/ from fresh CPU runs (~20 min on 2 loaded cores): runs, pacing benchmark, ablation, then figures
	rm -rf $(FIGURES_RUNS)
	set -e; for model in morph footage; do for emb in $(FIGURES_EMBEDDERS); do \
		OMP_NUM_THREADS=1 $(SPF) run experiment=figures_$$model embedder=$$emb \
			run_dir=$(FIGURES_RUNS)/$$model-$$emb; \
	done; done
	OMP_NUM_THREADS=1 $(SPF) run experiment=figures_wan22_toy \
		run_dir=$(FIGURES_RUNS)/wan22_toy-pixel
	$(MAKE) toy128 FIGURES_RUNS=$(FIGURES_RUNS)
	$(SPF) study pacing_gt --threads 1 --out $(FIGURES_RUNS)/pacing_gt \
		--curves $(FIGURES_RUNS)/pacing_gt/pacing_gt_curves.npz
	$(SPF) study ablation '$(FIGURES_RUNS)/morph-*' '$(FIGURES_RUNS)/footage-*' --threads 1 \
		--out $(FIGURES_RUNS)/ablation --curves $(FIGURES_RUNS)/ablation/ablation_curves.npz
	$(SPF) figures '$(FIGURES_RUNS)/morph-*' '$(FIGURES_RUNS)/footage-*' \
		'$(FIGURES_RUNS)/wan22_toy-*' '$(FIGURES_RUNS)/toy128/wan22_toy-*' \
		--pacing-gt $(FIGURES_RUNS)/pacing_gt --ablation $(FIGURES_RUNS)/ablation --out results

# `make toy128` (also a stage of `make figures`): the mission's run on the learned toy
# (conf/experiment/toy128.yaml: 128 held-out items, retime none/warped/resample/segmented, a
# Hydra multirun on the local launcher, one job per path; rerunning resumes), then per run,
# two at a time, VBench temporal_flickering (needs no weights; .venv-vbench: `make
# vbench-env`) and the offline Fréchet fidelity of efficientnet_lite0 features, with the
# one-std verdicts.
toy128: install ## The learned toy's 128-item sweep of every retime path + fidelity (runs/figures/toy128/)
	OMP_NUM_THREADS=1 $(SPF) run -m experiment=toy128 \
		'run_dir=$(FIGURES_RUNS)/toy128/wan22_toy-$${retime.name}'
	ls -d $(FIGURES_RUNS)/toy128/wan22_toy-* | OMP_NUM_THREADS=1 xargs -P 2 -I{} \
		$(SPF) vbench {} --dims temporal_flickering --frechet efficientnet_lite0

train-toy: install ## Train the wan22_toy checkpoint (v2) from seed 0 on CPU (~36 min on 2 shared cores, one thread): generators/weights/, results/wan22_toy/loss_curve.png
	OMP_NUM_THREADS=1 $(SPF) study train_toy

clean: ## Remove run outputs and caches (keeps .venv)
	rm -rf runs outputs multirun .pytest_cache .ruff_cache .hypothesis
