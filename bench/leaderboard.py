"""The spf-bench leaderboard: one row per model x retime x embedder x pacing x seed x config
hash (the run identity), from run records; external per-video metrics joined and correlated.

    python bench/leaderboard.py 'runs/*' [--out results/leaderboard.csv] [--seed 0]
    python bench/leaderboard.py 'runs/*' --pool-seeds
    python bench/leaderboard.py 'runs/*' --external vbench_eval_results.json mtscore.json x.csv
    python -m spf_bench.bench.leaderboard runs/morph-warped-* runs/footage-none-*

Arguments are run directories (holding ``records.parquet``, or ``records/*.json`` for a run that
has not finished), ``records.parquet`` files, or globs of either; a glob's matches without
records are skipped with a warning, an explicit path without records is an error. Writes the
CSV (``--out``) and its Markdown rendering beside it (same stem, ``.md``), atomically, and
``leaderboard.html`` (same stem; sortable, CI bars, each row linking to its run's
``report.html``, which is written where missing: :mod:`spf_bench.bench.report`).

Which record scores an item
    Every item contributes its **final record**: the record of its highest ``iteration`` (0 for
    ``retime=none``; ``retime.iterations`` for a finished ``retime=warped`` run; the iteration a
    ReTime loop stopped at, e.g. a degenerate clip). An item whose final record has
    ``status != "ok"`` counts in ``n_failed`` and nowhere else. The **baseline** of an item is
    its ``iteration == 0`` record. An item is identified by (seed, config_hash, item_id): the
    same ``item_id`` under two seeds is two videos. When the same (model, retime, embedder,
    pacing, seed, config_hash, item_id, iteration) appears in several run directories (shards,
    a copied run), the one from the argument listed last wins (a warning names the duplicates);
    records that differ in seed or config hash never replace each other.

Row identity, seeds and pooling
    By default a row is one model x retime x embedder x pacing x ``seed`` x ``config_hash``:
    one set of settings (the config hash is the run identity of :mod:`spf_bench.bench.config`,
    which covers the seed and every result-relevant key, the input files and the results
    version), so two seeds give two rows and two settings are never averaged together. Several
    run directories with the same identity (the shards of one sweep) form one row; the report
    lists them.

    ``--pool-seeds`` (``pool_seeds=True``) pools seeds on purpose: a row is then one model x
    retime x embedder x pacing x ``settings_hash``, the hash of the run identity *without*
    ``seed`` (read from each run's ``identity.json``, or ``config.json``'s ``"identity"``).
    Every (seed, item) counts as its own video in the means and bootstrap CIs;
    ``n_per_seed`` shows the scored items per seed (``"0:4 1:4"``), ``seed`` and
    ``config_hash`` list the pooled values (``+``-joined). A run whose identity file is missing
    or does not match its records' hash cannot be matched to other seeds: its settings hash is
    its config hash (it stays its own row, and the report says so), so nothing is pooled
    silently.

    The Markdown (and stdout) lists what each row groups (seeds, config hashes, run
    directories) and, for every model x retime x embedder x pacing that appears with more than
    one setting, what differs between their identities.

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

Columns (:data:`COLUMNS`; stable, in this order, then the VBench and external columns)
    =========================  =================================================================
    model, retime, embedder,   the setting names (record columns of the same names)
    pacing
    seed                       the seed (``+``-joined seeds with ``--pool-seeds``); -1 = not
                               recorded
    config_hash                the run identity hash (``+``-joined with ``--pool-seeds``)
    settings_hash              the identity hash without the seed (the pooling key)
    n_per_seed                 scored items per seed, ``"seed:n"`` space-separated
    n_runs                     run directories the row's records come from
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
    rms_s_vs_designed_mean          mean RMS of ``S`` minus designed progress (synthetic models; NaN
                               otherwise)
    n_paired                   items with a baseline and a final iteration > 0
    baseline_linearity_mean    mean iteration-0 Linearity of the paired items
    delta_linearity            mean ``final - baseline`` Linearity of the paired items (NaN
                               when ``n_paired == 0``, e.g. ``retime=none``)
    delta_linearity_ci_low/    95% paired BCa bootstrap CI of ``delta_linearity``
    high
    heldout_embedders          embedders that scored the videos without guiding the retime
    heldout_linearity          final-iteration Linearity by the held-out embedders (per video
                               the mean over them; the guide never judges itself here)
    heldout_delta              paired held-out gain, final iteration minus iteration 0
    heldout_delta_ci_low/high  95% paired BCa bootstrap CI of ``heldout_delta``
    git_shas                   provenance: distinct commits among the rows used, ``+``-joined
    vbench_<dim>_mean/_std/_n  per VBench dimension present: mean, std and count over the
                               final records with a score (columns sorted by dimension)
    ext_<metric>_mean/_n       per external metric (``--external``): mean and count over the
                               row's final records with a value
    ext_<metric>_rho,          Spearman rank correlation of the metric with the Linearity Score
    _rho_ci_low/_high          over those records, and its 95% percentile bootstrap CI
    =========================  =================================================================

VBench contract (optional; absent VBench gives no ``vbench_*`` columns)
    Per-video scores, taken from the first of these that has a finite value for a record:

    (a) numeric or boolean columns ``vbench_<dimension>`` of ``records.parquet`` (the dimension
        in lower case, e.g. ``vbench_aesthetic_quality``);
    (b) the same columns in ``records_vbench.parquet`` beside it (written by
        :func:`spf_bench.metrics.vbench.score_run`), joined on ``video_path``;
    (c) ``vbench.json`` beside it, per-video scores keyed on the record's ``video_path``
        (relative to the run directory; an absolute path or a bare file name also matches):
        flat ``{video_path: {dimension: score}}``, or under a ``"videos"`` or ``"per_video"`` key
        with either ``{dimension: score}`` or ``{"scores": {dimension: score}, ...}`` per video
        (schema ``spf-bench/vbench/1`` of :mod:`spf_bench.metrics.vbench`; other keys are ignored).

    Scores are taken on the scale given (booleans as 0/1, ``null`` as missing); the column
    ``vbench_error`` (failure messages) is not a dimension.

External per-video metrics (``--external FILE ...``, :func:`load_external`)
    Each file is recognised by its content:

    - **VBench** ``<dimension>_eval_results.json`` (VBench 0.1.5): ``{dimension: [aggregate,
      [{"video_path": str, "video_results": value}, ...]]}``; per-video values brought to the
      aggregate's scale as :mod:`spf_bench.metrics.vbench.registry` says (``imaging_quality``
      / 100, ``dynamic_degree`` booleans 0/1); metric ``vbench_<dimension>``. spf-bench's own
      ``vbench.json`` (schema ``spf-bench/vbench/1``, ``{"videos": {video: {"scores": {dim:
      x}}}}``) works too.
    - **ChronoMagic-Bench** per-video outputs, as its scripts write them:
      ``<model>[_<part>]_MTScore.json`` (``{"video_scores": [{"video_name": "3.mp4",
      "general_score": x, "metamorphic_score": y}, ...], ...}``; metric ``mtscore`` = the
      metamorphic score, the one its MTScore averages), ``<model>[_<part>]_CHScore.json``
      (``{"all_scores": [{"3": {..., "TSI_score": x}}, ...], ...}``; metric ``chscore`` = the
      per-video ``TSI_score``) and ``<model>[_<part>]_GPT4o-MTScore.json`` (``{"Formatted
      Data": {"3": {"Brief Reasoning Statement": str, "Score": "4"}}, ...}``; metric
      ``gpt4o_mtscore``, the score as a number).
    - A plain JSON object ``{video: {metric: value}}``.
    - A CSV with the header ``video,metric,value`` (one value per line).

    Metric names are lower-cased, other characters than ``[a-z0-9_]`` become ``_``. A video id
    is joined to a record by, in this order: the record's ``video_path`` (as written, or the
    same file by absolute path), the file name, the file stem (``morph-0003__it2``), the
    ``item_id`` (that item's final record); the first rule with a candidate decides, and it must
    name exactly one record. An id that names no record is **unmatched**, one that names
    several is **ambiguous**, a value that is not a number is **invalid**, and a second value
    for the same record and metric is a **duplicate** (the file listed last wins): each is
    printed, listed in the Markdown and written in full to ``<out>.external.json``; none is
    dropped silently. Correlations use every matched video with a finite Linearity Score
    (summary over all runs in the Markdown and the JSON; per row, its final records in the
    CSV). A correlation needs 3 videos (else NaN) and is NaN when either side is constant.
"""

