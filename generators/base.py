"""The Generator protocol every video source in spf-bench implements.

A *generator* turns a :class:`GenerationRequest` (one benchmark item plus the time positions
at which its frames should be rendered) into a :class:`GeneratedVideo`. The same protocol
covers procedural sources that honour time positions exactly (``morph``), existing footage that
cannot be re-rendered (``footage``), and video diffusion transformers whose temporal RoPE is
warped to the requested positions (``wan22``, ``ltx2``).

Time positions are in **frame units** of the output clip: the stock schedule for ``n`` frames
is ``0, 1, ..., n - 1``. The ReTime loop (paper Sec. 4, "iterative refinement") replaces them
with warped positions ``tau`` from :func:`spf_bench.metrics.spf.invert_progress`. Positions may be
given
per RoPE band, shape ``(B, n)``; a generator without bands (``morph``) takes ``(n,)``.

This module imports neither Hydra nor torch: ``bench/run.py`` builds generators from plain
keyword arguments.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "GeneratedVideo",
    "GenerationRequest",
    "Generator",
    "GeneratorError",
    "file_digest",
    "stock_positions",
]


class GeneratorError(RuntimeError):
    """A generator could not honour a request (missing weights, unsupported mode, bad input)."""


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex (read in 1 MiB blocks).

    The content digest of an input file or checkpoint (run records, the toy generator's
    ``checkpoint_sha256``).

    Args:
        path: the file.

    Returns:
        The 64-character lowercase hex digest.

    Raises:
        OSError: the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stock_positions(n_frames: int) -> np.ndarray:
    """The unwarped time positions ``0, 1, ..., n_frames - 1``.

    Args:
        n_frames: number of output frames, >= 1.

    Returns:
        ``np.ndarray`` of shape ``(n_frames,)``, float64, in frame units.

    Raises:
        ValueError: if ``n_frames < 1``.
    """
    if int(n_frames) < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    return np.arange(int(n_frames), dtype=np.float64)


@dataclass(frozen=True)
class GenerationRequest:
    """One item to generate.

    Attributes:
        item_id: stable identifier of the benchmark item (e.g. ``"morph-0003"``,
            ``"bikes"``, a prompt id). Used in file names and cache keys.
        seed: random seed; the same request and seed give the same frames.
        n_frames: number of output frames.
        fps: output frame rate (frames per second).
        prompt: text prompt for text-conditioned models, else ``None``.
        first_image: ``np.ndarray`` of shape ``(H, W, 3)``, uint8, the first frame for
            image-conditioned or first-last-frame (FLF) models, else ``None``.
        last_image: ``np.ndarray`` of shape ``(H, W, 3)``, uint8, the last frame for FLF, else
            ``None``.
        positions: time positions at which to render, frame units, float64: shape
            ``(n_frames,)`` or ``(B, n_frames)`` (one row per temporal RoPE band). ``None`` means
            the stock positions ``0..n_frames-1``.
        extra: generator-specific fields (e.g. the morph profile parameters), JSON-serialisable.
    """

    item_id: str
    seed: int
    n_frames: int
    fps: float
    prompt: str | None = None
    first_image: np.ndarray | None = None
    last_image: np.ndarray | None = None
    positions: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def with_positions(self, positions: np.ndarray | None) -> GenerationRequest:
        """Return a copy of this request rendered at ``positions`` (see class docs for shape)."""
        return GenerationRequest(
            item_id=self.item_id,
            seed=self.seed,
            n_frames=self.n_frames,
            fps=self.fps,
            prompt=self.prompt,
            first_image=self.first_image,
            last_image=self.last_image,
            positions=None if positions is None else np.asarray(positions, dtype=np.float64),
            extra=dict(self.extra),
        )


@dataclass
class GeneratedVideo:
    """A generated (or loaded) clip.

    Attributes:
        frames: ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8 RGB.
        fps: frame rate, frames per second.
        audio: optional ``np.ndarray`` of shape ``(channels, samples)``, float32 in [-1, 1].
        audio_rate: audio sample rate in Hz when ``audio`` is set.
        metadata: JSON-serialisable facts about the generation (model id, steps, ground-truth
            progress for synthetic sources, source path for footage, ...).
    """

    frames: np.ndarray
    fps: float
    audio: np.ndarray | None = None
    audio_rate: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    """What ``bench/run.py`` needs from a video source.

    Attributes:
        name: short name used in records (``"morph"``, ``"footage"``, ``"wan22"``...).
        honours_positions: ``True`` when :meth:`generate` renders at arbitrary time positions
            (needed by ``retime=warped``); ``False`` for fixed footage.
        bands: number of temporal RoPE bands the generator accepts per-band positions for;
            0 when it takes one position per frame.
    """

    name: str
    honours_positions: bool
    bands: int

    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """The first ``n_videos`` benchmark items, reproducible from ``seed``.

        Raises:
            GeneratorError: if fewer than ``n_videos`` items exist (e.g. a glob matching fewer
                videos), naming what was found.
        """
        ...

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Render ``request`` at ``request.positions`` (stock positions when ``None``).

        Raises:
            GeneratorError: if the request cannot be honoured.
        """
        ...
