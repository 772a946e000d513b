"""The run directory as a whole: identity check on entry, tables / summary / plots rebuilt from
``records/`` under a lock.

Many processes may write one run directory at once (the shards of a sweep, on shared cluster
storage): each writes only its own per-(item, iteration) record files, and whoever finishes
rebuilds the run-wide tables from *every* record of the run's identity while holding an
exclusive ``fcntl`` lock on ``<run_dir>/.merge.lock``. The merge is idempotent, so any shard,
the sweep driver or ``spf-bench merge <run_dir>`` may run it at any time; the last one to finish
sees every finished record.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spf_bench.bench import records as rec
from spf_bench.bench.config import identity_difference

__all__ = [
    "IDENTITY_FILE",
    "RunIdentityError",
    "check_identity",
    "heldout_frame",
    "merge_run",
    "run_lock",
    "summarise",
]

IDENTITY_FILE = "identity.json"
LOCK_FILE = ".merge.lock"


class RunIdentityError(ValueError):
    """A run directory holds the results of another run identity (or any, for resume=never)."""


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<run_dir>/.merge.lock`` (``fcntl.flock``; works
    across processes on one machine and on NFS v4 / Lustre with flock support)."""
    path = Path(run_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def check_identity(run_dir: str | os.PathLike, identity: dict[str, Any], resume: str) -> None:
    """Refuse to mix runs: compare ``identity`` with the one the run directory was made with.

    First use of a directory (no ``identity.json``) writes it. ``auto`` resumes an equal
    identity and refuses another; ``never`` refuses a directory that already holds records;
    ``force`` rewrites ``identity.json`` and runs (records of the old identity are recomputed
    as the run reaches them: they never enter the tables, which filter by identity).

    Args:
        run_dir: the run directory.
        identity: :func:`spf_bench.bench.config.run_identity` of this run.
        resume: ``auto``, ``never`` or ``force``.

    Raises:
        RunIdentityError: naming what differs and how to proceed.
    """
    run_dir = Path(run_dir)
    path = run_dir / IDENTITY_FILE
    with run_lock(run_dir):
        old = rec.read_record(path)
        has_records = any((run_dir / "records").glob("*.json"))
        if resume == "never" and (has_records or old is not None):
            raise RunIdentityError(
                f"resume=never: {run_dir} already holds a run; choose another run_dir, or "
                "resume=auto to resume it"
            )
        if old is not None and old.get("hash") != identity["hash"] and resume != "force":
            diff = identity_difference(old, identity)
            raise RunIdentityError(
                f"{run_dir} holds run {old.get('hash')}, not this run ({identity['hash']}); "
                f"what differs: {'; '.join(diff) or 'unknown'}. Use another run_dir (or leave "
                "run_dir unset: each identity gets its own), or resume=force to recompute "
                "in this directory"
            )
        if old is None or old.get("hash") != identity["hash"]:
            if old is None and has_records and resume != "force":
                raise RunIdentityError(
                    f"{run_dir} holds records but no {IDENTITY_FILE} (made before run "
                    "identities were recorded); use another run_dir, or resume=force"
                )
            rec.atomic_write_json(path, identity)


def summarise(df, wall_s: float) -> dict[str, Any]:
    """Per-iteration Linearity statistics, the baseline-to-final gain and every failure.

    Args:
        df: records table (:func:`spf_bench.bench.records.to_frame`).
        wall_s: wall time to report, seconds (NaN when unknown).

    Returns:
        ``{"n_items", "n_records", "n_failed", "failures", "per_iteration", "linearity_gain_mean",
        "wall_time_s"}``; ``per_iteration[k]`` has ``n``, ``n_degenerate``, ``linearity_mean``,
        ``linearity_std`` (ddof 1), ``max_jump_mean``, ``rms_s_vs_designed_mean``.
    """
    ok = df[df.status == "ok"]
    held = heldout_frame(ok)
    per_it = {}
    for it, g in ok.groupby("iteration"):
        per_it[int(it)] = {
            "n": len(g),
            "n_degenerate": int(g.degenerate.sum()),
            **_mean_std(g.linearity_score),
            "max_jump_mean": float(g.max_jump.mean()),
            "rms_s_vs_designed_mean": float(g.rms_s_vs_designed.mean()),
            "heldout": {
                str(e): {"n": len(h), **_mean_std(h.linearity_score)}
                for e, h in held[held.iteration == it].groupby("embedder")
            },
        }
    failed = df[df.status != "ok"]
    return {
        "n_items": int(df.item_id.nunique()),
        "n_records": len(df),
        "n_failed": len(failed),
        "failures": failed[["item_id", "iteration", "error"]].to_dict("records"),
        "per_iteration": per_it,
        "linearity_gain_mean": _gain(ok),
        "heldout_gain_mean": {str(e): _gain(h) for e, h in held.groupby("embedder")},
        "wall_time_s": wall_s,
    }


def _mean_std(x) -> dict[str, float]:
    ls = x.dropna()
    return {
        "linearity_mean": float(ls.mean()) if len(ls) else math.nan,
        "linearity_std": float(ls.std(ddof=1)) if len(ls) > 1 else math.nan,
    }


def _gain(rows) -> float:
    """Mean over items of (Linearity at the item's last iteration - at iteration 0)."""
    if not len(rows):
        return math.nan
    last = rows.sort_values("iteration").groupby("item_id").tail(1).set_index("item_id")
    base = rows[rows.iteration == 0].set_index("item_id").linearity_score
    both = (last.linearity_score - base).dropna()
    return float(both.mean()) if len(both) else math.nan


def heldout_frame(df):
    """The ``heldout`` column of a records table in long form.

    Args:
        df: records table (:func:`spf_bench.bench.records.to_frame`).

    Returns:
        ``pandas.DataFrame`` with columns ``item_id, seed, iteration, embedder`` and the score
        columns (``linearity_score, max_deviation, max_jump, max_jump_frame, total_change,
        degenerate, target_deviation``), one row per record and held-out embedder.
    """
    import pandas as pd

    rows = []
    for r in df.itertuples(index=False):
        try:
            held = json.loads(getattr(r, "heldout", "") or "{}")
        except ValueError:
            continue
        for emb, sc in held.items():
            rows.append(
                {
                    "item_id": r.item_id,
                    "seed": r.seed,
                    "iteration": r.iteration,
                    "embedder": emb,
                    **sc,
                }
            )
    cols = ["item_id", "seed", "iteration", "embedder", "linearity_score"]
    out = pd.DataFrame(rows) if rows else pd.DataFrame(columns=cols)
    out["linearity_score"] = pd.to_numeric(out["linearity_score"], errors="coerce")
    return out


def merge_run(
    run_dir: str | os.PathLike,
    config_hash: str | None = None,
    *,
    plots: bool = True,
    extra: dict[str, Any] | None = None,
    wall_s: float = math.nan,
) -> tuple[Any, dict[str, Any]]:
    """Rebuild ``records.parquet``, ``records.csv``, ``summary.json`` (and plots) of a run
    directory from every record of one identity, under :func:`run_lock`.

    Args:
        run_dir: the run directory.
        config_hash: the identity hash to merge; ``None`` = the one in ``identity.json``.
        plots: also redraw ``plots/``.
        extra: fields added to the summary (model, retime, embedder, n_items_expected...).
        wall_s: wall time to report (NaN: unknown, e.g. a merge after the fact).

    Returns:
        ``(records DataFrame, summary dict)``; the summary also has ``run_dir``,
        ``config_hash``, ``n_items`` (every item of every shard) and, when ``extra`` gives
        ``n_items_expected``, ``complete``.

    Raises:
        FileNotFoundError: no ``identity.json`` and no ``config_hash`` given.
    """
    run_dir = Path(run_dir)
    if config_hash is None:
        ident = rec.read_record(run_dir / IDENTITY_FILE)
        if ident is None:
            raise FileNotFoundError(f"{run_dir / IDENTITY_FILE}: not a spf-bench run directory")
        config_hash = str(ident["hash"])
    with run_lock(run_dir):
        rows = [r for r in rec.collect_records(run_dir) if r.get("config_hash") == config_hash]
        df = rec.write_tables(run_dir, rows)
        summary = summarise(df, wall_s)
        summary.update(extra or {})
        summary.update(run_dir=str(run_dir), config_hash=config_hash)
        if "n_items_expected" in summary:
            summary["complete"] = summary["n_items"] >= int(summary["n_items_expected"])
        if plots and len(df):
            from spf_bench.bench.plots import plot_run

            summary["plots"] = [str(p.relative_to(run_dir)) for p in plot_run(run_dir, df)]
        rec.atomic_write_json(run_dir / "summary.json", summary)
    return df, summary
