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
asymptote ``c``, fitted per clip: ``min_{S, c} sum w_ij (d_ij - f(S_j - S_i))^2 + lam |S|^2``.
From the paper's solution (and ``c`` from a bounded Brent search over ``log c`` on a fixed,
evenly strided subsample of at most :data:`LINK_FIT_PAIRS` pairs), each round is one
Gauss-Newton step in ``S`` and ``log c`` together. Its normal equations are the paper's banded
weighted least squares with per-pair weights ``w_ij f'(x_ij)^2`` (``x = S_j - S_i`` at the
current ``S``), bordered by one row and column for ``log c``, which two solves with the same
banded factor eliminate (Schur complement). The step is halved until the objective does not
rise; rounds stop when ``S`` moves by less than ``tol`` of its range and ``log c`` by less than
``tol``, at most ``max_iter`` rounds (median 10 on the clips of ``results/known_warp/``). Each round
costs one banded factorisation, ``O(T k^2)`` time and ``O(T k)`` memory, like the paper's
solve. Pure numpy/scipy (LAPACK ``pbtrf``/``pbtrs`` through
:func:`scipy.linalg.cholesky_banded`).

The fitted ``S`` is then normalised by forward differences
(:func:`spf_bench.metrics.spf.monotone_forward`: exact under reversal, where the paper's
central differences shift ``S`` by half a frame), and its Linearity interval is the wider of
the linearised link bootstrap and the paper's (docs/method.md, Sec. 1, *Estimators*). It is
the default (:data:`DEFAULT_ESTIMATOR`); ``spf.estimator=paper`` gives the authors' method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from scipy.linalg import cho_solve_banded, cholesky_banded
from scipy.optimize import minimize_scalar

__all__ = [
    "DEFAULT_ESTIMATOR",
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
#: The estimator of the measurement settings (``SPFSettings``, ``spf.estimator``, the CLI):
#: ``link``, the one that reads the known-retiming benchmark best (``results/known_warp/``:
#: Linearity bias on a 3x speed ramp +0.008 against the paper's +0.104, pixel). The semantic
#: keyframes stay on the paper's ``S`` under both
#: (:attr:`spf_bench.metrics.spf.SPFResult.keyframe_progress`); docs/method.md, Sec. 1,
#: *Estimators*, gives the evidence and the checks. ``paper`` remains the authors' method,
#: unchanged, with ``spf.estimator=paper``.
DEFAULT_ESTIMATOR: Estimator = "link"
#: At most this many pairs (evenly strided over the window) give the starting value of ``c``.
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
    neg = np.minimum(x, 0.0)
    slope = np.exp((x - neg) * (-1.0 / c))  # one exponential per pair: the hot loop's cost
    value = c * (1.0 - slope) + neg  # absolute error ~1e-16 c near 0
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
    """Weighted least-squares asymptote ``c`` of the link for progress ``s`` on the sampled
    pairs (bounded Brent search over ``log c``): the starting value of the joint fit."""
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
) -> tuple[np.ndarray, float, float]:
    """One Gauss-Newton step for ``S`` and ``log c`` together.

    The normal equations are the paper's banded system with per-pair weights ``w f'^2``
    (``f'`` the link's slope at ``x = S_j - S_i``), bordered by one row and column for
    ``theta = log c`` (``df/dtheta = c df/dc``); the border is eliminated by its Schur complement
    with two solves of the banded factor. Assembled per diagonal (``O(T)`` extra memory each).

    Returns:
        ``(dS, dtheta, loss)``: the step and the objective at ``(s, c)``.
    """
    k, t = dist.shape
    ab = np.zeros((k + 1, t))
    diag = np.full(t, lam)
    rhs = -lam * s
    border = np.zeros(t)
    q = rhs_c = 0.0
    loss = lam * float(s @ s)
    for m in range(1, k + 1):
        if m >= t:
            break
        x = s[m:] - s[:-m]
        fx, fp = saturating_link(x, c)
        g = fx - x * fp  # c df/dc (0 on x < 0, where f(x) = x and f' = 1)
        r = dist[m - 1, : t - m] - fx
        w = weights[m - 1]
        loss += w * float(r @ r)
        pw = w * fp * fp
        diag[: t - m] += pw
        diag[m:] += pw
        ab[m, : t - m] = -pw  # lower band storage: entry (i + m, i) at ab[m, i]
        wr = w * fp * r
        rhs[: t - m] -= wr
        rhs[m:] += wr
        wg = w * fp * g
        border[: t - m] -= wg
        border[m:] += wg
        q += w * float(g @ g)
        rhs_c += w * float(g @ r)
    ab[0] = diag
    # Lower storage: LAPACK's pbtrf runs about 5x faster on it than on the upper storage at
    # k = 30 (3 ms against 16 ms at T = 10^4 on this machine); same factor up to rounding.
    factor = cholesky_banded(ab, lower=True, check_finite=False, overwrite_ab=True)
    u, v = cho_solve_banded((factor, True), np.stack([rhs, border], axis=1), check_finite=False).T
    schur = q - float(border @ v)
    d_theta = (rhs_c - float(border @ u)) / schur if schur > 1e-12 * max(q, 1e-300) else 0.0
    return u - v * d_theta, d_theta, loss


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
        max_iter: most Gauss-Newton rounds (>= 1).
        tol: stop when the largest change of ``S`` is below ``tol`` times its range and
            ``log c`` moves by less than ``tol``.

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
    lo, hi = math.log(_SCALE_RANGE[0] * d_max), math.log(_SCALE_RANGE[1] * d_max)
    theta = math.log(_fit_scale(s, sample, (math.exp(lo), math.exp(hi))))
    iterations = 0
    for _ in range(int(max_iter)):
        iterations += 1
        step, d_theta, base = _gauss_newton_step(s, dist, weights, lam, math.exp(theta))
        alpha = 1.0
        for _ in range(_MAX_HALVINGS):  # backtracking: the objective never rises
            new_theta = min(max(theta + alpha * d_theta, lo), hi)
            if _loss(s + alpha * step, dist, weights, lam, math.exp(new_theta)) <= base:
                break
            alpha *= 0.5
        else:
            alpha, new_theta = 0.0, theta
        s_new = s + alpha * step
        span = max(float(np.ptp(s_new)), 1e-300)
        done = float(np.max(np.abs(s_new - s))) < tol * span and abs(new_theta - theta) < tol
        s, theta = s_new, new_theta
        if done:
            break
    c = math.exp(theta)
    return LinkFit(raw=s, scale=c, iterations=iterations)
