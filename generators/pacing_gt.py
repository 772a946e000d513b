"""Ground-truth pacing sequences: real stills under a *designed* progress (``model=pacing_gt``).

The paper's synthetic check (docs/method.md, Sec. 6): sequences whose pacing is designed, e.g. a
rotating object with a designed angular-velocity profile, should give an SPF that tracks the
designed profile. This module renders such sequences from real stills
(:mod:`spf_bench.generators.stills`) at any time positions; the benchmark that scores each
embedder's ``S`` against the designed progress ``P`` is :mod:`spf_bench.bench.studies.pacing_gt`.

Transformations (``u = p / (n - 1)`` the normalised time of a frame at position ``p`` frames,
``P(u)`` a designed profile of :func:`spf_bench.generators.morph.designed_profile`, monotone
from 0 to 1):

============  ===================================================  ==========================
transform     frame at normalised time ``u``                       designed progress
============  ===================================================  ==========================
rotation      the still's inscribed disc rotated by                ``theta(u) / theta_total``
              ``theta(u) = theta_total * P(u)`` (degrees,          ``= P(u)``
              counter-clockwise) on a grey background; angular
              velocity ``theta_total * P'(u) / (n - 1)`` deg/frame
zoom          centre crop of side ``L / s(u)`` resized to the      ``log s(u) / log s_max``
              frame, ``s(u) = s_max ** P(u)``: a designed          ``= P(u)``
              logarithmic scale rate ``d log s / du =
              log(s_max) P'(u)``
crossfade     ``(1 - alpha(u)) A + alpha(u) B`` with               ``alpha(u) = P(u)``
              ``alpha = P``
============  ===================================================  ==========================

The ground truth assumes semantic change proportional to rotation angle, to log-scale and to the
mixing weight. The first two are the natural uniform rates of those motions; the third is only
approximately true (a 50/50 blend may already read as ``B``), which the crossfade rows show.

Profiles (fixed, not drawn): ``sigmoid`` (centre 0.5, steepness 12), ``exp_up`` (rate 3, slow
then fast), ``exp_down`` (rate -3, fast then slow), ``step`` (smoothstep over [0.25, 0.75],
static before and after). Each transformation runs on two stills (two pairs for the crossfade):
24 sequences in all (:data:`SUITE`).

:class:`PacingGTGenerator` is the :class:`spf_bench.generators.base.Generator` of
``conf/model/pacing_gt.yaml``; it honours warped positions exactly (every transformation is
continuous in time), so ``retime=warped`` works on it too. No Hydra here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spf_bench.generators.base import (
    GeneratedVideo,
    GenerationRequest,
    GeneratorError,
    stock_positions,
)
from spf_bench.generators.morph import crossfade, designed_profile
from spf_bench.generators.stills import load_still

__all__ = [
    "PROFILES",
    "SUITE",
    "TRANSFORMS",
    "GTSpec",
    "PacingGTGenerator",
    "designed_progress",
    "render",
    "spec_from_extra",
]

TRANSFORMS: tuple[str, ...] = ("rotation", "zoom", "crossfade")

#: Designed profiles: name -> (profile of :func:`spf_bench.generators.morph.designed_profile`,
#: its params).
PROFILES: dict[str, tuple[str, dict[str, float]]] = {
    "sigmoid": ("sigmoid", {"centre": 0.5, "steepness": 12.0}),
    "exp_up": ("exponential", {"rate": 3.0}),
    "exp_down": ("exponential", {"rate": -3.0}),
    "step": ("step", {"centre": 0.5, "width": 0.25}),
}

#: Stills per transformation (crossfades go from the first still of a pair to the second).
_STILLS: dict[str, tuple[tuple[str, ...], ...]] = {
    "rotation": (("chelsea",), ("coffee",)),
    "zoom": (("astronaut",), ("china",)),
    "crossfade": (("chelsea", "coffee"), ("astronaut", "rocket")),
}

_BACKGROUND = 128  # grey level outside the rotating disc


@dataclass(frozen=True)
class GTSpec:
    """One ground-truth sequence.

    Attributes:
        transform: one of :data:`TRANSFORMS`.
        profile: key of :data:`PROFILES`.
        stills: one still name (rotation, zoom) or two (crossfade: start, end).
    """

    transform: str
    profile: str
    stills: tuple[str, ...]

    @property
    def seq_id(self) -> str:
        """Stable identifier, e.g. ``rotation-sigmoid-chelsea``."""
        return "-".join((self.transform, self.profile, *self.stills))


def _suite() -> tuple[GTSpec, ...]:
    # Interleaved so that any prefix covers every transformation and profile early.
    out = []
    for k in range(2):
        for profile in PROFILES:
            for transform in TRANSFORMS:
                out.append(GTSpec(transform, profile, _STILLS[transform][k]))
    return tuple(out)


#: The 24 sequences of the benchmark, in item order.
SUITE: tuple[GTSpec, ...] = _suite()


def spec_from_extra(extra: dict[str, Any]) -> GTSpec:
    """The :class:`GTSpec` of a request's ``extra`` (or a record's ``metadata``).

    Args:
        extra: mapping with ``transform``, ``profile`` and ``stills``.

    Raises:
        GeneratorError: if a key is missing.
        ValueError: on an unknown transform or profile, or the wrong number of stills.
    """
    try:
        spec = GTSpec(str(extra["transform"]), str(extra["profile"]), tuple(extra["stills"]))
    except (KeyError, TypeError) as e:
        raise GeneratorError(f"pacing_gt request lacks transform/profile/stills: {e}") from e
    _check_spec(spec)
    return spec


def _check_spec(spec: GTSpec) -> None:
    if spec.transform not in TRANSFORMS:
        raise ValueError(f"transform {spec.transform!r} is not one of {TRANSFORMS}")
    if spec.profile not in PROFILES:
        raise ValueError(f"profile {spec.profile!r} is not one of {tuple(PROFILES)}")
    need = 2 if spec.transform == "crossfade" else 1
    if len(spec.stills) != need:
        raise ValueError(f"{spec.transform} needs {need} still(s), got {spec.stills}")


def _normalised_time(positions: np.ndarray | None, n_frames: int) -> np.ndarray:
    if n_frames < 2:
        raise ValueError(f"n_frames must be >= 2, got {n_frames}")
    pos = stock_positions(n_frames) if positions is None else np.asarray(positions, float)
    if pos.shape != (n_frames,) or not np.isfinite(pos).all():
        raise ValueError(f"positions must be finite with shape ({n_frames},), got {pos.shape}")
    return np.clip(pos, 0.0, n_frames - 1.0) / (n_frames - 1.0)


def designed_progress(
    spec: GTSpec, n_frames: int, positions: np.ndarray | None = None
) -> np.ndarray:
    """The designed progress ``P(u)`` of every output frame.

    Args:
        spec: the sequence.
        n_frames: number of frames ``n`` (>= 2).
        positions: time positions in frame units, shape ``(n,)`` (clipped to ``[0, n - 1]``);
            ``None`` for the stock positions ``0..n-1``.

    Returns:
        ``np.ndarray`` of shape ``(n,)``, float64, non-decreasing in ``u``, in ``[0, 1]``.

    Raises:
        ValueError: on an invalid spec, ``n < 2`` or bad positions.
    """
    _check_spec(spec)
    profile, params = PROFILES[spec.profile]
    return designed_profile(profile, params, _normalised_time(positions, n_frames))


def _rotate_disc(img: np.ndarray, angles_deg: np.ndarray) -> np.ndarray:
    from PIL import Image

    size = img.shape[0]
    yy, xx = np.mgrid[:size, :size]
    c = (size - 1) / 2.0
    disc = ((yy - c) ** 2 + (xx - c) ** 2) <= (size / 2.0 - 1.0) ** 2
    pil = Image.fromarray(img)
    out = np.full((angles_deg.size, *img.shape), _BACKGROUND, dtype=np.uint8)
    for t, a in enumerate(angles_deg):
        rot = np.asarray(pil.rotate(float(a), resample=Image.Resampling.BICUBIC))
        out[t][disc] = rot[disc]
    return out


def _zoom(img: np.ndarray, scales: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    big = img.shape[0]
    pil = Image.fromarray(img)
    out = np.empty((scales.size, size, size, 3), dtype=np.uint8)
    c = big / 2.0
    for t, s in enumerate(scales):
        half = big / (2.0 * float(s))
        box = (c - half, c - half, c + half, c + half)  # float box: sub-pixel continuous zoom
        out[t] = np.asarray(pil.resize((size, size), Image.Resampling.BICUBIC, box=box))
    return out


def render(
    spec: GTSpec,
    n_frames: int,
    *,
    size: int = 224,
    positions: np.ndarray | None = None,
    rotation_degrees: float = 180.0,
    zoom_max: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one ground-truth sequence.

    Steps: 1. normalised time ``u`` of each frame from its position; 2. designed progress
    ``P(u)``; 3. the transformation at ``P`` (see module docs).

    Args:
        spec: the sequence.
        n_frames: number of frames ``n`` (>= 2).
        size: side of the square frames, pixels.
        positions: time positions in frame units, shape ``(n,)``; ``None`` = ``0..n-1``.
            Fractional positions render exactly (the transformations are continuous in time).
        rotation_degrees: total rotation ``theta_total``, degrees.
        zoom_max: final zoom factor ``s_max`` (> 1).

    Returns:
        ``(frames, progress)``: ``np.ndarray`` of shape ``(n, size, size, 3)``, uint8 RGB, and the
        designed progress, shape ``(n,)``, float64 in ``[0, 1]``.

    Raises:
        ValueError: on an invalid spec, size, positions, ``zoom_max <= 1`` or a non-finite angle.
    """
    if int(size) < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")
    if not (math.isfinite(rotation_degrees) and rotation_degrees != 0):
        raise ValueError(f"rotation_degrees must be finite and non-zero, got {rotation_degrees}")
    if not (math.isfinite(zoom_max) and zoom_max > 1):
        raise ValueError(f"zoom_max must be > 1, got {zoom_max}")
    p = designed_progress(spec, int(n_frames), positions)
    size = int(size)
    if spec.transform == "rotation":
        frames = _rotate_disc(load_still(spec.stills[0], size), rotation_degrees * p)
    elif spec.transform == "zoom":
        src = load_still(spec.stills[0], math.ceil(size * zoom_max))
        frames = _zoom(src, zoom_max**p, size)
    else:
        frames = crossfade(load_still(spec.stills[0], size), load_still(spec.stills[1], size), p)
    return frames, p


