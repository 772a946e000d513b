"""``spf_bench.slurm``: running sweeps as Hydra multiruns on SLURM (submitit) or locally.

:mod:`spf_bench.slurm.sweep` is the per-job side (status files, shard settings) and the
driver's side (the sweep summary, merged per-configuration run directories) of a multirun;
``slurm/local_cluster.sh`` starts a real single-node SLURM controller for the tests.
"""
