"""An offline fidelity measure: the Fréchet distance of frame features to evenly paced references.

The paper's fidelity claim (docs/method.md, Sec. 6) is that retimed videos stay within one
standard deviation of the originals. VBench needs weights that an offline machine lacks for most
dimensions; this measure needs only a frame embedder whose weights ship with the project
(``efficientnet_lite0``). It is the Fréchet distance of Heusel et al. ("GANs Trained by a Two
Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017, Eq. 6; FID), applied
to the frames of a set of videos against the frames of a set of reference clips:

``FD = ||mu_g - mu_r||^2 + Tr(C_g + C_r - 2 (C_g C_r)^(1/2))``

with ``mu``, ``C`` the mean and covariance of the (PCA-projected) frame features.

- **Reference clips** (:func:`crossfade_reference`): for each item, a linear crossfade between
  the first and the last frame of its stock (iteration 0) video, with the stock video's frame
  count: an evenly paced transformation between exactly the item's keyframes, built from the
  item's own (held-out) content. The stock frames themselves are not the reference: against
  them any change, good or bad, would read as a loss of fidelity.
- **Features**: the frame embedder's unit-norm rows, projected on the first ``dims`` principal
  axes of the pooled reference features (:func:`reference_projection`). With 1280-dim
  EfficientNet features and a few hundred frames the full covariance is singular; the
  projection keeps the estimate well-posed and makes each bootstrap resample cost a
  ``dims x dims`` eigenproblem. Every set compared with the same references uses the same
  projection.
- **Spread** (:func:`frechet_bootstrap`): items are resampled with replacement (all frames of an
  item travel together, and so do its reference's), the distance recomputed per resample; the
  standard deviation of those distances is the ``std`` of the verdict (the rule of
  :mod:`spf_bench.metrics.vbench.verdict`), their 2.5 / 97.5 percentiles the 95% interval.

Pure numpy; no torch, no bench imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "FrechetResult",
    "crossfade_reference",
    "frechet_bootstrap",
    "frechet_distance",
    "gaussian_stats",
    "reference_projection",
]


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of feature rows.

    Args:
        features: ``(N, D)`` float, one row per frame, ``N >= 2``.

    Returns:
        ``(mu, cov)``: ``(D,)`` and ``(D, D)`` float64; ``cov`` with ``N - 1`` in the
        denominator (``np.cov``).

    Raises:
        ValueError: not 2-D, fewer than 2 rows, or non-finite values.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"features must be (N >= 2, D), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features must be finite")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet distance between two Gaussians (Heusel et al. 2017, Eq. 6; Dowson & Landau 1982).

    ``||mu1 - mu2||^2 + Tr(cov1) + Tr(cov2) - 2 Tr((cov1 cov2)^(1/2))``. The trace of the
    square root is the sum of the square roots of the eigenvalues of ``cov1 cov2``, which are
    real and non-negative for covariance matrices (rounding below 0 is clipped).

    Args:
        mu1, mu2: ``(D,)`` means.
        cov1, cov2: ``(D, D)`` symmetric positive semi-definite covariances.

    Returns:
        The squared-distance-valued Fréchet distance (float, >= 0 up to rounding; units of
        the features squared).

    Raises:
        ValueError: on shapes that do not match.
    """
    mu1, mu2 = (np.atleast_1d(np.asarray(m, np.float64)) for m in (mu1, mu2))
    c1, c2 = (np.atleast_2d(np.asarray(c, np.float64)) for c in (cov1, cov2))
    d = mu1.shape[0]
    if mu2.shape != (d,) or c1.shape != (d, d) or c2.shape != (d, d):
        raise ValueError(
            f"shapes do not match: mu {mu1.shape} {mu2.shape}, cov {c1.shape} {c2.shape}"
        )
    eig = np.linalg.eigvals(c1 @ c2).real
    tr_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(c1) + np.trace(c2) - 2.0 * tr_sqrt)


