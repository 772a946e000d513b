"""Calibrate the automatic segmentation penalty on a labelled set (docs/method.md, Sec. 5).

Segmented least squares (:func:`spf_bench.metrics.spf.segment_progress`) splits ``S`` into
near-linear pieces; with ``K`` unknown it minimises ``sum of squared line-fit errors + C * K``
(:func:`spf_bench.generators.posthoc.plan.choose_segments`). This script measures how well the
piece boundaries land on *known* boundaries, for every rule of choosing ``C``:

- ``per_frame``: ``C = c * T`` (``T`` frames; ``c`` =
  :data:`~spf_bench.generators.posthoc.plan.DEFAULT_PENALTY_PER_FRAME` by default);
- ``absolute``: ``C`` fixed (the reference package's 0.02; ``spf.keyframe_penalty``);
- ``k``: the exact number of pieces, ``K = K_true + delta`` (the oracle ``K`` at ``delta = 0``);
- ``relative`` (a candidate, not implemented in ``choose_segments``): ``C = c * SSE_1``, with
  ``SSE_1`` the squared error of one line through all of ``S``: a keyframe is added when it
  removes at least a fraction ``c`` of the misfit of a straight ``S``.

The labelled set (every boundary is known independently of the SPF):

``footage``
    ``bikes.mp4`` whole (250 frames; scene cuts at frames 30, 76, 137, 187, 242, the frames where
    the pixel frame-to-frame difference peaks) and clips *stitched* from shots of the bundled
    footage (``bikes``' five full shots, ``carphone_pristine`` and ``bigbuckbunny``, each one
    continuous shot): 3-5 pieces of 14-36 frames, consecutive pieces from different shots, cut
    at the first frame of each new piece. Seeded (``--seed``).
``morph_chain``
    crossfade chains through 3-5 stills (:mod:`spf_bench.generators.stills`): a hold of 6-14
    frames on each still and a *linear* crossfade of 8-24 frame intervals between consecutive
    stills. Boundaries: the last frame of each hold before a crossfade and the first frame of
    the next hold (where ``S`` turns from flat to rising and back).
``morph_step``
    :class:`spf_bench.generators.morph.MorphGenerator` items with the ``step`` profile (41
    frames): no change outside ``[c - w, c + w]`` of normalised time, a smoothstep inside.
    Boundaries: frames ``(c - w)(T - 1)`` and ``(c + w)(T - 1)`` (fractional).
``synthetic``
    clean ``S`` curves with ``k = 1..6`` steps (``T`` in 60, 120, 250 frames): a raw curve with
    jumps at known frames (a jump "at frame ``c``" rises between frames ``c - 1`` and ``c``,
    like a cut) over a linear drift (``clean``) or a drift with random per-frame rate
    (``rough``, log-normal, no systematic change of pace), passed through the SPF's monotone
    normalisation (gradient, clip at 0, cumulative sum, scale to [0, 1]; docs/method.md,
    Sec. 1). Embedder-free: the same curves join each embedder's set.

Scoring. The predicted boundaries are the inner keyframes (first and last frame excluded). A
known boundary counts as found when a predicted one lies within ``+-2`` frames of it
(:data:`TOLERANCE`); matching is one-to-one (a second boundary next to the same cut is a false
positive). Per family, true and false positives and misses are summed over its clips
(precision ``TP / (TP + FP)``, recall ``TP / (TP + FN)``, ``F1 = 2 TP / (2 TP + FP + FN)``).
The **criterion** is the mean over the four families of their F1 (each family weighs the same,
whatever its number of boundaries), averaged over the embedders. :func:`choose` smooths it
over neighbouring grid values, takes the rule (``per_frame`` or ``absolute``, those
``choose_segments`` implements) with the best smoothed criterion, and within that rule's
plateau (smoothed criterion within 0.01 of its best) the lowest penalty, the one with the most
recall. A leave-one-family-out check picks the value on three families and scores it on the
fourth; :func:`by_length` asks whether the best penalty grows with the clip length.

Outputs (``--out``, default ``results/segment_calibration``):

- ``clips.csv``: the labelled set (clip, family, frames, known boundaries, how it was made);
- ``sweep.csv``: per embedder x family (``all`` = the criterion) x rule x value: TP, FP, FN,
  precision, recall, F1, mean number of pieces;
- ``by_k.csv``: the same against the exact ``K = K_true + delta``;
- ``per_clip.csv``: every clip's boundaries at the chosen default, the previous default
  (``c = 2e-5``) and the reference's absolute 0.02;
- ``summary.csv``: the best value of each rule per embedder, and the leave-one-family-out
  scores;
- ``by_length.csv``: the best value of each rule per clip-length bin (does it grow with ``T``?);
- ``chosen.json``: the chosen rule and value (a test checks the code's default against it);
- ``precision_recall.png``: precision, recall and F1 against ``c``, ``C`` and ``delta``;
- ``README.md``: the tables, the chosen value and why.

Usage::

    spf-bench study calibrate_segments --out results/segment_calibration \
        [--embedders pixel efficientnet_lite0] [--cache DIR] [--reduced] [--seed 0]

Embeddings are cached under ``--cache`` (default ``$TMPDIR/spf-bench-embeddings``, the studies'
one cache, :mod:`spf_bench.bench.studies.cache`), one ``.npz`` per embedder x rendered clip, so
each clip is embedded once; every sweep after that is SPF and
segmentation only.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from spf_bench.bench.studies.cache import EmbeddingCache, default_cache_dir
from spf_bench.generators.morph import MorphGenerator, crossfade
from spf_bench.generators.posthoc.plan import choose_segments
from spf_bench.generators.stills import STILLS, load_still
from spf_bench.metrics import spf
from spf_bench.metrics.atomic_io import atomic_write_json, atomic_write_text
from spf_bench.metrics.measure import SPFSettings, measure_embeddings
from spf_bench.metrics.video_io import bundled_clips, read_video

log = logging.getLogger("spf_bench")

__all__ = [
    "ABSOLUTE_GRID",
    "BIKES_CUTS",
    "FAMILIES",
    "PER_FRAME_GRID",
    "TOLERANCE",
    "LabelledClip",
    "build_set",
    "choose",
    "embed_clips",
    "evaluate",
    "main",
    "match_boundaries",
    "progress_curves",
    "score",
]

#: Families of the labelled set, in report order (the criterion weighs each the same).
FAMILIES: tuple[str, ...] = ("footage", "morph_chain", "morph_step", "synthetic")

#: A known boundary is found when a predicted one lies within this many frames of it.
TOLERANCE = 2

#: First frame of each new shot of bikes.mp4: where its pixel frame-to-frame angular distance
#: peaks (0.47-0.74 rad against a median of 0.08), independent of the SPF.
BIKES_CUTS: tuple[int, ...] = (30, 76, 137, 187, 242)

#: Continuous shots of the bundled clips, inclusive frame ranges. bikes' last shot (242-249,
#: 8 frames) is too short to cut pieces from.
SHOTS: tuple[tuple[str, int, int], ...] = (
    ("bikes", 0, 29),
    ("bikes", 30, 75),
    ("bikes", 76, 136),
    ("bikes", 137, 186),
    ("bikes", 187, 241),
    ("carphone_pristine", 0, 119),
    ("bigbuckbunny", 0, 131),
)

#: Renard's R10 preferred numbers: 10 values per decade, steps of about 1.26x.
_R10 = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)


def _decades(lo: int, hi: int) -> tuple[float, ...]:
    return (*(float(f"{m * 10.0**e:.3g}") for e in range(lo, hi) for m in _R10), 10.0**hi)


#: Per-frame penalties ``c`` swept (``C = c * T``): R10 values from 1e-7 to 1e-2.
PER_FRAME_GRID: tuple[float, ...] = _decades(-7, -2)
#: Absolute penalties ``C`` swept: R10 values from 1e-5 to 1.
ABSOLUTE_GRID: tuple[float, ...] = _decades(-5, 0)
#: Relative penalties ``c`` swept (``C = c * SSE_1``): R10 values from 1e-4 to 1.
RELATIVE_GRID: tuple[float, ...] = _decades(-4, 0)
#: The small grids of ``--quick`` (the tests' smoke run).
QUICK_PER_FRAME: tuple[float, ...] = (2e-5, 6.3e-5, 2e-4)
QUICK_ABSOLUTE: tuple[float, ...] = (0.002, 0.008, 0.02)
QUICK_K_DELTAS: tuple[int, ...] = (-1, 0, 1)
QUICK_RELATIVE: tuple[float, ...] = (0.02, 0.05, 0.125)
#: Rules that ``choose_segments`` implements: the candidates for its default.
DEFAULT_CANDIDATES: tuple[str, ...] = ("per_frame", "absolute")
#: Offsets of the exact number of pieces from the true one, ``K = K_true + delta``.
K_DELTAS: tuple[int, ...] = (-3, -2, -1, 0, 1, 2, 3, 4, 5)

#: The default before this calibration (``C = 2e-5 * T``) and the reference's absolute penalty.
PREVIOUS_PER_FRAME = 2e-5
REFERENCE_ABSOLUTE = 0.02

_SIZE = 128  # side of every frame of the set, pixels (footage squashed, stills centre-cropped)


@dataclass(frozen=True)
class LabelledClip:
    """One clip of the labelled set.

    Attributes:
        clip_id: stable identifier, e.g. ``stitched-03``; the cache key.
        family: one of :data:`FAMILIES`.
        n_frames: ``T``, frames.
        boundaries: known inner boundaries, frame indices (0-based; fractional for
            ``morph_step``), increasing.
        description: how the clip was made (pieces, stills, steps), for ``clips.csv``.
        make: renders the frames, ``() -> np.ndarray`` of shape ``(T, H, W, 3)``, uint8 RGB;
            ``None`` for ``synthetic`` clips.
        progress: the ``S`` curve of a ``synthetic`` clip, ``(T,)`` float64 from 0 to 1.
    """

    clip_id: str
    family: str
    n_frames: int
    boundaries: tuple[float, ...]
    description: str = ""
    make: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)
    progress: np.ndarray | None = field(default=None, repr=False, compare=False)


# ------------------------------------------------------------------------------- the set
@cache
def _footage(name: str) -> np.ndarray:
    """A bundled clip decoded and squashed to ``_SIZE x _SIZE`` (read-only, cached)."""
    frames, _ = read_video(bundled_clips()[name], size=_SIZE)
    out = np.stack(
        [
            np.asarray(Image.fromarray(f).resize((_SIZE, _SIZE), Image.Resampling.BILINEAR))
            for f in frames
        ]
    )
    out.setflags(write=False)
    return out


def _whole(name: str) -> np.ndarray:
    return _footage(name).copy()


def _stitch(pieces: Sequence[tuple[str, int, int]]) -> np.ndarray:
    return np.concatenate([_footage(src)[a : a + n] for src, a, n in pieces])


def _stitch_plan(rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """3-5 pieces ``(source, start, length)``, lengths 14-36 frames, consecutive pieces from
    different shots of :data:`SHOTS`."""
    pieces: list[tuple[str, int, int]] = []
    prev = -1
    for _ in range(int(rng.integers(3, 6))):
        j = int(rng.choice([i for i in range(len(SHOTS)) if i != prev]))
        src, a, b = SHOTS[j]
        n = min(int(rng.integers(14, 37)), b - a + 1)
        start = int(rng.integers(a, b - n + 2))
        pieces.append((src, start, n))
        prev = j
    return pieces


def _chain_plan(rng: np.random.Generator) -> tuple[list[str], list[int], list[int]]:
    """Stills, hold lengths (frames, one per still) and crossfade lengths (frame intervals)."""
    n = int(rng.integers(3, 6))
    stills = [STILLS[int(i)] for i in rng.choice(len(STILLS), size=n, replace=False)]
    holds = [int(v) for v in rng.integers(6, 15, size=n)]
    fades = [int(v) for v in rng.integers(8, 25, size=n - 1)]
    return stills, holds, fades


def _chain_boundaries(holds: Sequence[int], fades: Sequence[int]) -> list[int]:
    """Last frame of each hold before a crossfade and first frame of the hold after it."""
    out, t = [], 0
    for h, f in zip(holds, fades, strict=False):
        t += h - 1  # last frame of this hold (alpha = 0)
        out += [t, t + f]  # the crossfade ends on the first frame of the next hold
        t += f
    return out


def _chain(stills: Sequence[str], holds: Sequence[int], fades: Sequence[int]) -> np.ndarray:
    """Hold, linear crossfade, hold, ...: ``sum(holds) + sum(fades) - len(fades)`` frames."""
    imgs = [load_still(s, _SIZE) for s in stills]
    parts = []
    for i, img in enumerate(imgs):
        parts.append(np.repeat(img[None], holds[i], axis=0))
        if i < len(fades):
            alpha = np.arange(1, fades[i]) / fades[i]  # the fade's inner frames
            parts.append(crossfade(img, imgs[i + 1], alpha))
    return np.concatenate(parts)


def _morph_step(items: Sequence[Any], i: int) -> np.ndarray:
    gen = MorphGenerator(n_frames=items[i].n_frames, size=_SIZE, profiles=("step",))
    return gen.generate(items[i]).frames


def _monotone(raw: np.ndarray) -> np.ndarray:
    """The SPF's monotone normalisation (docs/method.md, Sec. 1): gradient, clip at 0,
    cumulative sum, scaled to run from 0 to 1."""
    s, total = spf.monotone(raw)
    return s / total


def synthetic_curve(
    n_frames: int, jumps: Sequence[int], heights: Sequence[float], drift: np.ndarray
) -> np.ndarray:
    """A clean step-like ``S``: jumps of ``heights`` at frames ``jumps`` over a drift.

    Args:
        n_frames: ``T``, frames.
        jumps: frames ``c`` where the raw curve rises by the matching height between ``c - 1``
            and ``c`` (a cut at ``c``), each in ``[1, T - 1]``.
        heights: rise of each jump (any positive scale).
        drift: ``(T - 1,)`` non-negative per-frame rises between the jumps.

    Returns:
        ``S``, ``(T,)`` float64, non-decreasing from 0 to 1 (monotone normalisation applied).

    Raises:
        ValueError: on a jump outside ``[1, T - 1]`` or a drift of the wrong length.
    """
    inc = np.asarray(drift, dtype=np.float64).copy()
    if inc.shape != (n_frames - 1,):
        raise ValueError(f"drift must have shape ({n_frames - 1},), got {inc.shape}")
    for c, h in zip(jumps, heights, strict=True):
        if not 1 <= c <= n_frames - 1:
            raise ValueError(f"jump frame {c} outside [1, {n_frames - 1}]")
        inc[c - 1] += h
    return _monotone(np.concatenate([[0.0], np.cumsum(inc)]))


def _synthetic(rng: np.random.Generator, t: int, k: int, rough: bool) -> tuple[list[int], Any]:
    """``k`` jump frames in ``[6, T - 6]``, at least ``min(10, (T - 12) // k)`` apart (uniform
    order statistics shifted apart); heights ``U[0.3, 1]`` taking a share ``U[0.5, 0.95]`` of
    the total; the rest a drift, even or log-normal (sigma 0.5)."""
    sep = min(10, (t - 12) // k)
    slack = (t - 12) - sep * (k - 1)
    base = np.sort(rng.integers(0, slack + 1, size=k))
    jumps = [int(6 + b + sep * i) for i, b in enumerate(base)]
    share = rng.uniform(0.5, 0.95)
    heights = rng.uniform(0.3, 1.0, size=k)
    heights *= share / heights.sum()
    rate = rng.lognormal(0.0, 0.5, size=t - 1) if rough else np.ones(t - 1)
    drift = rate * (1.0 - share) / rate.sum()
    return jumps, synthetic_curve(t, jumps, heights, drift)


def build_set(reduced: bool = False, seed: int = 0) -> list[LabelledClip]:
    """The labelled set (see the module docs for each family).

    Args:
        reduced: a small set for the tests: bikes, 2 stitched clips and 12 synthetic curves
            (``T`` = 60 and 120, ``k`` = 1..6, clean), no morphs.
        seed: seed of the stitchings, chains, morph items and synthetic curves.

    Returns:
        list of :class:`LabelledClip` in family order. Frames are rendered only when
        :attr:`LabelledClip.make` is called.
    """
    out: list[LabelledClip] = [
        LabelledClip(
            "bikes",
            "footage",
            250,
            tuple(float(c) for c in BIKES_CUTS),
            "bikes.mp4, all 250 frames",
            partial(_whole, "bikes"),
        )
    ]
    for i in range(2 if reduced else 12):
        pieces = _stitch_plan(np.random.default_rng([seed, 1, i]))
        lengths = np.cumsum([n for _, _, n in pieces])
        out.append(
            LabelledClip(
                f"stitched-{i:02d}",
                "footage",
                int(lengths[-1]),
                tuple(float(v) for v in lengths[:-1]),
                " + ".join(f"{s}[{a}:{a + n}]" for s, a, n in pieces),
                partial(_stitch, tuple(pieces)),
            )
        )
    if not reduced:
        for i in range(6):
            stills, holds, fades = _chain_plan(np.random.default_rng([seed, 2, i]))
            n = sum(holds) + sum(fades) - len(fades)
            desc = " > ".join(f"{s}(hold {h})" for s, h in zip(stills, holds, strict=True))
            out.append(
                LabelledClip(
                    f"chain-{i:02d}",
                    "morph_chain",
                    n,
                    tuple(float(b) for b in _chain_boundaries(holds, fades)),
                    f"{desc}; fades {fades}",
                    partial(_chain, tuple(stills), tuple(holds), tuple(fades)),
                )
            )
        gen = MorphGenerator(n_frames=41, size=_SIZE, profiles=("step",))
        items = gen.items(6, seed)
        for i, req in enumerate(items):
            c, w = req.extra["params"]["centre"], req.extra["params"]["width"]
            out.append(
                LabelledClip(
                    f"step-{i:02d}",
                    "morph_step",
                    req.n_frames,
                    ((c - w) * (req.n_frames - 1), (c + w) * (req.n_frames - 1)),
                    f"{req.extra['still_a']} > {req.extra['still_b']}, centre {c:.3f} "
                    f"width {w:.3f}",
                    partial(_morph_step, tuple(items), i),
                )
            )
    variants = (False,) if reduced else (False, True)
    for rough in variants:
        for t in (60, 120) if reduced else (60, 120, 250):
            for k in range(1, 7):
                rng = np.random.default_rng([seed, 3, t, k, int(rough)])
                jumps, s = _synthetic(rng, t, k, rough)
                name = "rough" if rough else "clean"
                out.append(
                    LabelledClip(
                        f"synthetic-{name}-T{t}-k{k}",
                        "synthetic",
                        t,
                        tuple(float(c) for c in jumps),
                        f"{name} drift, {k} jumps",
                        progress=s,
                    )
                )
    return out


# ------------------------------------------------------------------------------- embedding
def embed_clips(
    clips: Iterable[LabelledClip],
    embedder: str,
    cache_dir: str | os.PathLike | None = None,
    *,
    embedder_obj: Any = None,
) -> dict[str, np.ndarray]:
    """Embed every rendered clip once through the studies' embedding cache
    (:class:`spf_bench.bench.studies.cache.EmbeddingCache`: keyed by the rendered frames, so
    the seed the set was built with is part of the key).

    Args:
        clips: the clips; ``synthetic`` ones (no frames) are skipped.
        embedder: a name of :data:`spf_bench.metrics.embedders.EMBEDDERS` (built offline on
            the first cache miss).
        cache_dir: cache folder; ``None`` disables the cache.
        embedder_obj: an already built embedder to use instead of building one.

    Returns:
        ``{clip_id: (T, D) float32 embeddings}``.

    Raises:
        spf_bench.metrics.embedders.MissingWeightsError: if the embedder's weights are absent.
        ValueError: if a rendered clip does not have ``n_frames`` frames.
    """
    cache = EmbeddingCache(cache_dir, embedder, embedder_obj=embedder_obj)
    out: dict[str, np.ndarray] = {}
    for clip in clips:
        if clip.make is None:
            continue
        frames = clip.make()
        if len(frames) != clip.n_frames:
            raise ValueError(
                f"{clip.clip_id}: {len(frames)} frames rendered, {clip.n_frames} expected"
            )
        out[clip.clip_id] = cache.embed(clip.clip_id, frames)
    return out


def progress_curves(
    clips: Iterable[LabelledClip], embeddings: dict[str, np.ndarray], settings: Any = None
) -> dict[str, np.ndarray]:
    """``S`` of every clip: measured from its embeddings by the measurement kernel
    (:func:`spf_bench.metrics.measure.measure_embeddings`, default :class:`SPFSettings`), or the
    given curve of a ``synthetic`` clip.

    Returns:
        ``{clip_id: (T,) float64 S from 0 to 1}``.

    Raises:
        ValueError: if a clip is degenerate (no change above noise: nothing to segment).
    """
    settings = SPFSettings() if settings is None else settings
    out = {}
    for clip in clips:
        if clip.progress is not None:
            out[clip.clip_id] = np.asarray(clip.progress, dtype=np.float64)
            continue
        m = measure_embeddings(embeddings[clip.clip_id], settings, keep_embeddings=False)
        if m.degenerate:
            raise ValueError(f"{clip.clip_id} is degenerate: no change to segment")
        out[clip.clip_id] = m.keyframe_progress  # the S keyframes are placed on
    return out


# ------------------------------------------------------------------------------- scoring
def match_boundaries(
    predicted: Sequence[float], truth: Sequence[float], tolerance: float = TOLERANCE
) -> tuple[int, int, int]:
    """One-to-one matching of predicted to known boundaries within ``tolerance`` frames.

    Known boundaries are taken in increasing order; each takes the earliest unmatched
    prediction within ``[b - tolerance, b + tolerance]``. On a line with a fixed tolerance
    this greedy matching is a maximum matching (interval scheduling).

    Args:
        predicted: predicted boundary frames (any order).
        truth: known boundary frames (any order; may be fractional).
        tolerance: largest ``|predicted - known|`` that counts as found, frames.

    Returns:
        ``(tp, fp, fn)``: matched pairs, unmatched predictions, unmatched known boundaries.
    """
    pred = sorted(float(p) for p in predicted)
    used = [False] * len(pred)
    tp = 0
    for b in sorted(float(v) for v in truth):
        for i, p in enumerate(pred):
            if not used[i] and abs(p - b) <= tolerance + 1e-9:
                used[i] = True
                tp += 1
                break
    return tp, len(pred) - tp, len(truth) - tp


def _inner(segments: Sequence[tuple[int, int]]) -> list[int]:
    return [int(b) for _, b in segments][:-1]


def merge_close(predicted: Sequence[int], gap: int = TOLERANCE) -> list[float]:
    """Diagnostic only: runs of boundaries at most ``gap`` frames apart replaced by their mean.

    A cut (a step of ``S`` spread over frames ``c - 2 .. c`` by the monotone normalisation)
    is fitted best by a short piece of its own, i.e. two boundaries two frames apart; merging
    them shows what a minimum piece length in :func:`spf_bench.metrics.spf.segment_progress`
    would buy. Not used by the chosen default.

    Args:
        predicted: boundary frames, increasing.
        gap: largest distance between neighbours of one run, frames.

    Returns:
        The merged boundaries, increasing (fractional where a run has an even length).
    """
    out: list[list[int]] = []
    for b in predicted:
        if out and b - out[-1][-1] <= gap:
            out[-1].append(int(b))
        else:
            out.append([int(b)])
    return [float(np.mean(run)) for run in out]


def line_error(s: np.ndarray) -> float:
    """``SSE_1``: squared error of the least-squares line through all of ``S`` (``(T,)``)."""
    y = np.asarray(s, dtype=np.float64)
    x = np.arange(y.size, dtype=np.float64) - (y.size - 1) / 2.0
    slope = float(x @ (y - y.mean()) / (x @ x))
    return float(np.sum((y - y.mean() - slope * x) ** 2))


def segment(s: np.ndarray, rule: str, value: float, n_true: int = 0) -> list[tuple[int, int]]:
    """Pieces of ``S`` under one rule (:func:`~spf_bench.generators.posthoc.plan.choose_segments`).

    Args:
        s: ``S``, ``(T,)``.
        rule: ``per_frame`` (``C = value * T``), ``absolute`` (``C = value``), ``relative``
            (``C = value * SSE_1``, :func:`line_error`) or ``k`` (``K = n_true + 1 + value``
            pieces, at least 1).
        value: the rule's parameter.
        n_true: number of known inner boundaries (rule ``k`` only).

    Returns:
        Inclusive ``(start, end)`` pieces.

    Raises:
        ValueError: on an unknown rule.
    """
    if rule == "per_frame":
        return choose_segments(s, penalty_per_frame=value)[0]
    if rule == "absolute":
        return choose_segments(s, penalty=value)[0]
    if rule == "relative":
        return choose_segments(s, penalty=value * line_error(s))[0]
    if rule == "k":
        k = min(max(1, n_true + 1 + int(value)), s.size - 1)
        return choose_segments(s, k=k)[0]
    raise ValueError(f"unknown rule {rule!r}")


def score(
    clips: Sequence[LabelledClip],
    curves: dict[str, np.ndarray],
    rule: str,
    value: float,
    tolerance: float = TOLERANCE,
) -> list[dict[str, Any]]:
    """Segment every clip under one rule and match its boundaries.

    Returns:
        One dict per clip: ``clip_id, family, rule, value, tp, fp, fn, pieces, predicted``
        (inner boundary frames).
    """
    rows = []
    for clip in clips:
        pred = _inner(segment(curves[clip.clip_id], rule, value, len(clip.boundaries)))
        tp, fp, fn = match_boundaries(pred, clip.boundaries, tolerance)
        mtp, mfp, mfn = match_boundaries(merge_close(pred), clip.boundaries, tolerance)
        rows.append(
            {
                "clip_id": clip.clip_id,
                "family": clip.family,
                "rule": rule,
                "value": value,
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "merged_tp": mtp,
                "merged_fp": mfp,
                "merged_fn": mfn,
                "pieces": len(pred) + 1,
                "predicted": pred,
            }
        )
    return rows


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else math.nan
    r = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return p, r, f1


def _nanmean(values: Sequence[float]) -> float:
    v = [x for x in values if not math.isnan(x)]
    return float(np.mean(v)) if v else math.nan


def aggregate(rows: Sequence[dict[str, Any]], embedder: str) -> list[dict[str, Any]]:
    """Sum per-clip counts per family (plus ``bikes`` alone) and add the ``all`` row whose F1
    is the mean of the family F1s (the criterion); precision and recall of ``all`` are the
    family means too.

    Returns:
        One dict per (family, rule, value): ``embedder, family, rule, value, clips, tp, fp,
        fn, precision, recall, f1, f1_merged`` (F1 after :func:`merge_close`, a diagnostic),
        ``mean_pieces``.
    """
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["family"], r["rule"], r["value"]), []).append(r)
        if r["clip_id"] == "bikes":
            groups.setdefault(("bikes", r["rule"], r["value"]), []).append(r)
    out = []
    for (fam, rule, value), rs in groups.items():
        tp, fp, fn = (sum(r[k] for r in rs) for k in ("tp", "fp", "fn"))
        p, rec, f1 = _prf(tp, fp, fn)
        f1_merged = _prf(*(sum(r[f"merged_{k}"] for r in rs) for k in ("tp", "fp", "fn")))[2]
        out.append(
            {
                "embedder": embedder,
                "family": fam,
                "rule": rule,
                "value": value,
                "clips": len(rs),
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "precision": p,
                "recall": rec,
                "f1": f1,
                "f1_merged": f1_merged,
                "mean_pieces": float(np.mean([r["pieces"] for r in rs])),
            }
        )
    fams = sorted({r["family"] for r in rows}, key=FAMILIES.index)
    by_key = {(r["family"], r["rule"], r["value"]): r for r in out}
    for rule, value in sorted({(r["rule"], r["value"]) for r in rows}):
        parts = [by_key[(f, rule, value)] for f in fams]
        out.append(
            {
                "embedder": embedder,
                "family": "all",
                "rule": rule,
                "value": value,
                "clips": sum(p["clips"] for p in parts),
                "tp": sum(p["tp"] for p in parts),
                "fp": sum(p["fp"] for p in parts),
                "fn": sum(p["fn"] for p in parts),
                "precision": _nanmean([p["precision"] for p in parts]),
                "recall": _nanmean([p["recall"] for p in parts]),
                "f1": float(np.mean([p["f1"] for p in parts])),
                "f1_merged": float(np.mean([p["f1_merged"] for p in parts])),
                "mean_pieces": float(np.mean([p["mean_pieces"] for p in parts])),
            }
        )
    return out


def evaluate(
    clips: Sequence[LabelledClip],
    curves: dict[str, dict[str, np.ndarray]],
    per_frame: Sequence[float] = PER_FRAME_GRID,
    absolute: Sequence[float] = ABSOLUTE_GRID,
    k_deltas: Sequence[int] = K_DELTAS,
    relative: Sequence[float] = RELATIVE_GRID,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Sweep every rule and value for every embedder.

    Args:
        clips: the labelled set.
        curves: ``{embedder: {clip_id: S}}`` (:func:`progress_curves`).
        per_frame, absolute, k_deltas, relative: the values swept for each rule.

    Returns:
        ``(summary_rows, clip_rows)``: :func:`aggregate` rows for every embedder and the
        per-clip rows of :func:`score` (with an ``embedder`` key).
    """
    summary, per_clip = [], []
    sweeps = [("per_frame", v) for v in per_frame] + [("absolute", v) for v in absolute]
    sweeps += [("k", float(d)) for d in k_deltas] + [("relative", v) for v in relative]
    for emb, cur in curves.items():
        rows = []
        synth_cache: dict[tuple[str, float], list[dict[str, Any]]] = {}
        for rule, value in sweeps:
            rs = score([c for c in clips if c.family != "synthetic"], cur, rule, value)
            key = (rule, value)  # synthetic curves do not depend on the embedder
            if key not in synth_cache:
                synth_cache[key] = score(
                    [c for c in clips if c.family == "synthetic"], cur, rule, value
                )
            rows += rs + synth_cache[key]
        summary += aggregate(rows, emb)
        per_clip += [{"embedder": emb, **r} for r in rows]
    return summary, per_clip


