"""Generation-free retiming: render a clip at fractional source times (docs/method.md, Sec. 3).

Output frame ``k`` of a retimed clip shows the source at time ``tau_k`` (frame units of the
source), rendered from the source frames by

- ``nearest``: the nearest source frame;
- ``linear``: a blend of the two neighbouring frames (exact for a crossfade);
- ``flow``: both neighbours warped to the fractional time along DIS optical flow (OpenCV), with
  the intermediate-flow approximation of Super SloMo (Jiang et al., CVPR 2018, eq. 4), then
  blended. Optional: needs ``opencv-python-headless`` (``pip install -e .[flow]``).

:class:`ResampledGenerator` makes any generator retimable this way (``retime=resample``): its
stock output is rendered once and every later request is a resampling of those frames, so the
ReTime loop (:func:`spf_bench.generators.retime.retime_loop`) runs on it unchanged.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from spf_bench.generators.base import GeneratedVideo, GenerationRequest, Generator, GeneratorError

__all__ = [
    "INTERPOLATIONS",
    "ResampledGenerator",
    "check_frames",
    "even_time_positions",
    "flow_available",
    "resample_curve",
    "resample_frames",
]

#: Ways to render a frame at a fractional source time.
INTERPOLATIONS = ("nearest", "linear", "flow")


def flow_available() -> bool:
    """Whether the ``flow`` interpolation can run (OpenCV importable)."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def check_frames(frames: np.ndarray) -> np.ndarray:
    """Validate a clip.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB, ``T >= 1``.

    Returns:
        The frames as an ``np.ndarray`` (not copied).

    Raises:
        ValueError: on another dtype or shape.
    """
    f = np.asarray(frames)
    if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8 or f.shape[0] < 1:
        raise ValueError(f"frames must be uint8 of shape (T, H, W, 3), got {f.dtype} {f.shape}")
    return f


