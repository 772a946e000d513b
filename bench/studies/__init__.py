"""Studies: calibrations, the embedder ablation, the ground-truth pacing benchmark, the perf
scripts and the toy model's training. Each is a command (``spf-bench study <name>``) built on the
library code in :mod:`spf_bench.bench` and :mod:`spf_bench.metrics`; nothing in the library
imports a study.
"""
