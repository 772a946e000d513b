"""``pixel``: the paper's pixel baseline (docs/method.md, Sec. 1, step 1: "a pixel baseline").

Each frame is area-resized (box average over the whole frame, aspect not kept) to ``side x side``,
scaled to [0, 1] and flattened channel-first, then a constant homogeneous coordinate
:func:`black_level` is appended before L2-normalising: ``D = 3 * side * side + 1``. No model and
no weights.

Why the extra coordinate (docs/method.md, Sec. 8): a black frame is the zero vector,
which has no direction and cannot be L2-normalised, yet fades from black and title cards are
everyday footage. With the constant appended, black maps to the fixed unit vector
``(0, ..., 0, 1)`` and a fade ``a * x`` from black is a monotone angle ``atan(a |x| / c)``
from it; a constant grey frame is a direction like any other.

Source: torch (``torch.nn.functional.interpolate(mode="area")``), imported lazily.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .base import PreprocessConfig, TorchEmbedder

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["LEVEL", "black_level", "build_pixel", "locate_pixel_weights"]

#: One 8-bit grey level in the [0, 1] pixel scale: the value of the homogeneous coordinate per
#: pixel value (:func:`black_level`).
LEVEL = 1.0 / 255.0


def black_level(n_values: int) -> float:
    """The homogeneous coordinate appended to a pixel vector of ``n_values`` values.

    ``c = LEVEL * sqrt(n_values)``: the norm of a frame one 8-bit grey level above black, the
    smallest step the input can take. A frame darker than that on average (RMS) sits within
    45 degrees of the black direction; a frame of RMS brightness ``r`` (in [0, 1]) has its angle to
    another such frame changed by a relative ``~ (LEVEL / r) ** 2`` (1.5e-3 at ``r = 0.1``,
    7.7e-5 at a typical ``r = 0.45``), so pixel numbers shift only slightly.

    Args:
        n_values: number of pixel values ``3 * side * side``.

    Returns:
        ``c``, in the [0, 1] pixel scale.
    """
    return LEVEL * math.sqrt(int(n_values))


def locate_pixel_weights() -> str:
    """``pixel`` has no weights: it is available on every machine.

    Returns:
        ``"none needed"``.
    """
    return "none needed"


def build_pixel(
    *,
    device: str,
    dtype: str,
    batch_size: int,
    weights: str | None,
    allow_download: bool,
    progress: bool,
    side: int = 32,
) -> TorchEmbedder:
    """Pixel baseline: each frame area-resized (box average, whole frame, aspect not kept) to
    ``side x side``, scaled to [0, 1], flattened channel-first (all R, then G, then B) to
    ``3 * side * side`` values, the homogeneous coordinate :func:`black_level` appended, then
    L2-normalised (``D = 3 * side * side + 1``).

    Computed in float32 whatever ``dtype`` says. An all-black frame embeds to
    ``(0, ..., 0, 1)``; a constant clip embeds to one vector (no progress: degenerate, not an
    error).

    Args:
        device: torch device string.
        dtype: ignored (always float32).
        batch_size: frames per batch.
        weights: must be ``None``.
        allow_download: unused (nothing to download).
        progress: show a tqdm bar on inputs longer than 2 batches.
        side: output side in pixels; ``D = 3 * side * side + 1``.

    Returns:
        A :class:`TorchEmbedder` with ``model = None``.

    Raises:
        ValueError: if ``weights`` is given or ``side < 1``.
    """
    del allow_download
    if weights is not None:
        raise ValueError("pixel: takes no weights")
    if int(side) < 1:
        raise ValueError(f"pixel: side must be >= 1, got {side}")
    del dtype
    import torch  # heavy: imported when an embedder is built

    n_values = 3 * int(side) ** 2
    c = black_level(n_values)

    def features(x: torch.Tensor) -> torch.Tensor:
        flat = x.float().flatten(1)
        return torch.cat([flat, flat.new_full((flat.shape[0], 1), c)], dim=1)

    return TorchEmbedder(
        name="pixel",
        dim=n_values + 1,
        model=None,
        features=features,
        preprocess_config=PreprocessConfig(
            size=int(side), resize_mode="squash", interpolation="area"
        ),
        device=device,
        dtype="float32",
        batch_size=batch_size,
        progress=progress,
        info={
            "library": "torch",
            "model": f"area-resize {side}x{side} + homogeneous coordinate {c:.6g}",
        },
    )
