"""spf-bench main entry point (Hydra).

    python bench/run.py                                   # morph + warped retime, CPU demo
    python bench/run.py model=footage retime=none embedder=pixel
    python bench/run.py model=wan22 retime=warped n_videos=128      # on a GPU node
    python bench/run.py -m embedder=pixel,efficientnet_lite0        # a sweep

Also ``spf-bench run <overrides>``. Composes ``conf/config.yaml`` on its typed schema
(:mod:`spf_bench.bench.config`) and calls :func:`spf_bench.bench.pipeline.run_benchmark`;
without ``run_dir`` the run lands in ``./runs/``. See ``conf/`` for every option.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from spf_bench.bench.config import settings_from_config
from spf_bench.bench.errors import exit_on_user_error
from spf_bench.bench.pipeline import run_benchmark
from spf_bench.conf.schema import register_configs
from spf_bench.slurm.sweep import sweep_job_settings

log = logging.getLogger("spf_bench")

register_configs()


def print_summary(summary: dict[str, Any]) -> None:
    """One line per iteration: n videos and mean ± std Linearity Score (measured by
    ``summary['embedder']``; ± is the standard deviation over videos, not an interval)."""
    print(
        f"\nspf-bench: {summary['model']} / retime={summary['retime']} / "
        f"embedder={summary['embedder']} / pacing={summary['pacing']}"
    )
    held = sorted({e for st in summary["per_iteration"].values() for e in st.get("heldout", {})})
    print(
        f"  Linearity mean ± std over videos; guided = {summary['embedder']} (also steered the "
        f"retime), held-out = {', '.join(held) or 'none'}"
    )
    for it, st in summary["per_iteration"].items():
        line = (
            f"  iteration {it}: n={st['n']:>3}  guided {st['linearity_mean']:.4f} "
            f"± {st['linearity_std']:.4f}"
        )
        for e in held:
            h = st.get("heldout", {}).get(e)
            if h:
                line += f"   {e} {h['linearity_mean']:.4f} ± {h['linearity_std']:.4f}"
        print(line)
    if len(summary["per_iteration"]) > 1:
        gains = "".join(
            f"   {e} {g:+.4f}" for e, g in (summary.get("heldout_gain_mean") or {}).items()
        )
        print(
            f"  mean Linearity gain (last iteration - baseline): guided "
            f"{summary['linearity_gain_mean']:+.4f}{gains}"
        )
    shard = summary.get("shard") or {}
    if shard.get("count", 1) > 1:
        print(
            f"  shard {shard['index']} of {shard['count']} ran {shard['n_items']} items; the run "
            f"directory holds {summary['n_items']} of {summary.get('n_items_expected', '?')}"
        )
    print(f"  failed records: {summary['n_failed']}   run directory: {summary['run_dir']}")


@hydra.main(version_base="1.3", config_path="pkg://spf_bench.conf", config_name="config")
def main(cfg: DictConfig) -> dict[str, Any]:
    """Compose the config, run the benchmark, print the summary, return it (for sweeps).

    A user error (:mod:`spf_bench.bench.errors`: missing weights or checkpoint, a run
    directory that holds another run, bad settings, a full disk) prints one line and exits
    with :data:`~spf_bench.bench.errors.EXIT_USER_ERROR`; ``HYDRA_FULL_ERROR=1`` shows the
    traceback. In a multirun every error goes to Hydra, so that the sweep's callbacks record
    the failed job and the other jobs go on.

    Raises:
        SystemExit: on a user error in a single run.
    """
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    debug = multirun or os.environ.get("HYDRA_FULL_ERROR") == "1"
    with exit_on_user_error("spf-bench run", debug=debug):
        summary = run_benchmark(sweep_job_settings(settings_from_config(cfg)))
    print_summary(summary)
    return summary


if __name__ == "__main__":
    main()
