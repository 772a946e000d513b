"""The Semantic Progress Function (SPF) and its scores. Pure numpy/scipy.

Implements Metzer et al., "Video Analysis and Generation via a Semantic Progress Function"
(SIGGRAPH 2026), as summarised in ``docs/method.md``:

1. Frame embeddings ``z_i`` are L2-normalised.
2. Every pair ``(i, j)`` with ``0 < j - i <= k`` (the *window*, default 30 frames) gives an
   angular distance ``d_ij = arccos(clip(z_i . z_j, -1 + 1e-7, 1 - 1e-7)) ** p`` (radians**p)
   and a weight ``w_ij = exp(-(j - i)^2 / (2 sigma^2))``.
3. ``S`` solves ``min_S (A S - b)^T W (A S - b) + lam |S|^2`` (row ``(i, j)`` of ``A`` is
   ``S_j - S_i``), i.e. the normal equations ``(A^T W A + lam I) S = A^T W b``.
4. Monotone normalisation: ``g = gradient(S)`` clipped at 0, ``S = cumsum(g)``, shifted and
   scaled to run from 0 to 1.

``A^T W A`` is a weighted graph Laplacian whose weights depend only on the diagonal offset
``m = j - i``; it is banded with half-bandwidth ``k``. We assemble it per diagonal and solve
it with a banded Cholesky factorisation (LAPACK ``pbtrf``/``pbtrs`` through
:func:`scipy.linalg.cholesky_banded`): ``O(T k^2)`` time and ``O(T k)`` memory, where the
reference package's dense formulation needs ``O(T^3)`` time and ``O(T^2 k)`` memory. The
factorisation depends only on ``(T, k, sigma, lam)`` and is cached, so a batch of equal-length
videos costs one factorisation and one multi-right-hand-side solve.

Degenerate input: the arccos clip puts a floor ``arccos(1 - 1e-7) ~= 4.47e-4`` rad under every
distance, so a static clip would otherwise give a perfectly straight ``S`` made of noise.
:func:`compute_spf` flags a clip ``degenerate`` when its total change does not exceed twice the
change that floor alone produces, or when it fails the no-progress test
(:mod:`spf_bench.metrics.no_progress`: the mean distance at far frame offsets does not exceed
the one at near offsets by ``progress_threshold`` radians, so the frames only fluctuate around
one content: noise, shake, flicker); its progress is then all zeros and its Linearity Score NaN.
With ``bootstrap > 0`` the result also carries a bootstrap interval of the Linearity Score
(:mod:`spf_bench.metrics.uncertainty`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.linalg import cho_solve_banded, cholesky_banded

from spf_bench.metrics import estimators, no_progress, uncertainty
from spf_bench.metrics._banded import (
    monotone,
    monotone_forward,
    normal_rhs,
    pair_differences,
    pair_weights,
)

__all__ = [
    "CLIP_EPS",
    "PACINGS",
    "REFERENCE_SEGMENT_PENALTY",
    "SEGMENT_PENALTY",
    "SPFResult",
    "SPFScores",
    "banded_factor",
    "check_params",
    "compute_spf",
    "compute_spf_batch",
    "diagonal_distances",
    "find_jumps",
    "invert_progress",
    "keyframes_from_segments",
    "monotone",
    "monotone_forward",
    "noise_floor",
    "normal_rhs",
    "pacing_curve",
    "pair_weights",
    "score_progress",
    "segment_progress",
    "semantic_progress",
    "semantic_progress_batch",
    "time_axis",
]

#: Calibrated penalty ``C`` per piece of segmented least squares on ``S`` in [0, 1]: the default
#: of :func:`segment_progress`, of the semantic keyframes (``spf.keyframe_penalty``) and of
#: ``retime=segmented`` (``retime.penalty``). Chosen on a labelled set of known boundaries by
#: ``bench/studies/calibrate_segments.py`` (mean boundary F1 0.767 against 0.699 for the reference's
#: 0.02; ``results/segment_calibration/``, docs/method.md, Sec. 5).
SEGMENT_PENALTY = 0.008
#: The reference package's penalty per piece (the value before calibration).
REFERENCE_SEGMENT_PENALTY = 0.02

#: Frame times whose steps all lie within this fraction of their mean step are even (the
#: rounding of timestamps to a container's time base): scores then use the frame index exactly.
EVEN_TIME_TOLERANCE = 0.01

#: Cosine clip used inside the arccos (docs/method.md, Sec. 1, step 3).
CLIP_EPS = 1e-7
#: A clip is degenerate when its total change is at most this multiple of the clip floor's.
DEGENERATE_FACTOR = 2.0
#: Pair origins per block when computing distances (one Gram product per block).
_BLOCK_ROWS = 256


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def check_params(
    window: int,
    sigma: float,
    lam: float,
    power: float,
    *,
    progress_threshold: float = 0.0,
    bootstrap: int = 0,
) -> None:
    """Check the SPF settings (docs/method.md, Sec. 1) before any work.

    Args:
        window: the paper's ``W``, frames (an integer >= 1).
        sigma: Gaussian pair-weight width, frames (> 0).
        lam: Tikhonov weight (> 0).
        power: exponent on the angular distances (> 0).
        progress_threshold: no-progress threshold, radians (>= 0; 0 = no test).
        bootstrap: bootstrap resamples of the Linearity interval (0 = off, else >= 2).

    Raises:
        ValueError: naming the first bad setting and what it must be.
    """
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an integer >= 1 (frames), got {window!r}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a finite positive number of frames, got {sigma!r}")
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError(
            f"lam must be finite and > 0 (the Tikhonov term fixes the offset of S), got {lam!r}"
        )
    if not (math.isfinite(power) and power > 0):
        raise ValueError(f"power must be finite and > 0, got {power!r}")
    if not (math.isfinite(progress_threshold) and progress_threshold >= 0):
        raise ValueError(
            f"progress_threshold must be finite and >= 0 radians (0 = no test), "
            f"got {progress_threshold!r}"
        )
    if not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0 or bootstrap == 1:
        raise ValueError(f"bootstrap must be 0 (off) or an integer >= 2, got {bootstrap!r}")


def _check_embeddings(embeddings: np.ndarray) -> np.ndarray:
    z = np.asarray(embeddings)
    if z.ndim != 2:
        raise ValueError(f"embeddings must have shape (T, D), got shape {z.shape}")
    if not np.issubdtype(z.dtype, np.floating):
        raise ValueError(f"embeddings must be a float array, got dtype {z.dtype}")
    t, d = z.shape
    if d < 1:
        raise ValueError("embeddings have zero width (D = 0)")
    if t < 3:
        raise ValueError(
            f"the SPF needs at least 3 frames, got {t}: with fewer, S is trivially a straight line"
        )
    finite = np.isfinite(z).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"embeddings contain NaN or inf in {bad.size} frame(s), first at frames "
            f"{bad[:10].tolist()}"
        )
    _row_scales(z)  # a zero frame is named here, by its index in the clip
    return z


# --------------------------------------------------------------------------------------------
# Distances and the banded system
# --------------------------------------------------------------------------------------------
def _row_scales(z: np.ndarray) -> np.ndarray:
    """Float64 max-abs of the rows of ``z`` (``(T, D)`` or ``(N, T, D)``); raises on zero rows.

    Rows are divided by this scale before their norm is taken, so that squaring a row of tiny
    (or huge) entries cannot underflow into subnormals (or overflow): the unit vectors, hence the
    angles, are then the same for ``z`` and ``c * z`` to rounding, for any ``c > 0``.

    The frames named in the error are indices into ``z`` as given: pass the whole clip (not a
    block of it) for the error to name the clip's frames.
    """
    scales = np.max(np.abs(z), axis=-1).astype(np.float64)
    zero = scales == 0.0
    if zero.any():
        bad = np.flatnonzero(zero.any(axis=0) if z.ndim == 3 else zero)
        raise ValueError(
            f"embeddings have zero norm in {bad.size} frame(s), first at frames "
            f"{bad[:10].tolist()}: an angle is undefined there"
        )
    return scales


def _normalise(z: np.ndarray) -> np.ndarray:
    """Rows of ``z`` (any float dtype) as float64 unit vectors; raises on zero rows."""
    z = np.asarray(z, dtype=np.float64)
    z = z / _row_scales(z)[..., None]  # entries now in [-1, 1], the largest +-1: no underflow
    return z / np.sqrt(np.einsum("...j,...j->...", z, z))[..., None]


def diagonal_distances(embeddings: np.ndarray, window: int, power: float) -> np.ndarray:
    """Angular distances for every diagonal offset ``m = 1..k``.

    Rows are processed in blocks of :data:`_BLOCK_ROWS` pair origins: each block is normalised
    (with a ``k``-row halo) and its cosines come from one BLAS Gram product, from which the
    ``k`` diagonals are gathered. Memory stays ``O(N T k)`` whatever the embedding width.

    Args:
        embeddings: ``(T, D)`` or a stack ``(N, T, D)`` of equal-length clips, float.
        window: ``k``, the largest pair offset, frames (``<= T - 1``).
        power: exponent on the angles (1 = radians).

    Returns:
        ``dist`` of shape ``(k, T)`` (or ``(N, k, T)``), float64, with
        ``dist[..., m - 1, i] = d_{i, i+m}`` for ``i < T - m`` and 0 elsewhere.

    Raises:
        ValueError: on a zero row (its index is within its block: check clips with
            :func:`_check_embeddings` first, which names the clip's frame).
    """
    single = embeddings.ndim == 2
    zs = embeddings[None] if single else embeddings
    n_clips, t = zs.shape[:2]
    k = window
    dist = np.zeros((n_clips, k, t), dtype=np.float64)
    offsets = np.arange(1, k + 1)
    for start in range(0, t - 1, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, t - 1)  # pair origins i in [start, stop)
        z = _normalise(zs[:, start : min(stop + k, t)])  # (N, L, D)
        n_origin, length = stop - start, z.shape[1]
        gram = np.matmul(z[:, :n_origin], z.transpose(0, 2, 1))  # (N, n_origin, L)
        rows = np.arange(n_origin)[:, None]
        cols = rows + offsets[None, :]  # (n_origin, k)
        valid = cols < length
        cos = gram[:, rows, np.minimum(cols, length - 1)]  # (N, n_origin, k)
        d = np.arccos(np.clip(cos, -1.0 + CLIP_EPS, 1.0 - CLIP_EPS))
        if power != 1.0:
            d **= power
        d[:, ~valid] = 0.0
        dist[:, :, start:stop] = d.transpose(0, 2, 1)
    return dist[0] if single else dist


def _weights_factor(t: int, w: np.ndarray, lam: float) -> np.ndarray:
    """Banded Cholesky factor of ``A^T W A + lam I`` for per-offset weights ``w`` (``(k,)``), in
    LAPACK upper form, shape (k + 1, T).

    Band storage: ``ab[k - m, j]`` holds entry ``(j - m, j)``. For offset ``m`` every pair
    ``(i, i + m)`` adds ``w_m`` to both diagonal entries and ``-w_m`` off the diagonal
    (docs/method.md, Sec. 1, step 5).
    """
    k = w.size
    ab = np.zeros((k + 1, t), dtype=np.float64)
    diag = np.full(t, lam, dtype=np.float64)
    for m in range(1, k + 1):
        if m >= t:
            break
        diag[: t - m] += w[m - 1]  # i as the earlier frame of a pair
        diag[m:] += w[m - 1]  # j as the later frame
        ab[k - m, m:] = -w[m - 1]
    ab[k] = diag
    return cholesky_banded(ab, lower=False, check_finite=False)


@functools.lru_cache(maxsize=32)
def banded_factor(t: int, window: int, sigma: float, lam: float) -> np.ndarray:
    """The paper's banded Cholesky factor of ``A^T W A + lam I`` (Gaussian pair weights), in
    LAPACK upper form (docs/method.md, Sec. 1, step 5). Cached per ``(t, window, sigma, lam)``.

    Args:
        t: frames ``T``.
        window: ``k``, the largest pair offset, frames.
        sigma: Gaussian pair-weight width, frames.
        lam: Tikhonov weight.

    Returns:
        ``(k + 1, T)`` float64, read-only; solve with ``scipy.linalg.cho_solve_banded((f, False),
        rhs)``.

    Raises:
        numpy.linalg.LinAlgError: if the system is not positive definite (``lam <= 0``).
    """
    factor = _weights_factor(t, pair_weights(window, sigma), lam)
    factor.setflags(write=False)
    return factor


# --------------------------------------------------------------------------------------------
# Public API: SPF
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SPFResult:
    """The SPF of one clip.

    Attributes:
        progress: ``np.ndarray`` of shape ``(T,)``, float64: the normalised, monotone ``S``
            running from 0 to 1 (all zeros when ``degenerate``).
        raw: ``np.ndarray`` of shape ``(T,)``, float64: the least-squares solution before the
            monotone normalisation (radians when ``power == 1``).
        total_change: total semantic change, radians**power: the range of the monotone
            (gradient-clipped, cumulated) ``S`` before scaling to [0, 1].
        noise_floor: the total change the arccos clip alone would produce for this ``T`` and
            window, same units (a static clip's ``total_change``).
        degenerate: ``True`` when ``total_change <= 2 * noise_floor`` (no change above
            numerical noise) or when the clip fails the no-progress test
            (``progress_statistic < progress_threshold``: its frames only fluctuate around one
            content); the Linearity Score is then undefined, there are no keyframes and nothing
            to retime.
        window: the window actually used, ``min(window, T - 1)`` frames.
        progress_statistic: the no-progress test's accumulated change ``G``, radians
            (:func:`spf_bench.metrics.no_progress.progress_statistic`); NaN for clips under
            5 frames, where the test is not defined.
        progress_threshold: the threshold ``G`` was compared with, radians (0 = test off).
        linearity_ci: ``(low, high)`` bootstrap interval of the Linearity Score
            (:func:`spf_bench.metrics.uncertainty.linearity_interval`, 95%); ``(nan, nan)``
            when not computed (``bootstrap=0``) or when the clip is degenerate.
        estimator: the estimator that made ``raw`` and ``progress`` (``"paper"`` or
            ``"link"``, :data:`spf_bench.metrics.estimators.ESTIMATORS`).
        link_scale: the fitted asymptote ``c`` of the ``link`` estimator, radians**power (NaN
            for ``paper``).
        paper_progress: for ``link``, the paper estimator's normalised ``S`` of the same pairs,
            ``(T,)`` float64 from 0 to 1 (zeros when degenerate): the curve the semantic
            keyframes are placed on (:attr:`keyframe_progress`); ``None`` for ``paper``, whose
            ``progress`` is that curve.
    """

    progress: np.ndarray
    raw: np.ndarray
    total_change: float
    noise_floor: float
    degenerate: bool
    window: int
    progress_statistic: float = math.nan
    progress_threshold: float = 0.0
    linearity_ci: tuple[float, float] = (math.nan, math.nan)
    estimator: str = "paper"
    link_scale: float = math.nan
    paper_progress: np.ndarray | None = None

    @property
    def keyframe_progress(self) -> np.ndarray:
        """The ``S`` that segmented least squares splits into the semantic keyframes
        (:func:`segment_progress`; docs/method.md, Sec. 5): the paper estimator's normalised
        ``S``, ``(T,)`` float64 from 0 to 1, whichever estimator made :attr:`progress`.

        The keyframe penalty (:data:`SEGMENT_PENALTY`) was calibrated on the paper's ``S``
        against known cuts and transitions (``results/segment_calibration/``). The ``link``
        estimator's ``S`` de-saturates fast stretches, so it also bends at changes of pace;
        segmented on it, the same penalty misses cuts and adds keyframes at pace changes
        (best over penalties 0.004-0.048: 10 of 12 known cuts with 8 extra keyframes, against
        the paper ``S``'s 11 with 4). Keyframes therefore stay on the paper's ``S`` and are the
        same under both estimators; the pace between them (Linearity, retime positions) comes
        from :attr:`progress`. The segmented retime is not a keyframe detector: it cuts its
        pieces where :attr:`progress` bends (near-linear pieces of the measured pace;
        :class:`spf_bench.generators.posthoc.render.SegmentedRetimer`).
        """
        return self.progress if self.paper_progress is None else self.paper_progress


def _effective_window(t: int, window: int) -> int:
    return int(min(window, t - 1))


@functools.lru_cache(maxsize=256)
def noise_floor(t: int, window: int, sigma: float, lam: float, power: float) -> float:
    """Total change of a clip whose every pair sits on the arccos clip (a static clip): the
    floor below which a clip is degenerate (docs/method.md, Sec. 1). Cached.

    Args:
        t: frames ``T``.
        window: ``k``, the largest pair offset, frames (``<= T - 1``).
        sigma: Gaussian pair-weight width, frames.
        lam: Tikhonov weight.
        power: exponent on the angles.

    Returns:
        The floor's total change, radians**power.
    """
    floor = math.acos(1.0 - CLIP_EPS) ** power
    dist = np.full((window, t), floor)
    raw = cho_solve_banded(
        (banded_factor(t, window, sigma, lam), False), normal_rhs(dist, pair_weights(window, sigma))
    )
    return float(monotone(raw)[1])


def _finish(
    raw: np.ndarray,
    t: int,
    window: int,
    sigma: float,
    lam: float,
    power: float,
    *,
    dist: np.ndarray | None = None,
    statistic: float = math.nan,
    progress_threshold: float = 0.0,
    bootstrap: int = 0,
    seed: int = 0,
) -> SPFResult:
    """Normalise, flag and (optionally) bootstrap one solved clip.

    ``dist`` (the clip's ``(k, T)`` distances) is needed only for the bootstrap.
    """
    s, total = monotone(raw)
    total = float(total)
    floor = noise_floor(t, window, sigma, lam, power)
    degenerate = (not math.isfinite(total)) or total <= DEGENERATE_FACTOR * floor
    if progress_threshold > 0 and math.isfinite(statistic) and statistic < progress_threshold:
        degenerate = True  # no progress above the noise (docs/method.md, Sec. 1, step 7)
    progress = np.zeros(t) if degenerate else s / total
    ci = (math.nan, math.nan)
    if bootstrap and not degenerate and dist is not None:
        ci = uncertainty.linearity_interval(
            dist,
            raw,
            banded_factor(t, window, sigma, lam),
            pair_weights(window, sigma),
            n_boot=bootstrap,
            seed=seed,
            cache_key=(t, window, sigma, lam),
        )
    return SPFResult(
        progress=progress,
        raw=raw,
        total_change=total,
        noise_floor=floor,
        degenerate=bool(degenerate),
        window=window,
        progress_statistic=float(statistic),
        progress_threshold=float(progress_threshold),
        linearity_ci=ci,
    )


def _linearised(
    dist: np.ndarray, fit: estimators.LinkFit, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The link fit linearised at convergence, for the bootstrap: targets
    ``x + (d - f(x)) / f'(x)`` (``x = S_j - S_i``; ``f'`` floored at 1e-3) and per-offset
    weights ``w_m`` times the mean ``f'^2`` of the pairs at offset ``m``."""
    k, t = dist.shape
    x = pair_differences(fit.raw, k)
    fx, fp = estimators.saturating_link(x, fit.scale)
    lin = np.zeros_like(dist)
    lin_w = np.array(w, dtype=np.float64)
    for m in range(1, min(k, t - 1) + 1):
        slope = np.maximum(fp[m - 1, : t - m], 1e-3)
        lin[m - 1, : t - m] = (
            x[m - 1, : t - m] + (dist[m - 1, : t - m] - fx[m - 1, : t - m]) / slope
        )
        lin_w[m - 1] *= float(np.mean(slope**2))
    return lin, lin_w


def _link_interval(
    dist: np.ndarray,
    paper_raw: np.ndarray,
    fit: estimators.LinkFit,
    t: int,
    window: int,
    sigma: float,
    lam: float,
    bootstrap: int,
    seed: int,
) -> tuple[float, float]:
    """The ``link`` estimator's Linearity interval: its score plus or minus the wider of two
    bootstrap half-widths (docs/method.md, Sec. 1, *Estimators*), clipped to [0, 1].

    One resamples the link fit linearised at convergence (:func:`_linearised`, its own banded
    factorisation); the other is the paper fit's (Sec. 2). The link's residuals under-read the
    take-to-take spread where the fitted link absorbs part of the frame effects (on straight
    synthetic paths, about 2/3 of the true frame-effect spread), the paper's residuals keep it
    (with the saturation's lack of fit): the wider of the two covers as well as the paper's.
    """
    w = pair_weights(window, sigma)
    lin_dist, lin_w = _linearised(dist, fit, w)
    ls, half_link = uncertainty.linearity_spread(
        lin_dist,
        fit.raw,
        _weights_factor(t, lin_w, lam),
        lin_w,
        n_boot=bootstrap,
        seed=seed,
        normalise=monotone_forward,
    )
    _, half_paper = uncertainty.linearity_spread(
        dist,
        paper_raw,
        banded_factor(t, window, sigma, lam),
        w,
        n_boot=bootstrap,
        seed=seed,
        cache_key=(t, window, sigma, lam),
    )
    halves = [h for h in (half_link, half_paper) if math.isfinite(h)]
    if not (math.isfinite(ls) and halves):
        return (math.nan, math.nan)
    return (max(0.0, ls - max(halves)), min(1.0, ls + max(halves)))


def _finish_link(
    paper_raw: np.ndarray,
    t: int,
    window: int,
    sigma: float,
    lam: float,
    power: float,
    *,
    dist: np.ndarray,
    statistic: float,
    progress_threshold: float,
    bootstrap: int,
    seed: int,
) -> SPFResult:
    """The ``link`` estimator's result for one clip (:mod:`spf_bench.metrics.estimators`).

    The degenerate flag is the paper solution's (the noise floor and the no-progress test are
    calibrated on it). The bootstrap interval (docs/method.md, Sec. 2) resamples the fit
    linearised at convergence (:func:`_linearised`) through its own banded factorisation.
    """
    flags = _finish(
        paper_raw,
        t,
        window,
        sigma,
        lam,
        power,
        statistic=statistic,
        progress_threshold=progress_threshold,
    )
    if flags.degenerate:  # nothing to fit: the paper's flag stands
        return dataclasses.replace(flags, estimator="link", paper_progress=flags.progress)
    w = pair_weights(window, sigma)
    fit = estimators.link_solve(dist, paper_raw, w, lam)
    s, total = monotone_forward(fit.raw)
    total = float(total)
    degenerate = not (math.isfinite(total) and total > 0)
    ci = (math.nan, math.nan)
    if bootstrap and not degenerate:
        ci = _link_interval(dist, paper_raw, fit, t, window, sigma, lam, bootstrap, seed)
    return dataclasses.replace(
        flags,
        progress=np.zeros(t) if degenerate else s / total,
        raw=fit.raw,
        total_change=total,
        degenerate=bool(degenerate),
        linearity_ci=ci,
        estimator="link",
        link_scale=float(fit.scale),
        paper_progress=flags.progress,
    )


def compute_spf(
    embeddings: np.ndarray,
    *,
    window: int = 30,
    sigma: float = 20.0,
    lam: float = 1e-5,
    power: float = 1.0,
    progress_threshold: float = no_progress.DEFAULT_PROGRESS_THRESHOLD,
    bootstrap: int = 0,
    seed: int = 0,
    estimator: str = "paper",
) -> SPFResult:
    """Compute the SPF of one clip (paper Sec. 3; docs/method.md, Sec. 1).

    Args:
        embeddings: ``np.ndarray`` of shape ``(T, D)``, any float dtype; rows are
            L2-normalised here (their scale does not matter). ``T >= 3``.
        window: largest frame offset ``k`` of a pair (frames). Clips shorter than ``k + 1``
            use every pair, i.e. ``k = T - 1``.
        sigma: width of the Gaussian pair weights, frames.
        lam: Tikhonov regularisation weight.
        power: exponent ``p`` applied to the angular distances (1 = radians; 2 sharpens).
        progress_threshold: the no-progress test's threshold on the accumulated change ``G``,
            radians (:mod:`spf_bench.metrics.no_progress`; default 0.07); a clip below it is
            ``degenerate``. 0 turns the test off (only the arccos-clip floor remains).
        bootstrap: number of bootstrap resamples for ``linearity_ci`` (0 = none, else >= 2).
        seed: seed of the bootstrap.
        estimator: ``"paper"`` (the authors' least squares, above; this function's default)
            or ``"link"`` (the same pairs with a fitted saturating link between progress
            difference and distance, normalised by forward differences,
            :func:`monotone_forward`; :mod:`spf_bench.metrics.estimators`; docs/method.md,
            Sec. 1, *Estimators*).

    Returns:
        :class:`SPFResult`.

    Raises:
        ValueError: on a wrong shape or dtype, fewer than 3 frames, NaN/inf or zero-norm
            embeddings (naming the frames), or a bad parameter.
    """
    check_params(
        window,
        sigma,
        lam,
        power,
        progress_threshold=progress_threshold,
        bootstrap=bootstrap,
    )
    estimators.check_estimator(estimator)
    z = _check_embeddings(embeddings)
    return _solve_stack(
        z[None],
        window,
        sigma,
        lam,
        power,
        progress_threshold,
        int(bootstrap),
        int(seed),
        estimator,
    )[0]


def _solve_stack(
    stack: np.ndarray,
    window: int,
    sigma: float,
    lam: float,
    power: float,
    progress_threshold: float,
    bootstrap: int,
    seed: int,
    estimator: str = "paper",
) -> list[SPFResult]:
    """SPFs of checked clips of equal shape ``(N, T, D)``, solved together as multiple
    right-hand sides of one cached factorisation (then refined per clip by the ``link``
    estimator when asked)."""
    t = stack.shape[1]
    k = _effective_window(t, int(window))
    dist = diagonal_distances(stack, k, power)  # (N, k, T)
    rhs = normal_rhs(dist, pair_weights(k, sigma)).T  # (T, N)
    raw = cho_solve_banded((banded_factor(t, k, float(sigma), float(lam)), False), rhs)
    stats = _statistic(dist, float(power), progress_threshold)
    finish = _finish if estimator == "paper" else _finish_link
    return [
        finish(
            raw[:, n].copy(),
            t,
            k,
            float(sigma),
            float(lam),
            float(power),
            dist=dist[n],
            statistic=float(stats[n]),
            progress_threshold=float(progress_threshold),
            bootstrap=bootstrap,
            seed=seed,
        )
        for n in range(stack.shape[0])
    ]


def _statistic(dist: np.ndarray, power: float, threshold: float) -> float | np.ndarray:
    """The no-progress statistic of ``(k, T)`` or ``(N, k, T)`` distances (NaN when off)."""
    if threshold <= 0:
        return math.nan if dist.ndim == 2 else np.full(dist.shape[0], np.nan)
    return no_progress.progress_statistic(dist, power)


def semantic_progress(
    embeddings: np.ndarray,
    *,
    window: int = 30,
    sigma: float = 20.0,
    lam: float = 1e-5,
    power: float = 1.0,
    **kwargs: Any,
) -> np.ndarray:
    """The normalised, monotone SPF ``S`` of one clip.

    Same arguments (``kwargs``: ``progress_threshold``) and errors as :func:`compute_spf`.

    Returns:
        ``np.ndarray`` of shape ``(T,)``, float64, non-decreasing from 0 to 1; all zeros for a
        degenerate (static) clip — use :func:`compute_spf` to see the flag.
    """
    return compute_spf(
        embeddings, window=window, sigma=sigma, lam=lam, power=power, **kwargs
    ).progress


def compute_spf_batch(
    embeddings: np.ndarray | Sequence[np.ndarray],
    *,
    window: int = 30,
    sigma: float = 20.0,
    lam: float = 1e-5,
    power: float = 1.0,
    progress_threshold: float = no_progress.DEFAULT_PROGRESS_THRESHOLD,
    bootstrap: int = 0,
    seed: int = 0,
    estimator: str = "paper",
) -> list[SPFResult]:
    """Compute the SPF of many clips.

    Clips of equal length share one cached factorisation and are solved together as
    multiple right-hand sides.

    Args:
        embeddings: ``np.ndarray`` of shape ``(N, T, D)``, or a sequence of ``N`` arrays of
            shapes ``(T_n, D_n)`` (ragged lengths and widths allowed).
        window, sigma, lam, power, progress_threshold, bootstrap, seed, estimator: as in
            :func:`compute_spf` (every clip's bootstrap uses ``seed``).

    Returns:
        ``N`` :class:`SPFResult`, in input order.

    Raises:
        ValueError: as :func:`compute_spf`, prefixed with the index of the offending clip.
    """
    check_params(
        window,
        sigma,
        lam,
        power,
        progress_threshold=progress_threshold,
        bootstrap=bootstrap,
    )
    if isinstance(embeddings, np.ndarray) and embeddings.ndim != 3:
        raise ValueError(f"batched embeddings must have shape (N, T, D), got {embeddings.shape}")
    estimators.check_estimator(estimator)
    clips = list(embeddings)
    groups: dict[tuple[int, int], list[int]] = {}
    for n, z in enumerate(clips):
        try:
            clips[n] = _check_embeddings(z)
        except ValueError as err:
            raise ValueError(f"clip {n}: {err}") from None
        groups.setdefault(clips[n].shape, []).append(n)
    out: list[SPFResult | None] = [None] * len(clips)
    for idx in groups.values():
        solved = _solve_stack(
            np.stack([clips[n] for n in idx]),
            window,
            sigma,
            lam,
            power,
            progress_threshold,
            int(bootstrap),
            int(seed),
            estimator,
        )
        for n, res in zip(idx, solved, strict=True):
            out[n] = res
    return out  # type: ignore[return-value]


def semantic_progress_batch(
    embeddings: np.ndarray | Sequence[np.ndarray], **kwargs: float
) -> list[np.ndarray]:
    """Normalised SPF of many clips: ``[r.progress for r in compute_spf_batch(...)]``."""
    return [r.progress for r in compute_spf_batch(embeddings, **kwargs)]


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------
def time_axis(times: np.ndarray | None, t: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The axis of the straight line of Linearity for frames shown at ``times``
    (docs/method.md, Sec. 8).

    Args:
        times: presentation time of each frame, seconds (`np.ndarray` of shape ``(T,)``,
            strictly increasing), or ``None`` (frames evenly spaced).
        t: number of frames ``T`` the times must match.

    Returns:
        ``None`` when ``times`` is ``None`` or even (every step within
        :data:`EVEN_TIME_TOLERANCE` of the mean step): the caller then uses the frame index, so a
        constant-frame-rate clip scores bit-identically with or without its times. Otherwise
        ``(u, w)``: ``u`` the times mapped affinely to [0, 1] and ``w`` the time each frame
        stands for (half the interval to each neighbour, a full interval at the two ends),
        normalised to mean 1; both ``(T,)`` float64. Equal steps give ``w == 1``.

    Raises:
        ValueError: if ``times`` is not ``(T,)``, not finite or not strictly increasing.
    """
    if times is None:
        return None
    x = np.asarray(times, dtype=np.float64)
    if x.shape != (t,):
        raise ValueError(f"times must have shape ({t},) to match the frames, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("times contains NaN or inf")
    steps = np.diff(x)
    if steps.size and not (steps > 0).all():
        raise ValueError("times must be strictly increasing (one presentation time per frame)")
    if (
        steps.size == 0
        or np.max(np.abs(steps - steps.mean())) <= EVEN_TIME_TOLERANCE * steps.mean()
    ):
        return None
    u = (x - x[0]) / (x[-1] - x[0])
    w = np.empty(t)
    w[0], w[-1] = steps[0], steps[-1]
    w[1:-1] = 0.5 * (steps[:-1] + steps[1:])
    return u, w / w.mean()


@dataclass(frozen=True)
class SPFScores:
    """Pacing scores of one SPF curve (docs/method.md, Sec. 2).

    Attributes:
        linearity_score: ``clip(1 - RMS(S - L) / |S_T - S_1|, 0, 1)`` with ``L`` the straight
            line from ``S_1`` to ``S_T`` (our definition after the public adaptation; the
            paper's exact formula is not public). 1 = perfectly even pacing. NaN when degenerate.
        max_deviation: ``max |S - L| / |S_T - S_1|``, fraction of the total change.
        max_jump: largest single-frame rise ``(S_{i} - S_{i-1}) / |S_T - S_1|``, fraction of the
            total change (an even pace gives ``1 / (T - 1)``).
        max_jump_frame: the frame ``i`` at which that rise lands (the first frame after the
            jump, e.g. the first frame of a new shot), or -1 when degenerate.
        total_change: total semantic change, radians (see :class:`SPFResult`), NaN if unknown.
        degenerate: the clip has no semantic change above numerical noise.
        target_deviation: RMS of ``S - P(t)`` for the target pacing curve ``P`` (equal to the
            RMS deviation from the diagonal for linear pacing).
    """

    linearity_score: float
    max_deviation: float
    max_jump: float
    max_jump_frame: int
    total_change: float
    degenerate: bool
    target_deviation: float

    def as_dict(self) -> dict[str, float | int | bool]:
        """The scores as a plain dict (record columns)."""
        return asdict(self)


def score_progress(
    progress: np.ndarray | SPFResult,
    *,
    total_change: float | None = None,
    degenerate: bool | None = None,
    pacing: str = "linear",
    temperature: float = 3.0,
    times: np.ndarray | None = None,
) -> SPFScores:
    """Score an SPF curve (docs/method.md, Sec. 2; in time: Sec. 8).

    Args:
        progress: an :class:`SPFResult` (its ``total_change`` and ``degenerate`` are used), or
            ``S`` as an array of shape ``(T,)``.
        total_change: radians, when ``progress`` is an array (else NaN is reported).
        degenerate: overrides the flag; for an array it defaults to ``S_T == S_1``.
        pacing: target pacing curve for ``target_deviation`` (see :func:`pacing_curve`).
        temperature: temperature of exponential pacing curves.
        times: presentation time of each frame, seconds (``(T,)``, strictly increasing), or
            ``None`` for evenly spaced frames. Uneven times (:func:`time_axis`) put the straight
            line and the target pacing on the time axis and weight each frame's deviation by the
            time it stands for, so a clip is scored as it plays; even times change nothing.

    Returns:
        :class:`SPFScores`. A degenerate clip gets ``linearity_score = NaN`` (never a perfect
        score), ``max_jump_frame = -1`` and NaN deviations.

    Raises:
        ValueError: if ``S`` is not 1-D with at least 3 finite values, or bad ``times``.
    """
    if isinstance(progress, SPFResult):
        total_change = progress.total_change if total_change is None else total_change
        degenerate = progress.degenerate if degenerate is None else degenerate
        s = progress.progress
    else:
        s = np.asarray(progress, dtype=np.float64)
    if s.ndim != 1 or s.size < 3:
        raise ValueError(f"progress must have shape (T,) with T >= 3, got {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("progress contains NaN or inf")
    span = float(s[-1] - s[0])
    if degenerate is None:
        degenerate = abs(span) <= 1e-12
    total = float("nan") if total_change is None else float(total_change)
    if degenerate:
        nan = float("nan")
        return SPFScores(nan, nan, nan, -1, total, True, nan)
    t = s.size
    axis = time_axis(times, t)
    u, w = (np.linspace(0.0, 1.0, t), None) if axis is None else axis
    line = s[0] + span * u
    dev = (s - line) / abs(span)
    rms = float(np.sqrt(np.average(dev**2, weights=w)))
    steps = np.diff(s) / abs(span)
    j = int(np.argmax(steps))
    target = pacing_curve(pacing, u, temperature)
    target_dev = float(np.sqrt(np.average(((s - s[0]) / span - target) ** 2, weights=w)))
    return SPFScores(
        linearity_score=float(np.clip(1.0 - rms, 0.0, 1.0)),
        max_deviation=float(np.max(np.abs(dev))),
        max_jump=float(steps[j]),
        max_jump_frame=j + 1,
        total_change=total,
        degenerate=False,
        target_deviation=target_dev,
    )


def find_jumps(
    progress: np.ndarray, n: int | None = None, *, min_separation: int = 3
) -> list[tuple[int, float]]:
    """The largest distinct single-frame rises of ``S`` (abrupt semantic jumps, e.g. cuts).

    The monotone normalisation uses central differences, so one abrupt step of the raw ``S``
    shows as two adjacent rises of about half its height; greedy non-maximum suppression over
    ``min_separation`` frames reports it once.

    Args:
        progress: ``S`` of shape ``(T,)``.
        n: how many jumps to return (default: all local maxima, largest first).
        min_separation: two jumps closer than this many frames are one jump.

    Returns:
        ``[(frame, rise), ...]`` largest first; ``frame`` is where the rise lands (the first
        frame after the jump), ``rise`` its fraction of ``S_T - S_1``.

    Raises:
        ValueError: if ``S`` is not 1-D with at least 2 finite values.
    """
    s = np.asarray(progress, dtype=np.float64)
    if s.ndim != 1 or s.size < 2 or not np.isfinite(s).all():
        raise ValueError("progress must be a finite array of shape (T,) with T >= 2")
    span = s[-1] - s[0]
    steps = np.diff(s) / (span if span > 0 else 1.0)
    out: list[tuple[int, float]] = []
    taken = np.zeros(steps.size, dtype=bool)
    for i in np.argsort(steps, kind="stable")[::-1]:
        if n is not None and len(out) >= n:
            break
        if steps[i] <= 0:
            break
        lo, hi = max(0, i - min_separation + 1), min(steps.size, i + min_separation)
        if taken[lo:hi].any():
            continue
        taken[i] = True
        out.append((int(i) + 1, float(steps[i])))
    return out


# --------------------------------------------------------------------------------------------
# Pacing curves and inversion
# --------------------------------------------------------------------------------------------
PACINGS = ("linear", "ease_in_out", "exp_up", "exp_down", "sin_identity")


def pacing_curve(name: str, u: np.ndarray | float, temperature: float = 3.0) -> np.ndarray:
    """Target pacing curve ``P(u)``: monotone, ``P(0) = 0``, ``P(1) = 1`` (docs/method.md, Sec. 3).

    - ``linear``: ``u``
    - ``ease_in_out``: ``3u^2 - 2u^3`` (animation's smoothstep)
    - ``exp_up``: ``(e^{a u} - 1) / (e^a - 1)`` (slow start, fast end)
    - ``exp_down``: ``(e^a - e^{a (1 - u)}) / (e^a - 1)`` (fast start, slow end)
    - ``sin_identity``: ``u + sin(2 pi u) / (2 pi)``

    Args:
        name: one of :data:`PACINGS`.
        u: normalised time(s) in ``[0, 1]``.
        temperature: ``a`` of the exponential curves (> 0; 1 mild, 3 default, 5+ radical).

    Returns:
        ``np.ndarray`` of the shape of ``u``, float64.

    Raises:
        ValueError: on an unknown name or a non-positive temperature.
    """
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    a = float(temperature)
    if name in ("exp_up", "exp_down") and not (math.isfinite(a) and a > 0):
        raise ValueError(f"temperature must be finite and > 0, got {temperature!r}")
    if name == "linear":
        return u.copy()
    if name == "ease_in_out":
        return u * u * (3.0 - 2.0 * u)
    if name == "exp_up":
        return np.expm1(a * u) / math.expm1(a)
    if name == "exp_down":
        return (math.exp(a) - np.exp(a * (1.0 - u))) / math.expm1(a)
    if name == "sin_identity":
        return u + np.sin(2.0 * np.pi * u) / (2.0 * np.pi)
    raise ValueError(f"unknown pacing {name!r}; choose one of {PACINGS}")


def invert_progress(
    progress: np.ndarray,
    num_frames: int | None = None,
    pacing: str = "linear",
    temperature: float = 3.0,
    times: np.ndarray | None = None,
) -> np.ndarray:
    """Warped time positions ``tau_k = S^{-1}(P(k / (n - 1)))`` (docs/method.md, Sec. 3).

    ``S^{-1}`` is the linear interpolation of the frame index against ``S``. Flat stretches of
    ``S`` (no semantic change) are crossed at an even rate: a ramp of 1e-9 of the total is added
    before inverting so the inverse is a function.

    Args:
        progress: ``S`` of shape ``(T,)``, non-decreasing from 0 to 1 (e.g.
            :attr:`SPFResult.progress`).
        num_frames: number of output positions ``n`` (default ``T``).
        pacing: target pacing curve ``P`` (:data:`PACINGS`); ``linear`` evens the pace.
        temperature: temperature of exponential curves.
        times: presentation time of each measured frame, seconds (``(T,)``, strictly
            increasing), or ``None``. Given, ``S^{-1}`` interpolates time against ``S`` and the
            positions come back in seconds (docs/method.md, Sec. 8).

    Returns:
        ``tau``: ``np.ndarray`` of shape ``(n,)``, float64, non-decreasing positions in the
        frame units of the measured clip, ``tau_0 = 0`` and ``tau_{n-1} = T - 1`` exactly; with
        ``times``, in seconds: ``tau_0 = times[0]``, ``tau_{n-1} = times[-1]``.

    Raises:
        ValueError: if ``S`` is not 1-D, has NaN, decreases, has fewer than 2 frames, or is flat
            (a degenerate clip has nothing to retime), ``num_frames < 2``, or ``times`` does not
            match ``S`` or does not increase.
    """
    s = np.asarray(progress, dtype=np.float64)
    if s.ndim != 1 or s.size < 2:
        raise ValueError(f"progress must have shape (T,) with T >= 2, got {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("progress contains NaN or inf")
    if np.any(np.diff(s) < -1e-12):
        raise ValueError("progress must be non-decreasing (use SPFResult.progress)")
    span = s[-1] - s[0]
    if span <= 1e-12:
        raise ValueError(
            "progress is flat (degenerate clip): there is no semantic change to retime"
        )
    t = s.size
    n = t if num_frames is None else int(num_frames)
    if n < 2:
        raise ValueError(f"num_frames must be >= 2, got {num_frames}")
    ramp = np.linspace(0.0, 1e-9, t)
    s = ((s - s[0]) / span + ramp) / (1.0 + 1e-9)
    s = np.maximum.accumulate(s)
    target = pacing_curve(pacing, np.linspace(0.0, 1.0, n), temperature)
    if times is not None:
        x = np.asarray(times, dtype=np.float64)
        if x.shape != (t,) or not np.isfinite(x).all() or np.any(np.diff(x) <= 0):
            raise ValueError(f"times must be a strictly increasing ({t},) array of seconds")
        tau = np.interp(target, s, x)
        tau[0], tau[-1] = x[0], x[-1]
        return tau
    tau = np.interp(target, s, np.arange(t, dtype=np.float64))
    tau[0], tau[-1] = 0.0, float(t - 1)
    return tau


# --------------------------------------------------------------------------------------------
# Segmented least squares
# --------------------------------------------------------------------------------------------
def _prefix_sums(y: np.ndarray, x: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Prefix sums of ``1, x, x^2, y, y^2, x y`` (x = frame index, or the given frame times),
    each of shape (T + 1,)."""
    x = np.arange(y.size, dtype=np.float64) if x is None else x
    return tuple(
        np.concatenate([[0.0], np.cumsum(v)]) for v in (np.ones(y.size), x, x * x, y, y * y, x * y)
    )


def _piece_errors(c: tuple[np.ndarray, ...], b: int) -> np.ndarray:
    """``err[a]`` for ``a = 0..b-1``: squared error of the least-squares line through ``a..b``.

    Closed form from the prefix sums ``c`` (:func:`_prefix_sums`), vectorised over ``a``;
    ``O(T)`` memory. Pieces of 2 points fit exactly (error 0).
    """
    a = np.arange(b)
    n, sx, sxx, sy, syy, sxy = (cc[b + 1] - cc[a] for cc in c)
    vxx = sxx - sx * sx / n
    vxy = sxy - sx * sy / n
    vyy = syy - sy * sy / n
    return np.maximum(vyy - vxy * vxy / vxx, 0.0)  # vxx > 0: every piece has >= 2 points


def _sls_penalised(c: tuple[np.ndarray, ...], t: int, penalty: float) -> list[int]:
    """Optimal breakpoints for ``sum(err) + penalty * K`` with pieces sharing end frames."""
    best = np.full(t, np.inf)
    best[0] = 0.0
    arg = np.zeros(t, dtype=np.int64)
    for b in range(1, t):
        cand = best[:b] + _piece_errors(c, b)
        a = int(np.argmin(cand))
        best[b], arg[b] = cand[a] + penalty, a
    return _backtrack(arg, t - 1)


def _sls_exact_k(c: tuple[np.ndarray, ...], t: int, k: int) -> list[int]:
    """Optimal breakpoints with exactly ``k`` pieces (``O(k T^2)`` dynamic programming)."""
    cols = [None] + [_piece_errors(c, b) for b in range(1, t)] if t <= 4096 else None
    best = np.full((k + 1, t), np.inf)
    arg = np.zeros((k + 1, t), dtype=np.int64)
    best[0, 0] = 0.0
    for j in range(1, k + 1):
        for b in range(j, t):
            col = cols[b] if cols is not None else _piece_errors(c, b)
            cand = best[j - 1, :b] + col
            a = int(np.argmin(cand))
            best[j, b], arg[j, b] = cand[a], a
    pts = [t - 1]
    for j in range(k, 0, -1):
        pts.append(int(arg[j, pts[-1]]))
    return pts[::-1]


def _backtrack(arg: np.ndarray, end: int) -> list[int]:
    pts = [end]
    while pts[-1] > 0:
        pts.append(int(arg[pts[-1]]))
    return pts[::-1]


def segment_progress(
    progress: np.ndarray,
    k: int | None = None,
    penalty: float = SEGMENT_PENALTY,
    *,
    times: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """Split ``S`` into near-linear pieces by segmented least squares (docs/method.md, Sec. 5).

    Exact dynamic programming over breakpoints (Bellman's segmented least squares), with the
    squared error of each piece's least-squares line fit in closed form from prefix sums.
    Consecutive pieces share their boundary frame, which is a *semantic keyframe*: the
    segments ``[(0, b1), (b1, b2), ..., (b_{K-1}, T-1)]`` cover every frame, keyframes once.

    Args:
        progress: ``S`` of shape ``(T,)``, ``T >= 2`` (any scale; normalise for the default
            penalty to be meaningful).
        k: exact number of pieces ``K`` (1 <= K <= T - 1). When given, the penalty is searched
            by bisection for a value giving ``K`` pieces; if ``K`` is not reachable by any
            penalty (not on the lower convex hull of cost against ``K``), the exactly-``K``
            dynamic programme is solved instead. ``None``: minimise ``error + penalty * K``.
        penalty: cost ``C`` per piece for ``S`` in [0, 1] (default :data:`SEGMENT_PENALTY`,
            0.008, calibrated; the reference package uses 0.02).
        times: presentation time of each frame, seconds (``(T,)``, strictly increasing), or
            ``None``. Uneven times (:func:`time_axis`) fit each piece's line against time, so a
            piece is straight as the clip plays (docs/method.md, Sec. 8); the error is in ``S``
            units either way, so the penalty keeps its meaning.

    Returns:
        List of ``(start, end)`` frame pairs, inclusive, in order (frame indices; the times of
        the keyframes are ``times[start]``, ``times[end]``).

    Raises:
        ValueError: on a non-1-D or non-finite ``S``, ``T < 2``, ``k`` out of range or a
            negative penalty.
    """
    y = np.asarray(progress, dtype=np.float64)
    if y.ndim != 1 or y.size < 2:
        raise ValueError(f"progress must have shape (T,) with T >= 2, got {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("progress contains NaN or inf")
    if not (math.isfinite(penalty) and penalty >= 0):
        raise ValueError(f"penalty must be finite and >= 0, got {penalty!r}")
    t = y.size
    axis = time_axis(times, t)
    c = _prefix_sums(y, None if axis is None else axis[0] * (t - 1))
    if k is None:
        pts = _sls_penalised(c, t, penalty)
    else:
        k = int(k)
        if not 1 <= k <= t - 1:
            raise ValueError(f"k must be in [1, T - 1] = [1, {t - 1}], got {k}")
        pts = _search_penalty(c, t, k)
    return list(itertools.pairwise(pts))


def _search_penalty(c: tuple[np.ndarray, ...], t: int, k: int) -> list[int]:
    """Bisect the penalty (pieces fall as it grows) for exactly ``k`` pieces; exact DP fallback.

    One piece costs at most the error of the single line through all frames, so a penalty
    above that gives ``K = 1``; 40 bisections reach ~1e-12 of that bracket.
    """
    lo, hi = 0.0, float(_piece_errors(c, t - 1)[0]) + 1e-9
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        pts = _sls_penalised(c, t, mid)
        n = len(pts) - 1
        if n == k:
            return pts
        if n > k:
            lo = mid
        else:
            hi = mid
    return _sls_exact_k(c, t, k)


def keyframes_from_segments(segments: Sequence[tuple[int, int]]) -> list[int]:
    """Semantic keyframes: the boundary frames of ``segments`` (first and last frame included)."""
    if not segments:
        return []
    return [int(segments[0][0])] + [int(e) for _, e in segments]
