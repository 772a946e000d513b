"""Calibrate the SPF settings on the ground-truth pacing suite (docs/method.md, Sec. 6).

The 24 sequences of :mod:`spf_bench.generators.pacing_gt` (rotation, zoom and crossfade of real
stills under designed progress profiles, 41 frames) are embedded once per embedder (cached,
:func:`spf_bench.bench.studies.calibrate_progress.embed_suite`); every setting of the sweep is
then an SPF solve on the cached embeddings (all 24 sequences share one banded factorisation per
setting), scored by the RMS of ``S`` against the designed progress ``P``
(:func:`spf_bench.bench.studies.pacing_gt.gt_errors`' ``rms_error``).

Two conditions:

- ``clean``: the rendered frames, as ``bench/studies/pacing_gt.py`` measures them;
- ``h264``: the same frames with 3 grey levels of per-frame Gaussian noise, H.264-encoded
  (CRF 18) and decoded, as a generated video reaches the bench. Local settings that win on
  clean frames can lose here: near pairs carry the noise.

The sweep: window ``k`` (frames), Gaussian width ``sigma`` (frames), distance power ``p``,
frame subsampling stride (1 = every frame, 2 = every other frame; ``S`` is compared with ``P``
at the kept frames) and a candidate distance correction, ``log_cos`` (each angle replaced by
``-log cos d``, which is additive along a path whose embedding correlation decays
exponentially with the change; evaluated here only: it did no better than ``power = 2``, to
which it reduces for small angles). ``lam`` stays 1e-5.

Outputs (``--out``, default ``results/spf_calibration``):

- ``sweep.csv``: one row per embedder x condition x setting: mean RMS error over the 24
  sequences and per transformation;
- ``best.csv`` / ``best.md``: per embedder and condition, the paper's defaults (30, 20, 1), the
  best setting of the sweep, the defaults with ``power = 2`` and with ``log_cos``;
- ``saturation.csv``: mean angular distance against frame offset, and against the designed
  progress difference ``|P_j - P_i|``, per embedder and transformation;
- ``calibration.png``: the error surface (window x sigma at the best power), error against
  power, and the saturation curves.

Usage::

    spf-bench study calibrate_spf --out results/spf_calibration \
        [--embedders pixel efficientnet_lite0] [--cache DIR] [--conditions clean h264]

Coverage of the per-record Linearity interval alone, for one SPF estimator (docs/method.md,
Sec. 1, *Estimators*; ``ci_coverage_<estimator>.csv``)::

    spf-bench study calibrate_spf --coverage-only --estimator paper --out DIR \
        [--coverage-takes 60 --coverage-truth 100 --coverage-resamples 100]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from scipy.linalg import cho_solve_banded

from spf_bench.bench.studies.cache import default_cache_dir
from spf_bench.bench.studies.calibrate_progress import (
    SuiteClip,
    add_noise,
    clip_seed,
    embed_suite,
    h264_roundtrip,
    write_csv,
)
from spf_bench.generators.morph import designed_profile
from spf_bench.generators.pacing_gt import SUITE, designed_progress, render
from spf_bench.metrics import spf
from spf_bench.metrics.atomic_io import atomic_path, atomic_write_text
from spf_bench.metrics.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from spf_bench.metrics.spf import CLIP_EPS

log = logging.getLogger("spf_bench")

__all__ = [
    "CONDITIONS",
    "GRID",
    "gt_clips",
    "load_suite",
    "main",
    "saturation_curves",
    "sweep",
]

CONDITIONS: tuple[str, ...] = ("clean", "h264")

#: The sweep grid (the paper's defaults 30, 20, 1 and stride 1 are on it).
GRID: dict[str, tuple[float, ...]] = {
    "window": (1, 2, 3, 4, 6, 8, 10, 15, 20, 30, 40),
    "sigma": (0.5, 1, 2, 3, 5, 8, 12, 20, 40, 1e3),
    "power": (0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
    "stride": (1, 2),
}
_N_FRAMES = 41


def _render_gt(k: int, condition: str) -> np.ndarray:
    frames = render(SUITE[k], _N_FRAMES)[0]
    if condition == "clean":
        return frames
    rng = np.random.default_rng(clip_seed(f"pacing_gt_h264-{SUITE[k].seq_id}"))
    return h264_roundtrip(add_noise(frames, 3.0, rng))


def gt_clips(condition: str = "clean") -> list[SuiteClip]:
    """The 24 ground-truth sequences as cacheable clips (ids as in the no-progress suite).

    Raises:
        ValueError: on an unknown condition.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    prefix = "pacing_gt" if condition == "clean" else "pacing_gt_h264"
    return [
        SuiteClip(f"{prefix}-{s.seq_id}", "pacing_gt", partial(_render_gt, k, condition))
        for k, s in enumerate(SUITE)
    ]


