"""The statistics of run results, each defined once: final record, paired gain, bootstrap CI,
held-out mean and the run summary.

``summary.json`` (:func:`summarise`), the leaderboard (``bench/leaderboard.py``), the HTML
report (``bench/report.py``), the figures, the VBench verdict and the evidence scripts all call
these functions, so a gain or an interval cannot mean two things in two places.

Definitions (docs/method.md, Sec. 4 for the ReTime iterations):

Item
    One video of a run: the columns of :data:`ITEM_KEYS` that a table has (model, retime,
    embedder, pacing, seed, config hash, item id). The same item id under two seeds or two
    settings is two items.

Final record
    An item's **final record** is its highest-iteration record with ``status == "ok"``: the
    record of the last ReTime iteration that finished (iteration 0 for ``retime=none``;
    ``retime.iterations`` for a finished ``retime=warped`` run; the iteration a loop stopped at
    on purpose). An item whose *last* record failed still scores with its last ok iteration
    and is counted in ``n_failed`` (:func:`failed_items`); an item without any ok record has no
    final record.

Baseline and pairs
    An item's **baseline** is its ``iteration == 0`` ok record. An item is **paired** when it
    has a baseline and a final record at an iteration > 0, and both values of the score are
    finite. Items without both are not paired.

Paired gain
    Per paired item, final minus baseline (:func:`paired_gain`); items in sorted item-key
    order, so a seeded bootstrap of the gains is reproducible.

Bootstrap CI
    95% bias-corrected and accelerated (BCa) bootstrap interval of the mean,
    :func:`scipy.stats.bootstrap` with :data:`N_RESAMPLES` resamples and a seeded generator
    (:func:`bootstrap_ci`); for a gain, the resampled values are the per-item differences, so
    items are resampled with their pair.

Held-out mean
    The mean Linearity Score of one video over the held-out embedders that scored it, NaN
    scores skipped (:func:`heldout_mean`); NaN when none has a finite score.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import bootstrap

from spf_bench.bench.results.record import (
    HeldoutScores,
    Record,
    parse_heldout,
    to_frame,
)

__all__ = [
    "ITEM_KEYS",
    "N_RESAMPLES",
    "PairedGain",
    "bootstrap_ci",
    "failed_items",
    "final_records",
    "heldout_column",
    "heldout_embedders",
    "heldout_frame",
    "heldout_mean",
    "mean",
    "paired_gain",
    "std",
    "summarise",
]

#: Bootstrap resamples of every aggregate CI.
N_RESAMPLES = 9999

#: The columns that identify one item (video) across runs, in sort order; a table uses those
#: it has.
ITEM_KEYS: tuple[str, ...] = tuple("model retime embedder pacing seed config_hash item_id".split())


# ------------------------------------------------------------------------------- aggregates
def _finite(x: Iterable[float]) -> np.ndarray:
    a = np.asarray(x if isinstance(x, np.ndarray) else list(x), dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def mean(x: Iterable[float]) -> float:
    """Mean of the finite values of ``x``; NaN when there is none."""
    a = _finite(x)
    return float(a.mean()) if a.size else math.nan


def std(x: Iterable[float]) -> float:
    """Sample standard deviation (``ddof = 1``) of the finite values; NaN with fewer than 2."""
    a = _finite(x)
    return float(a.std(ddof=1)) if a.size > 1 else math.nan


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
        values: ``(n,)`` sample (float); NaN and inf are dropped first.
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
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    x = _finite(values)
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


# ------------------------------------------------------------------------------- held-out
def heldout_mean(heldout: Mapping[str, HeldoutScores | Mapping[str, Any]] | str | None) -> float:
    """Mean Linearity Score of one video over its held-out embedders (module docs).

    Args:
        heldout: ``{embedder: HeldoutScores}`` (:attr:`Record.heldout`), or any stored form
            (:func:`spf_bench.bench.results.record.parse_heldout`: JSON text, a plain mapping).

    Returns:
        The mean of the finite ``linearity_score`` values; NaN when there is none.
    """
    held = heldout if _parsed(heldout) else parse_heldout(heldout)
    return mean(h.linearity_score for h in held.values())


def _parsed(heldout: Any) -> bool:
    """Already ``{embedder: HeldoutScores}`` (no parsing needed)."""
    return isinstance(heldout, Mapping) and all(
        isinstance(v, HeldoutScores) for v in heldout.values()
    )


def heldout_column(df: pd.DataFrame, embedder: str | None = None) -> pd.Series:
    """Held-out Linearity of every row of a records table.

    Args:
        df: records table with a ``heldout`` column (JSON text or mappings).
        embedder: one held-out embedder; ``None`` = the mean over them (:func:`heldout_mean`).

    Returns:
        ``float64`` Series aligned with ``df`` (NaN where the row has none).
    """
    if "heldout" not in df:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    held = [parse_heldout(v) for v in df["heldout"]]
    if embedder is None:
        vals = [heldout_mean(h) for h in held]
    else:
        vals = [h.get(embedder, HeldoutScores()).linearity_score for h in held]
    return pd.Series(vals, index=df.index, dtype="float64")


def heldout_embedders(df: pd.DataFrame) -> list[str]:
    """The held-out embedders that scored at least one row of ``df``, sorted."""
    return sorted({e for held in map(parse_heldout, df.get("heldout", [])) for e in held})


def heldout_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The ``heldout`` column of a records table in long form.

    Args:
        df: records table (:func:`spf_bench.bench.results.record.to_frame`).

    Returns:
        ``pandas.DataFrame`` with columns ``item_id, seed, iteration, embedder`` and the score
        columns of :class:`~spf_bench.bench.results.record.HeldoutScores`, one row per record
        and held-out embedder.
    """
    cells = map(parse_heldout, df["heldout"] if "heldout" in df else [""] * len(df))
    rows = [
        dict(item_id=r.item_id, seed=r.seed, iteration=r.iteration, embedder=e, **sc.as_dict())
        for r, held in zip(df.itertuples(index=False), cells, strict=True)
        for e, sc in held.items()
    ]
    cols = ["item_id", "seed", "iteration", "embedder", *HeldoutScores().as_dict()]
    out = pd.DataFrame(rows, columns=cols)
    out["linearity_score"] = pd.to_numeric(out["linearity_score"], errors="coerce")
    return out


