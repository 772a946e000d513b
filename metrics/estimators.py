"""SPF estimators beyond the paper's least squares (docs/method.md, Sec. 1, *Estimators*).

The paper solves ``min_S sum w_ij (S_j - S_i - d_ij)^2 + lam |S|^2`` over the pairs of the
window (:func:`spf_bench.metrics.spf.compute_spf`, ``estimator="paper"``). That model says the
angular distance of a pair *is* its progress difference. It is not: angles between embeddings
grow sub-additively (they saturate: a frame far along the clip is not twice as far as one half
way), so where the content moves fast the far pairs under-read the progress between them and
the fit pulls ``S`` towards the straight line. On the known-retiming benchmark
(``results/known_warp/``) a 3x speed ramp reads about 0.12 too linear.

``estimator="link"``: one-dimensional non-metric scaling in the manner of Shepard and Kruskal,
with a parametric link. The pair distances are modelled as

    d_ij = f(S_j - S_i),   f(x) = c (1 - exp(-x / c)) for x >= 0,   f(x) = x for x < 0,

a monotone saturating link with slope 1 at 0 (so ``S`` keeps the radians of short pairs) and
asymptote ``c``, fitted per clip. The fit alternates

1. ``c`` given ``S``: weighted least squares over ``log c`` (bounded Brent search, on a fixed,
   evenly strided subsample of at most :data:`LINK_FIT_PAIRS` pairs);
2. ``S`` given ``c``: one Gauss-Newton step, which is the paper's banded weighted least squares
   with per-pair weights ``w_ij f'(x_ij)^2`` and targets ``x_ij + (d_ij - f(x_ij)) / f'(x_ij)``
   (``x = S_j - S_i`` at the current ``S``), halved until the objective does not rise;

from the paper's solution, until ``S`` and ``c`` change by less than ``tol`` (relative), at
most ``max_iter`` rounds. Each round costs one banded factorisation, ``O(T k^2)`` time and
``O(T k)`` memory, like the paper's solve. Pure numpy/scipy (LAPACK ``pbtrf``/``pbtrs``
through :func:`scipy.linalg.cholesky_banded`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from scipy.linalg import cho_solve_banded, cholesky_banded
from scipy.optimize import minimize_scalar

__all__ = [
    "ESTIMATORS",
    "LINK_FIT_PAIRS",
    "Estimator",
    "LinkFit",
    "check_estimator",
    "link_solve",
    "saturating_link",
]

#: The SPF estimators: ``paper`` (the authors' least squares) and ``link`` (fitted saturating
#: link, this module).
Estimator = Literal["paper", "link"]
ESTIMATORS: tuple[str, ...] = get_args(Estimator)
#: At most this many pairs (evenly strided over the window) fit the link's scale ``c``.
LINK_FIT_PAIRS = 1 << 16
#: Most step halvings of one Gauss-Newton step's line search.
_MAX_HALVINGS = 12
#: Search range of ``c`` as multiples of the clip's largest pair distance.
_SCALE_RANGE = (0.05, 100.0)


def check_estimator(estimator: str) -> None:
    """Raise ValueError unless ``estimator`` is one of :data:`ESTIMATORS`."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")