# ------------------------------------------------------------------------------- the sweep
def load_suite(
    embedder: str, condition: str, cache_dir: str | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Embeddings and designed progress of the 24 sequences.

    Returns:
        ``(seq_ids, Z, P)``: ``Z`` of shape ``(24, 41, D)`` float64 unit rows, ``P`` of shape
        ``(24, 41)`` (designed progress, 0 to 1).
    """
    clips = gt_clips(condition)
    embs = embed_suite(clips, embedder, cache_dir)
    z = np.stack([embs[c.clip_id] for c in clips]).astype(np.float64)
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    p = np.stack([designed_progress(s, _N_FRAMES) for s in SUITE])
    return [s.seq_id for s in SUITE], z, p


def _angles(z: np.ndarray) -> np.ndarray:
    """All pairwise angles ``(N, T, T)``, radians, with the SPF's arccos clip."""
    cos = np.einsum("nid,njd->nij", z, z)
    return np.arccos(np.clip(cos, -1.0 + CLIP_EPS, 1.0 - CLIP_EPS))


def _progress(
    ang: np.ndarray, window: int, sigma: float, power: float, correction: str = "none"
) -> np.ndarray:
    """``S`` of every clip from its angle matrix: the SPF's own banded solve, batched.

    Same result as :func:`spf_bench.metrics.spf.compute_spf_batch` with the no-progress test
    off (tested), without recomputing the angles for every setting.
    """
    n, t, _ = ang.shape
    k = min(int(window), t - 1)
    dist = np.zeros((n, k, t))
    for m in range(1, k + 1):
        d = np.diagonal(ang, offset=m, axis1=1, axis2=2)
        if correction == "log_cos":
            d = -np.log(np.maximum(np.cos(d), 1e-6))
        dist[:, m - 1, : t - m] = d**power
    factor = spf.banded_factor(t, k, float(sigma), 1e-5)
    raw = cho_solve_banded((factor, False), spf.normal_rhs(dist, spf.pair_weights(k, sigma)).T).T
    s, total = spf.monotone(raw)
    return s / np.where(total > 0, total, 1.0)[:, None]


def sweep(
    ids: Sequence[str],
    ang: np.ndarray,
    designed: np.ndarray,
    grid: dict[str, tuple[float, ...]] = GRID,
    corrections: Sequence[str] = ("none", "log_cos"),
) -> list[dict[str, Any]]:
    """RMS error of ``S`` against the designed progress for every setting of ``grid``.

    Args:
        ids: sequence ids (``<transform>-<profile>-<stills>``).
        ang: ``(N, T, T)`` angles from :func:`_angles`.
        designed: ``(N, T)`` designed progress.
        grid: ``window``, ``sigma``, ``power``, ``stride`` values.
        corrections: distance corrections to sweep.

    Returns:
        One dict per setting: ``window, sigma, power, stride, correction, rms`` (mean over
        sequences) and ``rms_<transform>`` per transformation.
    """
    transforms = [i.split("-")[0] for i in ids]
    kinds = list(dict.fromkeys(transforms))
    rows = []
    for stride, corr in itertools.product(grid["stride"], corrections):
        a = ang[:, :: int(stride), :: int(stride)]
        p = designed[:, :: int(stride)]
        for window, sigma, power in itertools.product(grid["window"], grid["sigma"], grid["power"]):
            if window >= a.shape[1] + 10:  # far beyond the clip: the same as T - 1
                continue
            err = np.sqrt(np.mean((_progress(a, window, sigma, power, corr) - p) ** 2, axis=1))
            row = {
                "window": int(window),
                "sigma": float(sigma),
                "power": float(power),
                "stride": int(stride),
                "correction": corr,
                "rms": float(err.mean()),
            }
            for kind in kinds:
                sel = [e for e, t in zip(err, transforms, strict=True) if t == kind]
                row[f"rms_{kind}"] = float(np.mean(sel))
            rows.append(row)
    return rows


def saturation_curves(
    ids: Sequence[str], ang: np.ndarray, designed: np.ndarray, bins: int = 10
) -> list[dict[str, Any]]:
    """Why ``S`` bends towards the diagonal: distance against offset and against true change.

    Per transformation: the mean angle ``D(m)`` between frames ``m`` apart, and the mean angle
    of all pairs binned by their designed progress difference ``|P_j - P_i|`` (0..1): a
    distance proportional to the change would be a straight line through 0; a concave curve
    (saturation) or a positive intercept (a floor) both flatten ``S``.

    Returns:
        Rows ``{transform, kind ("offset" | "dprogress"), x, mean_angle, n}``.
    """
    t = ang.shape[1]
    transforms = np.array([i.split("-")[0] for i in ids])
    rows = []
    iu = np.triu_indices(t, 1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    for kind in dict.fromkeys(transforms):
        sel = transforms == kind
        for m in range(1, min(30, t - 1) + 1):
            d = np.diagonal(ang[sel], offset=m, axis1=1, axis2=2)
            rows.append(
                {"transform": kind, "kind": "offset", "x": m, "mean_angle": float(d.mean()),
                 "n": int(d.size)}
            )  # fmt: skip
        dp = np.abs(designed[sel][:, :, None] - designed[sel][:, None, :])[:, iu[0], iu[1]]
        da = ang[sel][:, iu[0], iu[1]]
        for lo, hi in itertools.pairwise(edges):
            inside = (dp >= lo) & ((dp < hi) | (hi == 1.0))
            if inside.any():
                rows.append(
                    {"transform": kind, "kind": "dprogress", "x": 0.5 * (lo + hi),
                     "mean_angle": float(da[inside].mean()), "n": int(inside.sum())}
                )  # fmt: skip
    return rows


# ------------------------------------------------------------------------- interval coverage
#: Synthetic cases of the coverage check: (frames, designed profile, per-frame noise).
COVERAGE_CASES: tuple[tuple[int, str, float], ...] = tuple(
    (t, prof, noise)
    for t in (33, 81)
    for prof in ("sigmoid", "exponential", "step", "linear")
    for noise in (0.02, 0.05, 0.1)
)
_PROFILE_PARAMS = {
    "sigmoid": {"centre": 0.5, "steepness": 8.0},
    "exponential": {"rate": 2.0},
    "step": {"centre": 0.4, "width": 0.2},
    "linear": {},
}


def _synthetic_path(t: int, profile: str, dim: int = 64, total: float = 0.8) -> np.ndarray:
    """Unit embeddings along a great circle at angles ``total * P(u)`` (radians)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal(dim)
    a /= np.linalg.norm(a)
    b = rng.standard_normal(dim)
    b -= a * (a @ b)
    b /= np.linalg.norm(b)
    ang = total * designed_profile(profile, _PROFILE_PARAMS[profile], np.linspace(0, 1, t))
    return np.cos(ang)[:, None] * a + np.sin(ang)[:, None] * b


def coverage(
    cases: Sequence[tuple[int, str, float]] = COVERAGE_CASES,
    n_clips: int = 200,
    n_truth: int = 1000,
    n_boot: int = 200,
    dim: int = 64,
    estimator: str = "paper",
) -> list[dict[str, Any]]:
    """Coverage of ``linearity_ci`` on synthetic noisy clips with a known answer.

    Each case is a designed path (:func:`_synthetic_path`) plus independent isotropic Gaussian
    noise per frame (norm ``noise`` in expectation). The known answer is the expected
    Linearity of the case at its noise level (mean over ``n_truth`` independent takes, a
    separate sample); the interval of each of ``n_clips`` further takes should cover it 95% of
    the time. The noise-free Linearity is reported beside it: the gap is the noise's bias,
    which the interval does not claim to cover (:mod:`spf_bench.metrics.uncertainty`).
    ``estimator`` is the SPF estimator measured (:data:`spf_bench.metrics.estimators.ESTIMATORS`).

    Returns:
        One dict per case: ``frames, profile, noise, truth, noiseless, sd, mean_halfwidth,
        coverage, n_clips``.
    """
    rows = []
    for t, prof, noise in cases:
        base = _synthetic_path(t, prof, dim)

        def take(seed: int, boot: int, base=base, noise=noise) -> spf.SPFResult:
            rng = np.random.default_rng(seed)
            z = base + rng.normal(scale=noise / math.sqrt(dim), size=base.shape)
            return spf.compute_spf(
                z, progress_threshold=0.0, bootstrap=boot, seed=seed, estimator=estimator
            )

        truth = float(np.mean([spf.score_progress(take(10**6 + s, 0)).linearity_score
                               for s in range(n_truth)]))  # fmt: skip
        noiseless = spf.score_progress(spf.compute_spf(base, estimator=estimator)).linearity_score
        scores, cis = [], []
        for s in range(n_clips):
            r = take(s, n_boot)
            scores.append(spf.score_progress(r).linearity_score)
            cis.append(r.linearity_ci)
        ci = np.array(cis)
        rows.append(
            {
                "frames": t,
                "profile": prof,
                "noise": noise,
                "truth": truth,
                "noiseless": float(noiseless),
                "sd": float(np.std(scores)),
                "mean_halfwidth": float(np.mean(ci[:, 1] - ci[:, 0]) / 2),
                "coverage": float(np.mean((ci[:, 0] <= truth) & (truth <= ci[:, 1]))),
                "n_clips": n_clips,
            }
        )
        log.info("coverage %s", rows[-1])
    return rows


# ------------------------------------------------------------------------------- outputs
def _best(rows: Sequence[dict[str, Any]], **fixed: Any) -> dict[str, Any]:
    sel = [r for r in rows if all(r[k] == v for k, v in fixed.items())]
    return min(sel, key=lambda r: r["rms"])


def _summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per embedder x condition: the defaults, the best setting, the best per correction."""
    out = []
    for emb, cond in dict.fromkeys((r["embedder"], r["condition"]) for r in rows):
        rs = [r for r in rows if r["embedder"] == emb and r["condition"] == cond]
        picks = {
            "paper defaults (30, 20, 1)": _best(
                rs, window=30, sigma=20.0, power=1.0, stride=1, correction="none"
            ),
            "best of the sweep": _best(rs),
            "best, every frame, no correction": _best(rs, stride=1, correction="none"),
            "defaults + log_cos": _best(
                rs, window=30, sigma=20.0, power=1.0, stride=1, correction="log_cos"
            ),
            "defaults, power 2": _best(
                rs, window=30, sigma=20.0, power=2.0, stride=1, correction="none"
            ),
        }
        for what, r in picks.items():
            rest = {k: v for k, v in r.items() if k not in ("embedder", "condition")}
            out.append({"embedder": emb, "condition": cond, "setting": what, **rest})
    return out


def _markdown(summary: Sequence[dict[str, Any]], cov: Sequence[dict[str, Any]]) -> str:
    lines = [
        "# SPF settings on the ground-truth pacing suite",
        "",
        "Made by `spf-bench study calibrate_spf --out results/spf_calibration`.",
        "RMS of S against the designed progress, mean over the 24 sequences (41 frames);",
        "`clean`: rendered frames; `h264`: + 3 grey levels of noise, H.264 CRF 18.",
        "",
        "| embedder | condition | setting | window | sigma | power | stride | correction | "
        "RMS | rotation | zoom | crossfade |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary:
        lines.append(
            f"| {r['embedder']} | {r['condition']} | {r['setting']} | {r['window']} | "
            f"{r['sigma']:g} | {r['power']:g} | {r['stride']} | {r['correction']} | "
            f"{r['rms']:.4f} | {r.get('rms_rotation', math.nan):.4f} | "
            f"{r.get('rms_zoom', math.nan):.4f} | {r.get('rms_crossfade', math.nan):.4f} |"
        )
    if cov:
        lines += [
            "",
            "# Coverage of the Linearity interval (`--coverage`)",
            "",
            "Synthetic great-circle paths (64-d, 0.8 rad) under a designed profile, isotropic",
            "per-frame noise; truth = expected Linearity at that noise level (1000 separate",
            "takes); nominal 95%.",
            "",
            "| frames | profile | noise | truth | noise-free | sd | mean half-width | coverage |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in cov:
            lines.append(
                f"| {r['frames']} | {r['profile']} | {r['noise']:g} | {r['truth']:.4f} | "
                f"{r['noiseless']:.4f} | {r['sd']:.4f} | {r['mean_halfwidth']:.4f} | "
                f"{r['coverage']:.1%} |"
            )
        c = np.array([r["coverage"] for r in cov])
        lines += ["", f"Coverage over the {len(c)} cases: median {np.median(c):.1%}, "
                  f"range {c.min():.1%} - {c.max():.1%}."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _figure(path: Path, rows: Sequence[dict[str, Any]], sat: Sequence[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    embs = list(dict.fromkeys(r["embedder"] for r in rows))
    fig, axes = plt.subplots(len(embs), 5, figsize=(27, 4.6 * len(embs)), squeeze=False)
    for i, emb in enumerate(embs):
        rs = [r for r in rows if r["embedder"] == emb and r["stride"] == 1
              and r["correction"] == "none"]  # fmt: skip
        for j, cond in enumerate(CONDITIONS):
            ax = axes[i, j]
            rc = [r for r in rs if r["condition"] == cond and r["power"] == 1.0]
            if not rc:
                ax.axis("off")
                continue
            ws = sorted({r["window"] for r in rc})
            ss = sorted({r["sigma"] for r in rc})
            grid = np.full((len(ws), len(ss)), np.nan)
            for r in rc:
                grid[ws.index(r["window"]), ss.index(r["sigma"])] = r["rms"]
            im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(len(ss)), [f"{s:g}" for s in ss], fontsize=7)
            ax.set_yticks(range(len(ws)), ws, fontsize=7)
            ax.set_xlabel("sigma (frames)")
            ax.set_ylabel("window k (frames)")
            ax.plot(ss.index(20.0), ws.index(30), "r*", ms=12)
            ax.set_title(f"{emb}, {cond}: RMS(S - P), power 1 (star: paper)", fontsize=9)
            fig.colorbar(im, ax=ax)
        ax = axes[i, 2]
        for cond in CONDITIONS:
            for corr, ls in (("none", "-"), ("log_cos", "--")):
                rp = [r for r in rows if r["embedder"] == emb and r["condition"] == cond
                      and r["stride"] == 1 and r["correction"] == corr
                      and r["window"] == 30 and r["sigma"] == 20.0]  # fmt: skip
                if rp:
                    rp.sort(key=lambda r: r["power"])
                    ax.plot([r["power"] for r in rp], [r["rms"] for r in rp], ls, marker="o",
                            label=f"{cond}, {corr}")  # fmt: skip
        ax.set_xlabel("power p (window 30, sigma 20)")
        ax.set_ylabel("RMS(S - P)")
        ax.set_title(f"{emb}: error against power and correction", fontsize=9)
        ax.legend(fontsize=7)
        for col, kind, xlabel in (
            (3, "offset", "frame offset m"),
            (4, "dprogress", "designed progress difference |P_j - P_i|"),
        ):
            ax = axes[i, col]
            for tr in dict.fromkeys(r["transform"] for r in sat):
                rr = [r for r in sat if r["embedder"] == emb and r["transform"] == tr
                      and r["kind"] == kind and r["condition"] == "clean"]  # fmt: skip
                if rr:
                    ax.plot([0] + [r["x"] for r in rr], [0] + [r["mean_angle"] for r in rr],
                            marker=".", label=tr)  # fmt: skip
            ax.set_xlabel(xlabel)
            ax.set_ylabel("mean angle, rad")
            what = "offset" if kind == "offset" else "true change (straight = additive)"
            ax.set_title(f"{emb}, clean: distance against {what}", fontsize=9)
            ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (module docs)."""
    ap = argparse.ArgumentParser(
        prog="spf-bench study calibrate_spf", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--out", default="results/spf_calibration", help="output folder")
    ap.add_argument("--embedders", nargs="+", default=["pixel", "efficientnet_lite0"])
    ap.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    ap.add_argument("--cache", default=str(default_cache_dir()), help="embedding cache folder")
    ap.add_argument("--coverage", action="store_true", help="also the interval coverage check")
    ap.add_argument(
        "--coverage-only", action="store_true", help="only the coverage check (no sweep)"
    )
    ap.add_argument(
        "--estimator",
        choices=ESTIMATORS,
        default=DEFAULT_ESTIMATOR,
        help="SPF estimator of the coverage check (default: %(default)s)",
    )
    sizes = (("takes", 200, "noisy takes per case"), ("truth", 1000, "takes behind the truth"))
    for name, default, what in (*sizes, ("resamples", 200, "bootstrap resamples per take")):
        ap.add_argument(f"--coverage-{name}", type=int, default=default, help=what)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sizes = {"n_clips": args.coverage_takes, "n_truth": args.coverage_truth}
    sizes["n_boot"] = args.coverage_resamples
    if args.coverage_only:
        cov = coverage(estimator=args.estimator, **sizes)
        write_csv(out / f"ci_coverage_{args.estimator}.csv", cov)
        values = np.array([r["coverage"] for r in cov])
        print(
            f"coverage ({args.estimator}, {len(cov)} cases): median {np.median(values):.3f}, "
            f"mean {values.mean():.3f}, worst {values.min():.3f}"
        )
        return 0
    rows, sat = [], []
    for emb in args.embedders:
        for cond in args.conditions:
            ids, z, p = load_suite(emb, cond, args.cache)
            ang = _angles(z)
            for r in sweep(ids, ang, p):
                rows.append({"embedder": emb, "condition": cond, **r})
            for r in saturation_curves(ids, ang, p):
                sat.append({"embedder": emb, "condition": cond, **r})
    summary = _summary(rows)
    write_csv(out / "sweep.csv", rows)
    write_csv(out / "best.csv", summary)
    write_csv(out / "saturation.csv", sat)
    cov = coverage(estimator=args.estimator, **sizes) if args.coverage else []
    if cov:
        write_csv(out / "ci_coverage.csv", cov)

    atomic_write_text(out / "best.md", _markdown(summary, cov))
    _figure(out / "calibration.png", rows, sat)
    for r in summary:
        print(
            f"{r['embedder']:18s} {r['condition']:5s} {r['setting']:34s} k={r['window']:<3d} "
            f"sigma={r['sigma']:<5g} p={r['power']:<4g} stride={r['stride']} "
            f"{r['correction']:7s} RMS {r['rms']:.4f}"
        )
    print(f"wrote {out}/ in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