# ------------------------------------------------------------------------- final and pairs
def _item_keys(df: pd.DataFrame) -> list[str]:
    keys = [c for c in ITEM_KEYS if c in df]
    if "item_id" not in keys or "iteration" not in df or "status" not in df:
        raise ValueError("records lack item_id, iteration or status")
    return keys


def final_records(df: pd.DataFrame) -> pd.DataFrame:
    """Every item's final record: its highest-iteration ok record (module docs).

    Args:
        df: records table (at least ``item_id``, ``iteration``, ``status``; the other
            :data:`ITEM_KEYS` when present).

    Returns:
        One row per item that has an ok record, sorted by item key (the order the seeded
        bootstraps use), with ``df``'s columns and index.

    Raises:
        ValueError: if a required column is missing.
    """
    keys = _item_keys(df)
    ok = df[df["status"] == "ok"]
    return ok.sort_values([*keys, "iteration"], kind="stable").groupby(keys, sort=False).tail(1)


def failed_items(df: pd.DataFrame) -> pd.DataFrame:
    """The items whose last record (highest iteration) failed: that record, one row per item,
    sorted by item key. Such an item still scores with its final (last ok) record, if any."""
    keys = _item_keys(df)
    last = df.sort_values([*keys, "iteration"], kind="stable").groupby(keys, sort=False).tail(1)
    return last[last["status"] != "ok"]


@dataclass(frozen=True)
class PairedGain:
    """The paired items of one score and their gains.

    Attributes:
        items: ``(n,)`` item keys (tuples of :data:`ITEM_KEYS` present), sorted.
        baseline: ``(n,)`` float64 score at iteration 0.
        final: ``(n,)`` float64 score of the final record.
        gain: ``(n,)`` float64 ``final - baseline``.
    """

    items: tuple[Any, ...]
    baseline: np.ndarray
    final: np.ndarray
    gain: np.ndarray

    @property
    def n(self) -> int:
        """Number of paired items."""
        return int(self.gain.size)

    @property
    def mean(self) -> float:
        """Mean gain; NaN without pairs."""
        return mean(self.gain)

    def ci(self, *, seed: int = 0, n_resamples: int = N_RESAMPLES) -> tuple[float, float]:
        """95% paired BCa bootstrap CI of the mean gain (:func:`bootstrap_ci`)."""
        return bootstrap_ci(self.gain, seed=seed, n_resamples=n_resamples)


