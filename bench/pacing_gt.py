"""Ground-truth pacing benchmark: does the SPF recover a *designed* progress?

The paper's synthetic check (method spec Sec. 6): sequences whose pacing is designed, e.g. a
rotating object with a designed angular-velocity profile, should give an SPF that tracks the
designed profile. This module builds such sequences from real stills (:mod:`generators.stills`)
and measures how well each embedder's SPF ``S`` recovers the designed progress ``P``.

Transformations (``u = p / (n - 1)`` the normalised time of a frame at position ``p`` frames,
``P(u)`` a designed profile of :func:`generators.morph.designed_profile`, monotone from 0 to 1):

============  ===================================================  ==========================
transform     frame at normalised time ``u``                       designed progress
============  ===================================================  ==========================
rotation      the still's inscribed disc rotated by                ``theta(u) / theta_total``
              ``theta(u) = theta_total * P(u)`` (degrees,          ``= P(u)``
              counter-clockwise) on a grey background; angular
              velocity ``theta_total * P'(u) / (n - 1)`` deg/frame
zoom          centre crop of side ``L / s(u)`` resized to the      ``log s(u) / log s_max``
              frame, ``s(u) = s_max ** P(u)``: a designed          ``= P(u)``
              logarithmic scale rate ``d log s / du =
              log(s_max) P'(u)``
crossfade     ``(1 - alpha(u)) A + alpha(u) B`` with               ``alpha(u) = P(u)``
              ``alpha = P``
============  ===================================================  ==========================

The ground truth assumes semantic change proportional to rotation angle, to log-scale and to the
mixing weight. The first two are the natural uniform rates of those motions; the third is only
approximately true (a 50/50 blend may already read as ``B``), which the crossfade rows show.

Profiles (fixed, not drawn): ``sigmoid`` (centre 0.5, steepness 12), ``exp_up`` (rate 3, slow
then fast), ``exp_down`` (rate -3, fast then slow), ``step`` (smoothstep over [0.25, 0.75],
static before and after). Each transformation runs on two stills (two pairs for the crossfade):
24 sequences in all (:data:`SUITE`).

Errors per sequence (:func:`gt_errors`): ``max_error = max |S - P|`` and
``rms_error = sqrt(mean (S - P)^2)`` (both in units of the total progress, 0..1), and
``slope_spearman``, the Spearman rank correlation (``scipy.stats.spearmanr``) of the per-frame
slopes ``diff(S)`` and ``diff(P)`` (NaN when either is constant).

Three ways in:

- ``python -m bench.pacing_gt --out results`` (or ``python bench/pacing_gt.py``): every embedder
  of :data:`metrics.embedders.EMBEDDERS`; those whose weights are absent are listed as skipped
  with the reason. Writes ``pacing_gt.csv`` (one row per embedder x sequence),
  ``pacing_gt_summary.csv`` / ``.md`` (per embedder x transformation) and, with ``--curves``,
  an npz of every ``S`` and ``P`` for :mod:`bench.figures`.
- ``python bench/run.py experiment=pacing_gt embedder=pixel``: the same sequences as a Hydra model
  (:class:`PacingGTGenerator`, ``conf/model/pacing_gt.yaml``) through the standard pipeline, so the
  records carry ``gt_rms_error`` and the leaderboard picks them up; it honours warped positions,
  so ``retime=warped`` works on it too. :func:`analyze_run` adds max error and slope Spearman
  from such a run directory (``python -m bench.pacing_gt --runs RUN_DIR...``).
- :func:`run_pacing_gt` from Python.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/pacing_gt.py` from a checkout
    sys.path.insert(0, str(ROOT))

from generators.base import (  # noqa: E402
    GeneratedVideo,
    GenerationRequest,
    GeneratorError,
    stock_positions,
)
from generators.morph import crossfade, designed_profile  # noqa: E402
from generators.stills import load_still  # noqa: E402

log = logging.getLogger("spf_bench")

__all__ = [
    "PROFILES",
    "SUITE",
    "TRANSFORMS",
    "GTSpec",
    "PacingGTGenerator",
    "analyze_run",
    "build_or_skip",
    "designed_progress",
    "gt_errors",
    "main",
    "render",
    "run_pacing_gt",
    "summarise",
]

TRANSFORMS: tuple[str, ...] = ("rotation", "zoom", "crossfade")

#: Designed profiles: name -> (profile of :func:`generators.morph.designed_profile`, params).
PROFILES: dict[str, tuple[str, dict[str, float]]] = {
    "sigmoid": ("sigmoid", {"centre": 0.5, "steepness": 12.0}),
    "exp_up": ("exponential", {"rate": 3.0}),
    "exp_down": ("exponential", {"rate": -3.0}),
    "step": ("step", {"centre": 0.5, "width": 0.25}),
}

#: Stills per transformation (crossfades go from the first still of a pair to the second).
_STILLS: dict[str, tuple[tuple[str, ...], ...]] = {
    "rotation": (("chelsea",), ("coffee",)),
    "zoom": (("astronaut",), ("china",)),
    "crossfade": (("chelsea", "coffee"), ("astronaut", "rocket")),
}

_BACKGROUND = 128  # grey level outside the rotating disc


@dataclass(frozen=True)
class GTSpec:
    """One ground-truth sequence.

    Attributes:
        transform: one of :data:`TRANSFORMS`.
        profile: key of :data:`PROFILES`.
        stills: one still name (rotation, zoom) or two (crossfade: start, end).
    """

    transform: str
    profile: str
    stills: tuple[str, ...]

    @property
    def seq_id(self) -> str:
        """Stable identifier, e.g. ``rotation-sigmoid-chelsea``."""
        return "-".join((self.transform, self.profile, *self.stills))


def _suite() -> tuple[GTSpec, ...]:
    # Interleaved so that any prefix covers every transformation and profile early.
    out = []
    for k in range(2):
        for profile in PROFILES:
            for transform in TRANSFORMS:
                out.append(GTSpec(transform, profile, _STILLS[transform][k]))
    return tuple(out)


#: The 24 sequences of the benchmark, in item order.
SUITE: tuple[GTSpec, ...] = _suite()


def _spec_from_extra(extra: dict[str, Any]) -> GTSpec:
    try:
        spec = GTSpec(str(extra["transform"]), str(extra["profile"]), tuple(extra["stills"]))
    except (KeyError, TypeError) as e:
        raise GeneratorError(f"pacing_gt request lacks transform/profile/stills: {e}") from e
    _check_spec(spec)
    return spec


def _check_spec(spec: GTSpec) -> None:
    if spec.transform not in TRANSFORMS:
        raise ValueError(f"transform {spec.transform!r} is not one of {TRANSFORMS}")
    if spec.profile not in PROFILES:
        raise ValueError(f"profile {spec.profile!r} is not one of {tuple(PROFILES)}")
    need = 2 if spec.transform == "crossfade" else 1
    if len(spec.stills) != need:
        raise ValueError(f"{spec.transform} needs {need} still(s), got {spec.stills}")


def _normalised_time(positions: np.ndarray | None, n_frames: int) -> np.ndarray:
    if n_frames < 2:
        raise ValueError(f"n_frames must be >= 2, got {n_frames}")
    pos = stock_positions(n_frames) if positions is None else np.asarray(positions, float)
    if pos.shape != (n_frames,) or not np.isfinite(pos).all():
        raise ValueError(f"positions must be finite with shape ({n_frames},), got {pos.shape}")
    return np.clip(pos, 0.0, n_frames - 1.0) / (n_frames - 1.0)


def designed_progress(
    spec: GTSpec, n_frames: int, positions: np.ndarray | None = None
) -> np.ndarray:
    """The designed progress ``P(u)`` of every output frame.

    Args:
        spec: the sequence.
        n_frames: number of frames ``n`` (>= 2).
        positions: time positions in frame units, shape ``(n,)`` (clipped to ``[0, n - 1]``);
            ``None`` for the stock positions ``0..n-1``.

    Returns:
        ``np.ndarray`` of shape ``(n,)``, float64, non-decreasing in ``u``, in ``[0, 1]``.

    Raises:
        ValueError: on an invalid spec, ``n < 2`` or bad positions.
    """
    _check_spec(spec)
    profile, params = PROFILES[spec.profile]
    return designed_profile(profile, params, _normalised_time(positions, n_frames))


def _rotate_disc(img: np.ndarray, angles_deg: np.ndarray) -> np.ndarray:
    from PIL import Image

    size = img.shape[0]
    yy, xx = np.mgrid[:size, :size]
    c = (size - 1) / 2.0
    disc = ((yy - c) ** 2 + (xx - c) ** 2) <= (size / 2.0 - 1.0) ** 2
    pil = Image.fromarray(img)
    out = np.full((angles_deg.size, *img.shape), _BACKGROUND, dtype=np.uint8)
    for t, a in enumerate(angles_deg):
        rot = np.asarray(pil.rotate(float(a), resample=Image.Resampling.BICUBIC))
        out[t][disc] = rot[disc]
    return out


def _zoom(img: np.ndarray, scales: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    big = img.shape[0]
    pil = Image.fromarray(img)
    out = np.empty((scales.size, size, size, 3), dtype=np.uint8)
    c = big / 2.0
    for t, s in enumerate(scales):
        half = big / (2.0 * float(s))
        box = (c - half, c - half, c + half, c + half)  # float box: sub-pixel continuous zoom
        out[t] = np.asarray(pil.resize((size, size), Image.Resampling.BICUBIC, box=box))
    return out


def render(
    spec: GTSpec,
    n_frames: int,
    *,
    size: int = 224,
    positions: np.ndarray | None = None,
    rotation_degrees: float = 180.0,
    zoom_max: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one ground-truth sequence.

    Steps: 1. normalised time ``u`` of each frame from its position; 2. designed progress
    ``P(u)``; 3. the transformation at ``P`` (see module docs).

    Args:
        spec: the sequence.
        n_frames: number of frames ``n`` (>= 2).
        size: side of the square frames, pixels.
        positions: time positions in frame units, shape ``(n,)``; ``None`` = ``0..n-1``.
            Fractional positions render exactly (the transformations are continuous in time).
        rotation_degrees: total rotation ``theta_total``, degrees.
        zoom_max: final zoom factor ``s_max`` (> 1).

    Returns:
        ``(frames, progress)``: ``np.ndarray`` of shape ``(n, size, size, 3)``, uint8 RGB, and the
        designed progress, shape ``(n,)``, float64 in ``[0, 1]``.

    Raises:
        ValueError: on an invalid spec, size, positions, ``zoom_max <= 1`` or a non-finite angle.
    """
    if int(size) < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    if not (math.isfinite(rotation_degrees) and rotation_degrees != 0):
        raise ValueError(f"rotation_degrees must be finite and non-zero, got {rotation_degrees}")
    if not (math.isfinite(zoom_max) and zoom_max > 1):
        raise ValueError(f"zoom_max must be > 1, got {zoom_max}")
    p = designed_progress(spec, int(n_frames), positions)
    size = int(size)
    if spec.transform == "rotation":
        frames = _rotate_disc(load_still(spec.stills[0], size), rotation_degrees * p)
    elif spec.transform == "zoom":
        src = load_still(spec.stills[0], math.ceil(size * zoom_max))
        frames = _zoom(src, zoom_max**p, size)
    else:
        frames = crossfade(load_still(spec.stills[0], size), load_still(spec.stills[1], size), p)
    return frames, p


