"""The paper's figure types, the committed ``results/`` tables and ``results/README.md``.

Only reads run directories and the tables of ``bench/studies/pacing_gt.py`` and
``bench/studies/ablation.py``; ``make figures`` runs those, then ``spf-bench figures``
(:func:`main`). Figures (PNG and date-free PDF): :func:`fig_spf_before_after`,
:func:`fig_pacing_by_model`, :func:`fig_embedder_ablation`, :func:`fig_pacing_gt`,
:func:`fig_vbench`, :func:`fig_keyframe_strip`. Steps and file list: ``bench/views/README.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spf_bench.bench.plots import pyplot
from spf_bench.bench.results.record import parse_keyframes
from spf_bench.bench.results.rundir import RunDir, RunDirError
from spf_bench.bench.results.stats import final_records
from spf_bench.bench.studies import ablation as abl
from spf_bench.bench.studies import pacing_gt as pgt
from spf_bench.bench.views.leaderboard import build_leaderboard, write_leaderboard
from spf_bench.bench.views.load import GROUP_KEYS, load_records, resolve_runs, vbench_dimensions
from spf_bench.bench.views.render import fmt_pm, markdown_table, render
from spf_bench.generators.pacing_gt import TRANSFORMS
from spf_bench.metrics.atomic_io import atomic_path, atomic_write_text
from spf_bench.metrics.spf import SEGMENT_PENALTY, keyframes_from_segments, segment_progress
from spf_bench.metrics.vbench.verdict import verdict_table
from spf_bench.metrics.video_io import read_video

#: The checkout (run directories under it are listed relative to it).
ROOT = Path(__file__).resolve().parents[2]


__all__ = [
    "DEFAULT_ABLATION",
    "DEFAULT_PACING_GT",
    "DEFAULT_RUNS",
    "build_results",
    "fig_embedder_ablation",
    "fig_frames_by_path",
    "fig_keyframe_strip",
    "fig_pacing_by_model",
    "fig_pacing_gt",
    "fig_spf_before_after",
    "fig_vbench",
    "main",
    "provenance",
    "vbench_table",
]

#: Run directories of ``make figures`` (``conf/experiment/figures_*.yaml`` write them).
DEFAULT_RUNS: tuple[str, ...] = tuple(
    f"runs/figures/{m}-*" for m in ("morph", "footage", "wan22_toy")
)
#: Tables and curves of ``bench/studies/pacing_gt.py`` in ``make figures``.
DEFAULT_PACING_GT = "runs/figures/pacing_gt"
#: Tables and curves of ``bench/studies/ablation.py`` in ``make figures``.
DEFAULT_ABLATION = "runs/figures/ablation"
#: The commands of ``make figures`` (``results/README.md`` provenance).
MAKE_FIGURES = (
    "`make figures`: `spf-bench run experiment=figures_<model> embedder=<embedder> "
    "run_dir=runs/figures/<model>-<embedder>` for morph and footage with each embedder below "
    "and for wan22_toy with pixel, "
    "`spf-bench study pacing_gt`, `spf-bench study ablation`, then `spf-bench figures` "
    "(which only reads)"
)

EMBEDDER_COLORS: dict[str, str] = dict(
    efficientnet_lite0="tab:blue",
    pixel="tab:orange",
    siglip="tab:green",
    openclip="tab:purple",
    dinov2="tab:brown",
)
_RC = dict.fromkeys(("font.size", "axes.titlesize", "axes.labelsize"), 8) | dict.fromkeys(
    ("legend.fontsize", "xtick.labelsize", "ytick.labelsize"), 7
)
_GRID = np.linspace(0.0, 1.0, 101)
_PDF_DATES = ("CreationDate", "Producer", "Creator")  # left out of the PDF metadata


def _color(embedder: str) -> str:
    return EMBEDDER_COLORS.get(embedder, "tab:gray")


def _save(fig: Any, out_dir: str | os.PathLike, stem: str) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf`` (date-free) atomically; close the figure."""
    paths = [Path(out_dir) / f"{stem}.{ext}" for ext in ("png", "pdf")]
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    kws = ({"dpi": 150, "metadata": {"Software": None}}, {"metadata": dict.fromkeys(_PDF_DATES)})
    try:
        for path, kw in zip(paths, kws, strict=True):
            with atomic_path(path) as tmp:
                fig.savefig(tmp, bbox_inches="tight", **kw)
    finally:
        pyplot().close(fig)
    return paths


def _grid(rows: int, cols: int, w: float, h: float, **kw: Any) -> tuple[Any, Any]:
    """``rows`` x ``cols`` panels of ``w`` x ``h`` inches each (``axes`` always 2-D)."""
    return pyplot().subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False, **kw)


