"""``wan22_toy``: a small *trained* Wan2.2-architecture video DiT that runs the ReTime loop on CPU.

The tiny pipelines (:mod:`spf_bench.generators.tiny`) are random: warping their RoPE changes
nothing visible. This module holds a learned model small enough to train on a laptop CPU
(``make train-toy``, :mod:`spf_bench.bench.studies.train_toy`) whose pacing follows its temporal
RoPE positions, so the paper's generation-time retiming (docs/method.md, Sec. 4) can be measured
on it.

The model (:data:`TOY_CONFIG`) is diffusers' ``WanTransformer3DModel`` (the class of the Wan2.2
experts) with 3 layers and 2 heads of 64 channels, about 1.0 M parameters. Its head dim of 64
splits into 24 temporal channels, so its temporal RoPE has **12 bands** (Wan2.2-A14B: 22); the
rope is diffusers' own ``WanRotaryPosEmbed``, swapped for the project's
:class:`~spf_bench.generators.warped_rope.WarpedWanRotaryPosEmbed` unchanged, exactly as for the
14B experts.

What differs from Wan2.2, on purpose:

- **Pixel space, no VAE.** The transformer denoises RGB pixels in ``[-1, 1]`` directly: 16 x 16
  pixels, 17 frames, patch ``(1, 4, 4)`` (16 tokens per frame, 272 per clip). One token frame
  is one output frame (temporal factor 1), so the warp's frame-to-latent map is the identity.
- **First-last-frame conditioning by channels.** Wan2.2 I2V concatenates the VAE latents of
  the keyframes and a mask to its input; the toy concatenates 8 channels to the 3 noisy ones
  (:func:`conditioning`): the first frame and the last frame broadcast to every frame (3 + 3)
  and two indicator planes that are 1 on frame 0 and on frame ``F - 1``. In place of Wan's text
  (and CLIP image) context, cross-attention sees the 32 keyframe patches (16 per keyframe, each
  48 pixel values + which keyframe + which patch, 66 dims).
- **Its own training data** (v2, issue 19): transformation clips built from real stills
  (:func:`transformation_clip`): crossfades, wipes and camera moves between crops of the
  scikit-image / scikit-learn stills of :mod:`spf_bench.generators.stills`, at a pace drawn
  from many (:data:`PACES`: one jump of varied width, several steps, exponential ramps, eases,
  linear), mostly uneven as a real model's prior is. Each batch is rendered at temporal RoPE
  positions drawn by :func:`sample_positions` (3 to 17 frames, evenly spaced or warped, always
  spanning the 16 frame units between the keyframes), the content sampled at those positions:
  what a frame shows is a continuous function of its position, learned at fractional positions
  and every frame density, as a model trained on footage of every pace and frame rate has seen.
  (v1, kept as ``model=wan22_toy_v1``, saw 17 integer positions and one sigmoid or smoothstep
  jump centred in ``[0.25, 0.75]``: warping its positions could move the jump, hardly spread
  it.) :data:`TRAIN_STILLS` are the only stills seen in training; the benchmark items
  (:meth:`Wan22ToyGenerator.items`) are built from :data:`HELD_OUT_STILLS`.

Objective and sampler (Wan's rectified flow, as in diffusers' ``FlowMatchEulerDiscreteScheduler``
and ``UniPCMultistepScheduler(prediction_type="flow_prediction")``): ``x_s = (1 - s) x_0 + s e``,
``s`` in ``[0, 1]`` (1 = pure noise, diffusion timestep ``1000 s``), the transformer predicts the
velocity ``e - x_0`` (:func:`flow_matching_loss`); sampling integrates it from ``s = 1`` to 0
over ``steps`` steps of a shifted schedule ``s' = k s / (1 + (k - 1) s)`` (``shift`` ``k``).

During sampling a forward pre-hook on the transformer reads each call's timestep and sets the
modulation ``g(s)`` (:func:`spf_bench.generators.retime.timestep_modulation`, ``g_mode``); band
``b`` of the temporal RoPE then rotates frame ``t`` at ``B_b + g(s) (P_b - B_b)``
(:func:`spf_bench.generators.retime.in_model_positions`, :mod:`spf_bench.generators.warped_rope`):
``P_b`` the request's positions, ``B_b`` the composition base in
``request.extra["base_positions"]`` (the previous iteration's positions, ``reference``
composition) or the stock grid ``t`` when absent (``accumulated``). With ``P = t`` (the
baseline, or ``a = 0``) the frames equal the stock model's bit for bit.

What it can and cannot stand for: it exercises the same rope, the same band split rule, the
same warp code and the same loop as the 14B models, on a model whose pacing was *learned*; it
says nothing about text conditioning, VAE latents (4x temporal compression), 81-frame clips,
classifier-free guidance or two-expert switching, and its 16 x 16 frames carry little semantics
(score it with ``embedder=pixel``).
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from spf_bench.generators.base import (
    GeneratedVideo,
    GenerationRequest,
    GeneratorError,
    file_digest,
)
from spf_bench.generators.morph import designed_profile
from spf_bench.generators.retime import BASE_POSITIONS_KEY, G_MODES, GMode
from spf_bench.generators.stills import STILLS, load_still

__all__ = [
    "CLIP_KINDS",
    "COND_CHANNELS",
    "DEFAULT_WEIGHTS",
    "HELD_OUT_STILLS",
    "MAX_FRAMES",
    "MIN_FRAMES",
    "N_FRAMES",
    "PACES",
    "SIZE",
    "TOY_BANDS",
    "TOY_CONFIG",
    "TRAIN_STILLS",
    "Wan22ToyGenerator",
    "build_toy_transformer",
    "conditioning",
    "flow_matching_loss",
    "load_toy_transformer",
    "pace_progress",
    "resolve_weights",
    "sample_clip_batch",
    "sample_pace",
    "sample_positions",
    "sample_video",
    "shift_sigmas",
    "transformation_clip",
]

#: Frames per clip (Wan's ``4n + 1`` rule is kept although there is no VAE).
N_FRAMES = 17
#: Temporal RoPE bands of the toy: head dim 64 -> 24 temporal channels -> 12 frequencies.
TOY_BANDS = 12
#: Fewest and most frames the generator renders (a first-last-frame segment of any length in
#: between: positions are rescaled so the clip spans the training clip's ``N_FRAMES - 1``).
MIN_FRAMES, MAX_FRAMES = 3, 33
#: Side of the square frames, pixels.
SIZE = 16
#: Channels concatenated to the 3 noisy ones (:func:`conditioning`).
COND_CHANNELS = 8
#: Keyframe context tokens: 16 patches x 2 keyframes, each 48 pixels + 2 keyframe flags +
#: 16 patch one-hots.
CONTEXT_TOKENS, CONTEXT_DIM = 32, 66

#: ``WanTransformer3DModel`` keyword arguments of the toy (diffusers 0.42; ~1.0 M parameters).
TOY_CONFIG: dict[str, Any] = {
    "patch_size": (1, 4, 4),
    "num_attention_heads": 2,
    "attention_head_dim": 64,
    "in_channels": 3 + COND_CHANNELS,
    "out_channels": 3,
    "text_dim": CONTEXT_DIM,
    "freq_dim": 256,
    "ffn_dim": 512,
    "num_layers": 3,
    "rope_max_seq_len": 64,
}

#: Stills never shown in training: the benchmark items are made of these.
HELD_OUT_STILLS: tuple[str, ...] = ("chelsea", "coffee", "flower")
#: Stills the training clips are cut from.
TRAIN_STILLS: tuple[str, ...] = tuple(s for s in STILLS if s not in HELD_OUT_STILLS)

#: Transformation kinds of the training clips and their probabilities.
CLIP_KINDS: dict[str, float] = {"crossfade": 0.5, "wipe": 0.2, "move": 0.3}

#: Pace families of the training clips (:func:`sample_pace`) and their probabilities: mostly
#: uneven (one jump, several steps, exponential ramps), as a real model's prior is, but every
#: pace occurs, so what a frame shows is a continuous function of its temporal position.
PACES: dict[str, float] = {
    "sigmoid": 0.3,
    "step": 0.25,
    "multistep": 0.15,
    "exponential": 0.15,
    "ease": 0.075,
    "linear": 0.075,
}

#: The shipped checkpoint (package data; ``make train-toy`` writes it).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "wan22_toy.safetensors"

Sampler = Literal["euler", "unipc"]

_PRESCALE = 128  # stills are pre-scaled so their shorter side has this many pixels


# --------------------------------------------------------------------------------------------
# Training data: transformation clips from real stills (numpy + Pillow)
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _prescaled(name: str) -> Any:
    """The still ``name`` as a Pillow image whose shorter side is ``_PRESCALE`` pixels."""
    from PIL import Image

    img = Image.fromarray(load_still(name))
    w, h = img.size
    f = _PRESCALE / min(w, h)
    return img.resize(
        (max(1, round(w * f)), max(1, round(h * f))), resample=Image.Resampling.LANCZOS
    )


def _random_box(
    rng: np.random.Generator, width: int, height: int, lo: float, hi: float
) -> tuple[float, float, float]:
    """A random square box ``(cx, cy, side)`` in pixels, side a fraction ``U[lo, hi]`` of the
    shorter side, fully inside the image."""
    side = float(rng.uniform(lo, hi)) * min(width, height)
    cx = float(rng.uniform(side / 2, width - side / 2))
    cy = float(rng.uniform(side / 2, height - side / 2))
    return cx, cy, side


def _crop(img: Any, box: tuple[float, float, float], size: int) -> np.ndarray:
    """Crop the square ``box`` (sub-pixel) and resize it to ``size`` (Pillow bilinear,
    anti-aliased). Returns ``(size, size, 3)`` float32 in ``[0, 1]``."""
    from PIL import Image

    cx, cy, s = box
    out = img.resize(
        (size, size),
        resample=Image.Resampling.BILINEAR,
        box=(cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2),
    )
    return np.asarray(out, dtype=np.float32) / 255.0


def sample_pace(rng: np.random.Generator) -> tuple[str, dict[str, Any]]:
    """Draw a training pace: a family of :data:`PACES` and its parameters.

    Families (probabilities in :data:`PACES`): ``sigmoid`` (centre ``U[0.2, 0.8]``, steepness
    ``U[6, 25]``) and ``step`` (smoothstep over ``centre +- width``, centre ``U[0.2, 0.8]``,
    width ``U[0.05, 0.35]``), one jump each; ``multistep``: 2 or 3 smoothstep jumps (centres
    sorted uniform in ``[0.1, 0.9]``, widths ``U[0.04, 0.15]``) with Dirichlet(1) shares of
    the change; ``exponential`` (rate ``+-U[1, 5]``: slow then fast, or fast then slow);
    ``ease`` (power ``U[1.5, 3]``); ``linear``.

    Returns:
        ``(family, params)``; :func:`pace_progress` evaluates it.
    """
    fams = tuple(PACES)
    fam = fams[int(rng.choice(len(fams), p=list(PACES.values())))]
    if fam == "sigmoid":
        return fam, {"centre": float(rng.uniform(0.2, 0.8)), "steepness": float(rng.uniform(6, 25))}
    if fam == "step":
        return fam, {
            "centre": float(rng.uniform(0.2, 0.8)),
            "width": float(rng.uniform(0.05, 0.35)),
        }
    if fam == "multistep":
        k = int(rng.integers(2, 4))
        return fam, {
            "centres": sorted(float(c) for c in rng.uniform(0.1, 0.9, size=k)),
            "widths": [float(w) for w in rng.uniform(0.04, 0.15, size=k)],
            "shares": [float(x) for x in rng.dirichlet(np.ones(k))],
        }
    if fam == "exponential":
        return fam, {"rate": float(rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 5.0))}
    if fam == "ease":
        return fam, {"power": float(rng.uniform(1.5, 3.0))}
    return "linear", {}


def pace_progress(family: str, params: dict[str, Any], u: np.ndarray) -> np.ndarray:
    """The progress ``alpha(u)`` of a pace of :func:`sample_pace`.

    Args:
        family: a key of :data:`PACES`.
        params: its parameters.
        u: ``(F,)`` float64 normalised positions in ``[0, 1]``.

    Returns:
        ``(F,)`` float64 in ``[0, 1]``, non-decreasing in ``u``, ``alpha(0) = 0``,
        ``alpha(1) = 1`` (:func:`spf_bench.generators.morph.designed_profile`; a ``multistep``
        is the share-weighted sum of its smoothstep jumps, each rescaled to end at 0 and 1, so
        its ``alpha(1)`` is 1 up to float rounding of the shares' sum, ~1e-16).

    Raises:
        ValueError: unknown family or ``u`` outside ``[0, 1]``.
    """
    if family == "multistep":
        return sum(
            w * designed_profile("step", {"centre": c, "width": wd}, u)
            for c, wd, w in zip(params["centres"], params["widths"], params["shares"], strict=True)
        )
    if family not in PACES:
        raise ValueError(f"unknown pace family {family!r}; choose one of {tuple(PACES)}")
    return designed_profile(family, params, u)


def sample_positions(rng: np.random.Generator, max_frames: int = N_FRAMES) -> np.ndarray:
    """Temporal RoPE positions of one training batch: a frame count and where those frames sit.

    With probability 1/2 the clip has ``max_frames`` frames, otherwise ``U{3, ..., max_frames -
    1}``. Positions always span ``[0, max_frames - 1]`` (the first and last keyframes at the
    ends): with probability 0.35 evenly spaced, else warped by a random monotone map ``W`` of
    ``[0, 1]`` (``W(0) = 0``, ``W(1) = 1``): an exponential of rate ``+-U[0.5, 4]``, a
    piecewise-linear map with 2-4 pieces of Dirichlet(1) slopes, or the even grid jittered by
    up to 0.4 of its spacing. So the model sees frames at fractional positions and at every
    density, which is what a warped RoPE asks of it at sampling time.

    Returns:
        ``(F,)`` float64, strictly increasing, ``[0] = 0``, ``[-1] = max_frames - 1``
        (output frame units of a ``max_frames`` clip).
    """
    top = int(max_frames) - 1
    n = int(max_frames) if rng.random() < 0.5 else int(rng.integers(3, int(max_frames)))
    g = np.linspace(0.0, 1.0, n)
    r = rng.random()
    if r < 0.35:
        w = g
    elif r < 0.6:
        a = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 4.0))
        w = np.expm1(a * g) / math.expm1(a)
    elif r < 0.85:
        k = int(rng.integers(2, 5))
        knots = np.concatenate([[0.0], np.sort(rng.uniform(0, 1, k - 1)), [1.0]])
        vals = np.concatenate([[0.0], np.cumsum(rng.dirichlet(np.ones(k)))])
        w = np.interp(g, knots, vals / vals[-1])
    else:
        w = g + rng.uniform(-0.4, 0.4, n) / max(1, n - 1)
        w[0], w[-1] = 0.0, 1.0
        w = np.sort(w)
    w = np.maximum.accumulate(np.clip(w, 0.0, 1.0))
    # strictly increasing: at least 2% of the even spacing between neighbours
    eps = 0.02 / max(1, n - 1)
    w = np.maximum(w, np.arange(n) * eps)
    w = np.minimum(w, 1.0 - np.arange(n)[::-1] * eps)
    w[0], w[-1] = 0.0, 1.0
    return w * top


def transformation_clip(
    rng: np.random.Generator,
    stills: Sequence[str] = TRAIN_STILLS,
    n_frames: int = N_FRAMES,
    size: int = SIZE,
    u: np.ndarray | None = None,
    pace: tuple[str, dict[str, Any]] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One training clip: a transformation between crops of real stills, at a drawn pace.

    The progress ``alpha(u)`` follows a pace of :func:`sample_pace` (one jump, several steps,
    an exponential ramp, an ease or linear), evaluated at the frames' normalised positions
    ``u`` (default: ``n_frames`` evenly spaced in ``[0, 1]``; :func:`sample_positions` gives
    uneven ones). Kinds (:data:`CLIP_KINDS`):

    - ``crossfade``: ``(1 - alpha) A + alpha B``, ``A`` and ``B`` crops of two stills (of the
      same still with probability 0.2);
    - ``wipe``: ``B`` revealed over ``A`` behind a soft straight edge (one of four directions,
      edge width 10-30% of the side) that has crossed ``alpha`` of the frame;
    - ``move``: a camera pan / zoom inside one still, the square crop box interpolated from
      box ``A`` to box ``B`` (centre linearly, side geometrically) by ``alpha``.

    Then, with probability 1/2 each, a horizontal flip and a random permutation of the RGB
    channels.

    Args:
        rng: random generator (advanced in place): the clip is a function of its state.
        stills: names of :data:`spf_bench.generators.stills.STILLS` to cut crops from.
        n_frames: frames per clip, >= 2 (ignored when ``u`` is given).
        size: side of the square frames, pixels.
        u: optional ``(F,)`` float64 normalised positions in ``[0, 1]``, non-decreasing.
        pace: optional ``(family, params)`` of :func:`pace_progress` instead of a drawn one
            (``None``: :func:`sample_pace`, the training stream).

    Returns:
        ``(frames, info)``: ``frames`` ``np.ndarray`` of shape ``(F, size, size, 3)``,
        float32 in ``[0, 1]``; ``info`` ``{"kind", "pace", "params", "alpha"}`` (``alpha`` a
        list of ``F`` floats, the designed progress).

    Raises:
        ValueError: on an unknown still, fewer than 2 frames, or ``u`` outside ``[0, 1]``.
    """
    u = np.linspace(0.0, 1.0, int(n_frames)) if u is None else np.asarray(u, dtype=np.float64)
    n_frames = u.shape[0]
    if int(n_frames) < 2:
        raise ValueError(f"n_frames must be >= 2, got {n_frames}")
    stills = tuple(stills)
    kinds = tuple(CLIP_KINDS)
    kind = kinds[int(rng.choice(len(kinds), p=list(CLIP_KINDS.values())))]
    pace, params = sample_pace(rng) if pace is None else pace
    alpha = pace_progress(pace, params, u)
    ia = int(rng.integers(len(stills)))
    img_a = _prescaled(stills[ia])
    if kind == "move":
        w, h = img_a.size
        box_a, box_b = _random_box(rng, w, h, 0.3, 1.0), _random_box(rng, w, h, 0.3, 1.0)
        frames = np.stack(
            [
                _crop(
                    img_a,
                    (
                        (1 - a) * box_a[0] + a * box_b[0],
                        (1 - a) * box_a[1] + a * box_b[1],
                        box_a[2] ** (1 - a) * box_b[2] ** a,
                    ),
                    size,
                )
                for a in alpha
            ]
        )
    else:
        ib = ia
        if rng.random() >= 0.2 and len(stills) > 1:
            ib = int(rng.integers(len(stills) - 1))
            ib += int(ib >= ia)  # any other still
        img_b = _prescaled(stills[ib])
        a_img = _crop(img_a, _random_box(rng, *img_a.size, 0.3, 1.0), size)
        b_img = _crop(img_b, _random_box(rng, *img_b.size, 0.3, 1.0), size)
        al = alpha.astype(np.float32)[:, None, None, None]
        if kind == "crossfade":
            frames = (1 - al) * a_img[None] + al * b_img[None]
        else:
            width = float(rng.uniform(0.1, 0.3))
            ramp = (np.arange(size, dtype=np.float32) + 0.5) / size
            direction = int(rng.integers(4))
            coord = ramp[None, :] if direction < 2 else ramp[:, None]
            coord = np.broadcast_to(coord, (size, size))
            if direction % 2:
                coord = 1.0 - coord
            mask = np.clip((al[..., 0] * (1 + width) - coord[None]) / width, 0.0, 1.0)
            frames = (1 - mask[..., None]) * a_img[None] + mask[..., None] * b_img[None]
    if rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    if rng.random() < 0.5:
        frames = frames[..., rng.permutation(3)]
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    info = {"kind": kind, "pace": pace, "params": params, "alpha": alpha.tolist()}
    return frames, info


def sample_clip_batch(
    rng: np.random.Generator,
    batch: int,
    stills: Sequence[str] = TRAIN_STILLS,
    n_frames: int = N_FRAMES,
    size: int = SIZE,
    u: np.ndarray | None = None,
) -> np.ndarray:
    """``batch`` clips of :func:`transformation_clip` in the model's layout, all sampled at the
    same normalised positions ``u`` (default ``n_frames`` evenly spaced), each at its own pace.

    Returns:
        ``np.ndarray`` of shape ``(batch, 3, F, size, size)``, float32 in ``[-1, 1]``.
    """
    clips = [transformation_clip(rng, stills, n_frames, size, u)[0] for _ in range(int(batch))]
    return np.stack(clips).transpose(0, 4, 1, 2, 3) * 2.0 - 1.0


# --------------------------------------------------------------------------------------------
# The model (torch, diffusers)
# --------------------------------------------------------------------------------------------


def resolve_weights(weights: str | Path | None) -> Path:
    """The checkpoint file a ``weights`` setting names.

    Args:
        weights: ``None`` (the shipped :data:`DEFAULT_WEIGHTS`), the bare name of a checkpoint
            shipped in ``generators/weights/`` (``"wan22_toy_v1"``: the issue-12 model), or a
            path to a ``.safetensors`` file.

    Returns:
        The path (not checked for existence: :func:`load_toy_transformer` says what is missing).
    """
    if not weights:
        return DEFAULT_WEIGHTS
    w = str(weights)
    if "/" not in w and "\\" not in w and not w.endswith(".safetensors"):
        return DEFAULT_WEIGHTS.parent / f"{w}.safetensors"
    return Path(w)


def build_toy_transformer(seed: int | None = None) -> Any:
    """A fresh ``WanTransformer3DModel`` with :data:`TOY_CONFIG` (float32, CPU, train mode).

    Args:
        seed: when given, ``torch.manual_seed(seed)`` before building (the initial weights).

    Returns:
        ``diffusers.WanTransformer3DModel``; ``model.rope`` is the stock ``WanRotaryPosEmbed``.
    """
    import torch
    from diffusers import WanTransformer3DModel

    if seed is not None:
        torch.manual_seed(int(seed))
    return WanTransformer3DModel(**TOY_CONFIG)


def load_toy_transformer(path: str | Path = DEFAULT_WEIGHTS) -> tuple[Any, dict[str, str]]:
    """Load a checkpoint written by :mod:`spf_bench.bench.studies.train_toy` (safetensors).

    Args:
        path: ``.safetensors`` file holding the transformer's state dict (float32) and, in its
            metadata, ``"config"`` (JSON of :data:`TOY_CONFIG`).

    Returns:
        ``(model, metadata)``: the transformer in eval mode (stock rope) and the file's string
        metadata.

    Raises:
        GeneratorError: the file is missing, its config differs from :data:`TOY_CONFIG`, or
            its tensors do not fit the model.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise GeneratorError(
            f"wan22_toy checkpoint {path} not found: run `make train-toy` (or "
            "`spf-bench study train_toy`) to train it, or pass model.weights=<file>"
        )
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    cfg = json.loads(meta.get("config", "null") or "null")
    want = json.loads(json.dumps(TOY_CONFIG))
    if cfg != want:
        raise GeneratorError(
            f"{path} was trained with config {cfg}, this code builds {want}: retrain it "
            "(`make train-toy`)"
        )
    model = build_toy_transformer()
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as err:
        raise GeneratorError(f"{path} does not fit the toy transformer: {err}") from err
    return model.eval(), meta


def conditioning(first: Any, last: Any, n_frames: int = N_FRAMES) -> tuple[Any, Any]:
    """The first-last-frame conditioning of the toy (see the module docstring).

    Args:
        first: ``torch.Tensor`` of shape ``(B, 3, H, W)``, float32 in ``[-1, 1]``.
        last: same shape, the last frame.
        n_frames: frames ``F`` of the clip.

    Returns:
        ``(channels, context)``: ``channels`` ``(B, 8, F, H, W)`` float32, concatenated after
        the 3 noisy channels (first frame, last frame, is-first plane, is-last plane);
        ``context`` ``(B, 32, 66)`` float32, the ``encoder_hidden_states`` (keyframe patches of
        ``(1, 4, 4)`` pixels with keyframe and patch one-hots).

    Raises:
        ValueError: on mismatched shapes or sides that are not multiples of 4.
    """
    import torch

    if first.shape != last.shape or first.ndim != 4 or first.shape[1] != 3:
        raise ValueError(
            f"first/last must share shape (B, 3, H, W), got {first.shape}, {last.shape}"
        )
    b, _, h, w = first.shape
    if h % 4 or w % 4:
        raise ValueError(f"frame sides must be multiples of 4, got {h}x{w}")
    f = int(n_frames)
    flags = torch.zeros((b, 2, f, h, w), dtype=first.dtype, device=first.device)
    flags[:, 0, 0] = 1.0
    flags[:, 1, f - 1] = 1.0
    channels = torch.cat(
        [
            first[:, :, None].expand(b, 3, f, h, w),
            last[:, :, None].expand(b, 3, f, h, w),
            flags,
        ],
        dim=1,
    )
    n_patch = (h // 4) * (w // 4)

    def patches(img: Any) -> Any:  # (B, 3, H, W) -> (B, n_patch, 48)
        return img.unfold(2, 4, 4).unfold(3, 4, 4).permute(0, 2, 3, 1, 4, 5).reshape(b, n_patch, 48)

    eye = torch.eye(n_patch, dtype=first.dtype, device=first.device).expand(b, n_patch, n_patch)
    toks = []
    for k, img in enumerate((first, last)):
        which = torch.zeros((b, n_patch, 2), dtype=first.dtype, device=first.device)
        which[..., k] = 1.0
        toks.append(torch.cat([patches(img), which, eye], dim=-1))
    return channels, torch.cat(toks, dim=1)


def shift_sigmas(u: Any, shift: float) -> Any:
    """Flow shift ``s' = k u / (1 + (k - 1) u)`` (diffusers' ``FlowMatchEulerDiscreteScheduler``
    static shift); ``k = 1`` is the identity. Works on floats, numpy arrays and tensors."""
    k = float(shift)
    return k * u / (1.0 + (k - 1.0) * u)


def flow_matching_loss(
    model: Any,
    x0: Any,
    generator: Any = None,
    shift: float = 3.0,
    sigmas: Any = None,
    noise: Any = None,
) -> Any:
    """Wan's rectified-flow objective on a batch of clips.

    ``s = shift_sigmas(u, shift)``, ``u ~ U(0, 1)`` per clip; ``x_s = (1 - s) x_0 + s e``,
    ``e ~ N(0, I)``; loss ``mean((model(x_s, 1000 s) - (e - x_0))^2)`` over every pixel of every
    frame (the keyframes too: the model must reproduce them).

    Args:
        model: the toy ``WanTransformer3DModel``.
        x0: ``torch.Tensor`` ``(B, 3, F, H, W)`` float32 in ``[-1, 1]``, clean clips; their
            first and last frames are the conditioning.
        generator: ``torch.Generator`` for ``u`` and ``e`` (ignored where they are given).
        shift: flow shift ``k`` of the noise levels.
        sigmas: optional ``(B,)`` noise levels ``s`` (overrides the draw).
        noise: optional ``(B, 3, F, H, W)`` noise ``e``.

    Returns:
        Scalar ``torch.Tensor`` (float32), the mean squared velocity error.
    """
    import torch

    b = x0.shape[0]
    if sigmas is None:
        sigmas = shift_sigmas(torch.rand(b, generator=generator), shift)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator)
    s = sigmas.to(x0.dtype).view(b, 1, 1, 1, 1)
    xs = (1.0 - s) * x0 + s * noise
    channels, context = conditioning(x0[:, :, 0], x0[:, :, -1], x0.shape[2])
    pred = model(
        hidden_states=torch.cat([xs, channels], dim=1),
        timestep=sigmas * 1000.0,
        encoder_hidden_states=context,
        return_dict=False,
    )[0]
    return torch.mean((pred - (noise - x0)) ** 2)


def _scheduler(sampler: str, shift: float) -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

    if sampler == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=float(shift))
    if sampler == "unipc":
        return UniPCMultistepScheduler(
            num_train_timesteps=1000,
            prediction_type="flow_prediction",
            use_flow_sigmas=True,
            flow_shift=float(shift),
        )
    raise ValueError(f"unknown sampler {sampler!r}; choose euler or unipc")


def sample_video(
    model: Any,
    first: Any,
    last: Any,
    noise: Any,
    steps: int = 20,
    sampler: str = "euler",
    shift: float = 3.0,
) -> Any:
    """Sample clips with the flow-matching ODE, from pure noise (``s = 1``) to ``s = 0``.

    Each transformer call gets ``timestep = 1000 s`` as a keyword argument, so a warp's forward
    pre-hook (:meth:`spf_bench.generators.warped_rope.TemporalWarp.pre_hook`) reads it.

    Args:
        model: the toy transformer (stock or warped rope).
        first, last: ``(B, 3, H, W)`` float32 keyframes in ``[-1, 1]``.
        noise: ``(B, 3, F, H, W)`` float32 starting noise.
        steps: denoising steps (transformer calls), >= 1.
        sampler: ``"euler"`` (diffusers ``FlowMatchEulerDiscreteScheduler``) or ``"unipc"``
            (``UniPCMultistepScheduler``, flow prediction, Wan's default solver).
        shift: flow shift of the step schedule.

    Returns:
        ``torch.Tensor`` ``(B, 3, F, H, W)`` float32, the clean clips (unclipped).
    """
    import torch

    sched = _scheduler(sampler, shift)
    sched.set_timesteps(int(steps))
    channels, context = conditioning(first, last, noise.shape[2])
    x = noise.clone()
    with torch.no_grad():
        for t in sched.timesteps:
            ts = t.reshape(1).expand(x.shape[0]).to(torch.float32)
            v = model(
                hidden_states=torch.cat([x, channels], dim=1),
                timestep=ts,
                encoder_hidden_states=context,
                return_dict=False,
            )[0]
            x = sched.step(v, t, x, return_dict=False)[0]
    return x


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


def _to_unit(img: np.ndarray) -> Any:
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float32 tensor in ``[-1, 1]``."""
    import torch

    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]