from __future__ import annotations

import argparse
import csv as csv_module
import glob
import hashlib
import json
import logging
import math
import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spf_bench.metrics.atomic_io import is_temp_file

log = logging.getLogger("spf_bench")

__all__ = [
    "COLUMNS",
    "EXT_PREFIX",
    "GROUP_KEYS",
    "ITEM_KEYS",
    "POOLED_KEYS",
    "ROW_KEYS",
    "VBENCH_PREFIX",
    "ExternalJoin",
    "ExternalScores",
    "bootstrap_ci",
    "build_leaderboard",
    "final_records",
    "grouping_notes",
    "join_external",
    "load_external",
    "load_records",
    "main",
    "markdown_table",
    "render_markdown",
    "resolve_runs",
    "settings_hash",
    "spearman_ci",
    "write_leaderboard",
]

#: The setting names of a row (what ``model=... retime=... embedder=... pacing=...`` chose).
GROUP_KEYS: tuple[str, ...] = ("model", "retime", "embedder", "pacing")
#: The key of a row by default: the setting names, the seed and the run identity hash.
ROW_KEYS: tuple[str, ...] = (*GROUP_KEYS, "seed", "config_hash")
#: The key of a row with ``--pool-seeds``: the setting names and the identity without seed.
POOLED_KEYS: tuple[str, ...] = (*GROUP_KEYS, "settings_hash")
#: What identifies one video's item across runs: the same item id under two seeds (or two
#: settings) is two items.
ITEM_KEYS: tuple[str, ...] = ("seed", "config_hash", "item_id")
#: Prefix of the external per-video metric columns (``--external``).
EXT_PREFIX = "ext_"
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
    "seed": "seed of the records ('+'-joined when seeds are pooled; -1 = not recorded)",
    "config_hash": "run identity hash ('+'-joined when seeds are pooled)",
    "settings_hash": "run identity hash without the seed (the key of --pool-seeds)",
    "n_per_seed": "scored items per seed, 'seed:n' space-separated",
    "n_runs": "run directories the row's records come from",
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
    "rms_s_vs_designed_mean": "mean RMS of S minus designed progress (synthetic items)",
    "n_paired": "items with a baseline and a final iteration > 0",
    "baseline_linearity_mean": "mean iteration-0 Linearity of the paired items",
    "delta_linearity": "mean final - baseline Linearity of the paired items",
    "delta_linearity_ci_low": "95% paired BCa bootstrap CI of delta_linearity, low",
    "delta_linearity_ci_high": "95% paired BCa bootstrap CI of delta_linearity, high",
    "heldout_embedders": "embedders that scored the videos without guiding the retime, '+'-joined",
    "heldout_linearity": "final-iteration Linearity by the held-out embedders (mean over them)",
    "heldout_delta": "paired held-out Linearity gain, final iteration minus iteration 0",
    "heldout_delta_ci_low": "95% paired BCa bootstrap CI of heldout_delta, low",
    "heldout_delta_ci_high": "95% paired BCa bootstrap CI of heldout_delta, high",
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