def _check_positions(positions: np.ndarray, t: int) -> np.ndarray:
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 1 or p.size < 1:
        raise ValueError(f"positions must have shape (n,), got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("positions contain NaN or inf")
    return np.clip(p, 0.0, float(t - 1))


class _Flow:
    """Forward and backward DIS optical flow between consecutive source frames, cached."""

    def __init__(self, frames: np.ndarray) -> None:
        import cv2

        self.cv2 = cv2
        self.frames = frames
        self.gray: list[np.ndarray | None] = [None] * frames.shape[0]
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.pairs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        h, w = frames.shape[1:3]
        self.gx, self.gy = np.meshgrid(
            np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
        )

    def _g(self, i: int) -> np.ndarray:
        if self.gray[i] is None:
            self.gray[i] = self.cv2.cvtColor(self.frames[i], self.cv2.COLOR_RGB2GRAY)
        return self.gray[i]

    def pair(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Flows ``i -> i + 1`` and ``i + 1 -> i``, each ``(H, W, 2)`` float32 pixels."""
        if i not in self.pairs:
            f01 = self.dis.calc(self._g(i), self._g(i + 1), None)
            f10 = self.dis.calc(self._g(i + 1), self._g(i), None)
            self.pairs[i] = (f01, f10)
        return self.pairs[i]

    def _warp(self, img: np.ndarray, flow: np.ndarray) -> np.ndarray:
        return self.cv2.remap(
            img,
            self.gx + flow[..., 0],
            self.gy + flow[..., 1],
            self.cv2.INTER_LINEAR,
            borderMode=self.cv2.BORDER_REPLICATE,
        ).astype(np.float32)

    def between(self, i: int, t: float) -> np.ndarray:
        """Frame at time ``i + t`` (``0 < t < 1``), float32 ``(H, W, 3)`` (Super SloMo eq. 4)."""
        f01, f10 = self.pair(i)
        ft0 = -(1.0 - t) * t * f01 + t * t * f10
        ft1 = (1.0 - t) ** 2 * f01 - t * (1.0 - t) * f10
        a = self._warp(self.frames[i], ft0)
        b = self._warp(self.frames[i + 1], ft1)
        return (1.0 - t) * a + t * b


def resample_frames(
    frames: np.ndarray, positions: np.ndarray, interpolation: str = "linear"
) -> np.ndarray:
    """Render a clip at fractional source times.

    Args:
        frames: source ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8.
        positions: ``np.ndarray`` of shape ``(n,)``: source times in frame units, clipped to
            ``[0, T - 1]``.
        interpolation: ``nearest`` (frame ``round(p)``), ``linear`` (``(1 - f) x_i + f x_{i+1}``
            with ``i = floor(p)``, ``f = p - i``) or ``flow`` (both neighbours warped to time
            ``p`` along DIS optical flow, Super SloMo eq. 4, then blended with weights
            ``1 - f`` and ``f``). Integer positions return the source frame exactly.

    Returns:
        ``np.ndarray`` of shape ``(n, H, W, 3)``, uint8.

    Raises:
        ValueError: on bad shapes, non-finite positions or an unknown interpolation.
        GeneratorError: ``flow`` without OpenCV installed.
    """
    f = check_frames(frames)
    t = f.shape[0]
    p = _check_positions(positions, t)
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; choose one of {INTERPOLATIONS}")
    if interpolation == "nearest" or t == 1:
        return f[np.clip(np.rint(p).astype(np.int64), 0, t - 1)].copy()
    lo = np.minimum(np.floor(p).astype(np.int64), t - 2)
    frac = p - lo
    flow = None
    if interpolation == "flow":
        if not flow_available():
            raise GeneratorError(
                "interpolation=flow needs OpenCV: pip install opencv-python-headless "
                "(or use interpolation=linear)"
            )
        flow = _Flow(f)
    out = np.empty((p.size, *f.shape[1:]), dtype=np.uint8)
    for k, (i, w) in enumerate(zip(lo, frac, strict=True)):
        if w <= 1e-6:
            out[k] = f[i]
        elif w >= 1.0 - 1e-6:
            out[k] = f[i + 1]
        elif flow is not None:
            out[k] = np.clip(np.rint(flow.between(int(i), float(w))), 0, 255)
        else:
            blend = (1.0 - w) * f[i].astype(np.float32) + w * f[i + 1].astype(np.float32)
            out[k] = np.clip(np.rint(blend), 0, 255)
    return out


def even_time_positions(times: np.ndarray, fps: float) -> np.ndarray:
    """Source positions of a clip shown at presentation ``times``, sampled at an even ``fps``
    (docs/method.md, Sec. 8): the clip as it plays, as constant-frame-rate frames.

    Rendered by :func:`resample_frames`, a variable-frame-rate clip or one with timestamp gaps
    becomes an evenly timed clip, so that the ReTime loop's positions (frame units of that clip)
    are times: position ``p`` is ``p / fps`` seconds.

    Args:
        times: presentation time of each source frame, seconds (`np.ndarray` of shape ``(T,)``,
            strictly increasing).
        fps: output frame rate, frames per second (> 0).

    Returns:
        ``np.ndarray`` of shape ``(round((times[-1] - times[0]) * fps) + 1,)``, float64:
        fractional source frame indices (linear in time between source frames), from 0 to
        ``T - 1``.

    Raises:
        ValueError: if ``times`` is not strictly increasing with ``T >= 2``, or ``fps <= 0``.
    """
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size < 2 or not np.isfinite(t).all() or np.any(np.diff(t) <= 0):
        raise ValueError("times must be a strictly increasing (T >= 2,) array of seconds")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be > 0, got {fps}")
    n = round(float(t[-1] - t[0]) * float(fps)) + 1
    grid = t[0] + np.arange(n, dtype=np.float64) / fps
    return np.interp(np.minimum(grid, t[-1]), t, np.arange(t.size, dtype=np.float64))


def resample_curve(
    values: np.ndarray, positions: np.ndarray, interpolation: str = "linear"
) -> np.ndarray:
    """A per-frame quantity (e.g. designed progress) at the times :func:`resample_frames` uses.

    ``nearest`` takes the value of the nearest frame; ``linear`` and ``flow`` interpolate
    linearly (exact for a crossfade, whose mixing weight a linear blend interpolates).

    Args:
        values: ``(T,)``, one value per source frame.
        positions: ``(n,)`` source times, frame units (clipped to ``[0, T - 1]``).
        interpolation: one of :data:`INTERPOLATIONS`.

    Returns:
        ``np.ndarray`` of shape ``(n,)``, float64.

    Raises:
        ValueError: on bad or non-finite positions.
    """
    v = np.asarray(values, dtype=np.float64)
    p = _check_positions(positions, v.size)
    if interpolation == "nearest":
        return v[np.clip(np.rint(p).astype(np.int64), 0, v.size - 1)]
    return np.interp(p, np.arange(v.size, dtype=np.float64), v)


# --------------------------------------------------------------------------------------------
# Generator wrappers (shared with the segmented retimer)
# --------------------------------------------------------------------------------------------
class BaselineCache:
    """The inner generator's stock-position output per ``(item_id, seed, n_frames)``; LRU.

    Args:
        inner: the wrapped generator.
        size: outputs kept in memory (items).
    """

    def __init__(self, inner: Generator, size: int = 2) -> None:
        self.inner, self.size = inner, int(size)
        self.store: collections.OrderedDict[tuple, GeneratedVideo] = collections.OrderedDict()

    def get(self, request: GenerationRequest) -> GeneratedVideo:
        """The stock output of ``request`` (its ``positions`` are ignored).

        Raises:
            ValueError: if the inner generator returns frames that are not ``(T, H, W, 3)``
                uint8.
            GeneratorError: from the inner generator.
        """
        key = (request.item_id, int(request.seed), int(request.n_frames))
        if key in self.store:
            self.store.move_to_end(key)
            return self.store[key]
        video = self.inner.generate(request.with_positions(None))
        check_frames(video.frames)
        self.store[key] = video
        while len(self.store) > self.size:
            self.store.popitem(last=False)
        return video


def one_row(request: GenerationRequest, name: str) -> np.ndarray | None:
    """``request.positions`` as one row ``(n,)`` (``None`` stays ``None``).

    Raises:
        GeneratorError: on per-band positions with unequal rows, or another shape.
    """
    if request.positions is None:
        return None
    p = np.asarray(request.positions, dtype=np.float64)
    if p.ndim == 2:
        if not np.allclose(p, p[:1], rtol=0.0, atol=1e-9):
            raise GeneratorError(f"{name}: per-band positions must be equal rows (bands=0)")
        p = p[0]
    if p.ndim != 1:
        raise GeneratorError(f"{name}: positions must have shape (n,), got {p.shape}")
    return p


def with_metadata(video: GeneratedVideo, **metadata: Any) -> GeneratedVideo:
    """A shallow copy of ``video`` with ``metadata`` merged into its metadata."""
    return GeneratedVideo(
        frames=video.frames,
        fps=video.fps,
        audio=video.audio,
        audio_rate=video.audio_rate,
        metadata={**video.metadata, **metadata},
    )


class ResampledGenerator:
    """Any generator made retimable by resampling its stock output (``retime=resample``).

    Implements :class:`spf_bench.generators.base.Generator` with the inner ``name``,
    ``honours_positions = True`` and ``bands = 0``. :meth:`generate` renders the inner item
    once at the stock positions (cached) and then shows output frame ``k`` at source time
    ``positions[k]`` (:func:`resample_frames`). A ``designed_progress`` in the inner metadata
    is resampled alongside (:func:`resample_curve`), so ground-truth errors stay meaningful.
    Audio is not resampled: a retimed output carries none (``metadata["audio_dropped"]``).

    In :func:`spf_bench.generators.retime.retime_loop` it is rendered through
    :func:`spf_bench.generators.retime.renderer_for` (no ``renderer`` of its own): iteration 0
    is the stock output, each later iteration a resampling of it at the loop's positions.

    Args:
        inner: the wrapped generator (``footage``, ``morph``, a closed model's outputs...).
        interpolation: one of :data:`INTERPOLATIONS`.
        cache_size: stock outputs kept in memory (items).

    Raises:
        ValueError: on an unknown interpolation.
        GeneratorError: ``flow`` without OpenCV.
    """

    honours_positions = True
    bands = 0

    def __init__(self, inner: Generator, interpolation: str = "linear", cache_size: int = 2):
        if interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"unknown interpolation {interpolation!r}; choose one of {INTERPOLATIONS}"
            )
        if interpolation == "flow" and not flow_available():
            raise GeneratorError("interpolation=flow needs opencv-python-headless installed")
        self.inner = inner
        self.name = inner.name
        self.interpolation = interpolation
        self._cache = BaselineCache(inner, cache_size)

    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """The inner generator's items."""
        return self.inner.items(n_videos, seed)

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """The stock output (positions ``None``) or its resampling at ``request.positions``.

        Args:
            request: positions of shape ``(n,)`` in source frame units (``n`` may differ from
                the source length), or ``None``.

        Returns:
            :class:`GeneratedVideo` ``(n, H, W, 3)`` uint8 at the source fps.

        Raises:
            GeneratorError: on per-band positions with unequal rows, or from the inner
                generator.
        """
        base = self._cache.get(request)
        pos = one_row(request, self.name)
        if pos is None:
            return with_metadata(base, posthoc="resample", interpolation=self.interpolation)
        frames = resample_frames(base.frames, pos, self.interpolation)
        meta: dict[str, Any] = {"posthoc": "resample", "interpolation": self.interpolation}
        designed = base.metadata.get("designed_progress")
        if designed is not None and len(designed) == base.frames.shape[0]:
            meta["designed_progress"] = resample_curve(designed, pos, self.interpolation).tolist()
        if base.audio is not None:
            meta["audio_dropped"] = True
        return GeneratedVideo(frames=frames, fps=base.fps, metadata={**base.metadata, **meta})