def crossfade_reference(first: np.ndarray, last: np.ndarray, n_frames: int) -> np.ndarray:
    """An evenly paced reference clip: the linear crossfade from ``first`` to ``last``.

    Frame ``t`` is ``(1 - u) first + u last`` with ``u = t / (n_frames - 1)``, rounded to uint8.

    Args:
        first, last: ``(H, W, 3)`` uint8 keyframes of the same shape.
        n_frames: frames, >= 2.

    Returns:
        ``(n_frames, H, W, 3)`` uint8; frame 0 is ``first``, the last frame ``last``.

    Raises:
        ValueError: shapes differ or ``n_frames < 2``.
    """
    a, b = np.asarray(first), np.asarray(last)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"keyframes must be (H, W, 3) of one shape, got {a.shape} and {b.shape}")
    if int(n_frames) < 2:
        raise ValueError(f"n_frames must be >= 2, got {n_frames}")
    u = np.linspace(0.0, 1.0, int(n_frames))[:, None, None, None]
    out = (1.0 - u) * a.astype(np.float64)[None] + u * b.astype(np.float64)[None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def reference_projection(reference: Sequence[np.ndarray], dims: int) -> np.ndarray:
    """The first ``dims`` principal axes of the pooled reference features.

    Args:
        reference: per item ``(T_i, D)`` feature rows.
        dims: axes kept, >= 1 (at most ``min(D, N - 1)``, ``N`` pooled rows).

    Returns:
        ``(D, k)`` float64 orthonormal columns, ``k = min(dims, D, N - 1)``, in order of
        decreasing variance (SVD of the centred rows).

    Raises:
        ValueError: ``dims < 1`` or fewer than 2 rows.
    """
    if int(dims) < 1:
        raise ValueError(f"dims must be >= 1, got {dims}")
    x = np.concatenate([np.asarray(r, np.float64) for r in reference], axis=0)
    if x.shape[0] < 2:
        raise ValueError("the references have fewer than 2 frames")
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    k = min(int(dims), x.shape[1], x.shape[0] - 1)
    return vt[:k].T


@dataclass(frozen=True)
class FrechetResult:
    """The Fréchet distance of a set of videos to its references, with its bootstrap spread.

    Attributes:
        fd: the distance on all items.
        std: standard deviation (ddof = 1) of the distance over bootstrap resamples of items.
        ci_low, ci_high: 2.5 and 97.5 percentiles of the resampled distances.
        n_items: items; n_frames: pooled frames; dims: projected feature dimensions;
        n_resamples: bootstrap resamples.
    """

    fd: float
    std: float
    ci_low: float
    ci_high: float
    n_items: int
    n_frames: int
    dims: int
    n_resamples: int

    def as_dict(self) -> dict[str, float | int]:
        """The fields as a plain dict (JSON)."""
        return asdict(self)


def frechet_bootstrap(
    features: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    *,
    projection: np.ndarray | None = None,
    dims: int = 32,
    n_resamples: int = 200,
    seed: int = 0,
) -> FrechetResult:
    """Fréchet distance of ``features`` to ``reference``, bootstrapped over items.

    Item ``i`` contributes all rows of ``features[i]`` and of ``reference[i]``; a resample
    draws item indices with replacement (``np.random.default_rng(seed)``) and recomputes the
    distance of the drawn items' pooled rows to their references' pooled rows.

    Args:
        features: per item ``(T_i, D)`` frame features of the videos judged.
        reference: per item ``(R_i, D)`` frame features of its reference clip (same order).
        projection: ``(D, k)`` axes to project on (:func:`reference_projection`; pass the same
            one to every set compared against these references); ``None``: the first ``dims``
            axes of ``reference``.
        dims: axes when ``projection`` is ``None``.
        n_resamples: bootstrap resamples, >= 2.
        seed: bootstrap seed.

    Returns:
        :class:`FrechetResult`.

    Raises:
        ValueError: fewer than 2 items, lists of different lengths, ``n_resamples < 2``, or a
            feature dimension that differs from the projection's.
    """
    if len(features) != len(reference):
        raise ValueError(f"{len(features)} feature sets for {len(reference)} references")
    if len(features) < 2:
        raise ValueError(f"need >= 2 items, got {len(features)}")
    if int(n_resamples) < 2:
        raise ValueError(f"n_resamples must be >= 2, got {n_resamples}")
    p = reference_projection(reference, dims) if projection is None else np.asarray(projection)
    feats = [np.asarray(f, np.float64) @ p for f in features]
    refs = [np.asarray(r, np.float64) @ p for r in reference]

    def fd_of(idx: np.ndarray) -> float:
        g = gaussian_stats(np.concatenate([feats[i] for i in idx]))
        r = gaussian_stats(np.concatenate([refs[i] for i in idx]))
        return frechet_distance(*g, *r)

    n = len(feats)
    rng = np.random.default_rng(seed)
    boot = np.array([fd_of(rng.integers(0, n, n)) for _ in range(int(n_resamples))])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return FrechetResult(
        fd=fd_of(np.arange(n)),
        std=float(np.std(boot, ddof=1)),
        ci_low=float(lo),
        ci_high=float(hi),
        n_items=n,
        n_frames=int(sum(f.shape[0] for f in feats)),
        dims=int(p.shape[1]),
        n_resamples=int(n_resamples),
    )