def _rank_corr_rows(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of ``xs``, ``ys`` (``(B, n)``): Pearson's correlation of
    the average ranks (ties get their mean rank, as :func:`scipy.stats.spearmanr`); NaN for a
    row where either side is constant."""
    from scipy.stats import rankdata

    rx = rankdata(xs, axis=1)
    ry = rankdata(ys, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    num = (rx * ry).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def spearman_ci(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    level: float = 0.95,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float, int]:
    """Spearman rank correlation of paired values and its percentile bootstrap CI.

    The statistic is :func:`scipy.stats.spearmanr` on the pairs where both values are finite.
    The CI resamples those pairs (videos) with replacement, ``n_resamples`` times with
    ``numpy.random.default_rng(seed)``, recomputes rho on each resample (ties by average rank)
    and takes the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled rhos,
    leaving out the resamples where a side is constant. Percentile rather than BCa: rho is
    bounded and its resamples are full of ties, where BCa's acceleration is unstable.

    Args:
        x, y: ``(n,)`` paired values (e.g. a metric and the Linearity Score of the same videos).
        level: confidence level in (0, 1).
        n_resamples: bootstrap resamples (>= 1).
        seed: bootstrap seed (the same inputs give the same interval).

    Returns:
        ``(rho, ci_low, ci_high, n)`` with ``n`` the finite pairs; rho and CI NaN when ``n < 3``
        or a side is constant. A perfectly monotone relation gives ``(1, 1, 1, n)`` (or -1).

    Raises:
        ValueError: if ``x`` and ``y`` differ in length, ``level`` is not in (0, 1) or
            ``n_resamples < 1``.
    """
    from scipy.stats import spearmanr

    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same length, got {a.size} and {b.size}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = int(a.size)
    if n < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return math.nan, math.nan, math.nan, n
    rho = float(spearmanr(a, b).statistic)
    rng = np.random.default_rng(seed)
    chunks = []
    left = int(n_resamples)
    batch = max(1, min(left, 2_000_000 // n))  # bound memory: ~16 MB per array
    while left > 0:
        m = min(batch, left)
        idx = rng.integers(0, n, size=(m, n))
        chunks.append(_rank_corr_rows(a[idx], b[idx]))
        left -= m
    rs = np.concatenate(chunks)
    rs = rs[np.isfinite(rs)]
    if not rs.size:
        return rho, math.nan, math.nan, n
    lo, hi = np.quantile(rs, [(1 - level) / 2, (1 + level) / 2])
    return rho, float(lo), float(hi), n


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
    """Whether ``d`` holds ``records.parquet`` or a record file (``records/*.json``; the temp
    file of a write in flight, or of one killed mid-write, is not a record)."""
    return (d / "records.parquet").is_file() or any(
        not is_temp_file(p) for p in (d / "records").glob("*.json")
    )


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


def settings_hash(identity: Mapping[str, Any]) -> str:
    """The hash of a run identity without its seed: what ``--pool-seeds`` groups by.

    Args:
        identity: a run identity (:func:`spf_bench.bench.config.run_identity`, as written to
            ``identity.json``): ``{"config": {...}, "inputs": {...}, "results_version": int,
            ...}``.

    Returns:
        10 lowercase hex digits: SHA-256 of the canonical JSON (sorted keys) of ``config``
        without ``seed``, ``inputs`` and ``results_version``. Two runs that differ only in the
        seed share it; any other difference changes it.
    """
    cfg = {k: v for k, v in dict(identity.get("config") or {}).items() if k != "seed"}
    ident = {
        "config": cfg,
        "inputs": dict(identity.get("inputs") or {}),
        "results_version": identity.get("results_version"),
    }
    blob = json.dumps(ident, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def _read_identity(run_dir: Path) -> dict[str, Any] | None:
    """The run identity of ``run_dir`` (``identity.json``, else ``config.json``'s
    ``"identity"``), or ``None`` when absent or unreadable (a warning says which)."""
    for name, key in (("identity.json", None), ("config.json", "identity")):
        path = run_dir / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            log.warning(
                "leaderboard: %s is unreadable (%s); seeds of this run are not pooled", path, e
            )
            continue
        ident = data.get(key) if key else data
        if isinstance(ident, dict) and ident.get("hash") and isinstance(ident.get("config"), dict):
            return ident
    return None


def load_records(specs: Sequence[str | os.PathLike]) -> Any:
    """Every record of the given runs, with VBench scores merged and a ``run_dir`` column.

    Args:
        specs: run directories, ``records.parquet`` files or globs (see :func:`resolve_runs`).

    Returns:
        ``pandas.DataFrame`` of records (:data:`spf_bench.bench.records.COLUMNS` plus any
        ``vbench_*`` columns, plus ``run_dir``, ``run_order`` and ``settings_hash``: the
        identity hash without the seed, :func:`settings_hash`, or the record's ``config_hash``
        when its run has no matching identity file), duplicates resolved (last run wins).
        ``df.attrs["identities"]`` maps each config hash to its run identity and
        ``df.attrs["no_identity"]`` lists the run directories without one.

    Raises:
        FileNotFoundError: see :func:`resolve_runs`.
        ValueError: on an unreadable ``vbench.json``.
    """
    import pandas as pd

    from spf_bench.bench.records import COLUMNS as REC_COLUMNS
    from spf_bench.bench.records import collect_records

    frames = []
    identities: dict[str, dict[str, Any]] = {}
    no_identity: list[str] = []
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
        df["seed"] = pd.to_numeric(df["seed"], errors="coerce").fillna(-1).astype(int)
        df["config_hash"] = df["config_hash"].fillna("").astype(str)
        ident = _read_identity(d)
        if ident is not None:
            identities[str(ident["hash"])] = ident
            same = df["config_hash"] == str(ident["hash"])
            df["settings_hash"] = np.where(same, settings_hash(ident), df["config_hash"])
            if not same.all():
                log.warning(
                    "leaderboard: %s: %d record(s) carry another config hash than identity.json "
                    "(%s); their seeds are not pooled",
                    d,
                    int((~same).sum()),
                    ident["hash"],
                )
        else:
            df["settings_hash"] = df["config_hash"]
            no_identity.append(str(d))
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    key = [*GROUP_KEYS, "seed", "config_hash", "item_id", "iteration"]
    dup = df.duplicated(key, keep=False)
    if dup.any():
        names = sorted(set(df.loc[dup, "item_id"].astype(str)))
        log.warning(
            "leaderboard: %d records appear in several run directories with the same seed and "
            "config hash (items %s); the run listed last wins",
            int(dup.sum()),
            ", ".join(names[:10]),
        )
        df = df.sort_values("run_order", kind="stable").drop_duplicates(key, keep="last")
    df = df.sort_values([*key], kind="stable").reset_index(drop=True)
    df.attrs["identities"] = identities
    df.attrs["no_identity"] = no_identity
    return df


def final_records(df: Any) -> Any:
    """The final record of every item (highest iteration), one row per setting names x item.

    An item is (``seed``, ``config_hash``, ``item_id``) where those columns exist
    (:data:`ITEM_KEYS`): the same item id under two seeds or two settings is two items.
    """
    key = [*GROUP_KEYS, *(c for c in ITEM_KEYS if c in df)]
    return df.sort_values([*key, "iteration"], kind="stable").groupby(key, sort=False).tail(1)


# ---------------------------------------------------------------------------------- building
def _joined(values: Iterable[Any]) -> str:
    """Distinct non-empty values, sorted (numbers numerically), ``+``-joined."""
    vals = {v for v in values if str(v) != ""}
    return "+".join(
        str(v) for v in sorted(vals, key=lambda v: (not isinstance(v, (int, np.integer)), v))
    )


def _n_per_seed(fin: Any, ok: Any) -> str:
    counts = ok.groupby("seed").size().to_dict() if len(ok) else {}
    return " ".join(f"{int(s)}:{int(counts.get(s, 0))}" for s in sorted(set(fin.seed)))


def heldout_linearity(cell: Any) -> float:
    """Mean Linearity over the held-out embedders of one record's ``heldout`` JSON (records
    schema, ``bench/records.py``); NaN when there is none or every one is degenerate."""
    try:
        held = json.loads(cell) if isinstance(cell, str) and cell else {}
    except ValueError:
        return math.nan
    vals = [
        float(v.get("linearity_score", math.nan))
        for v in held.values()
        if isinstance(v, dict) and v.get("linearity_score") is not None
    ]
    vals = [v for v in vals if math.isfinite(v)]
    return float(np.mean(vals)) if vals else math.nan


def _heldout_names(g: Any) -> str:
    names: set[str] = set()
    for cell in g.get("heldout", []):
        try:
            names.update(json.loads(cell) if isinstance(cell, str) and cell else {})
        except ValueError:
            continue
    return "+".join(sorted(names))


def _group_row(
    g_all: Any,
    vbench_dims: list[str],
    ext_metrics: list[str],
    seed: int,
    n_resamples: int,
) -> dict[str, Any]:
    fin = final_records(g_all)
    ok = fin[fin.status == "ok"]
    failed = fin[fin.status != "ok"]
    ls = ok.linearity_score.to_numpy(np.float64)
    lo, hi = bootstrap_ci(ls, seed=seed, n_resamples=n_resamples)
    items = list(ITEM_KEYS)
    base = g_all[(g_all.iteration == 0) & (g_all.status == "ok")].set_index(items)
    paired = ok[ok.iteration > 0].set_index(items)
    common = paired.index.intersection(base.index).sort_values()  # item order: seeded CI
    b = base.loc[common, "linearity_score"].to_numpy(np.float64)
    f = paired.loc[common, "linearity_score"].to_numpy(np.float64)
    keep = np.isfinite(b) & np.isfinite(f)
    b, f = b[keep], f[keep]
    d = f - b
    dlo, dhi = bootstrap_ci(d, seed=seed, n_resamples=n_resamples)
    # held-out: the same videos scored by the embedders that did not guide the retime
    has_held = "heldout" in g_all
    hfin = np.array([heldout_linearity(c) for c in ok["heldout"]]) if has_held else np.array([])
    if has_held:
        hb = np.array([heldout_linearity(c) for c in base.loc[common, "heldout"]])
        hf = np.array([heldout_linearity(c) for c in paired.loc[common, "heldout"]])
        hkeep = np.isfinite(hb) & np.isfinite(hf)
        hd = hf[hkeep] - hb[hkeep]
    else:
        hd = np.array([])
    hdlo, hdhi = bootstrap_ci(hd, seed=seed, n_resamples=n_resamples)
    first = g_all.iloc[0]
    row: dict[str, Any] = {k: first[k] for k in GROUP_KEYS}
    row.update(
        seed=_joined(int(v) for v in fin.seed),
        config_hash=_joined(fin.config_hash.astype(str)),
        settings_hash=_joined(fin.settings_hash.astype(str)),
        n_per_seed=_n_per_seed(fin, ok),
        n_runs=len({str(r) for r in g_all.run_dir if str(r)}),
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
        rms_s_vs_designed_mean=_mean(ok.rms_s_vs_designed),
        n_paired=int(d.size),
        baseline_linearity_mean=_mean(b),
        delta_linearity=_mean(d),
        delta_linearity_ci_low=dlo,
        delta_linearity_ci_high=dhi,
        heldout_embedders=_heldout_names(g_all) if has_held else "",
        heldout_linearity=_mean(hfin),
        heldout_delta=_mean(hd),
        heldout_delta_ci_low=hdlo,
        heldout_delta_ci_high=hdhi,
        git_shas="+".join(sorted({str(h) for h in fin.git_sha if str(h)})),
    )
    for dim in vbench_dims:
        col = VBENCH_PREFIX + dim
        vals = ok[col].to_numpy(np.float64) if col in ok else np.array([])
        row[f"{col}_mean"] = _mean(vals)
        row[f"{col}_std"] = _std(vals)
        row[f"{col}_n"] = int(np.isfinite(vals).sum())
    for m in ext_metrics:
        col = EXT_PREFIX + m
        vals = ok[col].to_numpy(np.float64) if col in ok else np.full(len(ok), np.nan)
        rho, rlo, rhi, _ = spearman_ci(vals, ls, seed=seed, n_resamples=n_resamples)
        row[f"{col}_mean"] = _mean(vals)
        row[f"{col}_n"] = int(np.isfinite(vals).sum())
        row[f"{col}_rho"] = rho
        row[f"{col}_rho_ci_low"] = rlo
        row[f"{col}_rho_ci_high"] = rhi
    return row


def vbench_dimensions(df: Any) -> list[str]:
    """VBench dimensions with at least one score in ``df`` (sorted, without the prefix)."""
    return sorted(
        c[len(VBENCH_PREFIX) :]
        for c in df.columns
        if _is_dim_column(c) and np.isfinite(df[c].to_numpy(np.float64)).any()
    )


def external_metrics(df: Any) -> list[str]:
    """External metrics (``ext_<metric>`` columns, :func:`join_external`) with at least one
    value in ``df`` (sorted, without the prefix)."""
    return sorted(
        c[len(EXT_PREFIX) :]
        for c in df.columns
        if c.startswith(EXT_PREFIX) and np.isfinite(df[c].to_numpy(np.float64)).any()
    )


def _prepared(records: Any) -> Any:
    """A copy of ``records`` with every column the leaderboard reads (missing ones filled:
    NaN scores, ``seed`` -1, empty hashes, ``settings_hash`` = ``config_hash``)."""
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
        "rms_s_vs_designed",
    ):
        if col not in df:
            df[col] = np.nan
    if "degenerate" not in df:
        df["degenerate"] = False
    for col in ("config_hash", "git_sha", "run_dir"):
        df[col] = df[col].fillna("").astype(str) if col in df else ""
    df["seed"] = (
        pd.to_numeric(df["seed"], errors="coerce").fillna(-1).astype(int) if "seed" in df else -1
    )
    if "settings_hash" not in df:
        df["settings_hash"] = df["config_hash"]
    df["settings_hash"] = df["settings_hash"].fillna("").astype(str)
    return df


def build_leaderboard(
    records: Any, *, seed: int = 0, n_resamples: int = N_RESAMPLES, pool_seeds: bool = False
) -> Any:
    """The leaderboard table from records (see module docs for every column).

    Args:
        records: ``pandas.DataFrame`` of records (:func:`load_records`, optionally with
            ``ext_*`` columns from :func:`join_external`; or rows with at least
            :data:`GROUP_KEYS`, ``item_id``, ``iteration``, ``status`` and ``linearity_score``;
            a missing ``seed`` counts as -1, a missing ``config_hash`` as ``""``, a missing
            ``settings_hash`` as the ``config_hash``).
        seed: bootstrap seed.
        n_resamples: bootstrap resamples.
        pool_seeds: one row per :data:`POOLED_KEYS` (seeds pooled on purpose) instead of one
            per :data:`ROW_KEYS`.

    Returns:
        ``pandas.DataFrame``: :data:`COLUMNS`, then ``vbench_<dim>_{mean,std,n}``, then
        ``ext_<metric>_{mean,n,rho,rho_ci_low,rho_ci_high}``; one row per key, sorted by it.

    Raises:
        ValueError: if a required column is missing.
    """
    import pandas as pd

    df = _prepared(records)
    dims = vbench_dimensions(df)
    ext = external_metrics(df)
    keys = list(POOLED_KEYS if pool_seeds else ROW_KEYS)
    rows = [_group_row(g, dims, ext, seed, n_resamples) for _, g in df.groupby(keys, sort=True)]
    cols = list(COLUMNS) + [f"{VBENCH_PREFIX}{d}_{s}" for d in dims for s in ("mean", "std", "n")]
    cols += [
        f"{EXT_PREFIX}{m}_{s}"
        for m in ext
        for s in ("mean", "n", "rho", "rho_ci_low", "rho_ci_high")
    ]
    return pd.DataFrame(rows, columns=cols)


def grouping_notes(
    records: Any,
    *,
    pool_seeds: bool = False,
    identities: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """What each leaderboard row groups, and which settings were kept apart (one line each).

    Args:
        records: the records given to :func:`build_leaderboard`.
        pool_seeds: as given to :func:`build_leaderboard`.
        identities: config hash -> run identity (default: ``records.attrs["identities"]`` of
            :func:`load_records`); used to name what differs between settings.

    Returns:
        Lines: per row, its seed(s), config hash(es) and run directories (``pooled`` when
        seeds were pooled); per model x retime x embedder x pacing with several settings, the
        settings hashes and the identity keys that differ; runs without an identity file when
        seeds are pooled.
    """
    df = _prepared(records)
    if identities is None:
        identities = records.attrs.get("identities", {}) if hasattr(records, "attrs") else {}
    keys = list(POOLED_KEYS if pool_seeds else ROW_KEYS)
    lines = []
    for key, g in df.groupby(keys, sort=True):
        name = " / ".join(map(str, key[: len(GROUP_KEYS)]))
        runs = sorted({str(r) for r in g.run_dir if str(r)})
        where = f"{len(runs)} run dir(s): {', '.join(runs)}" if runs else "no run dir recorded"
        pairs = sorted({(int(s), str(h)) for s, h in zip(g.seed, g.config_hash, strict=True)})
        if pool_seeds and len(pairs) > 1:
            per = ", ".join(f"seed {s} = config {h or '?'}" for s, h in pairs)
            lines.append(
                f"{name}: POOLED (--pool-seeds, settings {key[-1] or '?'}): {per}; {where}"
            )
        else:
            s, h = pairs[0]
            lines.append(f"{name}: seed {s}, config {h or '?'}; {where}")
    for key, g in df.groupby(list(GROUP_KEYS), sort=True):
        settings = sorted({str(h) for h in g.settings_hash})
        if len(settings) < 2:
            continue
        name = " / ".join(map(str, key))
        line = (
            f"{name}: {len(settings)} different settings kept as separate rows "
            f"(settings hashes {', '.join(settings)})"
        )
        by_setting: dict[str, Mapping[str, Any]] = {}
        for h, sh in zip(g.config_hash, g.settings_hash, strict=True):
            if str(h) in identities:
                by_setting.setdefault(str(sh), identities[str(h)])
        if len(by_setting) >= 2:
            from spf_bench.bench.config import identity_difference

            (a_sh, a), *rest = sorted(by_setting.items())
            for b_sh, b in rest:
                diff = [x for x in identity_difference(a, b) if not x.startswith("config.seed:")]
                line += f"; {a_sh} -> {b_sh}: " + ("; ".join(diff[:8]) or "no difference found")
                if len(diff) > 8:
                    line += f"; ... ({len(diff) - 8} more)"
        lines.append(line)
    if pool_seeds:
        for d in records.attrs.get("no_identity", []) if hasattr(records, "attrs") else []:
            lines.append(
                f"{d}: no identity.json (or config.json identity): its seeds were not pooled"
            )
    return lines


# ---------------------------------------------------------------------------------- external
@dataclass
class ExternalScores:
    """Per-video values of one external file (:func:`load_external`).

    Attributes:
        path: the file, as given.
        format: what it was read as (``"VBench eval_results"``, ``"spf-bench vbench.json"``,
            ``"ChronoMagic-Bench MTScore"``, ``"ChronoMagic-Bench CHScore"``,
            ``"ChronoMagic-Bench GPT4o-MTScore"``, ``"JSON {video: {metric: value}}"`` or
            ``"CSV video,metric,value"``).
        values: ``(video id, metric, value as written)`` triples, in file order.
    """

    path: str
    format: str
    values: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        """The metrics of the file, sorted."""
        return sorted({m for _, m, _ in self.values})


@dataclass
class ExternalJoin:
    """The outcome of :func:`join_external`: what was joined, what was not, and the
    correlations of each metric with the Linearity Score over every matched video.

    Attributes:
        files: per file ``{"path", "format", "metrics", "n_values", "n_matched"}``.
        unmatched: ``{"file", "video", "metric"}`` of each id that names no record.
        ambiguous: ``{"file", "video", "metric", "candidates"}`` of each id that names several
            records (``candidates``: their run dirs and video paths or item ids).
        invalid: ``{"file", "video", "metric", "value"}`` of each value that is not a finite
            number.
        duplicates: ``{"file", "video", "metric", "record"}`` of each value that replaced an
            earlier one for the same record and metric.
        correlations: metric -> ``{"n", "rho", "ci_low", "ci_high"}``
            (:func:`spearman_ci` against ``linearity_score``, every matched record).
    """

    files: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    ambiguous: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    correlations: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (schema ``spf-bench/external/1``)."""
        return {
            "schema": "spf-bench/external/1",
            "files": self.files,
            "correlations_with_linearity": self.correlations,
            "unmatched": self.unmatched,
            "ambiguous": self.ambiguous,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
        }

    def problem_lines(self, limit: int = 50) -> list[str]:
        """One line per file and kind of problem, naming up to ``limit`` video ids."""
        out = []
        for kind, rows in (
            ("match no record", self.unmatched),
            ("name several records (ambiguous, not joined)", self.ambiguous),
            ("have no numeric value (invalid, not joined)", self.invalid),
            ("were given twice for one record (the later value kept)", self.duplicates),
        ):
            by_file: dict[str, list[str]] = {}
            for r in rows:
                by_file.setdefault(r["file"], []).append(f"{r['video']} ({r['metric']})")
            for f, ids in by_file.items():
                more = f" ... and {len(ids) - limit} more" if len(ids) > limit else ""
                out.append(f"{f}: {len(ids)} video id(s) {kind}: {', '.join(ids[:limit])}{more}")
        return out


def _scalar(v: Any) -> float | None:
    """A per-video value as a finite float (booleans 0/1, numeric strings parsed), else None."""
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, str):
        try:
            x = float(v.strip())
        except ValueError:
            return None
        return x if math.isfinite(x) else None
    return None


def _vbench_eval_results(data: dict[str, Any]) -> list[tuple[str, str, Any]] | None:
    """VBench's ``{dim: [aggregate, [{"video_path", "video_results"}, ...]]}``, values brought
    to the aggregate's scale (registry); ``None`` when ``data`` is not that shape."""
    if not data or not all(
        isinstance(v, list)
        and len(v) == 2
        and isinstance(v[1], list)
        and all(isinstance(e, dict) and "video_path" in e and "video_results" in e for e in v[1])
        for v in data.values()
    ):
        return None
    from spf_bench.metrics.vbench.registry import DIMENSIONS

    out = []
    for dim, (_, videos) in data.items():
        spec = DIMENSIONS.get(dim)
        scale = spec.per_video_scale if spec is not None else 1.0
        for e in videos:
            v = e["video_results"]
            x = _scalar(v)
            out.append(
                (str(e["video_path"]), f"vbench_{_dim_name(dim)}", v if x is None else x * scale)
            )
    return out


def _parse_external_json(data: Any, path: str) -> tuple[str, list[tuple[str, str, Any]]]:
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    vids = data.get("video_scores")
    if isinstance(vids, list) and all(
        isinstance(e, dict) and "video_name" in e and "metamorphic_score" in e for e in vids
    ):
        return "ChronoMagic-Bench MTScore", [
            (str(e["video_name"]), "mtscore", e["metamorphic_score"]) for e in vids
        ]
    alls = data.get("all_scores")
    if isinstance(alls, list) and all(isinstance(e, dict) and len(e) == 1 for e in alls):
        vals = []
        for e in alls:
            ((video, scores),) = e.items()
            v = scores.get("TSI_score") if isinstance(scores, dict) else None
            vals.append((str(video), "chscore", v))
        return "ChronoMagic-Bench CHScore", vals
    fmt = data.get("Formatted Data")
    if isinstance(fmt, dict) and all(isinstance(e, dict) for e in fmt.values()):
        return "ChronoMagic-Bench GPT4o-MTScore", [
            (str(video), "gpt4o_mtscore", e.get("Score")) for video, e in fmt.items()
        ]
    vb = _vbench_eval_results(data)
    if vb is not None:
        return "VBench eval_results", vb
    wrapped = next(
        (data[k] for k in ("videos", "per_video") if isinstance(data.get(k), dict)), None
    )
    if wrapped is not None or str(data.get("schema", "")).startswith("spf-bench/vbench"):
        vals = []
        for video, entry in (wrapped or {}).items():
            if not isinstance(entry, dict):
                continue
            scores = entry["scores"] if isinstance(entry.get("scores"), dict) else entry
            vals += [(str(video), f"vbench_{_dim_name(d)}", v) for d, v in scores.items()]
        return "spf-bench vbench.json", vals
    if data and all(isinstance(e, dict) for e in data.values()):
        return "JSON {video: {metric: value}}", [
            (str(video), _dim_name(m), v) for video, e in data.items() for m, v in e.items()
        ]
    raise ValueError(
        f"{path}: not a recognised per-video format (VBench <dim>_eval_results.json, spf-bench "
        "vbench.json, ChronoMagic-Bench *_MTScore.json / *_CHScore.json / "
        "*_GPT4o-MTScore.json, {video: {metric: value}}, or a CSV video,metric,value)"
    )


def load_external(path: str | os.PathLike) -> ExternalScores:
    """Read one external per-video metric file (formats: module docs).

    Args:
        path: a ``.csv`` (header ``video,metric,value``) or a JSON file.

    Returns:
        :class:`ExternalScores` with the values as written (converted when joined).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: unreadable JSON/CSV, a CSV without the columns ``video``, ``metric`` and
            ``value``, or a JSON shape that is none of the supported formats.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"external metric file not found: {p}")
    if p.suffix.lower() == ".csv":
        with p.open(newline="") as fh:
            reader = csv_module.DictReader(fh)
            cols = {c.strip().lower(): c for c in reader.fieldnames or []}
            if not {"video", "metric", "value"} <= set(cols):
                raise ValueError(
                    f"{p}: a CSV of external metrics needs the header video,metric,value; "
                    f"got {reader.fieldnames}"
                )
            vals = [
                (
                    str(r[cols["video"]]).strip(),
                    _dim_name(r[cols["metric"]]),
                    r[cols["value"]],
                )
                for r in reader
            ]
        return ExternalScores(str(path), "CSV video,metric,value", vals)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{p}: unreadable JSON: {e}") from e
    fmt, vals = _parse_external_json(data, str(path))
    return ExternalScores(str(path), fmt, vals)


def _video_index(df: Any) -> tuple[dict[str, dict[str, set[int]]], dict[int, str]]:
    """Lookup tables video key -> record positions, by rule (module docs), and a label per
    record for messages."""
    by: dict[str, dict[str, set[int]]] = {"path": {}, "name": {}, "stem": {}, "item": {}}
    label: dict[int, str] = {}
    runs = df["run_dir"].astype(str) if "run_dir" in df else [""] * len(df)
    vps = df["video_path"].fillna("").astype(str) if "video_path" in df else [""] * len(df)
    for pos, (rd, vp, item, it) in enumerate(
        zip(runs, vps, df["item_id"].astype(str), df["iteration"], strict=True)
    ):
        label[pos] = f"{rd + ':' if rd else ''}{vp or f'{item}@it{int(it)}'}"
        if vp:
            by["path"].setdefault(vp, set()).add(pos)
            full = Path(rd) / vp if rd else Path(vp)
            by["path"].setdefault(str(full.resolve()), set()).add(pos)
            by["name"].setdefault(Path(vp).name, set()).add(pos)
            by["stem"].setdefault(Path(vp).stem, set()).add(pos)
    fin = final_records(df.assign(_pos=np.arange(len(df))))
    for item, pos in zip(fin["item_id"].astype(str), fin["_pos"], strict=True):
        by["item"].setdefault(item, set()).add(int(pos))
    return by, label


def _lookup(video: str, by: dict[str, dict[str, set[int]]]) -> set[int]:
    """Record positions a video id names: the first rule with a candidate decides."""
    p = Path(video)
    stages = (
        by["path"].get(video, set()) | by["path"].get(str(p.expanduser().resolve()), set()),
        by["name"].get(p.name, set()),
        by["stem"].get(p.name, set()) | by["stem"].get(p.stem, set()),
        by["item"].get(video, set()) | by["item"].get(p.stem, set()),
    )
    return next((c for c in stages if c), set())


def join_external(
    records: Any,
    sources: Sequence[ExternalScores],
    *,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> tuple[Any, ExternalJoin]:
    """Join external per-video metrics to records, reporting every id that does not join.

    Args:
        records: records (:func:`load_records`).
        sources: files read by :func:`load_external`, in argument order (a later value for the
            same record and metric replaces an earlier one, and is listed as a duplicate).
        seed, n_resamples: bootstrap of the correlations (:func:`spearman_ci`).

    Returns:
        ``(records with ext_<metric> columns (float, NaN where no value), ExternalJoin)``;
        ``records.attrs`` are kept.
    """
    df = records.copy().reset_index(drop=True)
    by, label = _video_index(df)
    values: dict[str, np.ndarray] = {}
    rep = ExternalJoin()
    for src in sources:
        matched = 0
        for video, metric, raw in src.values:
            hit = _lookup(video, by)
            entry = {"file": src.path, "video": video, "metric": metric}
            if not hit:
                rep.unmatched.append(entry)
                continue
            if len(hit) > 1:
                rep.ambiguous.append({**entry, "candidates": sorted(label[h] for h in hit)})
                continue
            x = _scalar(raw)
            if x is None:
                rep.invalid.append({**entry, "value": raw if raw is None else str(raw)})
                continue
            (pos,) = hit
            col = values.setdefault(metric, np.full(len(df), np.nan))
            if np.isfinite(col[pos]):
                rep.duplicates.append({**entry, "record": label[pos]})
            col[pos] = x
            matched += 1
        rep.files.append(
            {
                "path": src.path,
                "format": src.format,
                "metrics": src.metrics,
                "n_values": len(src.values),
                "n_matched": matched,
            }
        )
    lin = df["linearity_score"].to_numpy(np.float64)
    for metric in sorted(values):
        df[EXT_PREFIX + metric] = values[metric]
        rho, lo, hi, n = spearman_ci(values[metric], lin, seed=seed, n_resamples=n_resamples)
        rep.correlations[metric] = {"n": n, "rho": rho, "ci_low": lo, "ci_high": hi}
    df.attrs = dict(records.attrs)
    return df, rep


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


def _rho(rho: Any, lo: Any, hi: Any) -> str:
    if not isinstance(rho, (int, float, np.number)) or not math.isfinite(float(rho)):
        return "–"
    return f"{float(rho):+.2f} " + _ci(float(lo), float(hi))


def render_markdown(
    lb: Any,
    *,
    title: str = "spf-bench leaderboard",
    sources: str = "",
    notes: Sequence[str] = (),
    external: ExternalJoin | None = None,
) -> str:
    """A readable Markdown rendering of a leaderboard (the CSV holds every column).

    Args:
        lb: the output of :func:`build_leaderboard`.
        title: heading.
        sources: optional line naming the runs.
        notes: lines of :func:`grouping_notes` (a "What each row groups" section).
        external: the :class:`ExternalJoin` of ``--external`` (correlations over every
            matched video and every id that did not join).
    """
    import pandas as pd

    dims = sorted(
        c[len(VBENCH_PREFIX) : -len("_mean")]
        for c in lb.columns
        if c.startswith(VBENCH_PREFIX) and c.endswith("_mean")
    )
    ext = sorted(
        c[len(EXT_PREFIX) : -len("_rho")]
        for c in lb.columns
        if c.startswith(EXT_PREFIX) and c.endswith("_rho")
    )
    pooled = any("+" in str(v) for v in lb.get("seed", []))
    rows = []
    for r in lb.itertuples(index=False):
        d = r._asdict()
        row = {
            "model": r.model,
            "retime": r.retime,
            "embedder": r.embedder,
            "pacing": r.pacing,
            "seed": d.get("seed", ""),
            "config": d.get("config_hash", ""),
        }
        if pooled:
            row["n per seed"] = d.get("n_per_seed", "")
        row.update(
            {
                "n": r.n,
                "Linearity (mean ± std)": _pm(r.linearity_mean, r.linearity_std),
                "95% CI": _ci(r.linearity_ci_low, r.linearity_ci_high),
                "Δ vs baseline [95% CI]": (
                    f"{r.delta_linearity:+.3f} "
                    + _ci(r.delta_linearity_ci_low, r.delta_linearity_ci_high)
                    if math.isfinite(r.delta_linearity)
                    else "–"
                ),
                "held-out Linearity": _heldout_cell(d),
                "held-out Δ [95% CI]": (
                    f"{d['heldout_delta']:+.3f} "
                    + _ci(d["heldout_delta_ci_low"], d["heldout_delta_ci_high"])
                    if math.isfinite(d.get("heldout_delta", math.nan))
                    else "–"
                ),
                "max jump": f"{r.max_jump_mean:.3f}" if math.isfinite(r.max_jump_mean) else "–",
                "max dev.": (
                    f"{r.max_deviation_mean:.3f}" if math.isfinite(r.max_deviation_mean) else "–"
                ),
                "total change (rad)": (
                    f"{r.total_change_mean:.2f}" if math.isfinite(r.total_change_mean) else "–"
                ),
                "RMS(S − designed)": (
                    f"{r.rms_s_vs_designed_mean:.3f}"
                    if math.isfinite(r.rms_s_vs_designed_mean)
                    else "–"
                ),
                "failed": r.n_failed,
            }
        )
        for dim in dims:
            row[f"VBench {dim}"] = _pm(d[f"vbench_{dim}_mean"], d[f"vbench_{dim}_std"])
        for m in ext:
            c = EXT_PREFIX + m
            mean = d[f"{c}_mean"]
            row[f"{m} (mean)"] = f"{mean:.3f}" if math.isfinite(mean) else "–"
            row[f"ρ({m}, Linearity) [95% CI]"] = _rho(
                d[f"{c}_rho"], d[f"{c}_rho_ci_low"], d[f"{c}_rho_ci_high"]
            )
        rows.append(row)
    body = markdown_table(pd.DataFrame(rows)) if rows else "_no records_\n"
    text = (
        "\nScore of an item = its final ReTime iteration (iteration 0 for `retime=none`). "
        "Linearity = `clip(1 - RMS(S - L) / |S_T - S_1|, 0, 1)`; CIs are 95% BCa bootstrap "
        "(seeded; with few items, e.g. n = 3, they are narrower than their nominal level); "
        "Δ is final minus iteration 0 over the same items (paired bootstrap). "
        "Held-out = the same videos scored by embedders that did not steer the retime (named in "
        "brackets; mean over them): a gain the guide alone sees is the retime fitting its own "
        "judge. max jump = largest single-frame share of total change; max dev. = max |S - L| "
        "(fraction of total change); RMS(S − designed) = RMS of S minus the designed progress "
        "(synthetic items only; it measures the embedder's reading of the design, not pacing "
        "evenness, and can grow while Linearity rises). "
    )
    text += (
        f"VBench dimensions: {', '.join(dims)} (mean ± std over final records).\n"
        if dims
        else "No VBench scores in these records.\n"
    )
    if ext:
        text += (
            f"External metrics: {', '.join(ext)}; ρ = Spearman rank correlation with the "
            "Linearity Score over the row's final records, 95% percentile bootstrap CI "
            "(videos resampled, seeded).\n"
        )
    if notes:
        text += "\n## What each row groups\n\n" + "".join(f"- {n}\n" for n in notes)
    if external is not None:
        text += "\n## External per-video metrics\n\n"
        text += "".join(
            f"- `{f['path']}`: {f['format']}, {f['n_values']} value(s) of "
            f"{', '.join(f['metrics']) or 'no metric'}, {f['n_matched']} joined\n"
            for f in external.files
        )
        if external.correlations:
            tab = pd.DataFrame(
                [
                    {
                        "metric": m,
                        "videos": c["n"],
                        "ρ with Linearity": _rho(c["rho"], c["ci_low"], c["ci_high"]),
                    }
                    for m, c in external.correlations.items()
                ]
            )
            text += (
                "\nSpearman ρ with the Linearity Score over every matched video (all runs and "
                "iterations) [95% percentile bootstrap CI]:\n\n" + markdown_table(tab)
            )
        problems = external.problem_lines()
        text += (
            "\nNot joined (every id is listed in the `.external.json` beside this file):\n\n"
            + "".join(f"- {p}\n" for p in problems)
            if problems
            else "\nEvery video id joined exactly one record.\n"
        )
    head = f"# {title}\n\n" + (f"{sources}\n\n" if sources else "")
    return head + body + text


def _heldout_cell(d: dict[str, Any]) -> str:
    """``0.924 (efficientnet_lite0)``, or ``–`` when no held-out embedder scored the row."""
    v = d.get("heldout_linearity", math.nan)
    if not isinstance(v, float) or not math.isfinite(v):
        return "–"
    names = str(d.get("heldout_embedders") or "").replace("+", ", ")
    return f"{v:.3f} ({names})" if names else f"{v:.3f}"


def write_leaderboard(
    lb: Any,
    out: str | os.PathLike,
    *,
    sources: str = "",
    notes: Sequence[str] = (),
    external: ExternalJoin | None = None,
) -> tuple[Path, Path]:
    """Write ``out`` (CSV, full precision) and ``out`` with suffix ``.md``, atomically; with
    ``external``, also ``<out stem>.external.json`` (:meth:`ExternalJoin.as_dict`: every id
    that did not join, and the correlations). Returns the CSV and Markdown paths."""
    from spf_bench.bench.records import atomic_write_json, atomic_write_text

    out = Path(out)
    csv = atomic_write_text(out, lb.to_csv(index=False))
    md = atomic_write_text(
        out.with_suffix(".md"),
        render_markdown(lb, sources=sources, notes=notes, external=external),
    )
    if external is not None:
        atomic_write_json(out.with_suffix(".external.json"), external.as_dict())
    return csv, md


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point (see module docs). Returns 0 on success, 2 when no records are found or
    an ``--external`` file is missing or unreadable (unmatched video ids are reported, not
    errors)."""
    parser = argparse.ArgumentParser(
        prog="bench/leaderboard.py", description="Leaderboard CSV + Markdown from run records."
    )
    parser.add_argument("runs", nargs="+", help="run directories, records.parquet files or globs")
    parser.add_argument("--out", default="results/leaderboard.csv", help="CSV path (.md beside)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--resamples", type=int, default=N_RESAMPLES, help="bootstrap resamples")
    parser.add_argument(
        "--pool-seeds",
        action="store_true",
        help="one row per setting with every seed pooled (n per seed shown); default: one row "
        "per seed and config hash",
    )
    parser.add_argument(
        "--external",
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
        help="per-video metric files to join (VBench eval_results JSON, ChronoMagic-Bench "
        "MTScore/CHScore/GPT4o-MTScore JSON, or CSV video,metric,value)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        records = load_records(args.runs)
        sources = [load_external(f) for f in args.external]
    except (FileNotFoundError, ValueError) as e:
        print(f"leaderboard: {e}", file=sys.stderr)
        return 2
    joined = None
    if sources:
        records, joined = join_external(
            records, sources, seed=args.seed, n_resamples=args.resamples
        )
        for line in joined.problem_lines():
            print(f"leaderboard: external: {line}", file=sys.stderr)
    lb = build_leaderboard(
        records, seed=args.seed, n_resamples=args.resamples, pool_seeds=args.pool_seeds
    )
    notes = grouping_notes(records, pool_seeds=args.pool_seeds)
    for line in notes:
        print(f"leaderboard: {line}")
    runs = sorted(set(records.run_dir))
    csv, md = write_leaderboard(
        lb, args.out, sources=f"Runs: {', '.join(runs)}", notes=notes, external=joined
    )
    from spf_bench.bench.report import write_leaderboard_html

    html = write_leaderboard_html(lb, Path(args.out).with_suffix(".html"), runs)
    print(render_markdown(lb, external=joined))  # the grouping lines were printed above
    print(f"wrote {csv}, {md} and {html}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