def criterion(summary: Sequence[dict[str, Any]], rule: str) -> dict[float, float]:
    """The criterion of every value of ``rule``: the ``all`` F1 (mean of the family F1s)
    averaged over the embedders.

    Returns:
        ``{value: criterion}`` in increasing ``value``.
    """
    vals: dict[float, list[float]] = {}
    for r in summary:
        if r["family"] == "all" and r["rule"] == rule:
            vals.setdefault(r["value"], []).append(r["f1"])
    return {v: float(np.mean(vals[v])) for v in sorted(vals)}


def _best_of_rule(summary: Sequence[dict[str, Any]], rule: str, smooth: int) -> dict[str, Any]:
    crit = criterion(summary, rule)
    values = list(crit)
    raw = np.array([crit[v] for v in values])
    sm = np.array([raw[max(0, i - smooth) : i + smooth + 1].mean() for i in range(len(values))])
    top = int(np.argmax(sm))
    lo = hi = top  # the contiguous run of values within 0.01 of the best smoothed criterion
    while lo > 0 and sm[lo - 1] >= sm[top] - 0.01:
        lo -= 1
    while hi < len(values) - 1 and sm[hi + 1] >= sm[top] - 0.01:
        hi += 1
    return {
        "rule": rule,
        "value": values[lo],
        "criterion": float(raw[lo]),
        "smoothed": float(sm[lo]),
        "argmax": values[top],
        "best_smoothed": float(sm[top]),
        "plateau": (values[lo], values[hi]),
    }


