"""One clip, start to finish: the ``spf-bench retime`` command's retime (docs/method.md, Sec. 5).

:func:`retime_frames` runs the one ReTime loop of spf-bench
(:func:`spf_bench.generators.retime.retime_loop`, update ``compose``) on a clip held in memory,
with the renderer of the chosen mode:

- ``resample``: iteration 0 is the source; iteration ``k`` resamples the *source* at the
  composed positions (:class:`~spf_bench.generators.posthoc.resample.ResampledGenerator`), so no
  error accumulates from resampling resampled frames;
- ``segmented``: iteration 0 is the source; iteration 1 plans the pieces from the source's
  measured ``S`` and renders them
  (:meth:`~spf_bench.generators.posthoc.render.SegmentedRetimer.renderer`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spf_bench.generators.base import GeneratedVideo, GenerationRequest, Generator
from spf_bench.generators.posthoc.plan import (
    DEFAULT_PENALTY,
    DEFAULT_PENALTY_PER_FRAME,
    SegmentPlan,
    choose_segments,
)
from spf_bench.generators.posthoc.render import SegmentedRetimer
from spf_bench.generators.posthoc.resample import ResampledGenerator, check_frames
from spf_bench.generators.retime import Measure, renderer_for, retime_loop
from spf_bench.metrics import spf
from spf_bench.metrics.measure import Measurement, PacingSettings

__all__ = ["RetimeOutcome", "retime_frames"]


@dataclass
class RetimeOutcome:
    """The result of :func:`retime_frames`.

    Attributes:
        frames: retimed clip ``(n, H, W, 3)`` uint8.
        before: :class:`~spf_bench.metrics.measure.Measurement` of the source (iteration 0).
        after: :class:`~spf_bench.metrics.measure.Measurement` of the retimed clip (the last
            iteration run).
        mode: ``resample`` or ``segmented``.
        pacing: target pacing curve name.
        temperature: its temperature.
        positions: source times of the output frames (``resample``), ``(n,)`` float64 frame
            units, else ``None``.
        plan: the segment plan (``segmented``), else ``None``.
        pieces: per-piece render facts (``segmented``).
        history: ``resample``: Linearity Score and target deviation (against ``pacing``) after
            each iteration; ``segmented``: the proxy target deviation of each segment plan
            tried.
        segments_before: segmentation of the source ``S`` (keyframes of the source; both
            modes; ``segmented``: the plan's pieces), inclusive frame pairs.
        penalty: the segmentation penalty used (NaN when ``k`` was given).
    """

    frames: np.ndarray
    before: Measurement
    after: Measurement
    mode: str
    pacing: str
    temperature: float
    positions: np.ndarray | None = None
    plan: SegmentPlan | None = None
    pieces: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    segments_before: list[tuple[int, int]] = field(default_factory=list)
    penalty: float = math.nan


class _Clip:
    """A :class:`~spf_bench.generators.base.Generator` of one clip held in memory."""

    name = "clip"
    honours_positions = False
    bands = 0

    def __init__(self, frames: np.ndarray, fps: float) -> None:
        self.frames, self.fps = frames, float(fps)

    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        n = len(self.frames)
        return [GenerationRequest(item_id=self.name, seed=seed, n_frames=n, fps=self.fps)]

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        return GeneratedVideo(frames=self.frames, fps=self.fps)


def retime_frames(
    frames: np.ndarray,
    measure: Measure,
    mode: str = "resample",
    *,
    pacing: str = "linear",
    temperature: float = 3.0,
    iterations: int = 3,
    interpolation: str = "linear",
    k: int | None = None,
    penalty: float | None = DEFAULT_PENALTY,
    penalty_per_frame: float = DEFAULT_PENALTY_PER_FRAME,
    regenerator: Generator | None = None,
    item_id: str = "clip",
    seed: int = 0,
    fps: float = 24.0,
    prompt: str | None = None,
    refine: int = 2,
) -> RetimeOutcome:
    """Retime one clip to a target pacing, post hoc (see the module docstring).

    Args:
        frames: source ``(T, H, W, 3)`` uint8, ``T >= 3``.
        measure: frames ``(n, H, W, 3)`` uint8 ->
            :class:`~spf_bench.metrics.measure.Measurement`
            (:func:`spf_bench.metrics.measure.measure_frames` with the run's embedder and
            :class:`~spf_bench.metrics.measure.SPFSettings`).
        mode: ``resample`` or ``segmented``.
        pacing: target pacing curve (:data:`spf_bench.metrics.spf.PACINGS`).
        temperature: its temperature.
        iterations: ``resample`` refinements (>= 1); ``segmented`` is one pass.
        interpolation: :data:`~spf_bench.generators.posthoc.resample.INTERPOLATIONS`.
        k: exact number of pieces, or ``None`` for the penalised choice
            (:func:`~spf_bench.generators.posthoc.plan.choose_segments`).
        penalty: absolute cost per piece on ``S`` in [0, 1] (default the calibrated
            :data:`~spf_bench.generators.posthoc.plan.DEFAULT_PENALTY`), or ``None``.
        penalty_per_frame: per-frame cost per piece when ``penalty`` is ``None``.
        regenerator: first-last-frame generator for ``segmented`` (``None``: resampling).
        item_id: item id of the regenerator's requests.
        seed: seed of the regenerator's first piece.
        fps: frame rate of the clip, frames per second.
        prompt: prompt of the regenerated pieces (``None``: a generic transition prompt).
        refine: ``segmented``: refinements of the plan
            (:func:`~spf_bench.generators.posthoc.render.refine_plan`).

    Returns:
        :class:`RetimeOutcome`.

    Raises:
        ValueError: on a bad mode, pacing or argument, or a degenerate source (static clip:
            nothing to retime).
        GeneratorError: from the regenerator.
    """
    f = check_frames(frames)
    if mode not in ("resample", "segmented"):
        raise ValueError(f"mode must be 'resample' or 'segmented', got {mode!r}")
    if pacing not in spf.PACINGS:
        raise ValueError(f"unknown pacing {pacing!r}; choose one of {spf.PACINGS}")
    if mode == "resample" and int(iterations) < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    clip = _Clip(f, fps)
    request = GenerationRequest(
        item_id=item_id, seed=int(seed), n_frames=f.shape[0], fps=float(fps), prompt=prompt
    )
    gen: Any
    if mode == "resample":
        gen, n_iter = ResampledGenerator(clip, interpolation, cache_size=1), int(iterations)
    else:
        gen = SegmentedRetimer(
            clip,
            measure,
            regenerator,
            k=k,
            penalty=penalty,
            penalty_per_frame=penalty_per_frame,
            pacing=pacing,
            temperature=temperature,
            interpolation=interpolation,
            refine=refine,
            cache_size=1,
        )
        n_iter = 1
    steps = retime_loop(
        renderer_for(gen, request),
        measure,
        iterations=n_iter,
        pacing=PacingSettings(pacing, float(temperature)),
        update="compose",
    )
    first = next(steps)
    before = first.measurement
    if before.degenerate:
        raise ValueError("the clip has no semantic change above noise (static): nothing to retime")
    out = RetimeOutcome(
        frames=f,
        before=before,
        after=before,
        mode=mode,
        pacing=pacing,
        temperature=float(temperature),
    )
    if mode == "resample":
        # Segmented mode takes these from its plan (SegmentedRetimer.plan segments the same S).
        out.segments_before, out.penalty = choose_segments(
            before.progress, k, penalty, penalty_per_frame, f.shape[0] - 1
        )
    last = first
    for last in steps:
        if mode == "resample":
            sc = spf.score_progress(last.measurement.spf, pacing=pacing, temperature=temperature)
            out.history.append(
                {"linearity_score": sc.linearity_score, "target_deviation": sc.target_deviation}
            )
    out.frames, out.after = last.video.frames, last.measurement
    if mode == "resample":
        out.positions = last.positions
    else:
        meta = last.video.metadata
        out.plan = SegmentPlan.from_dict(meta["segment_plan"])
        out.segments_before, out.penalty = out.plan.segments, out.plan.penalty
        out.pieces = meta["pieces"]
        out.history = [{"proxy_target_deviation": d} for d in meta["proxy_target_deviations"]]
    return out
