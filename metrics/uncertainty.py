"""An uncertainty for one video: a bootstrap interval of its Linearity Score.

docs/method.md, Sec. 2 (*Uncertainty*). Pure numpy/scipy; called by
:func:`spf_bench.metrics.spf.compute_spf` with the distances, the least-squares solution and
the banded factorisation it already holds, so a resample costs one extra right-hand side
(``O(T k)``), never a new factorisation.

**What varies between two takes of the same clip.** The frames' embeddings carry per-frame
perturbations (sensor noise, codec artefacts, the embedder's own jitter); a perturbed frame
moves every distance it takes part in, up to ``2k`` pairs, together. The pair residuals of the
least-squares fit,

    e_ij = d_ij - (R_j - R_i)          (R the raw solution, step 5)

therefore share a *frame effect*: ``e_ij = a_i + a_j + nu_ij``. Resampling residuals without
it underestimates the spread (measured: half the true standard deviation on 33-frame clips);
resampling frames themselves would reorder time, which the SPF is about.

**Estimator: a frame-effect residual bootstrap.**

1. fit the frame effects ``a`` by weighted least squares on the residuals (the same pair graph
   and weights as the SPF, with ``+1`` at both ends of a pair: a banded signless Laplacian),
   and keep the pair remainders ``nu = e - a_i - a_j`` (centred per diagonal);
2. rescale both by their shrinkage: the fit of ``R`` and of ``a`` absorbs part of the errors
   (a third of the frame effects' variance on 33-frame clips); the shrinkage is measured by
   pushing unit white noise through the same fit (seeded, 8 draws, cached per factorisation);
3. for ``b = 1 .. B``: draw frame effects ``a*`` (one per frame) and remainders ``nu*`` (from
   each diagonal's own) with replacement; set ``d*_ij = (R_j - R_i) + a*_i + a*_j + nu*_ij``;
   solve with the clip's factorisation (the weights do not change, only the right-hand side),
   normalise (step 6) and score (Sec. 2);
4. the interval is ``LS +- z_{(1 + level)/2} * sd(LS*)``, clipped to ``[0, 1]``.

The normal interval around the measured score is used rather than the bootstrap percentiles:
adding resampled residuals to the fit adds noise once more, and noise pulls ``S`` towards the
diagonal, so the replicates sit above the measured score while their spread is right. Coverage
of the expected Linearity of a clip's content at its noise level, on synthetic noisy clips
(``spf-bench study calibrate_spf --coverage``, ``results/spf_calibration/best.md``;
24 cases x 200 clips): median 96.8%; 100% on step profiles, where the SPF's lack of fit enters
the residuals (conservative); 62-80% in the 4 lowest-noise cases on linear and exponential
paths, where the interval is narrowest (half-width 0.001-0.002).

What the interval is not: it is the spread of the measurement between takes of the same
content at the same noise level, not an interval for the noise-free value. Noise biases the
Linearity Score upwards (it adds about the same distance to every pair, straightening ``S``);
that bias is not in the interval. On noise-free renders the residuals are lack of fit only,
and the interval says how tightly the (non-additive) distances pin ``S`` down.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from scipy.linalg import cho_solve_banded, cholesky_banded
from scipy.special import ndtri

from spf_bench.metrics._banded import monotone, normal_rhs, pair_differences

#: A monotone normalisation (step 6): raw solutions ``(..., T)`` -> ``(S from 0, its range)``.
Normaliser = Callable[[np.ndarray], tuple[np.ndarray, "np.ndarray | float"]]

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "Normaliser",
    "linearity_batch",
    "linearity_interval",
    "linearity_spread",
]

#: Default number of bootstrap resamples (``SPFSettings.bootstrap``; 0 disables the interval).
DEFAULT_BOOTSTRAP = 200
#: Resample blocks are sized so that one block's arrays stay under this many float64 entries.
_MAX_ENTRIES = 1 << 22


def linearity_batch(raw: np.ndarray, normalise: Normaliser = monotone) -> np.ndarray:
    """Linearity Scores of many raw solutions at once (steps 6 and Sec. 2, vectorised).

    Args:
        raw: ``np.ndarray`` of shape ``(B, T)``, float64: least-squares solutions.
        normalise: the estimator's monotone normalisation (step 6): ``monotone`` (the paper's
            central differences) or ``monotone_forward`` (the ``link`` estimator's).

    Returns:
        ``(B,)`` float64 Linearity Scores; NaN where a solution has no rise at all.
    """
    s, _ = normalise(raw)
    span = s[:, -1] - s[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.linspace(0.0, 1.0, raw.shape[-1])
        dev = (s - s[:, :1] - span[:, None] * u) / np.abs(span)[:, None]
        ls = 1.0 - np.sqrt(np.mean(dev**2, axis=-1))
    ls[~(span > 0)] = np.nan
    return np.clip(ls, 0.0, 1.0)


@functools.lru_cache(maxsize=32)
def _signless_factor(t: int, k: int, w_bytes: bytes) -> np.ndarray:
    """Banded Cholesky factor of the signless Laplacian ``Q`` of the pair graph (cached)."""
    w = np.frombuffer(w_bytes, dtype=np.float64)
    ab = np.zeros((k + 1, t))
    diag = np.zeros(t)
    for m in range(1, k + 1):
        n = t - m
        if n <= 0:
            break
        diag[:n] += w[m - 1]
        diag[m:] += w[m - 1]
        ab[k - m, m:] = w[m - 1]
    ab[k] = diag * (1.0 + 1e-9) + 1e-12
    factor = cholesky_banded(ab, lower=False, check_finite=False)
    factor.setflags(write=False)
    return factor


def _frame_effects(e: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares frame effects ``a`` with ``e_{i,i+m} ~ a_i + a_{i+m}``.

    Normal equations ``Q a = |A|^T W e`` with ``Q`` the signless Laplacian of the pair graph
    (diagonal: the weight of every pair touching a frame; off-diagonal ``+w_m``); banded,
    positive definite once the graph has a triangle (``k >= 2``); a ridge of ``1e-9`` of its
    diagonal keeps the path graph (``k = 1``) solvable.
    """
    k, t = e.shape
    rhs = np.zeros(t)
    for m in range(1, min(k, t - 1) + 1):
        we = w[m - 1] * e[m - 1, : t - m]
        rhs[: t - m] += we
        rhs[m:] += we
    factor = _signless_factor(t, k, np.ascontiguousarray(w, dtype=np.float64).tobytes())
    return cho_solve_banded((factor, False), rhs, check_finite=False)


def _residuals(d: np.ndarray, factor: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pair residuals ``e = d - (R_j - R_i)`` of the SPF fit of distances ``d`` ``(k, T)``."""
    r = cho_solve_banded((factor, False), normal_rhs(d, w), check_finite=False)
    return d - pair_differences(r, d.shape[0])


def _decompose(e: np.ndarray, w: np.ndarray) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Frame effects ``a`` ``(T,)`` and per-diagonal remainders ``nu`` of residuals ``e``."""
    k, t = e.shape
    n_pairs = sum(max(0, t - m) for m in range(1, k + 1))
    if n_pairs <= 2 * t:  # not enough pairs to tell the fit, the frames and the pairs apart
        return None, []
    a = _frame_effects(e, w)
    return a, [e[m - 1, : t - m] - a[: t - m] - a[m:] for m in range(1, k + 1)]


def _shrinkage(
    factor: np.ndarray, w: np.ndarray, key: tuple | None = None, draws: int = 8
) -> tuple[float, float]:
    """Cached :func:`_measure_shrinkage` (``key`` identifies the factorisation, e.g.
    ``(T, k, sigma, lam)``; ``None`` = not cached)."""
    if key is None:
        return _measure_shrinkage(factor, w, draws)
    hit = _SHRINK_CACHE.get(key)
    if hit is None:
        hit = _measure_shrinkage(factor, w, draws)
        if len(_SHRINK_CACHE) >= 64:
            _SHRINK_CACHE.pop(next(iter(_SHRINK_CACHE)))
        _SHRINK_CACHE[key] = hit
    return hit


_SHRINK_CACHE: dict[tuple, tuple[float, float]] = {}


def _measure_shrinkage(factor: np.ndarray, w: np.ndarray, draws: int = 8) -> tuple[float, float]:
    """How much of unit-variance frame effects and pair errors survives in the estimated ones.

    Independent standard-normal frame effects (then pair errors) are pushed through the SPF fit
    and :func:`_decompose`; the ratio of the estimated to the true standard deviation is the
    shrinkage (seeded, ``draws`` draws; a few solves of the clip's own factorisation).
    """
    k1, t = factor.shape
    k = k1 - 1
    rng = np.random.default_rng(12345)
    sa, sn = [], []
    for _ in range(draws):
        a = rng.standard_normal(t)
        e = np.zeros((k, t))
        for m in range(1, k + 1):
            e[m - 1, : t - m] = a[: t - m] + a[m:]
        a_hat, _ = _decompose(_residuals(e, factor, w), w)
        sa.append(np.std(a_hat) / np.std(a))
        e = np.zeros((k, t))
        for m in range(1, k + 1):
            e[m - 1, : t - m] = rng.standard_normal(t - m)
        _, nu_hat = _decompose(_residuals(e, factor, w), w)
        sn.append(float(np.std(np.concatenate(nu_hat))))
    return max(float(np.mean(sa)), 0.05), max(float(np.mean(sn)), 0.05)


def linearity_interval(
    dist: np.ndarray,
    raw: np.ndarray,
    factor: np.ndarray,
    weights: np.ndarray,
    *,
    n_boot: int = DEFAULT_BOOTSTRAP,
    level: float = 0.95,
    seed: int = 0,
    cache_key: tuple | None = None,
    normalise: Normaliser = monotone,
) -> tuple[float, float]:
    """Bootstrap interval of one clip's Linearity Score (module docs).

    Args:
        dist: ``np.ndarray`` of shape ``(k, T)``, float64: the pair distances the SPF was
            solved with (``dist[m - 1, i] = d_{i, i+m}`` for ``i < T - m``, radians**power).
        raw: ``(T,)`` float64: the least-squares solution for ``dist``.
        factor: the banded Cholesky factor of ``A^T W A + lam I`` for ``(T, k)`` (LAPACK upper
            band storage, ``(k + 1, T)``), as :func:`spf_bench.metrics.spf.compute_spf` uses.
        weights: ``(k,)`` pair weights ``w_m``.
        n_boot: number of resamples ``B`` (>= 2).
        level: coverage of the interval, in ``(0, 1)``.
        seed: seed of the resampling (``np.random.default_rng(seed)``): the interval of a clip
            is reproducible.
        cache_key: identifies ``(factor, weights)``, e.g. ``(T, k, sigma, lam)``, so that the
            shrinkage correction is measured once per factorisation; ``None`` = no cache.
        normalise: the estimator's monotone normalisation (:func:`linearity_batch`).

    Returns:
        ``(low, high)``, Linearity units, within ``[0, 1]``; ``(nan, nan)`` when the clip's own
        Linearity is undefined.

    Raises:
        ValueError: on ``n_boot < 2``, a level outside ``(0, 1)`` or mismatched shapes.
    """
    ls0, half = linearity_spread(
        dist,
        raw,
        factor,
        weights,
        n_boot=n_boot,
        level=level,
        seed=seed,
        cache_key=cache_key,
        normalise=normalise,
    )
    if not (math.isfinite(ls0) and math.isfinite(half)):
        return (math.nan, math.nan)
    return (max(0.0, ls0 - half), min(1.0, ls0 + half))


def linearity_spread(
    dist: np.ndarray,
    raw: np.ndarray,
    factor: np.ndarray,
    weights: np.ndarray,
    *,
    n_boot: int = DEFAULT_BOOTSTRAP,
    level: float = 0.95,
    seed: int = 0,
    cache_key: tuple | None = None,
    normalise: Normaliser = monotone,
) -> tuple[float, float]:
    """The measured Linearity Score and the half-width of its bootstrap interval, unclipped.

    :func:`linearity_interval` is ``(max(0, ls - half), min(1, ls + half))`` of it; the
    ``link`` estimator combines two half-widths (docs/method.md, Sec. 1, *Estimators*).

    Args:
        dist, raw, factor, weights, n_boot, level, seed, cache_key, normalise: as in
            :func:`linearity_interval`.

    Returns:
        ``(ls, half)``: the Linearity Score of ``raw`` and ``z_{(1 + level)/2} sd(LS*)``;
        NaN (either) when undefined.

    Raises:
        ValueError: as :func:`linearity_interval`.
    """
    if int(n_boot) < 2:
        raise ValueError(f"n_boot must be >= 2 resamples, got {n_boot}")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    dist = np.asarray(dist, dtype=np.float64)
    raw = np.asarray(raw, dtype=np.float64)
    k, t = dist.shape
    if raw.shape != (t,) or np.shape(weights) != (k,) or np.shape(factor) != (k + 1, t):
        raise ValueError(
            f"shapes disagree: dist {dist.shape}, raw {raw.shape}, weights {np.shape(weights)}, "
            f"factor {np.shape(factor)}"
        )
    ls0 = float(linearity_batch(raw[None], normalise)[0])
    if not math.isfinite(ls0):
        return (math.nan, math.nan)
    w = np.asarray(weights, dtype=np.float64)
    # 1. fitted differences, residuals, frame effects and pair remainders
    fit = pair_differences(raw, k)
    a, nu = _decompose(dist - fit, w)
    if a is None:
        return (ls0, math.nan)
    # Residuals of a least-squares fit are smaller than the errors behind them (the fit of R
    # and of a absorbs part of them); rescale each part by its measured shrinkage.
    shrink_a, shrink_nu = _shrinkage(factor, w, cache_key)
    a_mean = float(a.mean())
    a_pool = (a - a_mean) / shrink_a
    nu_pool = [(v - v.mean()) / shrink_nu for v in nu]
    # right-hand side of the fitted part, shared by every resample
    rhs_fit = normal_rhs(fit, w)
    rng = np.random.default_rng(int(seed))
    n_boot = int(n_boot)
    chunk = max(1, min(n_boot, _MAX_ENTRIES // max(1, 4 * t)))
    scores = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        # 2. resampled frame effects and remainders -> the residual part of A^T W d*
        a_star = a_mean + a_pool[rng.integers(0, t, size=(b, t))]
        rhs = np.tile(rhs_fit, (b, 1))
        for m in range(1, k + 1):
            n = t - m
            e_star = a_star[:, :n] + a_star[:, m:] + nu_pool[m - 1][rng.integers(0, n, size=(b, n))]
            e_star *= w[m - 1]
            rhs[:, :n] -= e_star
            rhs[:, m:] += e_star
        # 3. the same factorisation, b right-hand sides
        raw_star = cho_solve_banded((factor, False), rhs.T, check_finite=False).T
        scores[start : start + b] = linearity_batch(raw_star, normalise)
    scores = scores[np.isfinite(scores)]
    if scores.size < 2:
        return (ls0, math.nan)
    # 4. normal interval around the measured score
    return ls0, float(ndtri(0.5 + 0.5 * float(level))) * float(np.std(scores, ddof=1))