def choose(
    summary: Sequence[dict[str, Any]],
    rules: Sequence[str] = DEFAULT_CANDIDATES,
    smooth: int = 1,
) -> dict[str, Any]:
    """The rule and value to make the default.

    Per rule, the criterion (:func:`criterion`) is smoothed by a running mean over
    ``2 * smooth + 1`` neighbouring grid values (a factor of about 1.26 apart on the R10 grid;
    fewer at the ends): it is a sum over ~100 boundaries per embedder and moves by a few
    hundredths between neighbours, so a value whose neighbours score well too is the one that
    generalises. The rule with the highest smoothed criterion wins. Its *plateau* is the
    contiguous run of values whose smoothed criterion is within 0.01 of that best; the lowest
    value of the plateau is chosen (the highest recall among equally good values: in a
    segmented retime a missed boundary leaves a cut inside one regenerated piece, an extra one
    only adds a piece).

    Args:
        summary: :func:`aggregate` rows.
        rules: the rules competing (those ``choose_segments`` implements).
        smooth: half-width of the running mean, grid steps (0: raw criterion).

    Returns:
        ``{"rule", "value", "criterion"`` (raw, at the value), ``"smoothed"`` (at the value),
        ``"argmax"``, ``"best_smoothed"``, ``"plateau"`` ``(low, high)``, ``"best_per_rule"``
        (the same dict for every rule in ``summary`` but ``k``, candidates or not)``}``.
    """
    every = sorted({r["rule"] for r in summary} - {"k"})
    per_rule = {rule: _best_of_rule(summary, rule, smooth) for rule in every}
    rule = max(rules, key=lambda r: per_rule[r]["best_smoothed"])
    return {**per_rule[rule], "best_per_rule": per_rule}