def paired_gain(df: pd.DataFrame, score: str | pd.Series = "linearity_score") -> PairedGain:
    """Per-item gain of the final record over the baseline (module docs, "Baseline and pairs").

    Args:
        df: records table (see :func:`final_records`).
        score: the column to compare, or a ``float64`` Series aligned with ``df`` (e.g.
            :func:`heldout_column`).

    Returns:
        The paired items in sorted item-key order.

    Raises:
        ValueError: if a required column is missing.
    """
    keys = _item_keys(df)
    values = df[score] if isinstance(score, str) else score
    df = df.assign(_score=pd.to_numeric(values, errors="coerce").astype("float64"))
    fin = final_records(df)
    paired = fin[fin["iteration"] > 0].set_index(keys)
    base = df[(df["iteration"] == 0) & (df["status"] == "ok")].set_index(keys)
    common = paired.index.intersection(base.index).sort_values()
    b = base.loc[common, "_score"].to_numpy(np.float64)
    f = paired.loc[common, "_score"].to_numpy(np.float64)
    keep = np.isfinite(b) & np.isfinite(f)
    items = tuple(k for k, kept in zip(common, keep, strict=True) if kept)
    return PairedGain(items=items, baseline=b[keep], final=f[keep], gain=f[keep] - b[keep])


# --------------------------------------------------------------------------------- summary
def _mean_std(x: pd.Series) -> dict[str, float]:
    return {"linearity_mean": mean(x), "linearity_std": std(x)}


def summarise(
    records: pd.DataFrame | Iterable[Record],
    wall_s: float = math.nan,
    *,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> dict[str, Any]:
    """The run summary: per-iteration Linearity, the paired gains with their CIs, failures.

    Args:
        records: the run's records (:class:`Record` objects or their table).
        wall_s: wall time to report, seconds (NaN when unknown).
        seed: bootstrap seed of the CIs.
        n_resamples: bootstrap resamples of the CIs.

    Returns:
        ``{"n_items", "n_records", "n_failed", "n_items_failed", "failures", "per_iteration",
        "n_paired", "linearity_gain_mean", "linearity_gain_ci", "heldout_gain",
        "heldout_gain_ci", "heldout_gain_mean", "wall_time_s"}``: ``per_iteration[k]`` has
        ``n``, ``n_degenerate``, ``linearity_mean``, ``linearity_std`` (ddof 1),
        ``max_jump_mean``, ``rms_s_vs_designed_mean`` and ``heldout`` (per held-out embedder:
        ``n``, ``linearity_mean``, ``linearity_std``); ``linearity_gain_mean`` and its CI are
        :func:`paired_gain` of the Linearity Score, ``heldout_gain`` and its CI the paired gain
        of the :func:`heldout_mean`, ``heldout_gain_mean`` the paired gain per held-out
        embedder.
    """
    df = records if isinstance(records, pd.DataFrame) else to_frame(records)
    ok = df[df.status == "ok"]
    held = heldout_frame(ok)
    per_it = {}
    for it, g in ok.groupby("iteration"):
        per_it[int(it)] = {
            "n": len(g),
            "n_degenerate": int(g.degenerate.astype(bool).sum()),
            **_mean_std(g.linearity_score),
            "max_jump_mean": mean(g.max_jump),
            "rms_s_vs_designed_mean": mean(g.rms_s_vs_designed),
            "heldout": {
                str(e): {"n": len(h), **_mean_std(h.linearity_score)}
                for e, h in held[held.iteration == it].groupby("embedder")
            },
        }
    failed = df[df.status != "ok"]
    if len(df):
        lin = paired_gain(df)
        hg = paired_gain(df, heldout_column(df))
        per_emb = {e: paired_gain(df, heldout_column(df, e)).mean for e in heldout_embedders(df)}
        n_items_failed = len(failed_items(df))
        n_items = int(df[_item_keys(df)].drop_duplicates().shape[0])
    else:
        lin = hg = PairedGain((), *(np.array([]),) * 3)
        per_emb, n_items_failed, n_items = {}, 0, 0
    return {
        "n_items": n_items,
        "n_records": len(df),
        "n_failed": len(failed),
        "n_items_failed": n_items_failed,
        "failures": failed[["item_id", "iteration", "error"]].to_dict("records"),
        "per_iteration": per_it,
        "n_paired": lin.n,
        "linearity_gain_mean": lin.mean,
        "linearity_gain_ci": list(lin.ci(seed=seed, n_resamples=n_resamples)),
        "heldout_gain": hg.mean,
        "heldout_gain_ci": list(hg.ci(seed=seed, n_resamples=n_resamples)),
        "heldout_gain_mean": per_emb,
        "wall_time_s": wall_s,
    }
