"""Hydra config folder of the example plugin (found through its ``spf_bench.configs`` entry
point)."""