def leave_one_family_out(summary: Sequence[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    """For each family: the value of ``rule`` that maximises the mean F1 of the *other*
    families (averaged over embedders), and the held-out family's F1 there and at its own best.
    """
    fams = sorted({r["family"] for r in summary if r["family"] in FAMILIES}, key=FAMILIES.index)
    f1: dict[tuple[str, float], list[float]] = {}
    for r in summary:
        if r["rule"] == rule and r["family"] in FAMILIES:
            f1.setdefault((r["family"], r["value"]), []).append(r["f1"])
    mean = {k: float(np.mean(v)) for k, v in f1.items()}
    values = sorted({v for _, v in mean})
    out = []
    for held in fams:
        others = [f for f in fams if f != held]
        crit = {v: float(np.mean([mean[(f, v)] for f in others])) for v in values}
        v = max(values, key=lambda x: crit[x])
        own = max(values, key=lambda x: mean[(held, x)])
        out.append(
            {
                "rule": rule,
                "held_out": held,
                "value_from_others": v,
                "held_out_f1": mean[(held, v)],
                "held_out_best_value": own,
                "held_out_best_f1": mean[(held, own)],
            }
        )
    return out


# ------------------------------------------------------------------------------- outputs
def _csv(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def _figure(summary: Sequence[dict[str, Any]], chosen: tuple[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    embs = list(dict.fromkeys(r["embedder"] for r in summary))
    fig, axes = plt.subplots(len(embs), 4, figsize=(17, 3.4 * len(embs)), squeeze=False)
    styles = {"precision": ":", "recall": "--", "f1": "-"}
    colours = dict(zip((*FAMILIES, "all"), ("C0", "C1", "C2", "C3", "k"), strict=True))
    for row, emb in enumerate(embs):
        for col, (rule, label) in enumerate(
            (
                ("per_frame", "per-frame penalty c (C = c T)"),
                ("absolute", "absolute penalty C"),
                ("relative", "relative penalty c (C = c SSE_1)"),
                ("k", "K - K_true (exact number of pieces)"),
            )
        ):
            ax = axes[row, col]
            for fam in (*FAMILIES, "all"):
                rs = sorted(
                    (
                        r
                        for r in summary
                        if r["embedder"] == emb and r["rule"] == rule and r["family"] == fam
                    ),
                    key=lambda r: r["value"],
                )
                if not rs:
                    continue
                x = [r["value"] for r in rs]
                for metric in ("precision", "recall", "f1") if fam == "all" else ("f1",):
                    ax.plot(
                        x,
                        [r[metric] for r in rs],
                        styles[metric],
                        color=colours[fam],
                        lw=2.2 if fam == "all" else 1.2,
                        label=f"{fam} {metric}" if fam == "all" else f"{fam} F1",
                    )
            if rule != "k":
                ax.set_xscale("log")
            if rule == chosen[0]:
                ax.axvline(chosen[1], color="r", lw=0.8)
            if rule == "per_frame":
                ax.axvline(PREVIOUS_PER_FRAME, color="grey", lw=0.8, ls="--")
            if rule == "absolute":
                ax.axvline(REFERENCE_ABSOLUTE, color="grey", lw=0.8, ls="--")
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel(label)
            ax.set_title(f"{emb}", fontsize=9)
            ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=7, fontsize=8)
    fig.suptitle(
        f"Segment boundaries found within +-{TOLERANCE} frames (red: chosen default; grey dashed: "
        "previous per-frame 2e-5 / reference absolute 0.02)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: Clip-length bins of :func:`by_length`, frames (inclusive upper bounds).
LENGTH_BINS: tuple[tuple[str, int, int], ...] = (
    ("T <= 60", 0, 60),
    ("60 < T <= 130", 61, 130),
    ("T > 130", 131, 10**9),
)


def by_length(
    per_clip: Sequence[dict[str, Any]], clips: Sequence[LabelledClip]
) -> list[dict[str, Any]]:
    """Does the best penalty grow with the clip length? Per length bin (:data:`LENGTH_BINS`)
    and rule, the value with the highest F1 pooled over the bin's clips, families and
    embedders (synthetic curves counted once).

    Returns:
        One dict per bin x rule: ``bin, rule, best_value, f1, clips, C_at_median_T`` (the
        absolute penalty that value means at the bin's median length).
    """
    n = {c.clip_id: c.n_frames for c in clips}
    fam = {c.clip_id: c.family for c in clips}
    first = next(iter(dict.fromkeys(r["embedder"] for r in per_clip)), None)
    out = []
    for label, lo, hi in LENGTH_BINS:
        ids = [c.clip_id for c in clips if lo <= c.n_frames <= hi]
        if not ids:
            continue
        t_med = float(np.median([n[i] for i in ids]))
        for rule in ("per_frame", "absolute"):
            counts: dict[float, np.ndarray] = {}
            for r in per_clip:
                if r["rule"] != rule or r["clip_id"] not in ids:
                    continue
                if fam[r["clip_id"]] == "synthetic" and r["embedder"] != first:
                    continue
                counts.setdefault(r["value"], np.zeros(3))
                counts[r["value"]] += (r["tp"], r["fp"], r["fn"])
            if not counts:
                continue
            f1 = {v: _prf(*(int(x) for x in c))[2] for v, c in counts.items()}
            best = max(sorted(f1), key=lambda v: f1[v])
            out.append(
                {
                    "bin": label,
                    "rule": rule,
                    "best_value": best,
                    "f1": f1[best],
                    "clips": len(ids),
                    "C_at_median_T": best * t_med if rule == "per_frame" else best,
                }
            )
    return out


def _double_kinks(
    per_clip: Sequence[dict[str, Any]], clips: Sequence[LabelledClip], rule: str, value: float
) -> tuple[int, int]:
    """``(false positives, those within TOLERANCE frames of another predicted boundary)``
    at one setting, over every embedder: how many false positives are a cut's second kink."""
    truth = {c.clip_id: c.boundaries for c in clips}
    fp = near = 0
    for r in per_clip:
        if r["rule"] != rule or r["value"] != value:
            continue
        pred = sorted(r["predicted"])
        used = [False] * len(pred)
        for b in sorted(truth[r["clip_id"]]):
            for i, p in enumerate(pred):
                if not used[i] and abs(p - b) <= TOLERANCE + 1e-9:
                    used[i] = True
                    break
        for i, p in enumerate(pred):
            if not used[i]:
                fp += 1
                near += any(j != i and abs(q - p) <= TOLERANCE for j, q in enumerate(pred))
    return fp, near


def write_outputs(
    out: str | os.PathLike,
    clips: Sequence[LabelledClip],
    summary: Sequence[dict[str, Any]],
    per_clip: Sequence[dict[str, Any]],
    provenance: dict[str, Any],
) -> dict[str, Any]:
    """Write the tables, ``chosen.json``, the figure and README.md (module docs) under ``out``.

    Returns:
        The choice of :func:`choose` plus ``folder``.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    choice = choose(summary)
    rule, value = choice["rule"], choice["value"]
    clip_rows = [
        {
            "clip_id": c.clip_id,
            "family": c.family,
            "n_frames": c.n_frames,
            "boundaries": " ".join(f"{b:g}" for b in c.boundaries),
            "description": c.description,
        }
        for c in clips
    ]
    sweep = [r for r in summary if r["rule"] != "k"]
    by_k = [{**r, "value": int(r["value"])} for r in summary if r["rule"] == "k"]
    keep = {
        (rule, value),
        ("per_frame", PREVIOUS_PER_FRAME),
        ("absolute", REFERENCE_ABSOLUTE),
        ("k", 0.0),
    }
    truth = {c.clip_id: c.boundaries for c in clips}
    per = [
        {
            **{k: v for k, v in r.items() if k != "predicted"},
            "truth": " ".join(f"{b:g}" for b in truth[r["clip_id"]]),
            "predicted": " ".join(str(b) for b in r["predicted"]),
        }
        for r in per_clip
        if (r["rule"], r["value"]) in keep
    ]
    rules = sorted({r["rule"] for r in summary} - {"k"})
    lofo = [row for rl in rules for row in leave_one_family_out(summary, rl)]
    best_rows = []
    for emb in dict.fromkeys(r["embedder"] for r in summary):
        for rl in rules:
            sub = [
                r
                for r in summary
                if r["embedder"] == emb and r["rule"] == rl and r["family"] == "all"
            ]
            b = max(sub, key=lambda r: r["f1"])
            best_rows.append(
                {"embedder": emb, "rule": rl, "best_value": b["value"], "criterion_f1": b["f1"]}
            )
    kinks = {
        label: _double_kinks(per_clip, clips, rl, v)
        for label, rl, v in (
            ("chosen", rule, value),
            ("previous", "per_frame", PREVIOUS_PER_FRAME),
            ("reference", "absolute", REFERENCE_ABSOLUTE),
        )
    }
    atomic_write_text(folder / "clips.csv", _csv(clip_rows))
    atomic_write_text(folder / "sweep.csv", _csv(sweep))
    atomic_write_text(folder / "by_k.csv", _csv(by_k))
    atomic_write_text(folder / "per_clip.csv", _csv(per))
    lengths = by_length(per_clip, clips)
    atomic_write_text(folder / "summary.csv", _csv(best_rows) + "\n" + _csv(lofo))
    atomic_write_text(folder / "by_length.csv", _csv(lengths))
    atomic_write_json(
        folder / "chosen.json",
        {
            "rule": rule,
            "value": value,
            "criterion": choice["criterion"],
            "smoothed_criterion": choice["smoothed"],
            "plateau": list(choice["plateau"]),
            "tolerance_frames": TOLERANCE,
            "embedders": list(dict.fromkeys(r["embedder"] for r in summary)),
            "seed": provenance.get("seed"),
        },
    )
    _figure(summary, (rule, value), folder / "precision_recall.png")
    readme = _readme(clips, summary, choice, best_rows, lofo, kinks, lengths, provenance)
    atomic_write_text(folder / "README.md", readme)
    return {**choice, "folder": str(folder)}


def _fmt(v: float) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"


def _table(summary: Sequence[dict[str, Any]], settings: Sequence[tuple[str, str, float]]) -> str:
    """Markdown: one row per setting x embedder, P / R / F1 per family and the criterion."""
    fams = [f for f in ("bikes", *FAMILIES) if any(r["family"] == f for r in summary)]
    head = "| setting | embedder | " + " | ".join(f"{f} P / R / F1" for f in fams)
    head += " | criterion (mean family F1) |\n"
    head += "|---|---|" + "---|" * (len(fams) + 1) + "\n"
    idx = {(r["embedder"], r["family"], r["rule"], r["value"]): r for r in summary}
    lines = []
    for label, rule, value in settings:
        for emb in dict.fromkeys(r["embedder"] for r in summary):
            cells = []
            for f in fams:
                r = idx[(emb, f, rule, value)]
                cells.append(f"{_fmt(r['precision'])} / {_fmt(r['recall'])} / {_fmt(r['f1'])}")
            crit = idx[(emb, "all", rule, value)]["f1"]
            lines.append(f"| {label} | {emb} | " + " | ".join(cells) + f" | {crit:.3f} |")
    return head + "\n".join(lines) + "\n"


def _k_table(summary: Sequence[dict[str, Any]]) -> str:
    rows = [r for r in summary if r["rule"] == "k" and r["family"] == "all"]
    embs = list(dict.fromkeys(r["embedder"] for r in rows))
    deltas = sorted({int(r["value"]) for r in rows})
    idx = {(r["embedder"], int(r["value"])): r for r in rows}
    head = "| K - K_true | " + " | ".join(f"{e} P / R / F1" for e in embs) + " |\n"
    head += "|---|" + "---|" * len(embs) + "\n"
    lines = []
    for d in deltas:
        cells = [
            f"{_fmt(idx[(e, d)]['precision'])} / {_fmt(idx[(e, d)]['recall'])} / "
            f"{_fmt(idx[(e, d)]['f1'])}"
            for e in embs
        ]
        lines.append(f"| {d:+d} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def _readme(clips, summary, choice, best_rows, lofo, kinks, lengths, provenance) -> str:
    """README.md of the outputs: provenance, the choice and its reasons, the tables."""
    rule, value = choice["rule"], choice["value"]
    counts = {f: sum(1 for c in clips if c.family == f) for f in FAMILIES}
    nb = {f: sum(len(c.boundaries) for c in clips if c.family == f) for f in FAMILIES}
    embs = list(dict.fromkeys(r["embedder"] for r in summary))
    idx = {(r["embedder"], r["family"], r["rule"], r["value"]): r for r in summary}

    def crit(rl: str, v: float, key: str = "f1") -> float:
        return float(np.mean([idx[(e, "all", rl, v)][key] for e in embs]))

    rule_txt = f"C = {value:g} x T" if rule == "per_frame" else f"C = {value:g}"
    why = [
        f"- Rule `{rule}` has the highest criterion, averaged over the embedders and smoothed "
        f"over the neighbouring grid values: {choice['best_smoothed']:.3f} at "
        f"{choice['argmax']:g}. Its plateau (smoothed criterion within 0.01 of that) runs "
        f"from {choice['plateau'][0]:g} to {choice['plateau'][1]:g}; the lowest value of the "
        "plateau is chosen (the most recall among equally good values: a missed boundary "
        "leaves a cut inside one regenerated piece, an extra one only adds a piece). At "
        f"{value:g}: criterion {choice['criterion']:.3f} (smoothed {choice['smoothed']:.3f})."
    ]
    for r, b in choice["best_per_rule"].items():
        if r == rule:
            continue
        note = "" if r in DEFAULT_CANDIDATES else " (a candidate rule; not implemented)"
        why.append(
            f"- Rule `{r}`{note}: best smoothed criterion {b['best_smoothed']:.3f} at "
            f"{b['argmax']:g} (plateau {b['plateau'][0]:g} to {b['plateau'][1]:g})."
        )
    prev, ref = crit("per_frame", PREVIOUS_PER_FRAME), crit("absolute", REFERENCE_ABSOLUTE)
    why.append(
        f"- Previous default (per-frame 2e-5): criterion {prev:.3f}; reference absolute 0.02: "
        f"{ref:.3f}; the number of pieces known (oracle K): {crit('k', 0.0):.3f}."
    )
    fp, near = kinks["chosen"]
    why.append(
        f"- Of the {fp} false positives at the chosen value ({len(embs)} embedder(s)), {near} lie "
        f"within {TOLERANCE} frames of another keyframe: a cut fitted by a short piece of its "
        "own (the monotone normalisation spreads a step over two frame intervals). Merging "
        "keyframes that close (a minimum piece length in segment_progress; not done here) would "
        f"give a criterion of {crit(rule, value, 'f1_merged'):.3f}."
    )
    settings = [
        (f"**chosen: {rule} {value:g}**", rule, value),
        ("previous default: per_frame 2e-05", "per_frame", PREVIOUS_PER_FRAME),
        ("reference: absolute 0.02", "absolute", REFERENCE_ABSOLUTE),
        ("oracle K (K = K_true)", "k", 0.0),
    ]
    settings = [s for s in settings if (embs[0], "all", s[1], s[2]) in idx]
    best_lines = [
        f"| {r['embedder']} | {r['rule']} | {r['best_value']:g} | {r['criterion_f1']:.3f} |"
        for r in best_rows
    ]
    lines = [
        "# Segment boundary calibration (automatic penalty of segmented least squares)",
        "",
        "Generated by `bench/studies/calibrate_segments.py`; do not edit by hand.",
        "",
        f"- command: `{provenance.get('command', '')}`",
        f"- git_sha: {provenance.get('git_sha', '')} (uncommitted changes may apply)",
        f"- wall time: {provenance.get('wall_s', 0):.0f} s (embedding cache: "
        f"{provenance.get('cache', '')})",
        f"- SPF: {provenance.get('spf', '')}",
        f"- seed: {provenance.get('seed', '')}",
        "",
        "## Chosen default",
        "",
        f"**{rule_txt}** (rule `{rule}`).",
        "",
        *why,
        "",
        "## Labelled set",
        "",
        "A known boundary counts as found when a segment boundary (an inner semantic keyframe) "
        f"lies within +-{TOLERANCE} frames of it; matching is one-to-one, so a second keyframe "
        "next to the same cut is a false positive. Precision, recall and F1 are summed over the "
        "clips of a family; the criterion is the mean of the four family F1s (each family "
        "weighs the same, whatever its number of boundaries), averaged over the embedders.",
        "",
        "| family | clips | known boundaries | what |",
        "|---|---|---|---|",
        f"| footage | {counts['footage']} | {nb['footage']} | bikes.mp4 whole (cuts at "
        f"{', '.join(map(str, BIKES_CUTS))}) and clips stitched from shots of bikes, "
        "carphone_pristine and bigbuckbunny at 128 px (cut frames known by construction) |",
        f"| morph_chain | {counts['morph_chain']} | {nb['morph_chain']} | holds and linear "
        "crossfades through 3-5 stills (last frame of a hold, first frame of the next) |",
        f"| morph_step | {counts['morph_step']} | {nb['morph_step']} | MorphGenerator `step` "
        "items, 41 frames (onset and end of the designed change, (c -+ w)(T - 1)) |",
        f"| synthetic | {counts['synthetic']} | {nb['synthetic']} | S curves with 1-6 steps "
        "(T = 60, 120, 250; clean and rough drift), embedder-free |",
        "",
        "## Precision / recall / F1 at the chosen, previous and reference settings",
        "",
        _table(summary, settings),
        "## Best raw value per rule and embedder",
        "",
        "| embedder | rule | best value | criterion |",
        "|---|---|---|---|",
        *best_lines,
        "",
        "## Does the best penalty grow with the clip length?",
        "",
        "Per length bin, the value of each rule with the highest F1 pooled over the bin's "
        "clips (all families, both embedders; synthetic curves once). The per-frame rule "
        "assumes the best C grows in proportion to T.",
        "",
        "| clip length | rule | best value | F1 | clips | C at the median length |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r['bin']} | {r['rule']} | {r['best_value']:g} | {r['f1']:.3f} | "
            f"{r['clips']} | {r['C_at_median_T']:.3g} |"
            for r in lengths
        ],
        "",
        "## Leave one family out",
        "",
        "The value of each rule chosen on the other three families (raw argmax), scored on the "
        "held-out one (F1 averaged over embedders), against the held-out family's own best.",
        "",
        "| rule | held out | value from the others | held-out F1 | its own best value | "
        "its best F1 |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r['rule']} | {r['held_out']} | {r['value_from_others']:g} | "
            f"{r['held_out_f1']:.3f} | {r['held_out_best_value']:g} | "
            f"{r['held_out_best_f1']:.3f} |"
            for r in lofo
        ],
        "",
        "## Against K (exact number of pieces)",
        "",
        "Mean over families of precision / recall / F1 with exactly `K_true + delta` pieces "
        "(`choose_segments(k=...)`); `+0` is the number of pieces known.",
        "",
        _k_table(summary),
        "## Files",
        "",
        "- `clips.csv`: the labelled set; `sweep.csv`: every rule x value x embedder x family "
        "(`f1_merged`: F1 after merging keyframes at most 2 frames apart, a diagnostic); "
        "`by_k.csv`: against K; `per_clip.csv`: each clip's boundaries at the chosen, previous "
        "and reference settings and the oracle K; `summary.csv`: best values and "
        "leave-one-family-out; `by_length.csv`: the best value per clip-length bin; "
        "`chosen.json`: the choice; `precision_recall.png`: the sweeps.",
        "",
        "![precision and recall](precision_recall.png)",
        "",
    ]
    return "\n".join(lines)


def _git_sha() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``spf-bench study calibrate_segments [--out DIR] [--embedders ...] [--reduced]``.

    Returns:
        0 on success.
    """
    parser = argparse.ArgumentParser(
        prog="spf-bench study calibrate_segments", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", default="results/segment_calibration")
    parser.add_argument("--embedders", nargs="+", default=["pixel", "efficientnet_lite0"])
    parser.add_argument("--cache", default=str(default_cache_dir()), help="embedding cache")
    parser.add_argument("--no-cache", action="store_true", help="embed again, write no cache")
    parser.add_argument("--reduced", action="store_true", help="the small set of the tests")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument(
        "--quick", action="store_true", help="3 values per rule (a smoke run, not a calibration)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    torch.set_num_threads(max(1, args.threads))
    t0 = time.perf_counter()
    clips = build_set(args.reduced, args.seed)
    cache_dir = None if args.no_cache else args.cache
    curves = {}
    for emb in args.embedders:
        z = embed_clips(clips, emb, cache_dir)
        curves[emb] = progress_curves(clips, z)
    log.info("embedded and measured %d clips in %.0f s", len(clips), time.perf_counter() - t0)
    grids = (QUICK_PER_FRAME, QUICK_ABSOLUTE, QUICK_K_DELTAS, QUICK_RELATIVE) if args.quick else ()
    summary, per_clip = evaluate(clips, curves, *grids)
    shown = list(sys.argv[1:] if argv is None else argv)
    prov = {
        "command": " ".join(["spf-bench study calibrate_segments", *shown]),
        "git_sha": _git_sha(),
        "wall_s": time.perf_counter() - t0,
        "cache": cache_dir or "off",
        "spf": ", ".join(f"{k}={v}" for k, v in SPFSettings().solver_kwargs().items()),
        "seed": args.seed,
    }
    res = write_outputs(args.out, clips, summary, per_clip, prov)
    print(
        f"chosen: {res['rule']} {res['value']:g} (criterion {res['criterion']:.3f}, smoothed "
        f"{res['smoothed']:.3f}, plateau {res['plateau'][0]:g}-{res['plateau'][1]:g}); "
        f"wrote {res['folder']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