class Wan22ToyGenerator:
    """The trained toy Wan2.2 transformer as a :class:`~spf_bench.generators.base.Generator`.

    ``name = "wan22_toy"``, ``honours_positions = True``, ``bands = 12`` (temporal RoPE bands,
    band 0 the highest frequency). The checkpoint is loaded and the warped rope installed at
    construction (a missing checkpoint fails here, in well under a second).

    Args:
        weights: the ``.safetensors`` checkpoint; ``None`` = the shipped
            ``generators/weights/wan22_toy.safetensors`` (:data:`DEFAULT_WEIGHTS`).
        steps: denoising steps (transformer calls per video), >= 1.
        sampler: ``euler`` or ``unipc`` (:func:`sample_video`).
        shift: flow shift of the sampling schedule (training used 3.0).
        g_mode: timestep modulation of the warp (:data:`spf_bench.generators.retime.G_MODES`;
            ``none`` = constant ``g = 1``).
        fps: frame rate written into requests and outputs, frames per second.
        out_size: side of the returned frames, pixels, a multiple of 16: the 16 x 16 frames are
            upsampled by nearest neighbour (pixel replication; 16 returns them as generated).
        stills: stills the items are cut from (default :data:`HELD_OUT_STILLS`); at least two,
            none of :data:`TRAIN_STILLS`.

    Raises:
        GeneratorError: missing or mismatched checkpoint.
        ValueError: invalid arguments (unknown mode, a training still among ``stills``...).
    """

    name = "wan22_toy"
    honours_positions = True
    bands = TOY_BANDS
    #: Side of the keyframes it is conditioned on, pixels (it returns ``out_size`` frames):
    #: a first-last-frame caller (``retime=segmented``) downsizes keyframes to it.
    keyframe_size = SIZE

    def __init__(
        self,
        weights: str | None = None,
        steps: int = 20,
        sampler: Sampler = "euler",
        shift: float = 3.0,
        g_mode: GMode = "exp_up",
        fps: float = 8.0,
        out_size: int = 64,
        stills: list[str] | None = None,
    ) -> None:
        from spf_bench.generators.warped_rope import TemporalWarp, WarpedWanRotaryPosEmbed

        if int(steps) < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if sampler not in ("euler", "unipc"):
            raise ValueError(f"sampler must be euler or unipc, got {sampler!r}")
        if not (math.isfinite(float(shift)) and float(shift) > 0):
            raise ValueError(f"shift must be > 0, got {shift}")
        if g_mode not in G_MODES:
            raise ValueError(f"unknown g_mode {g_mode!r}; choose one of {G_MODES}")
        if not float(fps) > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if int(out_size) < SIZE or int(out_size) % SIZE:
            raise ValueError(f"out_size must be a positive multiple of {SIZE}, got {out_size}")
        stills = list(HELD_OUT_STILLS if stills is None else stills)
        bad = [s for s in stills if s not in STILLS]
        seen = [s for s in stills if s in TRAIN_STILLS]
        if bad or len(set(stills)) < 2:
            raise ValueError(f"stills must hold >= 2 distinct names of {STILLS}, got {stills}")
        if seen:
            raise ValueError(
                f"stills {seen} were seen in training; items must come from held-out stills "
                f"({HELD_OUT_STILLS})"
            )
        self.weights = resolve_weights(weights)
        self.steps = int(steps)
        self.sampler = str(sampler)
        self.shift = float(shift)
        self.g_mode = str(g_mode)
        self.fps = float(fps)
        self.out_size = int(out_size)
        self.stills = tuple(dict.fromkeys(stills))
        model, meta = load_toy_transformer(self.weights)
        self.checkpoint_sha256 = file_digest(self.weights)
        self.checkpoint_meta = meta
        if model.rope.t_dim // 2 != self.bands:
            raise GeneratorError(f"checkpoint rope has {model.rope.t_dim // 2} bands, not 12")
        # The project's warped rope, unchanged: temporal factor 1 (pixel space, one token frame
        # per output frame), endpoints pinned as in Wan's first-last-frame mode.
        self.warp = TemporalWarp(self.bands, self.g_mode)
        model.rope = WarpedWanRotaryPosEmbed.from_stock(
            model.rope, self.warp, temporal_factor=1, pin_endpoints=True
        )
        model.register_forward_pre_hook(self.warp.pre_hook("transformer"), with_kwargs=True)
        self.model = model

    @classmethod
    def input_files(cls, **kwargs: Any) -> list[Path]:
        """The checkpoint the generator reads (hashed into the run identity).

        Args:
            **kwargs: the constructor's keyword arguments (only ``weights`` is read).

        Returns:
            ``[checkpoint path]``.
        """
        return [resolve_weights(kwargs.get("weights"))]

    # -- items -------------------------------------------------------------------------------
    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """The first ``n_videos`` items, built from held-out stills only.

        Item ``i`` draws from ``np.random.default_rng([seed, i])`` an ordered pair of different
        stills of ``self.stills``, a square crop of each (side 50-100% of the shorter side,
        anywhere in the image) at 16 x 16 pixels, and the noise seed of its sampler. The
        model chooses the pacing (its training taught it an uneven jump at a random time).

        Args:
            n_videos: number of items, >= 0 (unlimited).
            seed: non-negative seed.

        Returns:
            list of :class:`GenerationRequest`, ``item_id = "wan22_toy-%04d"``, 17 frames,
            ``first_image`` / ``last_image`` ``(16, 16, 3)`` uint8, ``extra`` ``{"still_a",
            "still_b", "box_a", "box_b", "noise_seed"}`` (boxes ``[cx, cy, side]`` in pixels of
            the still pre-scaled to a 128-pixel shorter side).

        Raises:
            ValueError: negative ``n_videos`` or ``seed``.
        """
        if int(n_videos) < 0 or int(seed) < 0:
            raise ValueError(f"n_videos and seed must be >= 0, got {n_videos}, {seed}")
        out = []
        for i in range(int(n_videos)):
            rng = np.random.default_rng([int(seed), i])
            ia, ib = rng.choice(len(self.stills), size=2, replace=False)
            a, b = self.stills[int(ia)], self.stills[int(ib)]
            img_a, img_b = _prescaled(a), _prescaled(b)
            box_a = _random_box(rng, *img_a.size, 0.5, 1.0)
            box_b = _random_box(rng, *img_b.size, 0.5, 1.0)
            first = np.rint(_crop(img_a, box_a, SIZE) * 255).astype(np.uint8)
            last = np.rint(_crop(img_b, box_b, SIZE) * 255).astype(np.uint8)
            out.append(
                GenerationRequest(
                    item_id=f"wan22_toy-{i:04d}",
                    seed=int(seed),
                    n_frames=N_FRAMES,
                    fps=self.fps,
                    first_image=first,
                    last_image=last,
                    extra={
                        "still_a": a,
                        "still_b": b,
                        "box_a": [float(x) for x in box_a],
                        "box_b": [float(x) for x in box_b],
                        "noise_seed": int(rng.integers(2**31 - 1)),
                    },
                )
            )
        return out

    # -- generation --------------------------------------------------------------------------
    def _check(self, request: GenerationRequest) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Validate ``request``; return its ``(positions, base positions)`` (``None`` = absent)."""
        n = int(request.n_frames)
        if not MIN_FRAMES <= n <= MAX_FRAMES:
            raise GeneratorError(
                f"wan22_toy renders {MIN_FRAMES} to {MAX_FRAMES} frames (trained on 3 to "
                f"{N_FRAMES}), got n_frames={request.n_frames}"
            )
        for label, img in (
            ("first_image", request.first_image),
            ("last_image", request.last_image),
        ):
            if img is None:
                raise GeneratorError(
                    f"wan22_toy is first-last-frame conditioned: {label} is missing"
                )
            arr = np.asarray(img)
            if arr.shape != (SIZE, SIZE, 3) or arr.dtype != np.uint8:
                raise GeneratorError(
                    f"{label} must be ({SIZE}, {SIZE}, 3) uint8, got {arr.shape} {arr.dtype}"
                )
        base = (request.extra or {}).get(BASE_POSITIONS_KEY)
        if base is not None and request.positions is None:
            raise GeneratorError(f"request {request.item_id} has base positions but no positions")
        out = []
        for what, value in (("positions", request.positions), ("base positions", base)):
            if value is None:
                out.append(None)
                continue
            p = np.asarray(value, dtype=np.float64)
            if p.shape not in ((n,), (self.bands, n)):
                raise GeneratorError(
                    f"{what} must have shape ({n},) or ({self.bands}, {n}) (bands x frames, "
                    f"output frame units), got {p.shape}"
                )
            if not np.all(np.isfinite(p)):
                raise GeneratorError(f"{what} must be finite")
            out.append(p)
        return out[0], out[1]

    def noise_seed(self, request: GenerationRequest) -> int:
        """The sampler's noise seed: ``extra["noise_seed"]`` or, when absent, a CRC-32 of
        ``(request.seed, item_id)``. The same for every ReTime iteration of an item."""
        if "noise_seed" in (request.extra or {}):
            return int(request.extra["noise_seed"])
        return zlib.crc32(f"{int(request.seed)}:{request.item_id}".encode()) & 0x7FFFFFFF

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Sample ``request`` with the temporal RoPE at ``request.positions``.

        Steps: 1. check the request; 2. set the warp's per-band positions (``None`` = stock
        positions: the same code path, the stock model bit for bit) and composition base
        (``extra["base_positions"]``; absent = the stock grid) and clear its call log;
        3. draw the starting noise ``(1, 3, F, 16, 16)`` from a CPU ``torch.Generator`` seeded
        with :meth:`noise_seed`; 4. sample (:func:`sample_video`; the pre-hook sets ``g(s)`` per
        call); 5. clip to ``[-1, 1]``, round to uint8 and upsample to ``out_size``.

        Args:
            request: an item of :meth:`items` or any first-last-frame request of ``F`` frames,
                ``MIN_FRAMES <= F <= MAX_FRAMES``, with 16 x 16 uint8 ``first_image`` and
                ``last_image`` (a segment between two keyframes). ``positions``: ``None``,
                ``(F,)`` (every band) or ``(12, F)`` float64 output frame units;
                ``extra["base_positions"]`` (same shapes, optional) the composition base of
                the ``reference`` composition. For ``F != 17`` positions and base are
                rescaled by ``16 / (F - 1)`` so the clip spans the training clip's 16 frame
                units (the model learned positions, not frame counts).

        Returns:
            :class:`GeneratedVideo`: ``frames`` ``(F, out_size, out_size, 3)`` uint8, ``fps``,
            ``metadata`` with ``generator``, ``checkpoint_sha256``, ``steps``, ``sampler``,
            ``shift``, ``g_mode``, ``composition``, ``noise_seed``, ``native_size`` (16),
            ``upsample`` (``"nearest"``), ``warp_max_shift_frames`` (largest ``|P_b - t|``),
            ``warp_max_rotation_rad`` (per band ``w_b max|P_b - t|``), ``g_per_call``, and
            ``seconds``.

        Raises:
            GeneratorError: wrong frame count, missing or malformed keyframes, positions (or
                base positions) of another shape or non-finite, base positions without
                positions.
        """
        import torch

        from spf_bench.generators.warped_rope import max_extra_rotation, wan_temporal_frequencies

        positions, base = self._check(request)
        n = int(request.n_frames)
        t0 = time.perf_counter()
        grid = np.arange(n, dtype=np.float64)
        scale = (N_FRAMES - 1) / (n - 1)  # request frame units -> the training clip's
        disp = np.zeros((self.bands, n)) if positions is None else positions - grid
        disp = np.broadcast_to(disp, (self.bands, n))
        if n == N_FRAMES:
            self.warp.set_positions(positions, n, base=base)
        else:  # rescaled; the base is explicit so B + g (P - B) stays in the training scale
            p = grid if positions is None else positions
            b = grid if base is None else base
            self.warp.set_positions(p * scale, n, base=np.broadcast_to(b, p.shape) * scale)
        self.warp.reset_log()
        seed = self.noise_seed(request)
        noise = torch.randn((1, 3, n, SIZE, SIZE), generator=torch.Generator().manual_seed(seed))
        x = sample_video(
            self.model,
            _to_unit(request.first_image),
            _to_unit(request.last_image),
            noise,
            steps=self.steps,
            sampler=self.sampler,
            shift=self.shift,
        )
        frames = ((x[0].clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
        frames = frames.permute(1, 2, 3, 0).numpy()  # (F, H, W, 3)
        k = self.out_size // SIZE
        if k > 1:
            frames = frames.repeat(k, axis=1).repeat(k, axis=2)
        rot = max_extra_rotation(
            disp * scale, wan_temporal_frequencies(TOY_CONFIG["attention_head_dim"])
        )
        return GeneratedVideo(
            frames=np.ascontiguousarray(frames),
            fps=float(request.fps),
            metadata={
                "generator": self.name,
                "checkpoint_sha256": self.checkpoint_sha256,
                "steps": self.steps,
                "sampler": self.sampler,
                "shift": self.shift,
                "g_mode": self.g_mode,
                "composition": "accumulated" if base is None else "reference",
                "noise_seed": seed,
                "native_size": SIZE,
                "upsample": "nearest" if k > 1 else "none",
                "still_a": (request.extra or {}).get("still_a"),
                "still_b": (request.extra or {}).get("still_b"),
                "warp_max_shift_frames": float(np.max(np.abs(disp))),
                "warp_max_rotation_rad": [float(r) for r in rot],
                "g_per_call": [round(c["g"], 6) for c in self.warp.calls],
                "seconds": time.perf_counter() - t0,
            },
        )
