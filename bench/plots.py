"""Matplotlib figures of SPF curves (Agg backend; PNG).

- :func:`plot_spf`: S against the diagonal for one clip, several curves (e.g. baseline and the
  last ReTime iteration), semantic keyframes marked.
- :func:`plot_run`: one such figure per item of a run directory, plus ``plots/summary.png``
  (mean Linearity Score per iteration).
- :func:`plot_keyframe_strip`: the semantic keyframes of a clip as thumbnails with their times
  and S values (post-hoc retiming, docs/method.md, Sec. 5).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from spf_bench.bench.results.record import parse_keyframes
from spf_bench.bench.results.rundir import RunDir
from spf_bench.bench.results.stats import final_records
from spf_bench.metrics.atomic_io import atomic_path

__all__ = ["plot_keyframe_strip", "plot_run", "plot_spf", "pyplot"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (imported when a figure is drawn)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """Save atomically: a unique temp file beside ``path``, fsynced, renamed (``atomic_path``)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    return path


def plot_spf(
    curves: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    title: str = "",
    keyframes: Sequence[int] = (),
    designed: np.ndarray | None = None,
    target: np.ndarray | None = None,
) -> Path:
    """Plot SPF curves ``S`` (shape ``(T,)``, in [0, 1]) against the diagonal.

    Args:
        curves: label -> S, in legend order.
        path: output PNG path (written atomically).
        title: figure title.
        keyframes: frames to mark (semantic keyframes of the first curve), frame units.
        designed: optional ground-truth progress of the first curve, shape ``(T,)``.
        target: optional target pacing curve (for non-linear pacing), shape ``(T,)``.

    Returns:
        The written path.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    first = next(iter(curves.values()))
    t = np.arange(first.size)
    ax.plot([0, first.size - 1], [0, 1], color="0.6", ls="--", lw=1, label="even pacing")
    if target is not None:
        ax.plot(t, target, color="0.3", ls=":", lw=1.2, label="target pacing")
    if designed is not None:
        ax.plot(t, designed, color="tab:green", lw=1, alpha=0.7, label="designed (ground truth)")
    for label, s in curves.items():
        ax.plot(np.arange(s.size), s, lw=1.8, label=label)
    kf = list(keyframes)
    for k in kf:
        ax.axvline(k, color="tab:red", lw=0.6, alpha=0.5)
    if kf:
        ax.plot(kf, first[kf], "o", color="tab:red", ms=3, label="semantic keyframes")
    ax.set_xlabel("frame")
    ax.set_ylabel("semantic progress S (normalised)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    try:
        return _save(fig, Path(path))
    finally:
        plt.close(fig)


def plot_run(run_dir: str | os.PathLike | RunDir, df) -> list[Path]:
    """Write ``plots/<item>.png`` for every item (its first finished iteration, normally the
    baseline, and its final record: :func:`spf_bench.bench.results.stats.final_records`) and
    ``plots/summary.png``; returns the paths.

    Args:
        run_dir: run directory holding ``spf/*.npz``.
        df: records table (:func:`spf_bench.bench.results.record.to_frame`).
    """
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    ok = df[df.status == "ok"]
    final = final_records(ok).set_index("item_id")
    out = []
    for item_id, g in ok.groupby("item_id"):
        g = g.sort_values("iteration")
        first, last = g.iloc[0], final.loc[item_id]
        curves = {}
        rows = [(first, "baseline (iteration 0)"), (last, f"iteration {last.iteration}")]
        for row, label in rows[: 1 if len(g) == 1 else 2]:
            curves[label] = rd.progress(row.spf_path)
        kf = [] if first.degenerate else parse_keyframes(first.keyframes)
        title = (
            f"{item_id} ({first.model}, {first.embedder}): Linearity {first.linearity_score:.3f}"
        )
        if len(g) > 1:
            title += f" -> {last.linearity_score:.3f}"
        out.append(plot_spf(curves, rd.plots_dir / f"{item_id}.png", title=title, keyframes=kf))
    if len(ok):
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        stats = ok.groupby("iteration").linearity_score.agg(["mean", "std", "count"])
        ax.errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=3)
        ax.set_xlabel("ReTime iteration (0 = baseline)")
        ax.set_ylabel("Linearity Score (mean ± std)")
        ax.set_xticks(list(stats.index))
        ax.grid(alpha=0.3)
        ax.set_title(f"{len(ok.item_id.unique())} videos", fontsize=9)
        try:
            out.append(_save(fig, rd.plots_dir / "summary.png"))
        finally:
            plt.close(fig)
    return out


def plot_keyframe_strip(
    rows: Sequence[tuple[str, np.ndarray, Sequence[int], np.ndarray, float]],
    path: str | os.PathLike,
    *,
    title: str = "",
) -> Path:
    """Thumbnails of keyframes, each captioned with its frame, time and S value.

    Args:
        rows: one strip per entry, ``(label, frames, keyframes, progress, fps)``: ``frames``
            ``(T, H, W, 3)`` uint8, ``keyframes`` frame indices into it, ``progress`` its ``S``
            of shape ``(T,)``, ``fps`` frames per second (times are ``frame / fps`` seconds).
        path: output PNG path (written atomically).
        title: figure title.

    Returns:
        The written path.

    Raises:
        ValueError: if a row has no keyframes or a keyframe is out of range.
    """
    plt = pyplot()
    n_cols = max(len(r[2]) for r in rows)
    aspects = [min(r[1].shape[1] / r[1].shape[2], 1.5) for r in rows]  # height / width
    fig, axes = plt.subplots(
        len(rows),
        n_cols,
        figsize=(1.9 * n_cols, sum(1.9 * a + 0.7 for a in aspects)),
        squeeze=False,
        gridspec_kw={"height_ratios": [1.9 * a + 0.7 for a in aspects]},
    )
    for r, (label, frames, kfs, s, fps) in enumerate(rows):
        if not len(kfs) or min(kfs) < 0 or max(kfs) >= len(frames):
            raise ValueError(f"row {label!r}: keyframes {list(kfs)} not in [0, {len(frames)})")
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(kfs):
                ax.axis("off")
                continue
            k = int(kfs[c])
            ax.imshow(frames[k])
            ax.set_xlabel(f"f {k} | {k / fps:.2f} s\nS = {float(s[k]):.3f}", fontsize=7)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=9)
    try:
        return _save(fig, Path(path))
    finally:
        plt.close(fig)