def saturating_link(x: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """The link ``f(x) = c (1 - exp(-x / c))`` (``x`` for ``x < 0``) and its slope ``f'(x)``.

    Args:
        x: progress differences ``S_j - S_i``, any shape, float64 (radians**power).
        c: the asymptote, > 0, same units.

    Returns:
        ``(f(x), f'(x))``, arrays of the shape of ``x``; ``f'`` lies in ``(0, 1]``.
    """
    pos = np.maximum(x, 0.0)
    slope = np.exp(-pos / c)
    value = np.where(x > 0, -c * np.expm1(-pos / c), x)
    return value, slope


@dataclass(frozen=True)
class LinkFit:
    """Result of :func:`link_solve`.

    Attributes:
        raw: ``(T,)`` float64, the fitted ``S`` before the monotone normalisation
            (radians**power: short pairs keep their angle).
        scale: the fitted asymptote ``c`` of the link, radians**power.
        iterations: Gauss-Newton rounds run.
    """

    raw: np.ndarray
    scale: float
    iterations: int


def _fit_sample(dist: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Offsets, origins, distances and weights of an evenly strided subsample of the pairs."""
    k, t = dist.shape
    n_pairs = sum(max(t - m, 0) for m in range(1, k + 1))
    stride = max(1, math.ceil(n_pairs / LINK_FIT_PAIRS))
    ms, iis = [], []
    for m in range(1, k + 1):
        if m >= t:
            break
        i = np.arange(m % stride, t - m, stride)  # shifted per diagonal: every origin is seen
        ms.append(np.full(i.size, m))
        iis.append(i)
    m = np.concatenate(ms)
    i = np.concatenate(iis)
    return m, i, dist[m - 1, i], weights[m - 1]


def _fit_scale(s: np.ndarray, sample: tuple[np.ndarray, ...], bounds: tuple[float, float]) -> float:
    """Weighted least-squares asymptote ``c`` of the link for progress ``s`` (bounded Brent)."""
    m, i, d, w = sample
    x = s[i + m] - s[i]

    def loss(log_c: float) -> float:
        return float(np.sum(w * (d - saturating_link(x, math.exp(log_c))[0]) ** 2))

    res = minimize_scalar(
        loss,
        bounds=(math.log(bounds[0]), math.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return math.exp(res.x)


def _loss(s: np.ndarray, dist: np.ndarray, weights: np.ndarray, lam: float, c: float) -> float:
    """The objective ``sum w_ij (d_ij - f(S_j - S_i))^2 + lam |S|^2``, per diagonal."""
    k, t = dist.shape
    total = lam * float(s @ s)
    for m in range(1, min(k, t - 1) + 1):
        r = dist[m - 1, : t - m] - saturating_link(s[m:] - s[:-m], c)[0]
        total += weights[m - 1] * float(r @ r)
    return total


def _gauss_newton_step(
    s: np.ndarray, dist: np.ndarray, weights: np.ndarray, lam: float, c: float
) -> np.ndarray:
    """One Gauss-Newton step for ``S`` at fixed ``c``: the paper's banded weighted least squares
    with per-pair weights ``w f'^2`` and targets ``x + (d - f) / f'``, assembled per diagonal
    (``O(T)`` extra memory per diagonal)."""
    k, t = dist.shape
    ab = np.zeros((k + 1, t))
    diag = np.full(t, lam)
    rhs = np.zeros(t)
    for m in range(1, k + 1):
        if m >= t:
            break
        x = s[m:] - s[:-m]
        fx, fp = saturating_link(x, c)
        pw = weights[m - 1] * fp * fp
        wt = weights[m - 1] * fp * (fp * x + dist[m - 1, : t - m] - fx)  # pw * target
        diag[: t - m] += pw
        diag[m:] += pw
        ab[k - m, m:] = -pw
        rhs[: t - m] -= wt
        rhs[m:] += wt
    ab[k] = diag
    factor = cholesky_banded(ab, lower=False, check_finite=False, overwrite_ab=True)
    return cho_solve_banded((factor, False), rhs, overwrite_b=True, check_finite=False)


def link_solve(
    dist: np.ndarray,
    raw: np.ndarray,
    weights: np.ndarray,
    lam: float,
    *,
    max_iter: int = 40,
    tol: float = 1e-4,
) -> LinkFit:
    """Fit ``S`` and the saturating link's scale ``c`` to one clip's pair distances.

    Args:
        dist: ``(k, T)`` float64 pair distances, ``dist[m - 1, i] = d_{i, i+m}`` for
            ``i < T - m`` (radians**power), as :func:`spf_bench.metrics.spf.compute_spf` holds.
        raw: ``(T,)`` float64 starting point, the paper's least-squares solution.
        weights: ``(k,)`` Gaussian pair weights ``w_m``.
        lam: Tikhonov weight (> 0), as the paper's.
        max_iter: most alternation rounds (>= 1).
        tol: stop when the largest change of ``S`` is below ``tol`` times its range and ``c``
            moves by less than ``tol`` relative.

    Returns:
        :class:`LinkFit`.

    Raises:
        ValueError: on mismatched shapes or ``max_iter < 1``.
    """
    dist = np.asarray(dist, dtype=np.float64)
    s = np.asarray(raw, dtype=np.float64).copy()
    k, t = dist.shape
    if s.shape != (t,) or np.shape(weights) != (k,):
        raise ValueError(
            f"shapes disagree: dist {dist.shape}, raw {s.shape}, weights {np.shape(weights)}"
        )
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    sample = _fit_sample(dist, np.asarray(weights, dtype=np.float64))
    d_max = float(sample[2].max())
    if not d_max > 0:  # every pair at distance 0: nothing to fit
        return LinkFit(raw=s, scale=math.nan, iterations=0)
    bounds = (_SCALE_RANGE[0] * d_max, _SCALE_RANGE[1] * d_max)
    c = math.nan
    iterations = 0
    for _ in range(int(max_iter)):
        iterations += 1
        c_new = _fit_scale(s, sample, bounds)
        step = _gauss_newton_step(s, dist, weights, lam, c_new) - s
        base = _loss(s, dist, weights, lam, c_new)
        for _ in range(_MAX_HALVINGS):  # backtracking: the objective never rises
            if _loss(s + step, dist, weights, lam, c_new) <= base:
                break
            step *= 0.5
        else:
            step[:] = 0.0
        s_new = s + step
        span = max(float(np.ptp(s_new)), 1e-300)
        done = float(np.max(np.abs(s_new - s))) < tol * span and abs(c_new - c) < tol * c_new
        s, c = s_new, c_new
        if done:
            break
    return LinkFit(raw=s, scale=c, iterations=iterations)
