"""Re-read finished runs under every SPF estimator, from their stored frame embeddings.

A run's scores are read with its ``spf.estimator``; this study re-measures the same videos with
each estimator of :data:`spf_bench.metrics.estimators.ESTIMATORS` (``paper``, ``link``), by the
guiding embedder (``spf/*.npz``'s ``embeddings``) and by every held-out judge whose embeddings
the run stored (``heldout_embeddings_<name>``), without decoding or embedding anything again.
It answers "did switching the estimator change the verdict?" on the very videos a run made.

For each run, embedder and estimator it reports the mean Linearity of the baseline (iteration 0)
and of each item's final record (:func:`spf_bench.bench.results.stats.final_records`), and the
paired gain, final minus baseline over the same items, with its 95% BCa bootstrap CI
(:func:`spf_bench.bench.results.stats.bootstrap_ci`, seeded). The run's other SPF settings
(window, sigma, lam, power, keyframe penalty, no-progress threshold) are kept
(:meth:`spf_bench.bench.results.rundir.RunDir.spf_settings`); no per-record bootstrap. Scores
are against the frame index: runs of generated clips store no presentation times.

Usage: ``spf-bench study reread RUN [RUN ...] [--out table.csv]``. Prints Markdown (``–``: no
refinement to pair, e.g. ``retime=none``). ``results/wan22_toy/estimators.csv`` is its table
for the runs of ``make toy128`` and ``figures_wan22_toy``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from spf_bench.bench.results.record import to_frame
from spf_bench.bench.results.rundir import RunDir
from spf_bench.bench.results.stats import bootstrap_ci, mean, paired_gain
from spf_bench.bench.views.render import markdown_table
from spf_bench.metrics.atomic_io import atomic_write_text
from spf_bench.metrics.estimators import ESTIMATORS
from spf_bench.metrics.measure import measure_embeddings

__all__ = ["main", "reread_run"]

#: Columns of the table (one row per run x embedder x estimator).
COLUMNS = (
    "run", "embedder", "role", "estimator", "n", "baseline", "final", "gain", "gain_ci_low",
    "gain_ci_high",
)  # fmt: skip


def reread_run(run_dir: str | Path) -> pd.DataFrame:
    """The rows of :data:`COLUMNS` for one run directory.

    Args:
        run_dir: a finished (or partly finished) spf-bench run directory.

    Returns:
        One row per embedder (guide first, then the held-out judges) and estimator; ``n`` is
        the number of paired items, ``baseline``/``final`` mean Linearity (unitless, 0.42-1),
        ``gain`` their paired mean difference and ``gain_ci_*`` its 95% BCa CI (NaN without
        refinements).

    Raises:
        spf_bench.bench.results.rundir.RunDirError: not a run directory, or its SPF settings
            are unreadable.
        ValueError: a run without ok records, or without stored embeddings.
    """
    rd = RunDir(run_dir)
    base_settings = rd.spf_settings()
    df = to_frame(rd.table_records())
    df = df[df.status == "ok"].reset_index(drop=True)
    if df.empty:
        raise ValueError(f"{rd.path}: no ok records to re-read")
    guide = str(df.embedder.iloc[0])
    settings = {e: dataclasses.replace(base_settings, estimator=e, bootstrap=0) for e in ESTIMATORS}
    scores: dict[tuple[str, str], list[float]] = {}
    for i, path in enumerate(df.spf_path):
        z_guide, held = rd.stored_embeddings(str(path))
        if z_guide is None:
            raise ValueError(f"{rd.path / str(path)}: no stored embeddings to re-read")
        for name, z in {guide: z_guide, **held}.items():
            for est, est_settings in settings.items():
                m = measure_embeddings(z, est_settings, keep_embeddings=False)
                col = scores.setdefault((name, est), [np.nan] * len(df))
                col[i] = m.scores.linearity_score
    rows = []
    for (name, est), values in scores.items():
        g = paired_gain(df, pd.Series(values, index=df.index, dtype="float64"))
        lo, hi = bootstrap_ci(g.gain) if len(g.gain) > 1 else (np.nan, np.nan)
        base = df[df.iteration == 0].index
        rows.append(
            {
                "run": str(rd.path),
                "embedder": name,
                "role": "guide" if name == guide else "held-out",
                "estimator": est,
                "n": len(g.gain) if len(g.gain) else len(base),
                "baseline": mean(np.asarray(values)[base]),
                "final": mean(g.final) if len(g.gain) else np.nan,
                "gain": mean(g.gain) if len(g.gain) else np.nan,
                "gain_ci_low": lo,
                "gain_ci_high": hi,
            }
        )
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out.sort_values(["role", "embedder", "estimator"], ignore_index=True)


def _markdown(table: pd.DataFrame) -> str:
    view = pd.DataFrame(
        {
            "run": table.run,
            "embedder": table.embedder,
            "role": table.role,
            "estimator": table.estimator,
            "n": table.n.astype(int),
            "baseline": table.baseline,
            "final": table.final,
            "gain [95% CI]": [
                f"{g:+.3f} [{lo:+.3f}, {hi:+.3f}]" if np.isfinite(g) else "–"
                for g, lo, hi in zip(table.gain, table.gain_ci_low, table.gain_ci_high, strict=True)
            ],
        }
    )
    return markdown_table(view)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (module docs)."""
    ap = argparse.ArgumentParser(
        prog="spf-bench study reread", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("runs", nargs="+", help="run directories")
    ap.add_argument("--out", default=None, help="also write the table as CSV")
    args = ap.parse_args(argv)
    table = pd.concat([reread_run(r) for r in args.runs], ignore_index=True)
    print(_markdown(table))
    if args.out:
        atomic_write_text(Path(args.out), table.to_csv(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
