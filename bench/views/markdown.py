"""The leaderboard's Markdown page (template ``leaderboard.md.j2``).

The leaderboard's CSV holds every column; its Markdown (:func:`render_markdown`) is the
readable subset, with its legend, what each row groups and the external-metric join underneath.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from spf_bench.bench.views.external import ExternalJoin
from spf_bench.bench.views.load import EXT_PREFIX, VBENCH_PREFIX
from spf_bench.bench.views.render import (
    fmt_ci,
    fmt_gain,
    fmt_num,
    fmt_pm,
    is_finite,
    markdown_table,
    render,
)

__all__ = ["render_markdown"]


def _rho(rho: Any, lo: Any, hi: Any) -> str:
    """``+0.50 [0.123, 0.800]``: Spearman's rho and its CI; ``–`` without a finite rho."""
    return f"{float(rho):+.2f} {fmt_ci(lo, hi)}" if is_finite(rho) else "–"


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
        lb: the output of :func:`spf_bench.bench.views.leaderboard.build_leaderboard`.
        title: heading.
        sources: optional line naming the runs.
        notes: lines of :func:`spf_bench.bench.views.leaderboard.grouping_notes` (a "What
            each row groups" section).
        external: the :class:`ExternalJoin` of ``--external`` (correlations over every
            matched video and every id that did not join).

    Returns:
        The Markdown page: title, sources, the table, its legend and the notes.
    """
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
                "Linearity (mean ± std)": fmt_pm(r.linearity_mean, r.linearity_std),
                "95% CI": fmt_ci(r.linearity_ci_low, r.linearity_ci_high),
                "Δ vs baseline [95% CI]": fmt_gain(
                    r.delta_linearity, r.delta_linearity_ci_low, r.delta_linearity_ci_high
                ),
                "held-out Linearity": _heldout_cell(d),
                "held-out Δ [95% CI]": fmt_gain(
                    d.get("heldout_delta"),
                    d.get("heldout_delta_ci_low"),
                    d.get("heldout_delta_ci_high"),
                ),
                "max jump": fmt_num(r.max_jump_mean),
                "max dev.": fmt_num(r.max_deviation_mean),
                "total change (rad)": fmt_num(r.total_change_mean, ".2f"),
                "RMS(S − designed)": fmt_num(r.rms_s_vs_designed_mean),
                "failed": r.n_failed,
            }
        )
        for dim in dims:
            row[f"VBench {dim}"] = fmt_pm(d[f"vbench_{dim}_mean"], d[f"vbench_{dim}_std"])
        for m in ext:
            c = EXT_PREFIX + m
            row[f"{m} (mean)"] = fmt_num(d[f"{c}_mean"])
            row[f"ρ({m}, Linearity) [95% CI]"] = _rho(
                d[f"{c}_rho"], d[f"{c}_rho_ci_low"], d[f"{c}_rho_ci_high"]
            )
        rows.append(row)
    corr = pd.DataFrame(
        [
            {
                "metric": m,
                "videos": c["n"],
                "ρ with Linearity": _rho(c["rho"], c["ci_low"], c["ci_high"]),
            }
            for m, c in (external.correlations.items() if external is not None else ())
        ]
    )
    return render(
        "leaderboard.md.j2",
        title=title,
        sources=sources,
        body=markdown_table(pd.DataFrame(rows)) if rows else "_no records_\n",
        dims=dims,
        ext=ext,
        notes=notes,
        external=external,
        correlations=markdown_table(corr) if len(corr) else "",
        problems=external.problem_lines() if external is not None else [],
    )


def _heldout_cell(d: dict[str, Any]) -> str:
    """``0.924 (efficientnet_lite0)``, or ``–`` when no held-out embedder scored the row."""
    v = d.get("heldout_linearity", math.nan)
    if not isinstance(v, float) or not math.isfinite(v):
        return "–"
    names = str(d.get("heldout_embedders") or "").replace("+", ", ")
    return f"{v:.3f} ({names})" if names else f"{v:.3f}"
