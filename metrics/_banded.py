"""The SPF's banded least-squares building blocks, shared by :mod:`spf_bench.metrics.spf` and
:mod:`spf_bench.metrics.uncertainty` (which ``spf`` imports, so they cannot live in ``spf``).

Arrays hold one value per pair offset ``m = 1..k`` and frame ``i``: ``x[..., m - 1, i]`` is
the value of the pair ``(i, i + m)`` for ``i < T - m`` and 0 elsewhere (docs/method.md, Sec. 1).
"""

from __future__ import annotations

import numpy as np


def pair_weights(window: int, sigma: float) -> np.ndarray:
    """Gaussian pair weights ``w_m = exp(-m^2 / (2 sigma^2))`` (docs/method.md, Sec. 1, step 4).

    Args:
        window: ``k``, the largest pair offset, frames.
        sigma: width, frames.

    Returns:
        ``(k,)`` float64, one weight per offset ``m = 1..k``.
    """
    m = np.arange(1, window + 1, dtype=np.float64)
    return np.exp(-(m**2) / (2.0 * sigma**2))


def normal_rhs(dist: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``A^T W b`` from per-diagonal values ``(..., k, T)`` (distances, residuals, fits).

    Each pair adds ``-w d`` at ``i`` and ``+w d`` at ``j`` (docs/method.md, Sec. 1, step 5).

    Args:
        dist: ``(..., k, T)`` per-diagonal values (``dist[..., m - 1, i]`` for the pair
            ``(i, i + m)``).
        w: ``(k,)`` pair weights (:func:`pair_weights`).

    Returns:
        ``(..., T)`` float64.
    """
    k, t = dist.shape[-2:]
    rhs = np.zeros((*dist.shape[:-2], t), dtype=np.float64)
    for m in range(1, k + 1):
        if m >= t:
            break
        wd = w[m - 1] * dist[..., m - 1, : t - m]
        rhs[..., : t - m] -= wd
        rhs[..., m:] += wd
    return rhs


def pair_differences(x: np.ndarray, k: int) -> np.ndarray:
    """``x_{i+m} - x_i`` of a ``(T,)`` series for offsets ``m = 1..k``, shape ``(k, T)``."""
    t = x.shape[-1]
    out = np.zeros((k, t))
    for m in range(1, k + 1):
        out[m - 1, : t - m] = x[m:] - x[:-m]
    return out


def monotone(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray | float]:
    """Gradient-clip-cumsum (docs/method.md, Sec. 1, step 6) of least-squares solutions.

    Args:
        raw: ``(..., T)`` float least-squares solutions.

    Returns:
        ``(s, total)``: the unscaled monotone ``S`` from 0, ``(..., T)`` float64, and its range
        (a float for one clip, else ``(...)``).
    """
    g = np.clip(np.gradient(raw, axis=-1), 0.0, None)
    s = np.cumsum(g, axis=-1)
    s -= s.min(axis=-1, keepdims=True)
    return s, s.max(axis=-1)


def monotone_forward(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray | float]:
    """Forward-difference monotone normalisation of the ``link`` estimator (docs/method.md,
    Sec. 1, *Estimators*): ``S_0 = 0``, ``S_i = sum_{j < i} max(R_{j+1} - R_j, 0)``.

    Unlike :func:`monotone` (central differences, which place ``S`` half a frame late, and
    half a frame early for the reversed clip), it returns a non-decreasing ``R`` unchanged
    up to its offset, so a clip and its reversal give ``S`` and ``1 - S`` reversed exactly.

    Args:
        raw: ``(..., T)`` float solutions.

    Returns:
        ``(s, total)``: the unscaled monotone ``S`` from 0, ``(..., T)`` float64, and its range
        ``s[..., -1]`` (a float for one clip, else ``(...)``).
    """
    g = np.clip(np.diff(np.asarray(raw, dtype=np.float64), axis=-1), 0.0, None)
    s = np.zeros((*g.shape[:-1], g.shape[-1] + 1))
    np.cumsum(g, axis=-1, out=s[..., 1:])
    total = s[..., -1]
    return s, float(total) if s.ndim == 1 else total