class PacingGTGenerator:
    """The ground-truth sequences as a :class:`generators.base.Generator` (``model=pacing_gt``).

    ``name = "pacing_gt"``, ``honours_positions = True`` (every transformation is continuous in
    time), ``bands = 0``. ``metadata["designed_progress"]`` carries the ground truth, so the
    pipeline records ``gt_rms_error``.

    Args:
        n_frames: frames per sequence (>= 3).
        fps: frame rate, frames per second.
        size: side of the square frames, pixels.
        rotation_degrees: total rotation of the rotation sequences, degrees.
        zoom_max: final zoom factor of the zoom sequences.
        transforms: subset of :data:`TRANSFORMS` to include.

    Raises:
        ValueError: on invalid arguments.
    """

    name = "pacing_gt"
    honours_positions = True
    bands = 0

    def __init__(
        self,
        n_frames: int = 41,
        fps: float = 16.0,
        size: int = 224,
        rotation_degrees: float = 180.0,
        zoom_max: float = 3.0,
        transforms: Sequence[str] = TRANSFORMS,
    ) -> None:
        if int(n_frames) < 3:
            raise ValueError(f"n_frames must be >= 3, got {n_frames}")
        if not float(fps) > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        bad = [t for t in transforms if t not in TRANSFORMS]
        if bad or not transforms:
            raise ValueError(f"transforms must be a non-empty subset of {TRANSFORMS}, got {bad}")
        self.n_frames, self.fps, self.size = int(n_frames), float(fps), int(size)
        self.rotation_degrees, self.zoom_max = float(rotation_degrees), float(zoom_max)
        self.specs = tuple(s for s in SUITE if s.transform in set(transforms))

    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """The first ``n_videos`` sequences of :data:`SUITE` (``seed`` is recorded, unused).

        Raises:
            GeneratorError: if more sequences are asked for than the suite holds.
            ValueError: if ``n_videos`` is negative.
        """
        if int(n_videos) < 0:
            raise ValueError(f"n_videos must be >= 0, got {n_videos}")
        if int(n_videos) > len(self.specs):
            raise GeneratorError(
                f"asked for {n_videos} pacing_gt sequences; the suite holds {len(self.specs)}"
            )
        return [
            GenerationRequest(
                item_id=s.seq_id,
                seed=int(seed),
                n_frames=self.n_frames,
                fps=self.fps,
                extra={"transform": s.transform, "profile": s.profile, "stills": list(s.stills)},
            )
            for s in self.specs[: int(n_videos)]
        ]

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Render ``request`` at its positions (stock when ``None``).

        Returns:
            :class:`GeneratedVideo` with ``metadata``: ``designed_progress`` (list of floats,
            the ground truth per output frame), ``transform``, ``profile``, ``stills``,
            ``rotation_degrees``, ``zoom_max``.

        Raises:
            GeneratorError: on per-band positions, a bad shape or an unknown spec.
        """
        spec = _spec_from_extra(request.extra or {})
        pos = request.positions
        if pos is not None and np.asarray(pos).ndim != 1:
            raise GeneratorError("pacing_gt has no RoPE bands: positions must have shape (n,)")
        try:
            frames, p = render(
                spec,
                int(request.n_frames),
                size=self.size,
                positions=pos,
                rotation_degrees=self.rotation_degrees,
                zoom_max=self.zoom_max,
            )
        except ValueError as e:
            raise GeneratorError(f"pacing_gt {request.item_id!r}: {e}") from e
        return GeneratedVideo(
            frames=frames,
            fps=float(request.fps),
            metadata={
                "generator": self.name,
                "transform": spec.transform,
                "profile": spec.profile,
                "stills": list(spec.stills),
                "rotation_degrees": self.rotation_degrees,
                "zoom_max": self.zoom_max,
                "designed_progress": [float(x) for x in p],
            },
        )


# ------------------------------------------------------------------------------------ errors
def gt_errors(progress: np.ndarray, designed: np.ndarray) -> dict[str, float]:
    """Errors of a measured SPF against the designed progress.

    Args:
        progress: measured ``S``, shape ``(T,)``, normalised to run from 0 to 1.
        designed: designed progress ``P``, shape ``(T,)``; rescaled to run from 0 to 1.

    Returns:
        ``{"max_error": max |S - P|, "rms_error": sqrt(mean (S - P)^2),
        "slope_spearman": Spearman rho of diff(S) and diff(P)}``; errors are fractions of the
        total progress; slopes are rounded to 1e-12 before ranking; rho is NaN when either
        slope sequence is constant.

    Raises:
        ValueError: on shape mismatch, ``T < 3``, non-finite values or a flat ``P``.
    """
    from scipy.stats import spearmanr

    s = np.asarray(progress, dtype=np.float64)
    d = np.asarray(designed, dtype=np.float64)
    if s.shape != d.shape or s.ndim != 1 or s.size < 3:
        raise ValueError(
            f"progress and designed must share shape (T,), T >= 3: {s.shape} {d.shape}"
        )
    if not (np.isfinite(s).all() and np.isfinite(d).all()):
        raise ValueError("progress and designed must be finite")
    if d[-1] == d[0]:
        raise ValueError("designed progress is flat: nothing to compare")
    d = (d - d[0]) / (d[-1] - d[0])
    err = s - d
    # Slopes rounded to 1e-12 of the total progress: float noise must not rank (a linear S
    # has constant slopes, not slopes ordered by rounding error).
    ds, dd = np.round(np.diff(s), 12), np.round(np.diff(d), 12)
    if np.ptp(ds) == 0 or np.ptp(dd) == 0:
        rho = math.nan
    else:
        rho = float(spearmanr(ds, dd).statistic)
    return {
        "max_error": float(np.max(np.abs(err))),
        "rms_error": float(np.sqrt(np.mean(err**2))),
        "slope_spearman": rho,
    }


# ------------------------------------------------------------------------------------ runner
@dataclass
class PacingGTResult:
    """Output of :func:`run_pacing_gt`.

    Attributes:
        rows: one dict per (embedder, sequence): ``embedder, seq_id, transform, profile,
            stills, n_frames, max_error, rms_error, slope_spearman, linearity_score,
            total_change, degenerate, seconds``.
        skipped: ``{embedder: reason}`` for embedders that could not be built.
        curves: ``{f"{embedder}/{seq_id}": S}`` and ``{f"designed/{seq_id}": P}``, shape ``(T,)``.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)


