"""Markdown renderings: a table of any DataFrame, and the leaderboard's Markdown page.

The leaderboard's CSV holds every column; its Markdown (:func:`render_markdown`) is the
readable subset, with what each row groups and the external-metric join underneath.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from spf_bench.bench.views.external import ExternalJoin
from spf_bench.bench.views.load import EXT_PREFIX, VBENCH_PREFIX

__all__ = [
    "fmt_ci",
    "fmt_gain",
    "fmt_num",
    "fmt_pm",
    "is_finite",
    "markdown_table",
    "render_markdown",
]


def markdown_table(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub Markdown table of ``df``.

    Args:
        df: any table; its column names are the header.
        floatfmt: format of float cells (NaN and inf as ``–``); other cells as ``str``, with
            ``|`` escaped.

    Returns:
        The table, one line per row, ending in a newline.
    """

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "–" if not math.isfinite(float(v)) else format(float(v), floatfmt)
        return str(v).replace("|", "\\|")

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def is_finite(v: Any) -> bool:
    """Whether ``v`` is a finite number (or text that parses as one)."""
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def fmt_num(v: Any, spec: str = ".3f") -> str:
    """``v`` formatted with ``spec``; ``–`` when it is not a finite number."""
    return format(float(v), spec) if is_finite(v) else "–"


def fmt_pm(m: Any, s: Any, spec: str = ".3f") -> str:
    """``mean ± std`` (``mean`` alone without a finite std; ``–`` without a finite mean)."""
    if not is_finite(m):
        return "–"
    return f"{float(m):{spec}} ± {float(s):{spec}}" if is_finite(s) else f"{float(m):{spec}}"


def fmt_ci(lo: Any, hi: Any, spec: str = ".3f") -> str:
    """``[lo, hi]``; ``–`` unless both ends are finite."""
    return f"[{float(lo):{spec}}, {float(hi):{spec}}]" if is_finite(lo) and is_finite(hi) else "–"


def fmt_gain(m: Any, lo: Any, hi: Any, spec: str = ".3f") -> str:
    """A signed gain and its CI, ``+0.123 [0.050, 0.200]``; ``–`` without a finite gain."""
    return f"{float(m):+{spec}} {fmt_ci(lo, hi, spec)}" if is_finite(m) else "–"


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
