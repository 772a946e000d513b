"""Weights & Biases logging, run after the records exist (a W&B failure loses nothing).

Every W&B directory (``WANDB_DIR``, ``WANDB_CACHE_DIR``, ``WANDB_DATA_DIR``,
``WANDB_CONFIG_DIR``) is placed inside ``<run_dir>/wandb`` and ``WANDB_MODE`` defaults to
``offline`` (W&B 0.31 offline opens no socket). Because offline W&B writes no readable summary,
the metrics logged are also written to ``<run_dir>/wandb_metrics.json``.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from spf_bench.bench.results.rundir import RunDir, is_temp_file

log = logging.getLogger("spf_bench")

__all__ = ["log_to_wandb", "wandb_metrics"]


def wandb_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """Flat scalar metrics of a run summary, e.g. ``linearity/iter0_mean``."""
    out: dict[str, float] = {}
    for it, st in summary.get("per_iteration", {}).items():
        for key in ("linearity_mean", "linearity_std", "max_jump_mean", "rms_s_vs_designed_mean"):
            val = st.get(key)
            if val is not None and not (isinstance(val, float) and math.isnan(val)):
                out[f"{key.split('_')[0]}/iter{it}_{'_'.join(key.split('_')[1:])}"] = float(val)
    for key in ("linearity_gain_mean", "n_failed", "n_items", "wall_time_s"):
        val = summary.get(key)
        if val is not None and not (isinstance(val, float) and math.isnan(val)):
            out[key] = float(val)
    return out


def log_to_wandb(
    run_dir: str | os.PathLike | RunDir,
    df,
    summary: dict[str, Any],
    config: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Log one run: config, scalar metrics, the records table and the plots; always finished.

    Args:
        run_dir: the run directory (W&B files go to ``run_dir/wandb``).
        df: records DataFrame.
        summary: the run summary (:func:`spf_bench.bench.results.stats.summarise`).
        config: resolved config, logged as the W&B config.
        settings: logger config: ``mode`` (offline | online | disabled), ``project``,
            ``entity``, ``group``, ``tags``, ``run_name`` (default: the folder's name; a sweep
            job sets it, and ``group`` to the sweep id, in
            :func:`spf_bench.slurm.sweep.sweep_job_settings`).

    Returns:
        ``{"mode", "run_id", "dir"}`` on success or ``{"error": message}``: a W&B failure is
        reported in the summary, never raised.
    """
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    run_dir = rd.path
    wdir = run_dir / "wandb"
    for var, sub in (
        ("WANDB_DIR", ""),
        ("WANDB_CACHE_DIR", "cache"),
        ("WANDB_DATA_DIR", "data"),
        ("WANDB_CONFIG_DIR", "config"),
    ):
        path = wdir / sub
        path.mkdir(parents=True, exist_ok=True)
        os.environ[var] = str(path)
    mode = os.environ.get("WANDB_MODE") or settings.get("mode") or "offline"
    metrics = wandb_metrics(summary)
    rd.write_json("wandb_metrics.json", metrics)
    run = None
    try:
        import wandb

        run = wandb.init(
            project=settings.get("project") or "spf-bench",
            entity=settings.get("entity"),
            group=settings.get("group"),
            tags=list(settings.get("tags") or []),
            name=settings.get("run_name") or run_dir.name,
            dir=str(wdir),
            mode=mode,
            config=config,
            reinit="finish_previous",
        )
        run.log(metrics)
        run.log({"records": wandb.Table(dataframe=df.astype({"degenerate": int}))})
        for png in sorted(p for p in rd.plots_dir.glob("*.png") if not is_temp_file(p)):
            run.log({f"plots/{png.stem}": wandb.Image(str(png))})
        result = {
            "mode": mode,
            "run_id": run.id,
            "dir": str(wdir),
            "name": run.name,
            "group": settings.get("group"),
        }
    except Exception as err:  # noqa: BLE001 - logging must never lose a run
        log.warning("W&B logging failed (records are safe in %s): %s", run_dir, err)
        result = {"error": f"{type(err).__name__}: {err}"}
    finally:
        if run is not None:
            try:
                run.finish()
            except Exception as err:  # noqa: BLE001
                log.warning("W&B finish failed: %s", err)
    return result
