"""Merging a run directory: every record of one identity into its tables, summary and stages.

Many processes may write one run directory at once (the shards of a sweep, on shared cluster
storage): each writes only its own per-(item, iteration) record files, and whoever finishes
rebuilds the run-wide tables from *every* record of the run's identity while holding the run
directory's lock (:meth:`spf_bench.bench.results.rundir.RunDir.lock`). The merge is idempotent,
so any shard, the sweep driver or ``spf-bench merge <run_dir>`` may run it at any time; the
last one to finish sees every finished record.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from spf_bench.bench.results.rundir import RunDir
from spf_bench.bench.stages import PlotsStage, Stage, finish_run

__all__ = ["merge_run"]


def merge_run(
    run_dir: str | os.PathLike | RunDir,
    config_hash: str | None = None,
    *,
    plots: bool = True,
    extra: dict[str, Any] | None = None,
    wall_s: float = math.nan,
    stages: Sequence[Stage] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rebuild ``records.parquet``, ``records.csv`` and ``summary.json`` (and run the stages)
    of a run directory from every record of one identity, under the run directory's lock.

    Args:
        run_dir: the run directory.
        config_hash: the identity hash to merge; ``None`` = the run directory's
            (:meth:`RunDir.config_hash`).
        plots: also redraw ``plots/`` (when ``stages`` is not given).
        extra: fields added to the summary (model, retime, embedder, n_items_expected...).
        wall_s: wall time to report (NaN: unknown, e.g. a merge after the fact).
        stages: the stages to run (default: plots when ``plots``).

    Returns:
        ``(records DataFrame, summary dict)``; the summary also has ``run_dir``,
        ``config_hash``, ``n_items`` (every item of every shard) and, when ``extra`` gives
        ``n_items_expected``, ``complete``.

    Raises:
        spf_bench.bench.results.rundir.RunDirError: no ``config_hash`` given and the directory
            has no identity or config file.
    """
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    config_hash = rd.config_hash() if config_hash is None else str(config_hash)
    if stages is None:
        stages = [PlotsStage()] if plots else []
    with rd.lock():
        run = finish_run(
            rd,
            rd.records(config_hash),
            stages,
            info={**(extra or {}), "config_hash": config_hash},
            wall_s=wall_s,
        )
    return run.table, run.summary