def build_or_skip(name: str, kwargs: dict[str, Any]) -> tuple[Any, str]:
    """An embedder, or ``(None, reason)`` when its weights are not on this machine.

    Args:
        name: embedder name (:data:`metrics.embedders.EMBEDDERS`).
        kwargs: keyword arguments of :func:`metrics.embedders.build_embedder`.

    Returns:
        ``(embedder, "")`` or ``(None, "MissingWeightsError: <model id> is not in the local
        Hugging Face cache (offline)")``; the reason names no local path, so committed tables
        do not depend on the machine. Other errors propagate.
    """
    from metrics.embedders import MissingWeightsError, build_embedder

    try:
        return build_embedder(name, progress=False, **kwargs), ""
    except MissingWeightsError as e:
        where = (
            "is not in the local Hugging Face cache (offline)"
            if not kwargs.get("weights")
            else "was not found at the given weights path"
        )
        return None, f"MissingWeightsError: {e.model_id} {where}"


def run_pacing_gt(
    embedders: Sequence[str] | None = None,
    *,
    n_frames: int = 41,
    size: int = 224,
    specs: Sequence[GTSpec] = SUITE,
    rotation_degrees: float = 180.0,
    zoom_max: float = 3.0,
    window: int = 30,
    sigma: float = 20.0,
    lam: float = 1e-5,
    power: float = 1.0,
    embedder_kwargs: dict[str, dict[str, Any]] | None = None,
) -> PacingGTResult:
    """Render every sequence once, embed it with each embedder, and score the SPF against ``P``.

    Args:
        embedders: names (default: every key of :data:`metrics.embedders.EMBEDDERS`). Those
            raising :class:`metrics.embedders.MissingWeightsError` are skipped with the reason.
        n_frames, size, rotation_degrees, zoom_max: see :func:`render`.
        specs: the sequences (default :data:`SUITE`).
        window, sigma, lam, power: SPF hyper-parameters (:func:`metrics.spf.compute_spf`).
        embedder_kwargs: per-embedder keyword arguments of ``build_embedder``.

    Returns:
        :class:`PacingGTResult`.

    Raises:
        ValueError: on invalid arguments or an unknown embedder name.
    """
    from metrics import spf
    from metrics.embedders import EMBEDDERS

    names = list(EMBEDDERS) if embedders is None else list(embedders)
    unknown = [n for n in names if n not in EMBEDDERS]
    if unknown:
        raise ValueError(f"unknown embedder(s) {unknown}; available: {list(EMBEDDERS)}")
    rendered = []
    res = PacingGTResult()
    for spec in specs:
        frames, p = render(
            spec, n_frames, size=size, rotation_degrees=rotation_degrees, zoom_max=zoom_max
        )
        rendered.append((spec, frames, p))
        res.curves[f"designed/{spec.seq_id}"] = p
    for name in names:
        emb, reason = build_or_skip(name, (embedder_kwargs or {}).get(name, {}))
        if emb is None:
            log.warning("pacing_gt: skipping embedder %s (%s)", name, reason)
            res.skipped[name] = reason
            continue
        for spec, frames, p in rendered:
            t0 = time.perf_counter()
            z = emb.embed(frames)
            r = spf.compute_spf(z, window=window, sigma=sigma, lam=lam, power=power)
            score = spf.score_progress(r)
            errs = (
                gt_errors(r.progress, p)
                if not r.degenerate
                else {"max_error": math.nan, "rms_error": math.nan, "slope_spearman": math.nan}
            )
            res.curves[f"{name}/{spec.seq_id}"] = r.progress
            res.rows.append(
                {
                    "embedder": name,
                    "seq_id": spec.seq_id,
                    "transform": spec.transform,
                    "profile": spec.profile,
                    "stills": "+".join(spec.stills),
                    "n_frames": int(n_frames),
                    **errs,
                    "linearity_score": score.linearity_score,
                    "total_change": r.total_change,
                    "degenerate": bool(r.degenerate),
                    "seconds": time.perf_counter() - t0,
                }
            )
    return res


