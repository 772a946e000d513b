"""The measurement kernel: frames or embeddings -> SPF -> scores -> semantic keyframes.

Every place in spf-bench that measures a video goes through this module with one
:class:`SPFSettings` value: the bench's ReTime loop (``bench/pipeline.py``), post-hoc retiming
(``generators/posthoc``), ``spf-bench analyze`` and ``retime``, the ground-truth pacing
benchmark, the embedder ablation and the long-video drift of the VBench adapter. There is no
second copy of "embed, solve, score" to drift out of step with the run's settings.

The steps (docs/method.md, Sec. 1-2 and 5):

1. embed every frame (:class:`spf_bench.metrics.embedders.Embedder`), or take given embeddings;
2. solve the SPF (:func:`spf_bench.metrics.spf.compute_spf`) with the settings' window, sigma,
   lam and power;
3. score ``S`` against the target pacing (:func:`spf_bench.metrics.spf.score_progress`);
4. split ``S`` into near-linear pieces by segmented least squares with penalty
   ``keyframe_penalty`` (:func:`spf_bench.metrics.spf.segment_progress`); the piece boundaries
   are the semantic keyframes. A degenerate clip (no change above noise) has none. The split
   is of the paper estimator's ``S`` under either estimator
   (:attr:`spf_bench.metrics.spf.SPFResult.keyframe_progress`), on which the penalty was
   calibrated.

Steps 3 and 4 work in time when the frames' presentation times are given (``times``;
docs/method.md, Sec. 8): the straight line of Linearity and each keyframe piece are lines in
seconds, so a variable-frame-rate clip or one with timestamp gaps is measured as it plays.
Without times (or with even ones) they use the frame index, bit-identically.

Pure numpy apart from the embedder call: no Hydra, no file layout of the bench.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from spf_bench.metrics import spf
from spf_bench.metrics.estimators import DEFAULT_ESTIMATOR, Estimator, check_estimator
from spf_bench.metrics.no_progress import DEFAULT_PROGRESS_THRESHOLD
from spf_bench.metrics.uncertainty import DEFAULT_BOOTSTRAP

__all__ = [
    "Measurement",
    "PacingSettings",
    "SPFSettings",
    "measure_batch",
    "measure_embeddings",
    "measure_frames",
    "measure_video",
]


class _Embedder(Protocol):  # the part of metrics.embedders.Embedder used here
    name: str

    def embed(self, frames: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class SPFSettings:
    """SPF hyper-parameters (docs/method.md, Sec. 1; the paper's / reference defaults).

    Attributes:
        window: largest frame offset ``k`` of a pair, frames (default 30).
        sigma: width of the Gaussian pair weights, frames (default 20).
        lam: Tikhonov regularisation weight (default 1e-5).
        power: exponent ``p`` on the angular distances (1 = radians, the paper's default; 2
            sharpens segmentation and, measured on the ground-truth pacing suite, cuts the RMS
            error of ``S`` by 17-23% with pixel and efficientnet_lite0:
            ``results/spf_calibration/``).
        keyframe_penalty: segmented-least-squares penalty per piece on ``S`` in [0, 1] that
            places the semantic keyframes (default :data:`spf_bench.metrics.spf.SEGMENT_PENALTY`
            = 0.008, calibrated on known boundaries; the reference's 0.02 places fewer;
            docs/method.md, Sec. 5).
        progress_threshold: the no-progress test (docs/method.md, Sec. 1, step 7): a clip whose
            accumulated change ``G`` (mean angle at far minus near frame offsets, radians) is
            below it is ``degenerate``: NaN Linearity, no keyframes, not retimed. Default 0.07
            rad (calibrated in ``results/no_progress/``); 0 turns the test off.
        bootstrap: resamples of the bootstrap interval of the Linearity Score
            (``Measurement.linearity_ci``, 95%, seeded; docs/method.md, Sec. 2); 0 = none.
        estimator: how ``S`` is fitted to the pair distances (docs/method.md, Sec. 1,
            *Estimators*): ``"link"`` (default, :data:`~spf_bench.metrics.estimators.
            DEFAULT_ESTIMATOR`: a saturating link fitted per clip, no pull towards linear on
            speed ramps, ``results/known_warp/``) or ``"paper"`` (the authors' least squares,
            unchanged). The keyframes are placed on the paper's ``S`` under both.
    """

    window: int = 30
    sigma: float = 20.0
    lam: float = 1e-5
    power: float = 1.0
    keyframe_penalty: float = spf.SEGMENT_PENALTY
    progress_threshold: float = DEFAULT_PROGRESS_THRESHOLD
    bootstrap: int = DEFAULT_BOOTSTRAP
    estimator: Estimator = DEFAULT_ESTIMATOR

    def check(self) -> None:
        """Validate the values.

        Raises:
            ValueError: naming the bad field.
        """
        spf.check_params(
            self.window,
            self.sigma,
            self.lam,
            self.power,
            progress_threshold=float(self.progress_threshold),
            bootstrap=self.bootstrap,
        )
        p = float(self.keyframe_penalty)
        if not (math.isfinite(p) and p >= 0):
            raise ValueError(f"spf.keyframe_penalty must be finite and >= 0, got {p!r}")
        try:
            check_estimator(str(self.estimator))
        except ValueError as err:
            raise ValueError(f"spf.{err}") from None

    def solver_kwargs(self) -> dict[str, float | int | str]:
        """Keyword arguments of :func:`spf_bench.metrics.spf.compute_spf`."""
        return {
            "estimator": str(self.estimator),
            "window": self.window,
            "sigma": self.sigma,
            "lam": self.lam,
            "power": self.power,
            "progress_threshold": self.progress_threshold,
            "bootstrap": self.bootstrap,
        }


@dataclass(frozen=True)
class PacingSettings:
    """Target pacing curve ``P`` (:func:`spf_bench.metrics.spf.pacing_curve`).

    Attributes:
        name: one of :data:`spf_bench.metrics.spf.PACINGS`.
        temperature: temperature ``a`` of the exponential curves (3 = the reference's).
    """

    name: str = "linear"
    temperature: float = 3.0

    def check(self) -> None:
        """Raises ValueError on an unknown curve or a non-positive temperature."""
        if self.name not in spf.PACINGS:
            raise ValueError(f"pacing={self.name!r} is not one of {spf.PACINGS}")
        if not (math.isfinite(float(self.temperature)) and float(self.temperature) > 0):
            raise ValueError(f"pacing.temperature must be > 0, got {self.temperature!r}")


@dataclass(frozen=True)
class Measurement:
    """One measured clip.

    Attributes:
        spf: :class:`spf_bench.metrics.spf.SPFResult`: ``progress`` ``S`` (``(T,)`` float64,
            0 to 1), ``raw`` least-squares solution (``(T,)``, radians**power),
            ``total_change``, ``noise_floor``, ``degenerate``, effective ``window``.
        scores: :class:`spf_bench.metrics.spf.SPFScores` against ``pacing``.
        keyframes: semantic keyframes, frame indices (0-based, first and last included);
            empty when degenerate.
        segments: the near-linear pieces ``[(start, end), ...]`` (inclusive frame indices).
        embeddings: ``(T, D)`` float32 frame embeddings, or ``None`` if not kept.
        embedder: name of the embedder that produced them (``""`` when given embeddings).
        settings: the :class:`SPFSettings` used.
        pacing: the :class:`PacingSettings` scored against.
        times: presentation time of each frame, seconds (``(T,)`` float64), or ``None`` when
            none were given (frames taken as evenly spaced).
    """

    spf: spf.SPFResult
    scores: spf.SPFScores
    keyframes: tuple[int, ...]
    segments: tuple[tuple[int, int], ...]
    embeddings: np.ndarray | None
    embedder: str
    settings: SPFSettings
    pacing: PacingSettings = field(default_factory=PacingSettings)
    times: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def progress(self) -> np.ndarray:
        """``S``, ``(T,)`` float64 from 0 to 1 (zeros when degenerate)."""
        return self.spf.progress

    @property
    def keyframe_progress(self) -> np.ndarray:
        """The ``S`` the semantic keyframes are placed on, ``(T,)`` float64 from 0 to 1: the
        paper estimator's, whichever estimator made :attr:`progress`
        (:attr:`spf_bench.metrics.spf.SPFResult.keyframe_progress` says why)."""
        return self.spf.keyframe_progress

    def progress_of(self, estimator: str | None = None) -> np.ndarray:
        """``S`` as read by ``estimator``, ``(T,)`` float64 from 0 to 1.

        Args:
            estimator: ``None`` or this measurement's estimator (``settings.estimator``):
                :attr:`progress`; ``"paper"``: the paper estimator's ``S``, which every
                measurement carries (:attr:`keyframe_progress`).

        Raises:
            ValueError: any other estimator (its ``S`` was not computed).
        """
        if estimator is None or estimator == self.spf.estimator:
            return self.progress
        if estimator == "paper":
            return self.keyframe_progress
        raise ValueError(
            f"this measurement has the S of {self.spf.estimator!r} and of 'paper', not of "
            f"{estimator!r}"
        )

    @property
    def degenerate(self) -> bool:
        """No semantic change above the noise floor: no Linearity, no keyframes, no retiming."""
        return self.spf.degenerate

    @property
    def linearity_ci(self) -> tuple[float, float]:
        """``(low, high)``: 95% bootstrap interval of ``scores.linearity_score`` (Linearity
        units; docs/method.md, Sec. 2); ``(nan, nan)`` when ``settings.bootstrap == 0`` or the
        clip is degenerate."""
        return self.spf.linearity_ci

    @property
    def progress_statistic(self) -> float:
        """The no-progress test's accumulated change ``G``, radians (NaN under 5 frames)."""
        return self.spf.progress_statistic

    @property
    def n_frames(self) -> int:
        """Number of frames ``T``."""
        return int(self.spf.progress.shape[0])

    def frame_times(self, fps: float) -> np.ndarray:
        """Presentation time of each frame, seconds: ``times``, or ``index / fps`` without them.

        Args:
            fps: frame rate used when no times were given, frames per second (> 0).

        Returns:
            ``(T,)`` float64.
        """
        if self.times is not None:
            return np.asarray(self.times, dtype=np.float64)
        return np.arange(self.n_frames, dtype=np.float64) / float(fps)

    def record(self) -> dict[str, Any]:
        """The scalar columns of a record: the scores plus ``keyframes`` (list of frames)."""
        return {**self.scores.as_dict(), "keyframes": list(self.keyframes)}


def _finish(
    res: spf.SPFResult,
    emb: np.ndarray | None,
    embedder: str,
    settings: SPFSettings,
    pacing: PacingSettings,
    times: np.ndarray | None = None,
) -> Measurement:
    scores = spf.score_progress(
        res, pacing=pacing.name, temperature=pacing.temperature, times=times
    )
    segments: list[tuple[int, int]] = []
    if not res.degenerate:
        segments = spf.segment_progress(
            res.keyframe_progress, penalty=settings.keyframe_penalty, times=times
        )
    return Measurement(
        spf=res,
        scores=scores,
        keyframes=tuple(spf.keyframes_from_segments(segments)) if segments else (),
        segments=tuple((int(a), int(b)) for a, b in segments),
        embeddings=emb,
        embedder=embedder,
        settings=settings,
        pacing=pacing,
        times=None if times is None else np.asarray(times, dtype=np.float64),
    )


def measure_embeddings(
    embeddings: np.ndarray,
    settings: SPFSettings = SPFSettings(),
    pacing: PacingSettings = PacingSettings(),
    *,
    embedder: str = "",
    keep_embeddings: bool = True,
    times: np.ndarray | None = None,
) -> Measurement:
    """Measure a clip from its frame embeddings (steps 2-4 of the module docstring).

    Args:
        embeddings: ``(T, D)`` array, any float dtype, ``T >= 3``; rows need not be normalised.
        settings: SPF hyper-parameters.
        pacing: target pacing for ``scores.target_deviation``.
        embedder: name recorded in the result.
        keep_embeddings: keep a float32 copy of the embeddings in the result.
        times: presentation time of each frame, seconds (``(T,)``, strictly increasing), or
            ``None`` for evenly spaced frames; scores and keyframes are then in time (module
            docstring).

    Returns:
        :class:`Measurement`.

    Raises:
        ValueError: fewer than 3 frames, NaN/inf or zero-norm embeddings (naming the frames),
            a bad setting (from :func:`spf_bench.metrics.spf.compute_spf`), or ``times`` of
            another length or not strictly increasing.
    """
    spf.time_axis(times, np.asarray(embeddings).shape[0])  # bad times fail before the solve
    res = spf.compute_spf(embeddings, **settings.solver_kwargs())
    emb = np.asarray(embeddings, dtype=np.float32) if keep_embeddings else None
    return _finish(res, emb, embedder, settings, pacing, times)


def measure_frames(
    frames: np.ndarray,
    embedder: _Embedder,
    settings: SPFSettings = SPFSettings(),
    pacing: PacingSettings = PacingSettings(),
    *,
    keep_embeddings: bool = True,
    times: np.ndarray | None = None,
) -> Measurement:
    """Embed and measure a clip (steps 1-4 of the module docstring).

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB frames, ``T >= 3``.
        embedder: a :class:`spf_bench.metrics.embedders.Embedder`.
        settings, pacing, keep_embeddings, times: see :func:`measure_embeddings`.

    Returns:
        :class:`Measurement`.

    Raises:
        ValueError: bad frames (from the embedder) or embeddings (see
            :func:`measure_embeddings`).
    """
    emb = embedder.embed(frames)
    return measure_embeddings(
        emb,
        settings,
        pacing,
        embedder=embedder.name,
        keep_embeddings=keep_embeddings,
        times=times,
    )


def measure_batch(
    embeddings: Sequence[np.ndarray],
    settings: SPFSettings = SPFSettings(),
    pacing: PacingSettings = PacingSettings(),
    *,
    embedder: str = "",
    keep_embeddings: bool = False,
) -> list[Measurement]:
    """Measure many clips at once; equal-length clips share one banded factorisation
    (:func:`spf_bench.metrics.spf.compute_spf_batch`). Same results as calling
    :func:`measure_embeddings` on each.

    Args:
        embeddings: a sequence of ``(T_i, D)`` arrays, or one ``(N, T, D)`` array.
        settings, pacing, embedder, keep_embeddings: see :func:`measure_embeddings`.

    Returns:
        One :class:`Measurement` per clip, in order.

    Raises:
        ValueError: as :func:`measure_embeddings`, naming the clip.
    """
    results = spf.compute_spf_batch(embeddings, **settings.solver_kwargs())
    return [
        _finish(
            r,
            np.asarray(e, dtype=np.float32) if keep_embeddings else None,
            embedder,
            settings,
            pacing,
        )
        for r, e in zip(results, embeddings, strict=True)
    ]


def measure_video(
    path: str | os.PathLike,
    embedder: _Embedder,
    settings: SPFSettings = SPFSettings(),
    pacing: PacingSettings = PacingSettings(),
    *,
    max_frames: int | None = None,
    size: int | None = None,
    allow_truncated: bool = False,
    keep_embeddings: bool = True,
) -> tuple[Measurement, Any]:
    """Decode a video file (PyAV, :func:`spf_bench.metrics.video_io.read_video`) and measure it
    in time: the decoded presentation times (``info.times``) go to the scores and keyframes.

    Args:
        path: any container FFmpeg decodes.
        embedder, settings, pacing, keep_embeddings: see :func:`measure_frames`.
        max_frames: decode at most this many frames.
        size: shorter-side resize on decode, pixels.
        allow_truncated: measure the decodable frames of a truncated file instead of refusing
            it (``info`` then says ``truncated``, ``frames_declared``, ``frames_decoded``).

    Returns:
        ``(measurement, info)`` with ``info`` the :class:`spf_bench.metrics.video_io.VideoInfo`.

    Raises:
        spf_bench.metrics.video_io.VideoDecodeError: unreadable or truncated video.
        ValueError: see :func:`measure_frames`.
    """
    from spf_bench.metrics.video_io import read_video

    frames, info = read_video(
        path, max_frames=max_frames, size=size, allow_truncated=allow_truncated
    )
    m = measure_frames(
        frames, embedder, settings, pacing, keep_embeddings=keep_embeddings, times=info.times
    )
    return m, info
