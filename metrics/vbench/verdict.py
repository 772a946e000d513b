"""The VBench fidelity verdict: is the retimed mean within one standard deviation of the original?

The paper's fidelity claim (Metzer et al., SIGGRAPH 2026, Sec. 6; docs/method.md, Sec. 6):
VBench's aesthetic, motion and temporal dimensions of retimed videos stay within one standard
deviation of the originals. :func:`verdict_table` is the one implementation of that test in
spf-bench; ``vbench.json`` (``spf_bench.bench.vbench_run``) and the VBench figure and table
(``spf_bench.bench.views.figures.vbench_table``) both use it.

The rule, per group ``(model, retime, embedder, pacing)`` x dimension, on ``ok`` records:

- **original**: the group's iteration-0 videos (rendered at the stock time positions), one per
  item ``(item_id, seed)``;
- **retimed**: each item's final record (its highest-iteration ``ok`` record, the definition
  of ``spf_bench.bench.results.stats.final_records``, selected here because ``metrics`` never
  imports ``bench``; ``tests/test_results.py`` pins that the two agree), when its iteration is
  > 0 (an item whose retiming stopped at iteration 0 has no retimed video);
- ``within_one_std = |mean(retimed) - mean(original)| <= std(original)``, sample std
  (ddof = 1) of the original per-video scores; ``None`` (no verdict) when the original has
  fewer than 2 scored videos or the group has no retimed score (e.g. ``retime=none``).

Grouping by embedder and pacing as well as model and retime keeps different treatments apart:
the retimed videos of two target pacings, or of two embedders' SPFs, are different videos, and
each group is compared with its own baseline. Only finite scores count (a failed VBench score
is NaN). This is the grouping of the leaderboard (``spf_bench.bench.views.load.GROUP_KEYS``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["VERDICT_KEYS", "one_std_verdict", "original_and_retimed", "verdict_table"]

#: Columns that define a group; the same as ``spf_bench.bench.views.load.GROUP_KEYS``.
VERDICT_KEYS: tuple[str, ...] = ("model", "retime", "embedder", "pacing")
#: Columns that identify a video of a group across iterations.
ITEM_KEYS: tuple[str, ...] = ("item_id", "seed")


def _finite(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v)]


def _mean(v: np.ndarray) -> float:
    return float(v.mean()) if v.size else math.nan


def _std(v: np.ndarray) -> float:
    return float(np.std(v, ddof=1)) if v.size > 1 else math.nan


def one_std_verdict(original_mean: float, original_std: float, retimed_mean: float) -> dict:
    """The rule itself: ``|retimed - original| <= std(original)``.

    Used by :func:`verdict_table` (per-video VBench scores; ``std`` over the original videos)
    and by set-level measures whose spread is a bootstrap over items (the Fréchet distance of
    ``spf_bench.metrics.fidelity``; ``std`` over resamples of the original set).

    Args:
        original_mean: the original's score (mean over videos, or a set-level value).
        original_std: its standard deviation (NaN when unknown).
        retimed_mean: the retimed videos' score.

    Returns:
        ``{"delta", "delta_in_std", "within_one_std"}``: ``delta`` = retimed - original;
        ``delta_in_std`` = ``delta / original_std`` (NaN when the std is 0 or there is no
        verdict); ``within_one_std`` bool, or ``None`` when ``delta`` or the std is not finite.
    """
    delta = float(retimed_mean) - float(original_mean)
    osd = float(original_std)
    judged = math.isfinite(delta) and math.isfinite(osd)
    return {
        "delta": delta,
        "delta_in_std": delta / osd if judged and osd > 0 else math.nan,
        "within_one_std": bool(abs(delta) <= osd) if judged else None,
    }


def original_and_retimed(group: Any) -> tuple[Any, Any]:
    """The original and retimed records of one group (module docstring).

    Args:
        group: ``ok`` records of one ``(model, retime, embedder, pacing)`` group
            (``pandas.DataFrame`` with ``item_id``, ``seed``, ``iteration``).

    Returns:
        ``(original, retimed)``: the iteration-0 record of each item, and each item's
        highest-iteration record when that iteration is > 0.
    """
    items = list(ITEM_KEYS)
    original = group[group["iteration"] == 0].drop_duplicates(subset=items)
    later = group[group["iteration"] > 0].sort_values("iteration", kind="stable")
    return original, later.groupby(items, sort=False, dropna=False).tail(1)


def verdict_table(records: Any, dims: Sequence[str]) -> list[dict[str, Any]]:
    """Is the retimed mean within one standard deviation of the original? (module docstring).

    Args:
        records: ``pandas.DataFrame`` of records with at least the columns ``model, retime,
            embedder, pacing, item_id, seed, iteration, status`` (the records schema,
            ``spf_bench.bench.results.record``) and one float column ``vbench_<dim>`` per
            dimension (normalised VBench score, NaN where missing), e.g.
            ``records_vbench.parquet``.
        dims: dimensions to judge, in output order.

    Returns:
        One dict per group (sorted by ``model, retime, embedder, pacing``) x dimension (in
        ``dims`` order), for every group with an ``ok`` record: ``model, retime, embedder,
        pacing`` (str), ``dimension``, ``n_original``, ``original_mean``, ``original_std``,
        ``n_retimed``, ``retimed_mean``, ``retimed_std`` (NaN below 2 videos), ``delta``
        (retimed mean - original mean), ``delta_in_std`` (``delta / original_std``; NaN when
        the std is 0 or there is no verdict) and ``within_one_std`` (bool, or ``None`` when
        either side has no score or the original has fewer than 2).

    Raises:
        ValueError: a required column or a ``vbench_<dim>`` column is missing.
    """
    needed = [*VERDICT_KEYS, *ITEM_KEYS, "iteration", "status", *(f"vbench_{d}" for d in dims)]
    missing = [c for c in needed if c not in records]
    if missing:
        raise ValueError(f"records lack the column(s) {missing} the VBench verdict needs")
    ok = records[records["status"] == "ok"]
    rows = []
    for key, g in ok.groupby(list(VERDICT_KEYS), sort=True, dropna=False):
        original, retimed = original_and_retimed(g)
        for dim in dims:
            col = f"vbench_{dim}"
            o, r = _finite(original[col]), _finite(retimed[col])
            om, osd, rm = _mean(o), _std(o), _mean(r)
            rows.append(
                {
                    **{k: str(v) for k, v in zip(VERDICT_KEYS, key, strict=True)},
                    "dimension": dim,
                    "n_original": int(o.size),
                    "original_mean": om,
                    "original_std": osd,
                    "n_retimed": int(r.size),
                    "retimed_mean": rm,
                    "retimed_std": _std(r),
                    **one_std_verdict(om, osd, rm),
                }
            )
    return rows
