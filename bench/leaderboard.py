"""The spf-bench leaderboard: one row per model x retime x embedder x pacing, from run records.

    python bench/leaderboard.py 'runs/*' [--out results/leaderboard.csv] [--seed 0]
    python -m bench.leaderboard runs/morph-warped-* runs/footage-none-*

Arguments are run directories (holding ``records.parquet``, or ``records/*.json`` for a run that
has not finished), ``records.parquet`` files, or globs of either; a glob's matches without
records are skipped with a warning, an explicit path without records is an error. Writes the
CSV (``--out``) and its Markdown rendering beside it (same stem, ``.md``), atomically.

Which record scores an item
    Every item contributes its **final record**: the record of its highest ``iteration`` (0 for
    ``retime=none``; ``retime.iterations`` for a finished ``retime=warped`` run; the iteration a
    ReTime loop stopped at, e.g. a degenerate clip). An item whose final record has
    ``status != "ok"`` counts in ``n_failed`` and nowhere else. The **baseline** of an item is
    its ``iteration == 0`` record. When the same (model, retime, embedder, pacing, item_id,
    iteration) appears in several run directories, the one from the argument listed last wins
    (a warning names the duplicates).

Statistics
    Means and sample standard deviations (``ddof = 1``) skip NaN (degenerate clips have NaN
    Linearity). Confidence intervals are 95% bias-corrected and accelerated (BCa) bootstrap
    intervals of the mean, :func:`scipy.stats.bootstrap` with 9999 resamples and a seeded
    generator (``--seed``, default 0): the same records give the same CSV. ``delta_linearity``
    is the mean over *paired* items (final iteration > 0, both scores finite) of
    ``final - baseline``, with a paired bootstrap CI (items resampled with their pair). With
    fewer than 2 values a CI is NaN; with identical values it is that value. Like every
    bootstrap interval, it undercovers on very small samples (a handful of items): read the CI of
    an n = 3 row as descriptive. At n = 30 it covers at about its nominal rate
    (``tests/test_leaderboard.py`` simulates this).

Columns (:data:`COLUMNS`; stable, in this order, then the VBench columns)
    =========================  =================================================================
    model, retime, embedder,   the group key (record columns of the same names)
    pacing
    n                          items whose final record is ok (degenerate ones included)
    n_failed                   items whose final record failed
    n_degenerate               scored items with no semantic change (Linearity NaN, left out)
    final_iteration            highest final iteration among the scored items
    linearity_mean             mean Linearity Score of the final records
    linearity_std              its sample standard deviation
    linearity_ci_low/high      95% BCa bootstrap CI of ``linearity_mean``
    max_jump_mean              mean largest single-frame share of total change
    max_deviation_mean         mean max ``|S - L|`` (fraction of total change)
    total_change_mean          mean total semantic change, radians
    target_deviation_mean      mean RMS of ``S`` minus the target pacing curve
    gt_rms_error_mean          mean RMS of ``S`` minus designed progress (synthetic models; NaN
                               otherwise)
    n_paired                   items with a baseline and a final iteration > 0
    baseline_linearity_mean    mean iteration-0 Linearity of the paired items
    delta_linearity            mean ``final - baseline`` Linearity of the paired items (NaN
                               when ``n_paired == 0``, e.g. ``retime=none``)
    delta_linearity_ci_low/    95% paired BCa bootstrap CI of ``delta_linearity``
    high
    config_hashes, git_shas    provenance: distinct values among the rows used, ``+``-joined
    vbench_<dim>_mean/_std/_n  per VBench dimension present: mean, std and count over the
                               final records with a score (columns sorted by dimension)
    =========================  =================================================================

VBench contract (optional; absent VBench gives no ``vbench_*`` columns)
    Per-video scores, taken from the first of these that has a finite value for a record:

    (a) numeric or boolean columns ``vbench_<dimension>`` of ``records.parquet`` (the dimension
        in lower case, e.g. ``vbench_aesthetic_quality``);
    (b) the same columns in ``records_vbench.parquet`` beside it (written by
        :func:`metrics.vbench.score_run`), joined on ``video_path``;
    (c) ``vbench.json`` beside it, per-video scores keyed on the record's ``video_path``
        (relative to the run directory; an absolute path or a bare file name also matches):
        flat ``{video_path: {dimension: score}}``, or under a ``"videos"`` or ``"per_video"`` key
        with either ``{dimension: score}`` or ``{"scores": {dimension: score}, ...}`` per video
        (schema ``spf-bench/vbench/1`` of :mod:`metrics.vbench`; other keys are ignored).

    Scores are taken on the scale given (booleans as 0/1, ``null`` as missing); the column
    ``vbench_error`` (failure messages) is not a dimension.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import math
import os
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/leaderboard.py` from a checkout
    sys.path.insert(0, str(ROOT))

log = logging.getLogger("spf_bench")

__all__ = [
    "COLUMNS",
    "GROUP_KEYS",
    "VBENCH_PREFIX",
    "bootstrap_ci",
    "build_leaderboard",
    "final_records",
    "load_records",
    "main",
    "markdown_table",
    "render_markdown",
    "resolve_runs",
    "write_leaderboard",
]

GROUP_KEYS: tuple[str, ...] = ("model", "retime", "embedder", "pacing")
VBENCH_PREFIX = "vbench_"
#: ``vbench_*`` columns that are not dimensions (metrics/vbench.py's failure messages).
_VBENCH_NOT_DIMS = frozenset({"vbench_error"})
N_RESAMPLES = 9999

#: Column name -> meaning; the leaderboard's fixed columns, in order (see module docs).
COLUMNS: dict[str, str] = {
    "model": "generator",
    "retime": "retime mode",
    "embedder": "frame embedder of the SPF",
    "pacing": "target pacing curve",
    "n": "items whose final record is ok",
    "n_failed": "items whose final record failed",
    "n_degenerate": "scored items with no semantic change (Linearity NaN)",
    "final_iteration": "highest final iteration among scored items",
    "linearity_mean": "mean Linearity Score of the final records",
    "linearity_std": "sample std (ddof=1) of the Linearity Score",
    "linearity_ci_low": "95% BCa bootstrap CI of linearity_mean, low",
    "linearity_ci_high": "95% BCa bootstrap CI of linearity_mean, high",
    "max_jump_mean": "mean largest single-frame share of total change",
    "max_deviation_mean": "mean max |S - L| (fraction of total change)",
    "total_change_mean": "mean total semantic change, radians",
    "target_deviation_mean": "mean RMS of S minus the target pacing curve",
    "gt_rms_error_mean": "mean RMS of S minus designed progress (synthetic items)",
    "n_paired": "items with a baseline and a final iteration > 0",
    "baseline_linearity_mean": "mean iteration-0 Linearity of the paired items",
    "delta_linearity": "mean final - baseline Linearity of the paired items",
    "delta_linearity_ci_low": "95% paired BCa bootstrap CI of delta_linearity, low",
    "delta_linearity_ci_high": "95% paired BCa bootstrap CI of delta_linearity, high",
    "config_hashes": "distinct config hashes of the records used, '+'-joined",
    "git_shas": "distinct spf-bench commits of the records used, '+'-joined",
}

_DIM_RE = re.compile(r"[^a-z0-9_]+")


# ---------------------------------------------------------------------------------- statistics
def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    level: float = 0.95,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    method: str = "BCa",
) -> tuple[float, float]:
    """Bootstrap confidence interval of the mean (:func:`scipy.stats.bootstrap`).

    Args:
        values: ``(n,)`` sample; NaN and inf are dropped first.
        level: confidence level in (0, 1).
        n_resamples: bootstrap resamples.
        seed: seed of the ``numpy.random.Generator`` passed to scipy (reproducible intervals).
        method: ``"BCa"`` (default), ``"percentile"`` or ``"basic"``.

    Returns:
        ``(low, high)``; ``(nan, nan)`` with fewer than 2 finite values; ``(v, v)`` when every
        value equals ``v``. If BCa is undefined for the sample (scipy returns NaN), the
        percentile interval is returned instead.

    Raises:
        ValueError: if ``level`` is not in (0, 1) or ``n_resamples < 1``.
    """
    from scipy.stats import bootstrap

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    for m in (method, "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = bootstrap(
                (x,),
                np.mean,
                n_resamples=int(n_resamples),
                confidence_level=level,
                method=m,
                rng=np.random.default_rng(seed),
                vectorized=True,
            )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi):
            return lo, hi
    return math.nan, math.nan


def _mean(x: Iterable[float]) -> float:
    a = np.asarray(list(x), dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else math.nan


def _std(x: Iterable[float]) -> float:
    a = np.asarray(list(x), dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(a.std(ddof=1)) if a.size > 1 else math.nan


# ---------------------------------------------------------------------------------- loading
def resolve_runs(specs: Sequence[str | os.PathLike]) -> list[Path]:
    """Run directories from paths, ``records.parquet`` files and globs, in argument order.

    Raises:
        FileNotFoundError: if an explicit (non-glob) path holds no records, or nothing matched.
    """
    out: list[Path] = []
    for spec in specs:
        s = os.fspath(spec)
        if glob.has_magic(s):
            matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(s), recursive=True))
            for p in matches:
                d = p.parent if p.name == "records.parquet" else p
                if _has_records(d):
                    out.append(d)
                elif p.is_dir():
                    log.warning("leaderboard: %s holds no records, skipped", p)
            continue
        p = Path(s).expanduser()
        d = p.parent if p.name == "records.parquet" else p
        if not _has_records(d):
            raise FileNotFoundError(
                f"{s}: no records.parquet or records/*.json (is it a spf-bench run directory?)"
            )
        out.append(d)
    seen: dict[str, Path] = {}
    for d in out:
        seen.setdefault(str(d.resolve()), d)
    if not seen:
        raise FileNotFoundError(f"no run directories with records match {list(map(str, specs))}")
    return list(seen.values())


def _has_records(d: Path) -> bool:
    return (d / "records.parquet").is_file() or any((d / "records").glob("*.json"))


def _numeric(col: Any) -> Any:
    """A VBench score column as float64: booleans 0/1, anything not a number NaN."""
    import pandas as pd

    vals = [float(v) if isinstance(v, (bool, np.bool_)) else v for v in col]
    return pd.to_numeric(pd.Series(vals, index=col.index), errors="coerce").astype("float64")


def _dim_name(dim: str) -> str:
    return _DIM_RE.sub("_", str(dim).strip().lower()).strip("_")


def _vbench_json(run_dir: Path) -> dict[str, dict[str, float]]:
    """``{video key: {dimension: score}}`` from ``run_dir/vbench.json`` (see module docs)."""
    path = run_dir / "vbench.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable VBench file: {e}") from e
    if isinstance(data, dict):
        for key in ("per_video", "videos"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of video_path -> {{dimension: score}}")
    out: dict[str, dict[str, float]] = {}
    for video, entry in data.items():
        if not isinstance(entry, dict):
            continue  # e.g. an aggregate entry at top level
        # metrics/vbench.py nests the scores: {"scores": {dim: x}, "raw": ..., "n_frames": ...}
        scores = entry["scores"] if isinstance(entry.get("scores"), dict) else entry
        row = {}
        for dim, v in scores.items():
            if isinstance(v, bool) or isinstance(v, (int, float)):
                row[_dim_name(dim)] = float(v)
            elif v is None:
                row[_dim_name(dim)] = math.nan
        out[str(video)] = row
    return out


def _fill(df: Any, col: str, new: np.ndarray) -> None:
    """Set ``df[col]`` to ``new`` where it has no finite value yet."""
    new = np.asarray(new, dtype=np.float64)
    if col in df:
        old = np.asarray(df[col], dtype=np.float64)
        df[col] = np.where(np.isfinite(old), old, new)
    else:
        df[col] = new


def _is_dim_column(col: str) -> bool:
    return col.startswith(VBENCH_PREFIX) and col not in _VBENCH_NOT_DIMS


def _merge_vbench(df: Any, run_dir: Path) -> Any:
    """Add ``vbench_<dim>`` columns from ``records_vbench.parquet`` then ``vbench.json``;
    values already present win."""
    import pandas as pd

    side = run_dir / "records_vbench.parquet"
    if side.is_file():
        vb = pd.read_parquet(side)
        cols = [c for c in vb.columns if _is_dim_column(c)]
        if cols and "video_path" in vb:
            vb = vb[vb["video_path"].astype(str) != ""]
            vb = vb.drop_duplicates("video_path", keep="last").set_index("video_path")
            keys = df["video_path"].astype(str)
            for c in cols:
                _fill(df, c, keys.map(_numeric(vb[c])).to_numpy(np.float64, na_value=np.nan))
    scores = _vbench_json(run_dir)
    if not scores:
        return df
    by_name: dict[str, dict[str, float]] = {}
    for k, v in scores.items():
        by_name.setdefault(Path(k).name, v)
    dims = sorted({d for v in scores.values() for d in v})
    root = run_dir.resolve()
    for dim in dims:
        col = VBENCH_PREFIX + dim
        vals = []
        for vp in df["video_path"].astype(str):
            cand = (
                scores.get(vp)
                or scores.get(str(root / vp))
                or (by_name.get(Path(vp).name) if vp else None)
            )
            vals.append(cand.get(dim, math.nan) if cand else math.nan)
        _fill(df, col, np.asarray(vals, dtype=np.float64))
    return df


def load_records(specs: Sequence[str | os.PathLike]) -> Any:
    """Every record of the given runs, with VBench scores merged and a ``run_dir`` column.

    Args:
        specs: run directories, ``records.parquet`` files or globs (see :func:`resolve_runs`).

    Returns:
        ``pandas.DataFrame`` of records (:data:`bench.records.COLUMNS` plus any ``vbench_*``
        columns, plus ``run_dir`` and ``run_order``), duplicates resolved (last run wins).

    Raises:
        FileNotFoundError: see :func:`resolve_runs`.
        ValueError: on an unreadable ``vbench.json``.
    """
    import pandas as pd

    from bench.records import COLUMNS as REC_COLUMNS
    from bench.records import collect_records

    frames = []
    for order, d in enumerate(resolve_runs(specs)):
        if (d / "records.parquet").is_file():
            df = pd.read_parquet(d / "records.parquet")
        else:
            df = pd.DataFrame(collect_records(d))
        for col, dtype in REC_COLUMNS.items():
            if col not in df:
                df[col] = np.nan if dtype == "float64" else (-1 if dtype == "int64" else "")
        df["status"] = df["status"].fillna("failed").astype(str)
        df["iteration"] = pd.to_numeric(df["iteration"], errors="coerce").fillna(0).astype(int)
        for col in df.columns:
            if _is_dim_column(col):
                df[col] = _numeric(df[col])
        df = _merge_vbench(df, d)
        df["run_dir"] = str(d)
        df["run_order"] = order
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    key = [*GROUP_KEYS, "item_id", "iteration"]
    dup = df.duplicated(key, keep=False)
    if dup.any():
        names = sorted(set(df.loc[dup, "item_id"].astype(str)))
        log.warning(
            "leaderboard: %d records appear in several run directories (items %s); "
            "the run listed last wins",
            int(dup.sum()),
            ", ".join(names[:10]),
        )
        df = df.sort_values("run_order", kind="stable").drop_duplicates(key, keep="last")
    return df.sort_values([*key], kind="stable").reset_index(drop=True)


def final_records(df: Any) -> Any:
    """The final record of every item (highest iteration), one row per group key x item."""
    key = [*GROUP_KEYS, "item_id"]
    return df.sort_values([*key, "iteration"], kind="stable").groupby(key, sort=False).tail(1)


# ---------------------------------------------------------------------------------- building
def _group_row(
    g_all: Any, key: tuple[str, ...], vbench_dims: list[str], seed: int, n_resamples: int
) -> dict[str, Any]:
    fin = final_records(g_all)
    ok = fin[fin.status == "ok"]
    failed = fin[fin.status != "ok"]
    ls = ok.linearity_score.to_numpy(np.float64)
    lo, hi = bootstrap_ci(ls, seed=seed, n_resamples=n_resamples)
    base = g_all[(g_all.iteration == 0) & (g_all.status == "ok")].set_index("item_id")
    paired = ok[ok.iteration > 0].set_index("item_id")
    common = paired.index.intersection(base.index).sort_values()  # item order: seeded CI
    b = base.loc[common, "linearity_score"].to_numpy(np.float64)
    f = paired.loc[common, "linearity_score"].to_numpy(np.float64)
    keep = np.isfinite(b) & np.isfinite(f)
    b, f = b[keep], f[keep]
    d = f - b
    dlo, dhi = bootstrap_ci(d, seed=seed, n_resamples=n_resamples)
    row: dict[str, Any] = dict(zip(GROUP_KEYS, key, strict=True))
    row.update(
        n=len(ok),
        n_failed=len(failed),
        n_degenerate=int(ok.degenerate.astype(bool).sum()),
        final_iteration=int(ok.iteration.max()) if len(ok) else -1,
        linearity_mean=_mean(ls),
        linearity_std=_std(ls),
        linearity_ci_low=lo,
        linearity_ci_high=hi,
        max_jump_mean=_mean(ok.max_jump),
        max_deviation_mean=_mean(ok.max_deviation),
        total_change_mean=_mean(ok.total_change),
        target_deviation_mean=_mean(ok.target_deviation),
        gt_rms_error_mean=_mean(ok.gt_rms_error),
        n_paired=int(d.size),
        baseline_linearity_mean=_mean(b),
        delta_linearity=_mean(d),
        delta_linearity_ci_low=dlo,
        delta_linearity_ci_high=dhi,
        config_hashes="+".join(sorted({str(h) for h in fin.config_hash if str(h)})),
        git_shas="+".join(sorted({str(h) for h in fin.git_sha if str(h)})),
    )
    for dim in vbench_dims:
        col = VBENCH_PREFIX + dim
        vals = ok[col].to_numpy(np.float64) if col in ok else np.array([])
        row[f"{col}_mean"] = _mean(vals)
        row[f"{col}_std"] = _std(vals)
        row[f"{col}_n"] = int(np.isfinite(vals).sum())
    return row


def vbench_dimensions(df: Any) -> list[str]:
    """VBench dimensions with at least one score in ``df`` (sorted, without the prefix)."""
    return sorted(
        c[len(VBENCH_PREFIX) :]
        for c in df.columns
        if _is_dim_column(c) and np.isfinite(df[c].to_numpy(np.float64)).any()
    )


def build_leaderboard(records: Any, *, seed: int = 0, n_resamples: int = N_RESAMPLES) -> Any:
    """The leaderboard table from records (see module docs for every column).

    Args:
        records: ``pandas.DataFrame`` of records (:func:`load_records`, or rows with at least
            :data:`GROUP_KEYS`, ``item_id``, ``iteration``, ``status`` and the score columns).
        seed: bootstrap seed.
        n_resamples: bootstrap resamples.

    Returns:
        ``pandas.DataFrame``: :data:`COLUMNS` then ``vbench_<dim>_{mean,std,n}``, one row per
        group, sorted by the group key.

    Raises:
        ValueError: if a required column is missing.
    """
    import pandas as pd

    need = [*GROUP_KEYS, "item_id", "iteration", "status", "linearity_score"]
    missing = [c for c in need if c not in records]
    if missing:
        raise ValueError(f"records lack column(s) {missing}")
    df = records.copy()
    for col in (
        "max_jump",
        "max_deviation",
        "total_change",
        "target_deviation",
        "gt_rms_error",
    ):
        if col not in df:
            df[col] = np.nan
    for col in ("degenerate",):
        if col not in df:
            df[col] = False
    for col in ("config_hash", "git_sha"):
        if col not in df:
            df[col] = ""
    dims = vbench_dimensions(df)
    rows = [
        _group_row(g, key, dims, seed, n_resamples)
        for key, g in df.groupby(list(GROUP_KEYS), sort=True)
    ]
    cols = list(COLUMNS) + [f"{VBENCH_PREFIX}{d}_{s}" for d in dims for s in ("mean", "std", "n")]
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------- output
def markdown_table(df: Any, floatfmt: str = ".3f") -> str:
    """A GitHub Markdown table of ``df`` (floats with ``floatfmt``, NaN as ``–``)."""

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "–" if not math.isfinite(float(v)) else format(float(v), floatfmt)
        return str(v).replace("|", "\\|")

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _pm(m: float, s: float) -> str:
    if not math.isfinite(m):
        return "–"
    return f"{m:.3f} ± {s:.3f}" if math.isfinite(s) else f"{m:.3f}"


def _ci(lo: float, hi: float) -> str:
    return f"[{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) and math.isfinite(hi) else "–"


def render_markdown(lb: Any, *, title: str = "spf-bench leaderboard", sources: str = "") -> str:
    """A readable Markdown rendering of a leaderboard (the CSV holds every column).

    Args:
        lb: the output of :func:`build_leaderboard`.
        title: heading.
        sources: optional line naming the runs.
    """
    import pandas as pd

    dims = sorted(
        c[len(VBENCH_PREFIX) : -len("_mean")]
        for c in lb.columns
        if c.startswith(VBENCH_PREFIX) and c.endswith("_mean")
    )
    rows = []
    for r in lb.itertuples(index=False):
        d = r._asdict()
        row = {
            "model": r.model,
            "retime": r.retime,
            "embedder": r.embedder,
            "pacing": r.pacing,
            "n": r.n,
            "Linearity (mean ± std)": _pm(r.linearity_mean, r.linearity_std),
            "95% CI": _ci(r.linearity_ci_low, r.linearity_ci_high),
            "Δ vs baseline [95% CI]": (
                f"{r.delta_linearity:+.3f} "
                + _ci(r.delta_linearity_ci_low, r.delta_linearity_ci_high)
                if math.isfinite(r.delta_linearity)
                else "–"
            ),
            "max jump": f"{r.max_jump_mean:.3f}" if math.isfinite(r.max_jump_mean) else "–",
            "max dev.": (
                f"{r.max_deviation_mean:.3f}" if math.isfinite(r.max_deviation_mean) else "–"
            ),
            "total change (rad)": (
                f"{r.total_change_mean:.2f}" if math.isfinite(r.total_change_mean) else "–"
            ),
            "GT RMS err.": (
                f"{r.gt_rms_error_mean:.3f}" if math.isfinite(r.gt_rms_error_mean) else "–"
            ),
            "failed": r.n_failed,
        }
        for dim in dims:
            row[f"VBench {dim}"] = _pm(d[f"vbench_{dim}_mean"], d[f"vbench_{dim}_std"])
        rows.append(row)
    body = markdown_table(pd.DataFrame(rows)) if rows else "_no records_\n"
    notes = (
        "\nScore of an item = its final ReTime iteration (iteration 0 for `retime=none`). "
        "Linearity = `clip(1 - RMS(S - L) / |S_T - S_1|, 0, 1)`; CIs are 95% BCa bootstrap "
        "(seeded; with few items, e.g. n = 3, they are narrower than their nominal level); "
        "Δ is final minus iteration 0 over the same items (paired bootstrap). "
        "max jump = largest single-frame share of total change; max dev. = max |S - L| "
        "(fraction of total change); GT RMS err. = RMS of S minus the designed progress "
        "(synthetic items only). "
    )
    notes += (
        f"VBench dimensions: {', '.join(dims)} (mean ± std over final records).\n"
        if dims
        else "No VBench scores in these records.\n"
    )
    head = f"# {title}\n\n" + (f"{sources}\n\n" if sources else "")
    return head + body + notes


def write_leaderboard(lb: Any, out: str | os.PathLike, *, sources: str = "") -> tuple[Path, Path]:
    """Write ``out`` (CSV, full precision) and ``out`` with suffix ``.md``, atomically."""
    from bench.records import atomic_write_text

    out = Path(out)
    csv = atomic_write_text(out, lb.to_csv(index=False))
    md = atomic_write_text(out.with_suffix(".md"), render_markdown(lb, sources=sources))
    return csv, md


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point (see module docs). Returns 0 on success, 2 when no records are found."""
    parser = argparse.ArgumentParser(
        prog="bench/leaderboard.py", description="Leaderboard CSV + Markdown from run records."
    )
    parser.add_argument("runs", nargs="+", help="run directories, records.parquet files or globs")
    parser.add_argument("--out", default="results/leaderboard.csv", help="CSV path (.md beside)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--resamples", type=int, default=N_RESAMPLES, help="bootstrap resamples")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        records = load_records(args.runs)
    except FileNotFoundError as e:
        print(f"leaderboard: {e}", file=sys.stderr)
        return 2
    lb = build_leaderboard(records, seed=args.seed, n_resamples=args.resamples)
    runs = sorted(set(records.run_dir))
    csv, md = write_leaderboard(lb, args.out, sources=f"Runs: {', '.join(runs)}")
    print(render_markdown(lb))
    print(f"wrote {csv} and {md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
