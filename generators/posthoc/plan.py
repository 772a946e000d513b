"""Segment planning for a segmented retime (docs/method.md, Sec. 5). Pure numpy.

``S`` of a clip is split into ``K`` near-linear pieces by segmented least squares
(:func:`spf_bench.metrics.spf.segment_progress`); the boundary frames are *semantic keyframes*.
The ``S`` split is the measured one (the run's estimator's, ``link`` by default): the pieces must
be evenly paced in the measure that judges the retime. A record's keyframes stay on the paper
estimator's ``S`` (:attr:`spf_bench.metrics.spf.SPFResult.keyframe_progress`), so under ``link``
a plan's keyframes can differ from them (docs/method.md, Sec. 1, *Default*; on bikes.mp4, pixel,
pieces cut on the paper's ``S`` leave the retimed clip at target deviation 0.11-0.27 against
0.02-0.03 when cut on ``link``'s).
Piece ``i`` spans source frames ``[b_i, b_{i+1}]``; under the target pacing ``P`` its keyframes
land at normalised output times ``u_i = P^{-1}(S(b_i))`` (:func:`inverse_pacing`), so it gets
``(n - 1)(u_{i+1} - u_i)`` output frame intervals, proportional to its rise in ``S`` for linear
pacing, rounded to the renderer's frame rule (Wan ``4m + 1`` frames, LTX ``8m + 1``) with the
total kept within one step of ``n - 1`` (:func:`plan_segments`).

Choosing ``K`` (open in the paper; :func:`choose_segments`). ``k`` given: exactly ``K`` pieces.
Otherwise the penalised criterion of the reference package, minimise ``sum of squared line-fit
errors + C * K`` over ``S`` normalised to [0, 1], with ``C = penalty`` when given (the
*absolute* rule; reference default 0.02) or ``C = penalty_per_frame * T`` when ``penalty`` is
``None`` (the *per-frame* rule, ``T`` frames).

Calibrated default: **absolute, C = 0.008** (:data:`DEFAULT_PENALTY`, the same value as
:data:`spf_bench.metrics.spf.SEGMENT_PENALTY`, which also places the recorded keyframes). Chosen on
a labelled set (``bench/studies/calibrate_segments.py``, ``results/segment_calibration/``):
bikes.mp4's five cuts, clips stitched from the bundled footage at known frames, crossfade chains
and ``step`` morphs with known transition frames, and synthetic step curves (a boundary counts as
found within +-2 frames). Criterion: the mean over those four families of the boundary F1,
averaged over the
``pixel`` and ``efficientnet_lite0`` embedders: 0.767 at ``C = 0.008`` (0.752 smoothed over the
neighbouring values; plateau 0.008-0.01) against 0.699 for the reference's 0.02 and 0.660 for the
per-frame rule at ``2e-5 * T`` (its best, ``6.3e-5 * T``, 0.706 smoothed). The best ``C`` does not
grow with the clip length, as the per-frame rule assumes: per length bin the best absolute ``C`` is
0.0125, 0.008 and 0.0125 for clips of at most 60, 61-130 and over 130 frames (median 60, 120 and
250). Most remaining false positives are a cut's second keyframe two frames from the first (the cut
fitted by a short piece of its own).
:data:`DEFAULT_PENALTY_PER_FRAME` (``2e-5``, the previous default, set by looking at
bikes.mp4) remains the value of the per-frame rule for callers that pass ``penalty=None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from spf_bench.metrics import spf

__all__ = [
    "DEFAULT_PENALTY",
    "DEFAULT_PENALTY_PER_FRAME",
    "SegmentPlan",
    "choose_segments",
    "inverse_pacing",
    "plan_segments",
]

#: Calibrated absolute penalty ``C`` per piece of the automatic choice of ``K``, on ``S`` in
#: [0, 1] (module docstring; ``results/segment_calibration/``): the default of every caller.
DEFAULT_PENALTY = spf.SEGMENT_PENALTY

#: Per-frame penalty ``c`` of the per-frame rule ``C = c * T``, used when ``penalty`` is
#: ``None`` (set by looking at bikes.mp4; on the labelled set this rule at ``2e-5`` scores
#: 0.660 against 0.767 for :data:`DEFAULT_PENALTY`; module docstring).
DEFAULT_PENALTY_PER_FRAME = 2e-5


def choose_segments(
    progress: np.ndarray,
    k: int | None = None,
    penalty: float | None = DEFAULT_PENALTY,
    penalty_per_frame: float = DEFAULT_PENALTY_PER_FRAME,
    max_pieces: int | None = None,
) -> tuple[list[tuple[int, int]], float]:
    """Split ``S`` into near-linear pieces (the choice of ``K`` of the module docstring).

    Args:
        progress: ``S`` of shape ``(T,)``, normalised to [0, 1].
        k: exact number of pieces, or ``None`` for the penalised criterion.
        penalty: absolute cost ``C`` per piece on ``S`` in [0, 1] (calibrated default
            :data:`DEFAULT_PENALTY` = 0.008; reference 0.02), or ``None`` for the per-frame
            rule ``C = penalty_per_frame * T``.
        penalty_per_frame: per-frame penalty used when ``penalty`` is ``None``.
        max_pieces: when the penalised criterion picks more pieces than this (e.g. more than
            the output length can hold at the regenerator's frame step), the best fit with
            exactly ``max_pieces`` pieces is used instead. Ignored when ``k`` is given.

    Returns:
        ``(segments, C)``: inclusive ``(start, end)`` frame pairs sharing boundaries
        (:func:`spf_bench.metrics.spf.segment_progress`) and the penalty used (NaN when ``k``
        is given).

    Raises:
        ValueError: on a bad ``S``, ``k`` outside ``[1, T - 1]`` or a negative penalty.
    """
    s = np.asarray(progress, dtype=np.float64)
    if k is not None:
        return spf.segment_progress(s, k=int(k)), math.nan
    c = float(penalty) if penalty is not None else float(penalty_per_frame) * s.size
    if not (math.isfinite(c) and c >= 0):
        raise ValueError(f"the segmentation penalty must be finite and >= 0, got {c!r}")
    segs = spf.segment_progress(s, penalty=c)
    if max_pieces is not None and len(segs) > int(max_pieces) >= 1:
        segs = spf.segment_progress(s, k=int(max_pieces))
    return segs, c


def inverse_pacing(name: str, values: np.ndarray, temperature: float = 3.0) -> np.ndarray:
    """``P^{-1}(s)``: the normalised time at which the target pacing reaches progress ``s``.

    Numerical inverse of :func:`spf_bench.metrics.spf.pacing_curve` (docs/method.md, Sec. 3) on
    a grid of 8193 points (every curve of :data:`spf_bench.metrics.spf.PACINGS` is strictly
    increasing), exact for ``linear``.

    Args:
        name: pacing curve name.
        values: progress values in ``[0, 1]``, any shape (clipped).
        temperature: temperature of the exponential curves.

    Returns:
        ``np.ndarray`` of the shape of ``values``, float64 in ``[0, 1]``.

    Raises:
        ValueError: on an unknown curve (from :func:`spf_bench.metrics.spf.pacing_curve`).
    """
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    if name == "linear":
        return v
    u = np.linspace(0.0, 1.0, 8193)
    return np.interp(v, np.maximum.accumulate(spf.pacing_curve(name, u, temperature)), u)


def _apportion(ideal: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Integers ``m_i >= minimum`` summing to ``total``, each near ``ideal_i`` (largest
    remainder: start from the floors, then move units where the rounding error is largest)."""
    m = np.maximum(np.floor(ideal).astype(np.int64), minimum)
    while m.sum() > total:
        room = np.where(m > minimum, m - ideal, -np.inf)
        m[int(np.argmax(room))] -= 1
    while m.sum() < total:
        m[int(np.argmax(ideal - m))] += 1
    return m


@dataclass(frozen=True)
class SegmentPlan:
    """How a clip is cut into pieces and how long each piece becomes.

    Attributes:
        segments: inclusive source frame pairs ``(b_i, b_{i+1})``, consecutive pieces sharing
            a keyframe.
        keyframes: source frames of the keyframes ``b_0 = 0 < b_1 < ... < b_K = T - 1``.
        progress: ``S`` at each keyframe (normalised to [0, 1]).
        rises: ``S(b_{i+1}) - S(b_i)`` of each piece.
        ideal: ideal output frame intervals of each piece, ``(n - 1)(u_{i+1} - u_i)`` with
            ``u = P^{-1}(S)``, float.
        steps: output frame intervals of each piece, multiples of ``step``; piece ``i`` is
            rendered with ``steps[i] + 1`` frames.
        out_keyframes: output frame index of each keyframe (cumulative ``steps``).
        step: frame rule of the renderer (Wan 4, LTX 8, resampling 1).
        n_target: requested output length ``n``, frames.
        n_out: actual output length ``sum(steps) + 1``, frames (``|n_out - n_target| < step``).
        pacing: target pacing curve name.
        temperature: its temperature.
        penalty: segmentation penalty ``C`` used (NaN when ``K`` was given).
    """

    segments: list[tuple[int, int]]
    keyframes: list[int]
    progress: list[float]
    rises: list[float]
    ideal: list[float]
    steps: list[int]
    out_keyframes: list[int]
    step: int
    n_target: int
    n_out: int
    pacing: str
    temperature: float
    penalty: float = math.nan

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of the plan (``segments`` as pairs)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentPlan:
        """The plan of :meth:`as_dict` (or of its JSON round trip: pairs may be lists).

        Raises:
            TypeError: on missing or unknown keys.
        """
        d = dict(data)
        d["segments"] = [(int(a), int(b)) for a, b in d["segments"]]
        return cls(**d)

    def with_ideal(self, ideal: np.ndarray) -> SegmentPlan:
        """This plan with new ideal intervals re-apportioned to the same total (``n_out``).

        Args:
            ideal: ``(K,)`` ideal output frame intervals of the pieces, float.

        Returns:
            A new :class:`SegmentPlan` (segments, keyframes and length unchanged).
        """
        units = (self.n_out - 1) // self.step
        steps = (_apportion(np.asarray(ideal) / self.step, units, 1) * self.step).astype(int)
        return replace(
            self,
            ideal=[float(v) for v in ideal],
            steps=steps.tolist(),
            out_keyframes=[0, *np.cumsum(steps).astype(int).tolist()],
        )


def plan_segments(
    progress: np.ndarray,
    segments: Sequence[tuple[int, int]],
    n_out: int | None = None,
    *,
    step: int = 1,
    pacing: str = "linear",
    temperature: float = 3.0,
    penalty: float = math.nan,
) -> SegmentPlan:
    """Durations of the pieces of a segmented retime (docs/method.md, Sec. 5).

    Keyframe ``b_i`` goes to normalised output time ``u_i = P^{-1}(S(b_i))``
    (:func:`inverse_pacing`), so piece ``i`` ideally spans ``(n - 1)(u_{i+1} - u_i)`` output
    frame intervals: proportional to its rise in ``S`` for linear pacing. Intervals are counted
    in units of ``step`` and apportioned by largest remainder to ``round((n - 1) / step)``
    units in all, at least one per piece; the output then has ``n_out = sum + 1`` frames with
    ``|n_out - n| <= step / 2``. A piece of ``m`` units is rendered with ``m * step + 1``
    frames, which satisfies Wan's ``4m + 1`` (step 4) and LTX's ``8m + 1`` (step 8) rules.

    Args:
        progress: ``S`` of the source, shape ``(T,)``, non-decreasing from 0 to 1.
        segments: inclusive pieces covering ``0..T-1`` and sharing boundaries.
        n_out: requested output length, frames (default ``T``).
        step: frame rule of the renderer, >= 1.
        pacing: target pacing curve (:data:`spf_bench.metrics.spf.PACINGS`).
        temperature: temperature of the exponential curves.
        penalty: the segmentation penalty, recorded in the plan.

    Returns:
        :class:`SegmentPlan`.

    Raises:
        ValueError: on pieces that do not tile ``0..T-1``, ``step < 1``, an unknown pacing, or
            more pieces than ``round((n - 1) / step)`` (each piece needs at least one step).
    """
    s = np.asarray(progress, dtype=np.float64)
    t = s.size
    n = t if n_out is None else int(n_out)
    step = int(step)
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    if pacing not in spf.PACINGS:
        raise ValueError(f"unknown pacing {pacing!r}; choose one of {spf.PACINGS}")
    segs = [(int(a), int(b)) for a, b in segments]
    if (
        not segs
        or segs[0][0] != 0
        or segs[-1][1] != t - 1
        or any(b <= a for a, b in segs)
        or any(segs[i][1] != segs[i + 1][0] for i in range(len(segs) - 1))
    ):
        raise ValueError(f"segments must tile frames 0..{t - 1} with shared boundaries: {segs}")
    kf = [segs[0][0]] + [b for _, b in segs]
    span = s[-1] - s[0]
    sk = (s[kf] - s[0]) / span if span > 0 else np.linspace(0.0, 1.0, len(kf))
    u = inverse_pacing(pacing, sk, temperature)
    u[0], u[-1] = 0.0, 1.0
    ideal = (n - 1) * np.diff(u)
    units = round((n - 1) / step)
    if units < len(segs):
        raise ValueError(
            f"{len(segs)} pieces need at least {len(segs) * step + 1} output frames at a frame "
            f"step of {step}; asked for {n}: lower K or raise the output length"
        )
    m = _apportion(ideal / step, units, 1)
    steps = (m * step).tolist()
    return SegmentPlan(
        segments=segs,
        keyframes=kf,
        progress=[float(v) for v in sk],
        rises=[float(v) for v in np.diff(sk)],
        ideal=[float(v) for v in ideal],
        steps=[int(v) for v in steps],
        out_keyframes=[0, *np.cumsum(steps).astype(int).tolist()],
        step=step,
        n_target=n,
        n_out=int(sum(steps)) + 1,
        pacing=pacing,
        temperature=float(temperature),
        penalty=float(penalty),
    )