class PacingGTGenerator:
    """The ground-truth sequences as a :class:`~spf_bench.generators.base.Generator`.

    Configured by ``conf/model/pacing_gt.yaml`` (``model=pacing_gt``). ``name = "pacing_gt"``,
    ``honours_positions = True`` (every transformation is continuous in time), ``bands = 0``.
    ``metadata["designed_progress"]`` carries the ground truth, so the pipeline records
    ``rms_s_vs_designed``.

    Args:
        n_frames: frames per sequence (>= 3).
        fps: frame rate, frames per second.
        size: side of the square frames, pixels.
        rotation_degrees: total rotation of the rotation sequences, degrees.
        zoom_max: final zoom factor of the zoom sequences.
        transforms: subset of :data:`TRANSFORMS` to include.

    Raises:
        ValueError: on invalid arguments.
    """

    name = "pacing_gt"
    honours_positions = True
    bands = 0

    def __init__(
        self,
        n_frames: int = 41,
        fps: float = 16.0,
        size: int = 224,
        rotation_degrees: float = 180.0,
        zoom_max: float = 3.0,
        transforms: Sequence[str] = TRANSFORMS,
    ) -> None:
        if int(n_frames) < 3:
            raise ValueError(f"n_frames must be >= 3, got {n_frames}")
        if not float(fps) > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        bad = [t for t in transforms if t not in TRANSFORMS]
        if bad or not transforms:
            raise ValueError(f"transforms must be a non-empty subset of {TRANSFORMS}, got {bad}")
        self.n_frames, self.fps, self.size = int(n_frames), float(fps), int(size)
        self.rotation_degrees, self.zoom_max = float(rotation_degrees), float(zoom_max)
        self.specs = tuple(s for s in SUITE if s.transform in set(transforms))

    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """The first ``n_videos`` sequences of :data:`SUITE` (``seed`` is recorded, unused).

        Raises:
            GeneratorError: if more sequences are asked for than the suite holds.
            ValueError: if ``n_videos`` is negative.
        """
        if int(n_videos) < 0:
            raise ValueError(f"n_videos must be >= 0, got {n_videos}")
        if int(n_videos) > len(self.specs):
            raise GeneratorError(
                f"asked for {n_videos} pacing_gt sequences; the suite holds {len(self.specs)}"
            )
        return [
            GenerationRequest(
                item_id=s.seq_id,
                seed=int(seed),
                n_frames=self.n_frames,
                fps=self.fps,
                extra={"transform": s.transform, "profile": s.profile, "stills": list(s.stills)},
            )
            for s in self.specs[: int(n_videos)]
        ]

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Render ``request`` at its positions (stock when ``None``).

        Returns:
            :class:`GeneratedVideo` with ``metadata``: ``designed_progress`` (list of floats,
            the ground truth per output frame), ``transform``, ``profile``, ``stills``,
            ``rotation_degrees``, ``zoom_max``.

        Raises:
            GeneratorError: on per-band positions, a bad shape or an unknown spec.
        """
        spec = spec_from_extra(request.extra or {})
        pos = request.positions
        if pos is not None and np.asarray(pos).ndim != 1:
            raise GeneratorError("pacing_gt has no RoPE bands: positions must have shape (n,)")
        try:
            frames, p = render(
                spec,
                int(request.n_frames),
                size=self.size,
                positions=pos,
                rotation_degrees=self.rotation_degrees,
                zoom_max=self.zoom_max,
            )
        except ValueError as e:
            raise GeneratorError(f"pacing_gt {request.item_id!r}: {e}") from e
        return GeneratedVideo(
            frames=frames,
            fps=float(request.fps),
            metadata={
                "generator": self.name,
                "transform": spec.transform,
                "profile": spec.profile,
                "stills": list(spec.stills),
                "rotation_degrees": self.rotation_degrees,
                "zoom_max": self.zoom_max,
                "designed_progress": [float(x) for x in p],
            },
        )
