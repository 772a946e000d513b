"""No-progress test: is there semantic change above the noise floor in a clip?

docs/method.md, Sec. 1, step 7. Pure numpy; called by :func:`spf_bench.metrics.spf.compute_spf`
on the distances it has already computed, so the test costs ``O(T k)`` on top of the SPF.

**Idea.** Semantic progress accumulates: when the content of a clip drifts (a morph, a zoom, a
pan, a cut to another shot), frames further apart in time differ more than neighbours, so the
mean angular distance ``D(m)`` between frames ``m`` apart grows with the offset ``m``. When a
clip only fluctuates around one content (sensor noise, camera shake, jitter, exposure or codec
flicker) its frames are exchangeable draws and ``D(m)`` is flat: every pair is as far apart as
the fluctuation makes it, whatever its offset. The SPF cannot tell the two apart: fitted to a
flat ``D(m)`` it returns a straight line, a perfect Linearity Score made of noise.

**Statistic.** With the effective window ``k`` (frames), the *near* offsets ``1 .. n`` with
``n = max(1, floor(k / 10))`` and the *far* offsets ``ceil(k / 2) .. k``, the accumulated
change of a block of pair origins ``i in [b, b + k)`` is

    G_b = mean_{far pairs (i, i+m), i in block} d  -  mean_{near pairs (i, i+m), i in block} d

(radians; pairs pooled, so each offset counts by its number of pairs). The clip's statistic is
``G = max_b G_b`` over every block position (a single block when ``T <= 1.5 k``): progress
anywhere in the clip counts, and one cut in a long static clip is not diluted by the static
frames. A stationary clip gives ``G ~ 0`` whatever its noise level (both means estimate the same
fluctuation distance); a drifting clip gives ``G ~`` the change accumulated over half a window.

**Decision.** ``G < threshold`` (radians) means *no progress*: the clip is flagged
``degenerate`` (Linearity NaN, no keyframes, not retimed). The default threshold, 0.07 rad, is
calibrated on a labelled suite of real clips (``bench/studies/calibrate_progress.py``,
``results/no_progress/``): H.264-decoded stills with 0.5-10 grey levels of noise, shake, jitter,
exposure and codec flicker, each also with duplicated frames, reach at most 0.061 rad (the
decoder's slowly refreshed grain makes low-noise clips drift a little), every real
transformation (slow zoom and pan, morphs, ground-truth sequences, real footage) at least
0.094 rad, with both offline embedders. A ratio ``D(far) / D(near)`` cannot replace the
difference: codec drift gives ratios above 2, pixel rotations (whose distances saturate) below
2. The threshold is absolute (radians): embedders whose distances live on another scale
(SigLIP, DINOv2) should be checked with the same script before trusting it.

A clip too short for near and far offsets to differ (``k < 4``, i.e. ``T < 5`` frames) is not
tested: its statistic is NaN and only the arccos-clip floor of step 6 applies.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DEFAULT_PROGRESS_THRESHOLD", "MIN_WINDOW", "offset_bands", "progress_statistic"]

#: Default threshold on the accumulated change ``G``, radians (docs/method.md, Sec. 1, step 7).
DEFAULT_PROGRESS_THRESHOLD = 0.07
#: Smallest effective window for which the test is defined (frames).
MIN_WINDOW = 4


def offset_bands(window: int) -> tuple[int, int]:
    """The near and far offset bands of a window.

    Args:
        window: effective window ``k`` (frames, ``>= MIN_WINDOW``).

    Returns:
        ``(n_near, m_far)``: near offsets are ``1 .. n_near``, far offsets ``m_far .. k``.

    Raises:
        ValueError: if ``window < MIN_WINDOW``.
    """
    k = int(window)
    if k < MIN_WINDOW:
        raise ValueError(f"the no-progress test needs a window of >= {MIN_WINDOW} frames, got {k}")
    return max(1, k // 10), math.ceil(k / 2)


def progress_statistic(dist: np.ndarray, power: float = 1.0) -> np.ndarray | float:
    """The accumulated change ``G`` of one clip or a stack of equal-length clips.

    Args:
        dist: per-diagonal distances as :func:`spf_bench.metrics.spf.compute_spf` computes them,
            ``np.ndarray`` of shape ``(k, T)`` or ``(N, k, T)``, float64, with
            ``dist[..., m - 1, i] = d_{i, i+m} ** power`` for ``i < T - m`` (entries beyond are
            ignored).
        power: the exponent the distances carry; they are taken back to radians first.

    Returns:
        ``G`` in radians: a float for one clip, an ``(N,)`` array for a stack; NaN when
        ``k < MIN_WINDOW``.

    Raises:
        ValueError: if ``dist`` is not 2-D or 3-D.
    """
    d = np.asarray(dist, dtype=np.float64)
    if d.ndim not in (2, 3):
        raise ValueError(f"dist must have shape (k, T) or (N, k, T), got {d.shape}")
    single = d.ndim == 2
    d = d[None] if single else d
    n_clips, k, t = d.shape
    if k < MIN_WINDOW:
        out = np.full(n_clips, np.nan)
        return float(out[0]) if single else out
    if power != 1.0:
        d = np.power(np.maximum(d, 0.0), 1.0 / power)
    n_near, m_far = offset_bands(k)
    # Per pair origin i: sums and counts of the near and far pairs starting at i.
    origins = t - m_far  # origins with at least one far pair: 0 .. T - m_far - 1
    near_sum = np.zeros((n_clips, origins))
    near_cnt = np.zeros(origins)
    far_sum = np.zeros((n_clips, origins))
    far_cnt = np.zeros(origins)
    for m in range(1, n_near + 1):
        n = min(origins, t - m)
        near_sum[:, :n] += d[:, m - 1, :n]
        near_cnt[:n] += 1
    for m in range(m_far, k + 1):
        n = min(origins, t - m)
        far_sum[:, :n] += d[:, m - 1, :n]
        far_cnt[:n] += 1
    # Sliding blocks of k origins (one block when there are no more origins than that).
    block = min(k, origins)

    def window_sums(x: np.ndarray) -> np.ndarray:
        c = np.concatenate([np.zeros((*x.shape[:-1], 1)), np.cumsum(x, axis=-1)], axis=-1)
        return c[..., block:] - c[..., :-block]

    g = window_sums(far_sum) / window_sums(far_cnt) - window_sums(near_sum) / window_sums(near_cnt)
    out = g.max(axis=-1)
    return float(out[0]) if single else out
