"""``pixel``: the paper's pixel baseline (docs/method.md, Sec. 1, step 1: "a pixel baseline").

Each frame is area-resized (box average over the whole frame, aspect not kept) to ``side x side``,
scaled to [0, 1] and flattened channel-first, ``D = 3 * side * side``. No model and no weights.

Source: torch (``torch.nn.functional.interpolate(mode="area")``), imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import PreprocessConfig, TorchEmbedder

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["build_pixel", "locate_pixel_weights"]


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
    ``3 * side * side`` values, then L2-normalised.

    Computed in float32 whatever ``dtype`` says. An all-black frame has no direction and raises
    ``EmbeddingError`` when embedded.

    Args:
        device: torch device string.
        dtype: ignored (always float32).
        batch_size: frames per batch.
        weights: must be ``None``.
        allow_download: unused (nothing to download).
        progress: show a tqdm bar on inputs longer than 2 batches.
        side: output side in pixels; ``D = 3 * side * side``.

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

    def features(x: torch.Tensor) -> torch.Tensor:
        return x.float().flatten(1)

    return TorchEmbedder(
        name="pixel",
        dim=3 * int(side) ** 2,
        model=None,
        features=features,
        preprocess_config=PreprocessConfig(
            size=int(side), resize_mode="squash", interpolation="area"
        ),
        device=device,
        dtype="float32",
        batch_size=batch_size,
        progress=progress,
        info={"library": "torch", "model": f"area-resize {side}x{side}"},
    )