def _diagonal(ax: Any, end: float) -> None:
    """The even-pacing line from ``(0, 0)`` to ``(end, 1)``."""
    ax.plot([0, end], [0, 1], color="0.6", ls="--", lw=1, label="even pacing")


def _progress(row: Any) -> np.ndarray:
    """S of one record (``run_dir`` + ``spf_path``), shape ``(T,)``."""
    return RunDir(row.run_dir).progress(row.spf_path)


def _on_grid(s: np.ndarray) -> np.ndarray:
    return np.interp(_GRID, np.linspace(0.0, 1.0, s.size), s)


def _pick_embedder(records: Any, prefer: Sequence[str] = ("siglip", "efficientnet_lite0")) -> str:
    present = list(dict.fromkeys(records.embedder))
    return next((e for e in prefer if e in present), present[0] if present else "")


def _finish(
    ax: Any, xlabel: str, ylabel: str | None = None, legend: str | None = "upper left", top=1.02
):
    """Label ``ax``, clamp its y axis to S's range, grid it and place its legend."""
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, top)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(loc=legend)


def _note_figure(text: str, title: str, out_dir: Any, stem: str) -> list[Path]:
    """Save a figure that only says ``text`` as ``stem``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 1.6))
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=8, wrap=True)
    return _save(fig, out_dir, stem)


# ----------------------------------------------------------------------------------- figures
def fig_spf_before_after(
    records: Any, out_dir: str | os.PathLike, *, embedder: str | None = None, max_items: int = 8
) -> list[Path]:
    """S against the diagonal before and after retiming, one panel per item (at most
    ``max_items``): the diagonal, baseline ``S`` (iteration 0) and the final iteration's ``S`` of
    the retimed groups (retime other than ``none``, iteration > 0) for ``embedder`` (default
    ``siglip``, else ``efficientnet_lite0``, else the first present); the title gives both
    Linearity Scores. ``records``: :func:`spf_bench.bench.views.load.load_records`.

    Returns:
        The paths of ``spf_before_after.{png,pdf}`` in ``out_dir`` (a labelled note figure
        without retimed records).
    """
    plt = pyplot()
    ok = records[records.status == "ok"]
    retimed = ok[(ok.retime != "none") & (ok.iteration > 0)]
    if retimed.empty:
        note = "no retimed records (retime=none only)"
        return _note_figure(note, "S before and after retiming", out_dir, "spf_before_after")
    emb = embedder or _pick_embedder(retimed)
    sel = ok[(ok.embedder == emb) & ok.retime.isin(set(retimed.retime))]
    fin = final_records(sel)
    fin = fin[fin.iteration > 0].sort_values(["model", "item_id"]).head(max_items)
    n = len(fin)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    with plt.rc_context(_RC):
        fig, axes = _grid(rows, cols, 2.4, 2.3, sharey=True)
        key = ["model", "retime", "pacing", "item_id"]
        base = sel[sel.iteration == 0].drop_duplicates(key).set_index(key)
        for ax, r in zip(axes.ravel(), fin.itertuples(), strict=False):
            s1, ls0 = _progress(r), "?"
            _diagonal(ax, s1.size - 1)
            if (r.model, r.retime, r.pacing, r.item_id) in base.index:
                b = base.loc[(r.model, r.retime, r.pacing, r.item_id)]
                ax.plot(_progress(b), color="tab:red", lw=1.5, label="baseline (iteration 0)")
                ls0 = f"{b.linearity_score:.2f}"
            ax.plot(s1, color="tab:blue", lw=1.5, label="retimed (final iteration)")
            ax.set_title(
                f"{r.item_id} ({r.retime}, it. {r.iteration})\n"
                f"Linearity {ls0} → {r.linearity_score:.2f}"
            )
            _finish(ax, "frame", legend=None)
        for ax in axes[:, 0]:
            ax.set_ylabel("S (normalised)")
        for ax in axes.ravel()[n:]:
            ax.axis("off")
        legend = dict(loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.02), frameon=False)
        fig.legend(*axes[0, 0].get_legend_handles_labels(), **legend)
        models = ", ".join(sorted(set(fin.model)))
        title = f"Semantic progress S before and after retiming ({models}; embedder {emb})"
        fig.suptitle(title, fontsize=9)
        fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return _save(fig, out_dir, "spf_before_after")


def _stage_label(model: str, retime: str, iteration: int, final: bool) -> str:
    if retime == "none":
        return f"{model}"
    return f"{model}, {retime} (iteration {iteration})" if final else f"{model}, baseline"


def fig_pacing_by_model(records: Any, out_dir: str | os.PathLike) -> list[Path]:
    """Per-model pacing, one panel per embedder: per model and stage (``retime=none``: the
    clips; else baseline and final iteration) the mean over items of ``S`` on 101 points of
    normalised time ``t / (T - 1)``, with a ±1 std band clipped to [0, 1]. Returns the paths.
    """
    plt = pyplot()
    ok = records[records.status == "ok"]
    order = [*EMBEDDER_COLORS, *sorted(set(ok.embedder) - set(EMBEDDER_COLORS))]
    embs = [e for e in order if e in set(ok.embedder)]
    if not embs:
        return _note_figure("no ok records", "Pacing by model", out_dir, "pacing_by_model")
    styles = ["tab:red", "tab:blue", "tab:green", "tab:purple", "tab:olive", "tab:cyan", "k"]
    with plt.rc_context(_RC):
        fig, axes = _grid(1, len(embs), 3.6, 3.4, sharey=True)
        for ax, emb in zip(axes[0], embs, strict=True):
            sub = ok[ok.embedder == emb]
            curves: dict[str, list[np.ndarray]] = {}
            for (model, retime, _pacing), g in sub.groupby(["model", "retime", "pacing"]):
                fin = final_records(g)
                last = int(fin.iteration.max()) if len(fin) else 0
                stages = [(False, g[g.iteration == 0])] if retime != "none" else []
                for final, recs in [*stages, (True, fin)]:
                    cs = curves.setdefault(_stage_label(model, retime, last, final), [])
                    cs.extend(_on_grid(_progress(r)) for r in recs.itertuples())
            _diagonal(ax, 1)
            for i, (label, cs) in enumerate(sorted(curves.items())):
                a = np.stack(cs)
                m, s = a.mean(0), a.std(0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1])
                c = styles[i % len(styles)]
                ax.plot(_GRID, m, color=c, lw=1.6, label=f"{label} (n={len(a)})")
                lo, hi = np.clip(m - s, 0, 1), np.clip(m + s, 0, 1)
                ax.fill_between(_GRID, lo, hi, color=c, alpha=0.18, lw=0)
            ax.set_title(f"embedder: {emb}")
            ax.set_xlim(0, 1)
            _finish(ax, "normalised time t / (T − 1)")
        axes[0, 0].set_ylabel("S (normalised), mean ± 1 std over items")
        fig.suptitle("Semantic pacing by model and retime stage", fontsize=9)
        fig.tight_layout()
    return _save(fig, out_dir, "pacing_by_model")


def fig_pacing_gt(
    rows: Any,
    curves: dict[str, np.ndarray],
    out_dir: str | os.PathLike,
    *,
    profiles: Sequence[str] = ("sigmoid", "exp_down"),
    skipped: dict[str, str] | None = None,
) -> list[Path]:
    """Measured S against the designed progress of the ground-truth sequences: ``profiles``
    (rows) x transformations (columns), the first sequence of each pair, every embedder's ``S``
    with its RMS error. ``rows``, ``curves``: :class:`spf_bench.bench.studies.pacing_gt.
    PacingGTResult`; ``skipped``: ``{embedder: reason}``, noted. Returns the written paths.
    """
    plt = pyplot()
    df = pd.DataFrame(rows)
    if df.empty:
        return _note_figure("no pacing_gt rows", "Ground-truth pacing", out_dir, "pacing_gt")
    profiles = [p for p in profiles if p in set(df.profile)] or [df.profile.iloc[0]]
    transforms = [t for t in TRANSFORMS if t in set(df["transform"])]
    with plt.rc_context(_RC):
        fig, axes = _grid(len(profiles), len(transforms), 3.0, 2.7, sharey=True)
        for i, prof in enumerate(profiles):
            for j, tr in enumerate(transforms):
                ax = axes[i, j]
                sel = df[(df.profile == prof) & (df["transform"] == tr)]
                if sel.empty:
                    ax.axis("off")
                    continue
                seq = sel.seq_id.iloc[0]
                designed = curves[f"designed/{seq}"]
                ax.plot(designed, color="k", ls="--", lw=1.4, label="designed progress")
                for r in sel[sel.seq_id == seq].itertuples():
                    label = f"{r.embedder} (RMS {r.rms_error:.3f})"
                    s = curves[f"{r.embedder}/{seq}"]
                    ax.plot(s, color=_color(r.embedder), lw=1.4, label=label)
                ax.set_title(f"{tr}, {prof} profile\n{seq}")
                _finish(ax, "frame", legend="lower right")
            axes[i, 0].set_ylabel("progress (normalised)")
        title = "Ground-truth pacing: measured S vs designed progress"
        if skipped:
            title += f"\n(skipped, no weights: {', '.join(skipped)})"
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
    return _save(fig, out_dir, "pacing_gt")


def fig_embedder_ablation(
    gt_rows: Any,
    ablation_rows: Any,
    ablation_curves: dict[str, np.ndarray],
    out_dir: str | os.PathLike,
    *,
    skipped: dict[str, str] | None = None,
    clip: tuple[str, str] | None = None,
) -> list[Path]:
    """Embedder ablation: ground-truth error per embedder, and one clip's S per embedder.

    Left: mean RMS error of ``S`` against the designed progress per embedder and group
    (transformations of ``gt_rows``, :mod:`spf_bench.bench.studies.pacing_gt`; the ``morph``
    baseline videos of ``ablation_rows``), a dot per sequence. Right: ``S`` of ``clip =
    (model, item_id)`` (default ``footage/bikes`` if present) under every embedder, from
    ``ablation_curves`` (``"<embedder>/<model>/<item_id>"``), its top semantic jumps marked.
    ``skipped``: ``{embedder: reason}``, listed. Returns the written paths.
    """
    plt = pyplot()
    gt = pd.DataFrame(gt_rows)
    ab = pd.DataFrame(ablation_rows)
    groups: dict[str, Any] = {}
    for tr, g in gt.groupby("transform", sort=False) if len(gt) else ():
        groups[f"GT {tr}"] = g[["embedder", "rms_error"]]
    for model, g in ab.groupby("model") if len(ab) else ():
        g = g[np.isfinite(g.rms_s_vs_designed.astype(float))]
        if len(g):
            groups[f"{model} baseline"] = g[["embedder"]].assign(rms_error=g.rms_s_vs_designed)
    embs = list(dict.fromkeys([*gt.get("embedder", []), *ab.get("embedder", [])]))
    with plt.rc_context(_RC):
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 3.8), width_ratios=[1.1, 1.0])
        width = 0.8 / max(1, len(embs))
        labelled: set[str] = set()
        for j, emb in enumerate(embs):
            for i, (_label, g) in enumerate(groups.items()):
                v = g[g.embedder == emb].rms_error.astype(float).to_numpy()
                v = v[np.isfinite(v)]
                if not v.size:
                    continue
                x = i - 0.4 + width * (j + 0.5)
                label = None if emb in labelled else emb
                ax1.bar(x, v.mean(), width * 0.9, color=_color(emb), label=label, alpha=0.85)
                labelled.add(emb)
                ax1.plot(np.full(v.size, x), v, ".", color="k", ms=2.5, alpha=0.6)
        ax1.set_xticks(range(len(groups)), list(groups), rotation=15)
        ax1.set_ylabel("RMS error of S vs designed progress\n(fraction of total progress)")
        ax1.set_title("Ground-truth error per embedder (bar: mean; dots: sequences)")
        ax1.grid(axis="y", alpha=0.3)
        ax1.legend(loc="upper left")
        if not ab.empty:
            bikes = ((ab.model == "footage") & (ab.item_id == "bikes")).any()
            first = (str(ab.model.iloc[0]), str(ab.item_id.iloc[0]))
            model, item = clip or (("footage", "bikes") if bikes else first)
            sub = ab[(ab.model == model) & (ab.item_id == item)]
            n = 0
            for r in sub.itertuples():
                s = ablation_curves.get(f"{r.embedder}/{model}/{item}")
                if s is None:
                    continue
                n = s.size
                label = f"{r.embedder} (Linearity {r.linearity_score:.3f})"
                ax2.plot(s, color=_color(r.embedder), lw=1.4, label=label)
                jumps = [int(f) for f in str(r.jump_frames).split(";") if f.strip().isdigit()]
                if jumps:
                    ax2.plot(jumps, s[jumps], "v", color=_color(r.embedder), ms=5)
            if n:
                _diagonal(ax2, n - 1)
            ax2.set_title(f"S of {model}/{item} per embedder (▼ top-5 semantic jumps)")
            _finish(ax2, "frame", "S (normalised)")
        else:
            ax2.axis("off")
        title = "Embedder ablation"
        if skipped:
            title += " — skipped (weights not on this machine): " + ", ".join(skipped)
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
    return _save(fig, out_dir, "embedder_ablation")


def vbench_table(records: Any) -> Any:
    """VBench original-vs-retimed table: the one VBench verdict
    (:func:`spf_bench.metrics.vbench.verdict.verdict_table`, docs/method.md, Sec. 6) per
    (model, retime, embedder, pacing) group and dimension: mean ± std of the iteration-0 videos
    and of each item's last iteration > 0, and whether the retimed mean lies within one sample
    std of the original (``retime=none``: ``n_retimed`` 0, ``within_1_std`` None). Each run
    identity (``config_hash``) is judged on its own; dimensions it has no score for are left
    out.

    Returns:
        ``pandas.DataFrame`` with ``model, retime, embedder, pacing, config_hash, dimension,
        n_original, original_mean, original_std, n_retimed, retimed_mean, retimed_std,
        within_1_std``;
        empty (with these columns) when no record has a VBench score.
    """
    cols = [*GROUP_KEYS, "config_hash", "dimension", "n_original", "original_mean"]
    cols += ["original_std", "n_retimed", "retimed_mean", "retimed_std", "within_1_std"]
    ok = records[records.status == "ok"]
    dims = vbench_dimensions(ok) if len(ok) else []
    rows = []
    hashes = records["config_hash"] if "config_hash" in records else pd.Series("", records.index)
    for h, g in records.groupby(hashes.astype(str), sort=True) if dims else ():
        # one run identity at a time: two runs of the same setting names (e.g. 16 and 128
        # items of one model) are never pooled, as in the leaderboard's rows
        g_dims = [d for d in dims if np.isfinite(g[f"vbench_{d}"].to_numpy(np.float64)).any()]
        rows += [r | {"config_hash": h} for r in verdict_table(g, g_dims)] if g_dims else []
    rows.sort(key=lambda r: (*(r[k] for k in GROUP_KEYS), r["config_hash"]))
    return pd.DataFrame([r | {"within_1_std": r["within_one_std"]} for r in rows], columns=cols)


def fig_vbench(records: Any, out_dir: str | os.PathLike) -> tuple[list[Path], Any]:
    """VBench original-vs-retimed table as a figure (see :func:`vbench_table`).

    Returns:
        ``(paths, table)``. Without VBench scores the figure is a note saying so.
    """
    plt = pyplot()
    tab = vbench_table(records)
    if tab.empty:
        note = (
            "No VBench records: none of these runs has vbench_<dimension> record columns\n"
            "or a vbench.json beside records.parquet (see bench/views/load.py, VBench contract)."
        )
        return _note_figure(note, "VBench: original vs retimed", out_dir, "vbench"), tab

    cells = [
        [
            f"{r.model}/{r.retime}/{r.embedder}",
            r.dimension,
            f"{fmt_pm(r.original_mean, r.original_std)} (n={r.n_original})",
            f"{fmt_pm(r.retimed_mean, r.retimed_std)} (n={r.n_retimed})" if r.n_retimed else "–",
            {True: "yes", False: "no"}.get(r.within_1_std, "–"),
        ]
        for r in tab.itertuples()
    ]
    header = ["model/retime/embedder", "VBench dimension", "original (iteration 0)"]
    header += ["retimed (final iteration)", "within 1 std"]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(9.0, 0.6 + 0.28 * (len(cells) + 1)))
        ax.axis("off")
        t = ax.table(cellText=cells, colLabels=header, loc="center", cellLoc="left")
        t.auto_set_font_size(False)
        t.set_fontsize(7)
        t.auto_set_column_width(list(range(len(header))))
        ax.set_title("VBench scores: original vs retimed (mean ± std over items)", fontsize=9)
    return _save(fig, out_dir, "vbench"), tab


def _keyframes_for(row: Any, s: np.ndarray, max_keyframes: int) -> tuple[list[int], str]:
    """Keyframes from the record's metadata (a segment plan's) if it has them, else the
    record's ``keyframes`` column (placed by the measurement kernel on the paper estimator's
    ``S``), else segmented least squares on ``s``."""
    try:
        meta = json.loads(row.metadata or "{}")
    except ValueError:
        meta = {}
    kf = meta.get("keyframes")
    if kf is None and isinstance(meta.get("segment_plan"), dict):
        kf = meta["segment_plan"].get("keyframes")
    if kf is not None and len(kf) and max(kf) < s.size:
        return [int(k) for k in kf][:max_keyframes], "record metadata"
    kf = parse_keyframes(getattr(row, "keyframes", ""))
    if kf and max(kf) < s.size and len(kf) <= max_keyframes:
        return kf, "the record's keyframes (paper S)"
    kf = keyframes_from_segments(segment_progress(s))  # calibrated SEGMENT_PENALTY
    how = f"segmented least squares, penalty {SEGMENT_PENALTY:g} per piece"
    if len(kf) > max_keyframes:
        kf = keyframes_from_segments(segment_progress(s, k=max_keyframes - 1))
        how = f"segmented least squares ({max_keyframes - 1} pieces)"
    return kf, how


def fig_keyframe_strip(
    records: Any,
    out_dir: str | os.PathLike,
    *,
    item: tuple[str, str] | None = None,
    embedder: str | None = None,
    max_keyframes: int = 8,
) -> list[Path]:
    """A keyframe strip: S with its semantic keyframes (record metadata, else
    :func:`spf_bench.metrics.spf.segment_progress`, at most ``max_keyframes``) and their
    thumbnails (real decoder; frame, time ``frame / fps`` s, S), for ``item = (model, item_id)``
    (default ``footage/bikes`` if present, else the first) at iteration 0.

    Raises:
        FileNotFoundError: the record's video file is missing (run with ``save_videos=true``).
    """
    plt = pyplot()
    ok = records[records.status == "ok"]
    base = ok[(ok.iteration == 0) & ~ok.degenerate.astype(bool)]
    if base.empty:
        note = "no non-degenerate baseline records"
        return _note_figure(note, "Keyframe strip", out_dir, "keyframe_strip")
    emb = embedder or _pick_embedder(base)
    base = base[base.embedder == emb].sort_values(["model", "item_id"])
    model, item_id = item or ("footage", "bikes")
    pick = base[(base.model == model) & (base.item_id == item_id)]
    row = (pick if len(pick) or item else base).iloc[0]
    s = _progress(row)
    kf, how = _keyframes_for(row, s, max_keyframes)
    video = Path(row.run_dir) / str(row.video_path)
    if not row.video_path or not video.is_file():
        raise FileNotFoundError(f"keyframe strip needs the video {video} (save_videos=true)")
    frames, info = read_video(video)
    fps = float(row.fps) if math.isfinite(float(row.fps)) and row.fps > 0 else info.fps
    n = len(kf)
    width = max(6.5, 1.6 * n)
    thumb_h = width / n * frames.shape[1] / frames.shape[2] + 0.45  # thumbnail + caption, inches
    with plt.rc_context(_RC):
        fig = plt.figure(figsize=(width, 2.8 + thumb_h))
        gs = fig.add_gridspec(2, n, height_ratios=[2.8, thumb_h], hspace=0.5)
        ax = fig.add_subplot(gs[0, :])
        t = np.arange(s.size) / fps
        _diagonal(ax, t[-1])
        ax.plot(t, s, color=_color(emb), lw=1.6, label=f"S ({emb})")
        ax.plot(t[kf], s[kf], "o", color="tab:red", ms=4, label=f"keyframes ({how})")
        mark = {"textcoords": "offset points", "xytext": (3, -9), "fontsize": 7, "color": "tab:red"}
        for i, k in enumerate(kf):
            ax.axvline(t[k], color="tab:red", lw=0.6, alpha=0.35)
            ax.annotate(str(i + 1), (t[k], s[k]), **mark)
        _finish(ax, "time (s)", "S (normalised)", top=1.05)
        ax.set_title(
            f"{row.model}/{row.item_id}: semantic keyframes "
            f"(Linearity {row.linearity_score:.3f}, {s.size} frames at {fps:g} fps)"
        )
        for i, k in enumerate(kf):
            a = fig.add_subplot(gs[1, i])
            a.imshow(frames[min(k, len(frames) - 1)])
            a.set(xticks=[], yticks=[])
            a.set_xlabel(f"#{i + 1}: frame {k}\n{k / fps:.2f} s, S = {s[k]:.2f}", fontsize=7)
    return _save(fig, out_dir, "keyframe_strip")


def fig_frames_by_path(records: Any, out_dir: str | os.PathLike, *, n_items: int = 4) -> list[Path]:
    """Stock against ReTime frames, every retime path side by side, for a few items.

    For each model whose records hold saved videos of at least two retime paths (the
    mission's sweep, ``experiment=toy128``): the first ``n_items`` items (sorted) that every
    path retimed (else that every path has); per item one row of the stock video (iteration
    0 of the first path) and one row per retime path other than ``none`` (its final record,
    the highest ``ok`` iteration), each frame decoded from the run's video (real decoder),
    labelled with the record's Linearity and ``max_jump``. Written as
    ``frames_by_path_<model>.png/.pdf``.

    Args:
        records: :func:`spf_bench.bench.views.load.load_records` output.
        out_dir: folder of the figures.
        n_items: items shown per model.

    Returns:
        The paths written (none when no model has videos of two paths).
    """
    plt = pyplot()
    ok = records[(records.status == "ok") & (records.video_path.astype(str) != "")]
    written: list[Path] = []
    for model, g in ok.groupby("model", sort=True):
        order = ("none", "warped", "resample", "segmented")
        paths = sorted(set(g.retime), key=lambda r: (order.index(r) if r in order else 9, r))
        if len(paths) < 2:
            continue
        final = g.sort_values("iteration", kind="stable").groupby(["retime", "item_id"]).tail(1)
        per_path = {r: final[final.retime == r].set_index("item_id") for r in paths}
        every = set.intersection(*(set(t.index) for t in per_path.values()))
        retimed = {
            i
            for i in every
            if all(t.loc[i].iteration > 0 for r, t in per_path.items() if r != "none")
        }
        items = sorted(retimed or every)[:n_items]  # items every path retimed, when there are
        if not items:
            continue
        stock = g[(g.retime == paths[0]) & (g.iteration == 0)].set_index("item_id")
        shown = [p for p in paths if p != "none"]
        rows = []
        for item in items:
            picks = [("stock (iteration 0)", stock.loc[item])]
            picks += [
                (f"{p} (iteration {per_path[p].loc[item].iteration})", per_path[p].loc[item])
                for p in shown
            ]
            for label, rec in picks:
                frames, _ = read_video(Path(rec.run_dir) / str(rec.video_path))
                text = f"{item}: {label}, Linearity {rec.linearity_score:.3f}, "
                text += f"max jump {rec.max_jump:.3f}"
                rows.append((text, np.concatenate(list(frames), axis=1)))
        width = max(r[1].shape[1] for r in rows)
        with plt.rc_context(_RC):
            fig, axes = _grid(len(rows), 1, 0.55 * width / rows[0][1].shape[0], 0.75)
            for ax, (text, strip) in zip(axes[:, 0], rows, strict=True):
                ax.imshow(strip, interpolation="nearest")
                ax.set(xticks=[], yticks=[], xlim=(-0.5, width - 0.5))
                ax.set_title(text, fontsize=7, loc="left", pad=2)
        written += _save(fig, out_dir, f"frames_by_path_{model}")
    return written


# ----------------------------------------------------------------------------------- results
def build_results(
    run_specs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    gt: Any = None,
    ablation: Any = None,
    seed: int = 0,
    n_resamples: int | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, list[Path]]:
    """Leaderboard, tables and every figure from run directories (no new benchmark runs).

    Args:
        run_specs: run directories or globs.
        out: results folder (``figures/`` inside it).
        gt: the :class:`spf_bench.bench.studies.pacing_gt.PacingGTResult` to write
            (:func:`spf_bench.bench.studies.pacing_gt.read_outputs`), or ``None``.
        ablation: the :class:`spf_bench.bench.studies.ablation.AblationResult`, or ``None``.
        seed, n_resamples: bootstrap settings of the leaderboard.
        provenance: lines for ``README.md`` (only written when given).

    Returns:
        ``{name: [paths]}`` of everything written.
    """
    out = Path(out)
    figs = out / "figures"
    records = load_records(run_specs)
    kw = {} if n_resamples is None else {"n_resamples": n_resamples}
    lb = build_leaderboard(records, seed=seed, **kw)
    runs = ", ".join(sorted({_relative(p) for p in records.run_dir}))
    lb_csv = out / "leaderboard.csv"
    written = {"leaderboard": list(write_leaderboard(lb, lb_csv, sources=f"Runs: {runs}"))}
    written["spf_before_after"] = fig_spf_before_after(records, figs)
    written["pacing_by_model"] = fig_pacing_by_model(records, figs)
    vb_paths, vb = fig_vbench(records, figs)
    written["vbench"] = vb_paths
    no_vb = "No VBench records: none of the runs carries `vbench_<dimension>` columns or a "
    no_vb += "`vbench.json` (see the VBench contract in `bench/views/load.py`).\n"
    vb_note = no_vb if vb.empty else markdown_table(vb)
    written["vbench_table"] = [
        atomic_write_text(out / "vbench_table.csv", vb.to_csv(index=False)),
        atomic_write_text(out / "vbench_table.md", "# VBench: original vs retimed\n\n" + vb_note),
    ]
    written["keyframe_strip"] = fig_keyframe_strip(records, figs)
    written["frames_by_path"] = fig_frames_by_path(records, figs)
    gt_md = ab_md = "#\n\n_not run_\n"
    if gt is not None:
        written["pacing_gt_tables"] = list(pgt.write_outputs(gt, out).values())
        written["pacing_gt"] = fig_pacing_gt(gt.rows, gt.curves, figs, skipped=gt.skipped)
        gt_md = (out / "pacing_gt_summary.md").read_text()
    if ablation is not None:
        written["ablation_tables"] = list(abl.write_outputs(ablation, out).values())
        gt_rows, gt_skipped = (gt.rows, gt.skipped) if gt is not None else ([], {})
        skipped = {**gt_skipped, **ablation.skipped}
        written["embedder_ablation"] = fig_embedder_ablation(
            gt_rows, ablation.rows, ablation.curves, figs, skipped=skipped
        )
        ab_md = (out / "ablation.md").read_text()
    if provenance is not None:  # template results_readme.md.j2; the tables without headings
        md = dict(leaderboard=(out / "leaderboard.md").read_text(), pacing_gt=gt_md, ablation=ab_md)
        ctx = {k: v.split("\n", 2)[2] for k, v in md.items()} | dict(vbench=vb_note)
        ctx |= dict(provenance=provenance, exists=lambda rel: (out / rel).is_file())
        text = render("results_readme.md.j2", **ctx)
        written["readme"] = [atomic_write_text(out / "README.md", text)]
    return written


def _relative(path: str | os.PathLike) -> str:
    p = Path(path)
    if p.is_absolute() and p.is_relative_to(ROOT):
        return os.path.relpath(p, ROOT)
    return str(p)


def provenance(
    run_specs: Sequence[str | os.PathLike], *, gt: Any = None, command: str = MAKE_FIGURES
) -> dict[str, Any]:
    """Provenance lines of ``results/README.md``, read from what the runs recorded.

    Args:
        run_specs: run directories or globs (:func:`spf_bench.bench.views.load.resolve_runs`).
        gt: the :class:`spf_bench.bench.studies.pacing_gt.PacingGTResult` shown, if any.
        command: how the inputs were made.

    Returns:
        ``{label: text}``: the command, each run's settings and config hash (``config.json``),
        the ground-truth benchmark's settings, the git commits and library versions.

    Raises:
        FileNotFoundError: nothing matches ``run_specs``.
        spf_bench.bench.results.rundir.RunDirError: a run's ``config.json`` is missing or
            unreadable.
    """
    runs, shas, versions = [], [], []
    for d in resolve_runs(run_specs):
        info = RunDir(d).config()
        cfg = info.get("config", {})
        spf = cfg.get("spf") or {}
        desc = " ".join(f"{k}={(cfg.get(k) or {}).get('name', '?')}" for k in GROUP_KEYS)
        spf_desc = ", ".join(f"{k} {v}" for k, v in spf.items())
        runs.append(
            f"\n  - `{_relative(d)}`: `{desc} n_videos={cfg.get('n_videos', '?')}` "
            f"(SPF: {spf_desc}; config hash `{info.get('config_hash', '?')}`)"
        )
        shas.append(str(info.get("git_sha", "unknown")))
        versions.append(info.get("versions") or {})
    out: dict[str, Any] = {
        "command": command,
        "runs (settings from each run's `config.json`)": "".join(runs),
    }
    if gt is not None:
        st = gt.settings or {}
        ran = list(dict.fromkeys(r["embedder"] for r in gt.rows))
        out["pacing_gt"] = (
            f"{st.get('n_sequences', '?')} sequences x {st.get('n_frames', '?')} frames at "
            f"{st.get('size', '?')} px; embedders: {', '.join(ran) or 'none'}"
            + (f"; skipped (no weights): {', '.join(gt.skipped)}" if gt.skipped else "")
        )
    out["git_sha (runs)"] = ", ".join(dict.fromkeys(shas))
    for lib in ("python", "torch", "numpy"):
        vs = list(dict.fromkeys(str(v[lib]) for v in versions if lib in v))
        if vs:
            out[lib] = ", ".join(vs)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``spf-bench figures`` (step 4 of the module docs): read the runs and tables, write
    ``--out``.

    Args:
        argv: the command line after ``figures`` (default: ``sys.argv[1:]``).

    Returns:
        0 on success, 2 when an input is missing (one line on stderr saying what to run).
    """
    parser = argparse.ArgumentParser(prog="spf-bench figures", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("runs", nargs="*", default=list(DEFAULT_RUNS), help="run directories or globs")
    what = "folder of bench/studies/{}.py's tables and curves ('none' to leave them out)"
    add("--pacing-gt", default=DEFAULT_PACING_GT, help=what.format("pacing_gt"))
    add("--ablation", default=DEFAULT_ABLATION, help=what.format("ablation"))
    add("--out", default="results", help="results folder")
    add("--seed", type=int, default=0, help="bootstrap seed of the leaderboard")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    gt_dir, ab_dir = (
        None if v.strip().lower() in ("", "none") else v for v in (args.pacing_gt, args.ablation)
    )
    try:
        gt = pgt.read_outputs(gt_dir) if gt_dir else None
        ab = abl.read_outputs(ab_dir) if ab_dir else None
        prov = provenance(args.runs, gt=gt)
        written = build_results(
            args.runs, args.out, gt=gt, ablation=ab, seed=args.seed, provenance=prov
        )
    except (FileNotFoundError, RunDirError) as e:
        print(f"figures: {e} (`make figures` makes every input)", file=sys.stderr)
        return 2
    for name, paths in written.items():
        print(f"{name}: {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
