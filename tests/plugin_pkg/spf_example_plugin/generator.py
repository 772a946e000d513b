"""``sunset``: a procedural sky that turns from day to dusk with an uneven (sigmoid) pacing.

It implements spf-bench's Generator protocol (``spf_bench.generators.base``): three attributes
and two methods. It renders any time position exactly (the colour is a function of continuous
time), so ``retime=warped`` can re-render it; a generator that cannot would set
``honours_positions = False`` and be retimed post hoc (``retime=resample``).
"""

from __future__ import annotations

import numpy as np

from spf_bench.generators.base import (
    GeneratedVideo,
    GenerationRequest,
    GeneratorError,
    stock_positions,
)

__all__ = ["SunsetGenerator"]

_DAY = np.array([90.0, 160.0, 235.0])  # RGB, top of the sky at noon
_DUSK = np.array([250.0, 110.0, 40.0])  # RGB, top of the sky at dusk


class SunsetGenerator:
    """A sky gradient from day to dusk, progress ``alpha(u) = sigmoid(steepness (u - c))``.

    Args:
        n_frames: frames per clip.
        fps: frame rate, frames per second.
        size: side of the square frames, pixels.
        steepness: sigmoid steepness (larger = a more abrupt change, a lower Linearity Score).

    Raises:
        GeneratorError: on ``n_frames < 2``, ``size < 8`` or ``steepness <= 0``.
    """

    name = "sunset"
    honours_positions = True
    bands = 0

    def __init__(
        self, n_frames: int = 17, fps: float = 8.0, size: int = 32, steepness: float = 12.0
    ) -> None:
        if n_frames < 2 or size < 8 or steepness <= 0:
            raise GeneratorError(
                f"sunset needs n_frames >= 2, size >= 8, steepness > 0; got {n_frames}, "
                f"{size}, {steepness}"
            )
        self.n_frames, self.fps, self.size = int(n_frames), float(fps), int(size)
        self.steepness = float(steepness)

    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """``n_videos`` skies, each with its own switch time ``c`` in [0.3, 0.7] from ``seed``."""
        rng = np.random.default_rng(seed)
        return [
            GenerationRequest(
                item_id=f"sunset-{i:03d}",
                seed=int(seed),
                n_frames=self.n_frames,
                fps=self.fps,
                prompt="a clear sky turning from day to dusk",
                extra={"centre": float(rng.uniform(0.3, 0.7))},
            )
            for i in range(int(n_videos))
        ]

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Render ``request`` at ``request.positions`` (frame units; stock when ``None``).

        Returns:
            ``GeneratedVideo`` with ``(T, size, size, 3)`` uint8 frames.
        """
        n = int(request.n_frames)
        pos = stock_positions(n) if request.positions is None else request.positions
        pos = np.asarray(pos, dtype=np.float64)
        if pos.ndim == 2:  # per-band positions: this generator has no bands, take the mean
            pos = pos.mean(axis=0)
        u = np.clip(pos, 0.0, n - 1) / (n - 1)
        alpha = 1.0 / (1.0 + np.exp(-self.steepness * (u - request.extra["centre"])))
        height = np.linspace(1.0, 0.4, self.size)[None, :, None, None]  # brighter at the top
        sky = (1.0 - alpha)[:, None] * _DAY + alpha[:, None] * _DUSK  # (T, 3)
        frames = np.broadcast_to(sky[:, None, None, :] * height, (n, self.size, self.size, 3))
        return GeneratedVideo(
            frames=np.clip(frames, 0, 255).astype(np.uint8),
            fps=self.fps,
            metadata={"generator": self.name, "designed_progress": alpha.tolist()},
        )
