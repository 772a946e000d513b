"""Long-video drift: how much a metric differs between a video's first and last 15% of frames.

``drift(V) = 100 * |M(first fraction of frames) - M(last fraction)|`` (the long-video drift of
SemanticGen and FramePack), for three kinds of ``M``:

- ``temporal_flickering``: VBench's temporal_flickering formula on the segment's RGB frames
  (:func:`flicker_score`), in percentage points;
- ``spf_pace``: the SPF's local pace over the segment relative to the video's mean pace
  (:func:`spf_pace_drift`), in percent of the mean pace; the SPF is either given (a run's
  ``spf/*.npz``) or measured here with the measurement kernel
  (:func:`spf_bench.metrics.measure.measure_frames`) and the caller's
  :class:`~spf_bench.metrics.measure.SPFSettings`, the run's when there is a run;
- ``vbench_<dim>``: a VBench dimension scored on clips of the two segments
  (:func:`write_segments` writes them; :mod:`spf_bench.metrics.vbench` scores them).

Segments are ``max(2, round(0.15 T))`` frames at each end (:func:`segment_bounds`). Pure numpy
apart from the embedder call and the clip writer.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from spf_bench.metrics.measure import SPFSettings

__all__ = [
    "DRIFT_FRACTION",
    "DRIFT_METRICS",
    "flicker_drift",
    "flicker_score",
    "frame_drift",
    "segment_bounds",
    "spf_pace_drift",
    "vbench_drift_description",
    "write_segments",
]

#: Fraction of frames at each end compared by the long-video drift (SemanticGen, FramePack).
DRIFT_FRACTION = 0.15

#: Long-video drift metrics computed in-process, name -> the metric M each figure uses.
DRIFT_METRICS: dict[str, str] = {
    "temporal_flickering": (
        "M = VBench temporal_flickering formula (255 - mean |x_{t+1} - x_t|) / 255 on the "
        "segment's RGB frames (PyAV decode); drift = 100 * |M(first 15%) - M(last 15%)|, "
        "percentage points"
    ),
    "spf_pace": (
        "M = mean slope of the normalised SPF S over the segment divided by the video's mean "
        "slope 1/(T-1) (1 = average pace); drift = 100 * |M(first 15%) - M(last 15%)|, "
        "percent of the mean pace; NaN for a degenerate SPF"
    ),
}


def vbench_drift_description(dim: str) -> str:
    """What ``M`` the drift figure ``vbench_<dim>`` uses (a line of ``drift_metrics``)."""
    return (
        f"M = VBench {dim} run on a clip of the first / last 15% of frames (re-encoded "
        "losslessly, crf 0); drift = 100 * |M(first) - M(last)|, percentage points"
    )


def segment_bounds(n_frames: int, fraction: float = DRIFT_FRACTION) -> tuple[slice, slice]:
    """The first and last ``fraction`` of ``n_frames`` frames, at least 2 frames each.

    ``k = max(2, round(fraction * n_frames))``; the two segments never overlap.

    Args:
        n_frames: frames in the video.
        fraction: segment length as a fraction of ``n_frames``.

    Returns:
        ``(first, last)``: ``slice(0, k)`` and ``slice(n_frames - k, n_frames)``.

    Raises:
        ValueError: if ``fraction`` is not in (0, 0.5] or the video is shorter than ``2 k``.
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must lie in (0, 0.5], got {fraction}")
    k = max(2, round(fraction * n_frames))
    if n_frames < 2 * k:
        raise ValueError(f"drift needs at least {2 * k} frames, got {n_frames}")
    return slice(0, k), slice(n_frames - k, n_frames)


