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

__all__ = ["markdown_table", "render_markdown"]


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
