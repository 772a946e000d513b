"""Calibrate the SPF settings on the ground-truth pacing suite (docs/method.md, Sec. 6).

The 24 sequences of :mod:`spf_bench.generators.pacing_gt` (rotation, zoom and crossfade of real
stills under designed progress profiles, 41 frames) are embedded once per embedder (cached,
:func:`spf_bench.bench.calibrate_progress.embed_suite`); every setting of the sweep is then an
SPF solve on the cached embeddings (all 24 sequences share one banded factorisation per
setting), scored by the RMS of ``S`` against the designed progress ``P``
(:func:`spf_bench.bench.pacing_gt.gt_errors`' ``rms_error``).

Two conditions:

- ``clean``: the rendered frames, as ``bench/pacing_gt.py`` measures them;
- ``h264``: the same frames with 3 grey levels of per-frame Gaussian noise, H.264-encoded
  (CRF 18) and decoded, as a generated video reaches the bench. Local settings that win on
  clean frames can lose here: near pairs carry the noise.

The sweep: window ``k`` (frames), Gaussian width ``sigma`` (frames), distance power ``p``,
frame subsampling stride (1 = every frame, 2 = every other frame; ``S`` is compared with ``P``
at the kept frames) and the distance correction
(:data:`spf_bench.metrics.spf.DISTANCE_CORRECTIONS`). ``lam`` stays 1e-5.

Outputs (``--out``, default ``results/spf_calibration``):

- ``sweep.csv``: one row per embedder x condition x setting: mean RMS error over the 24
  sequences and per transformation;
- ``best.csv`` / ``best.md``: per embedder and condition, the paper's defaults (30, 20, 1), the
  best setting of the sweep and the best with the default window/sigma but a distance
  correction;
- ``saturation.csv``: mean angular distance against frame offset, and against the designed
  progress difference ``|P_j - P_i|``, per embedder and transformation;
- ``calibration.png``: the error surface (window x sigma at the best power), error against
  power, and the saturation curves.

Usage::

    python -m spf_bench.bench.calibrate_spf --out results/spf_calibration \
        [--embedders pixel efficientnet_lite0] [--cache DIR] [--conditions clean h264]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from spf_bench.bench.calibrate_progress import SuiteClip, default_cache_dir, embed_suite

log = logging.getLogger("spf_bench")

__all__ = [
    "CONDITIONS",
    "GRID",
    "gt_clips",
    "load_suite",
    "main",
    "saturation_curves",
    "sweep",
]

CONDITIONS: tuple[str, ...] = ("clean", "h264")

#: The sweep grid (the paper's defaults 30, 20, 1 and stride 1 are on it).
GRID: dict[str, tuple[float, ...]] = {
    "window": (1, 2, 3, 4, 6, 8, 10, 15, 20, 30, 40),
    "sigma": (0.5, 1, 2, 3, 5, 8, 12, 20, 40, 1e3),
    "power": (0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
    "stride": (1, 2),
}
_N_FRAMES = 41


def _render_gt(k: int, condition: str) -> np.ndarray:
    from spf_bench.bench.calibrate_progress import _add_noise, _roundtrip, _seed
    from spf_bench.generators.pacing_gt import SUITE, render

    frames = render(SUITE[k], _N_FRAMES)[0]
    if condition == "clean":
        return frames
    rng = np.random.default_rng(_seed(f"pacing_gt_h264-{SUITE[k].seq_id}"))
    return _roundtrip(_add_noise(frames, 3.0, rng))


def gt_clips(condition: str = "clean") -> list[SuiteClip]:
    """The 24 ground-truth sequences as cacheable clips (ids as in the no-progress suite).

    Raises:
        ValueError: on an unknown condition.
    """
    from spf_bench.generators.pacing_gt import SUITE

    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    prefix = "pacing_gt" if condition == "clean" else "pacing_gt_h264"
    return [
        SuiteClip(f"{prefix}-{s.seq_id}", "pacing_gt", partial(_render_gt, k, condition))
        for k, s in enumerate(SUITE)
    ]