def flicker_score(frames: np.ndarray) -> float:
    """VBench's temporal_flickering score of a frame sequence.

    ``(255 - mean_t MAE(x_t, x_{t+1})) / 255`` with MAE the mean absolute difference over all
    pixels and channels (VBench 0.1.5 ``vbench/temporal_flickering.py``: ``cal_score``), in
    float64.

    Args:
        frames: `np.ndarray` of shape ``(T, H, W, 3)``, uint8, ``T >= 2``.

    Returns:
        The score in [0, 1] (1 = no change between consecutive frames).

    Raises:
        ValueError: not 4-D, or fewer than 2 frames.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] < 2:
        raise ValueError(f"need frames of shape (T >= 2, H, W, C), got {frames.shape}")
    mae = [
        np.mean(np.abs(frames[t + 1].astype(np.float64) - frames[t].astype(np.float64)))
        for t in range(frames.shape[0] - 1)
    ]
    return float((255.0 - np.mean(mae)) / 255.0)


def flicker_drift(frames: np.ndarray, fraction: float = DRIFT_FRACTION) -> float:
    """Long-video drift with M = :func:`flicker_score`, in percentage points.

    ``100 * |M(first fraction of frames) - M(last fraction)|`` (:func:`segment_bounds`).

    Args:
        frames: `np.ndarray` of shape ``(T, H, W, 3)``, uint8.
        fraction: segment fraction.

    Raises:
        ValueError: the video is too short for two segments (:func:`segment_bounds`).
    """
    a, b = segment_bounds(int(np.asarray(frames).shape[0]), fraction)
    return 100.0 * abs(flicker_score(frames[a]) - flicker_score(frames[b]))


def spf_pace_drift(progress: np.ndarray, fraction: float = DRIFT_FRACTION) -> float:
    """Long-video drift with M = the SPF's local pace, in percent of the mean pace.

    For a segment of frames ``a..b``, ``M = (S_b - S_a) / ((b - a) / (T - 1))``: the mean slope
    of the normalised SPF ``S`` (0 -> 1) over the segment relative to the whole video's mean
    slope (1 = the video's average pace). Returns ``100 * |M(first) - M(last)|``.

    Args:
        progress: `np.ndarray` of shape ``(T,)``, the normalised SPF
            (:attr:`spf_bench.metrics.measure.Measurement.progress`).
        fraction: segment fraction.

    Returns:
        The drift, or NaN when ``S`` is degenerate (no change: all zeros).

    Raises:
        ValueError: ``progress`` not a finite 1-D array, or too short for two segments.
    """
    s = np.asarray(progress, dtype=np.float64)
    t = s.shape[0]
    if s.ndim != 1 or not np.isfinite(s).all():
        raise ValueError(f"progress must be a finite 1-D array, got shape {s.shape}")
    if s[-1] - s[0] <= 0:
        return math.nan
    a, b = segment_bounds(t, fraction)

    def pace(seg: slice) -> float:
        lo, hi = seg.start, seg.stop - 1
        return float((s[hi] - s[lo]) / ((hi - lo) / (t - 1)) / (s[-1] - s[0]))

    return 100.0 * abs(pace(a) - pace(b))


def frame_drift(
    frames: np.ndarray,
    *,
    progress: np.ndarray | None = None,
    embedder: Any = None,
    spf: SPFSettings | None = None,
) -> tuple[dict[str, float], str | None]:
    """The in-process drift figures of one decoded video (:data:`DRIFT_METRICS`).

    ``spf_pace`` uses ``progress`` when given; otherwise, with an ``embedder``, the video is
    measured by the measurement kernel (:func:`spf_bench.metrics.measure.measure_frames`) with
    ``spf`` (a degenerate SPF gives NaN); with neither it is NaN.

    Args:
        frames: `np.ndarray` of shape ``(T, H, W, 3)``, uint8.
        progress: the video's normalised SPF ``S``, shape ``(T,)`` float (e.g. a run's
            ``spf/*.npz`` ``progress``), or ``None``.
        embedder: a :class:`spf_bench.metrics.embedders.Embedder`, or ``None``.
        spf: SPF settings of the measurement (window, sigma, lam, power); ``None`` -> the
            defaults of :class:`spf_bench.metrics.measure.SPFSettings`. Pass the run's.

    Returns:
        ``({"temporal_flickering": float, "spf_pace": float}, error)``: a figure that cannot be
        computed is NaN and ``error`` says why (the last reason; ``None`` when both worked or
        ``spf_pace`` had nothing to measure from).
    """
    error = None
    d: dict[str, float] = {}
    try:
        d["temporal_flickering"] = flicker_drift(frames)
    except ValueError as err:
        d["temporal_flickering"] = math.nan
        error = str(err)
    d["spf_pace"] = math.nan
    try:
        if progress is None and embedder is not None:
            import dataclasses

            from spf_bench.metrics.measure import SPFSettings, measure_frames

            # only S is used: no bootstrap interval of the Linearity
            settings = dataclasses.replace(spf or SPFSettings(), bootstrap=0)
            m = measure_frames(frames, embedder, settings, keep_embeddings=False)
            progress = None if m.degenerate else m.progress
        if progress is not None:
            d["spf_pace"] = spf_pace_drift(progress)
    except ValueError as err:
        error = str(err)
    return d, error


def write_segments(frames: np.ndarray, fps: float, dest: Path, stem: str) -> tuple[Path, Path]:
    """Write the first and last segment (:func:`segment_bounds`) as lossless H.264 clips.

    Args:
        frames: `np.ndarray` of shape ``(T, H, W, 3)``, uint8.
        fps: frames per second of the clips.
        dest: folder (created if needed).
        stem: file stem; the clips are ``<stem>_first.mp4`` and ``<stem>_last.mp4`` (crf 0).

    Returns:
        ``(first, last)`` paths.

    Raises:
        ValueError: the video is too short for two segments.
    """
    from spf_bench.metrics.video_io import write_video

    a, b = segment_bounds(frames.shape[0])
    first = write_video(dest / f"{stem}_first.mp4", frames[a], fps, crf=0)
    last = write_video(dest / f"{stem}_last.mp4", frames[b], fps, crf=0)
    return first, last
