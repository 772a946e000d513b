"""``hue_hist``: a colour-histogram frame embedder (numpy only).

It implements spf-bench's Embedder protocol (``spf_bench.metrics.embedders.base.Embedder``):
``name``, ``dim`` and ``embed(frames (T, H, W, 3) uint8) -> (T, D) float32`` unit rows. The
builder takes the keyword arguments every spf-bench embedder builder takes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HueHistogram", "build_hue_hist"]


class HueHistogram:
    """A joint RGB histogram with ``bins`` levels per channel, square-rooted and L2-normalised.

    Args:
        bins: levels per channel (``D = bins ** 3``).
    """

    name = "hue_hist"

    def __init__(self, bins: int = 8) -> None:
        self.bins = int(bins)
        self.dim = self.bins**3

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """Embed ``(T, H, W, 3)`` uint8 frames; returns ``(T, bins**3)`` float32 unit rows."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.shape}")
        q = (frames.astype(np.int64) * self.bins) // 256
        codes = (q[..., 0] * self.bins + q[..., 1]) * self.bins + q[..., 2]
        flat = codes.reshape(len(frames), -1)
        hist = np.stack([np.bincount(row, minlength=self.dim) for row in flat]).astype(np.float64)
        hist = np.sqrt(hist)
        return (hist / np.linalg.norm(hist, axis=1, keepdims=True)).astype(np.float32)


def build_hue_hist(
    *,
    device: str,
    dtype: str,
    batch_size: int,
    weights: str | None,
    allow_download: bool,
    progress: bool,
    bins: int = 8,
) -> HueHistogram:
    """The ``hue_hist`` embedder (CPU, no weights: ``device``, ``dtype``, ``batch_size``,
    ``allow_download`` and ``progress`` are accepted and unused).

    Raises:
        ValueError: if ``weights`` is given.
    """
    del device, dtype, batch_size, allow_download, progress
    if weights is not None:
        raise ValueError("hue_hist takes no weights")
    return HueHistogram(bins)