#: Columns of the per-embedder x transformation summary (:func:`summarise`).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "embedder",
    "transform",
    "n",
    "max_error_mean",
    "max_error_worst",
    "rms_error_mean",
    "slope_spearman_mean",
    "n_degenerate",
)


def summarise(rows: list[dict[str, Any]] | Any) -> Any:
    """Per embedder x transformation (and ``all``): mean errors and the worst max error.

    Args:
        rows: :attr:`PacingGTResult.rows` or a DataFrame of them.

    Returns:
        ``pandas.DataFrame`` with :data:`SUMMARY_COLUMNS`, ``transform == "all"`` rows pooling
        every sequence of an embedder. NaN errors (degenerate sequences) are left out of means.
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    out = []
    if df.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    for emb, g in df.groupby("embedder", sort=False):
        for tr, h in [*((t, g[g["transform"] == t]) for t in TRANSFORMS), ("all", g)]:
            if h.empty:
                continue
            out.append(
                {
                    "embedder": emb,
                    "transform": tr,
                    "n": len(h),
                    "max_error_mean": h.max_error.mean(),
                    "max_error_worst": h.max_error.max(),
                    "rms_error_mean": h.rms_error.mean(),
                    "slope_spearman_mean": h.slope_spearman.mean(),
                    "n_degenerate": int(h.degenerate.sum()),
                }
            )
    return pd.DataFrame(out, columns=list(SUMMARY_COLUMNS))


def analyze_run(run_dir: str | os.PathLike) -> Any:
    """Full ground-truth errors of a ``model=pacing_gt`` run directory.

    Reads ``records.parquet`` and each record's ``spf/*.npz``; the designed progress is
    recomputed from the record's ``metadata`` (transform, profile, stills) at the positions the
    video was rendered at (``positions`` in the npz), so retimed iterations are scored against
    the progress they actually show.

    Args:
        run_dir: a run directory of ``bench/run.py model=pacing_gt`` (or
            ``experiment=pacing_gt``).

    Returns:
        ``pandas.DataFrame``: one row per ok record with ``embedder, retime, seq_id, iteration,
        transform, profile, max_error, rms_error, slope_spearman, linearity_score``.

    Raises:
        FileNotFoundError: if the run directory has no ``records.parquet``.
        ValueError: if its records are not from ``model=pacing_gt``.
    """
    import pandas as pd

    run_dir = Path(run_dir)
    df = pd.read_parquet(run_dir / "records.parquet")
    ok = df[df.status == "ok"]
    if len(ok) and not (ok.model == PacingGTGenerator.name).all():
        raise ValueError(f"{run_dir} holds records of {sorted(set(ok.model))}, not pacing_gt")
    out = []
    for r in ok.itertuples():
        meta = json.loads(r.metadata or "{}")
        spec = _spec_from_extra(meta)
        with np.load(run_dir / r.spf_path) as npz:
            s, pos = npz["progress"], npz["positions"]
        errs = (
            gt_errors(s, designed_progress(spec, int(r.n_frames), pos))
            if not r.degenerate
            else dict.fromkeys(("max_error", "rms_error", "slope_spearman"), math.nan)
        )
        out.append(
            {
                "embedder": r.embedder,
                "retime": r.retime,
                "seq_id": r.item_id,
                "iteration": int(r.iteration),
                "transform": spec.transform,
                "profile": spec.profile,
                **errs,
                "linearity_score": r.linearity_score,
            }
        )
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------ output
def markdown_table(df: Any, floatfmt: str = ".3f") -> str:
    """A GitHub Markdown table of ``df`` (floats formatted with ``floatfmt``, NaN as ``–``)."""

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "–" if not math.isfinite(float(v)) else format(float(v), floatfmt)
        return str(v).replace("|", "\\|")

    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(
    res: PacingGTResult, out_dir: str | os.PathLike, curves_path: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Write ``pacing_gt.csv``, ``pacing_gt_summary.csv`` / ``.md`` (atomically) and the curves.

    Args:
        res: the result of :func:`run_pacing_gt`.
        out_dir: folder of the tables (created).
        curves_path: npz of every curve (keys as :attr:`PacingGTResult.curves`, ``/`` kept),
            plus ``skipped`` (JSON string); ``None`` writes none.

    Returns:
        ``{"rows": path, "summary": path, "summary_md": path[, "curves": path]}``.
    """
    import pandas as pd

    from bench.records import atomic_savez, atomic_write_text

    out_dir = Path(out_dir)
    rows = pd.DataFrame(res.rows).drop(columns=["seconds"], errors="ignore")
    summary = summarise(res.rows)
    paths = {
        "rows": atomic_write_text(out_dir / "pacing_gt.csv", rows.to_csv(index=False)),
        "summary": atomic_write_text(
            out_dir / "pacing_gt_summary.csv", summary.to_csv(index=False)
        ),
    }
    skipped = "".join(f"- `{k}` skipped: {v}\n" for k, v in res.skipped.items())
    md = (
        "# Ground-truth pacing benchmark\n\n"
        "Measured SPF `S` against the designed progress `P` (rotation angle, log zoom scale, "
        "crossfade weight; `bench/pacing_gt.py`). Errors are fractions of the total progress; "
        "`slope_spearman` is Spearman's rho of the per-frame slopes of `S` and `P`. "
        f"{len(set(rows.seq_id)) if len(rows) else 0} sequences per embedder.\n\n"
        + markdown_table(summary)
        + ("\n" + skipped if skipped else "")
    )
    paths["summary_md"] = atomic_write_text(out_dir / "pacing_gt_summary.md", md)
    if curves_path is not None:
        paths["curves"] = atomic_savez(
            curves_path, skipped=np.array(json.dumps(res.skipped)), **res.curves
        )
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m bench.pacing_gt [--embedders ...] [--out DIR] [--curves NPZ]``.

    With ``--runs RUN_DIR...`` it analyses ``model=pacing_gt`` run directories instead and prints
    (and writes ``--out``/``pacing_gt_runs.csv``) their full errors.

    Returns:
        0 on success.
    """
    parser = argparse.ArgumentParser(
        prog="python -m bench.pacing_gt", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--embedders", nargs="+", default=None, help="default: all registered")
    parser.add_argument("--out", default="results", help="folder of the tables")
    parser.add_argument("--curves", default=None, help="npz of every S and P (for figures)")
    parser.add_argument("--n-frames", type=int, default=41)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--runs", nargs="+", default=None, help="analyse pacing_gt run dirs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    torch.set_num_threads(max(1, args.threads))
    if args.runs:
        import pandas as pd

        from bench.records import atomic_write_text

        df = pd.concat([analyze_run(r) for r in args.runs], ignore_index=True)
        atomic_write_text(Path(args.out) / "pacing_gt_runs.csv", df.to_csv(index=False))
        print(markdown_table(df))
        return 0
    t0 = time.perf_counter()
    res = run_pacing_gt(args.embedders, n_frames=args.n_frames, size=args.size)
    paths = write_outputs(res, args.out, args.curves)
    print(markdown_table(summarise(res.rows)))
    for k, v in res.skipped.items():
        print(f"skipped {k}: {v}")
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
