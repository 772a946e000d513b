"""The embedder protocol and the shared torch embedder (batching, device, preprocessing, progress).

Every concrete embedder is a :class:`TorchEmbedder`: a ``features`` callable (usually a
``torch.nn.Module``) plus a :class:`PreprocessConfig`. :meth:`TorchEmbedder.embed` validates the
frames, cuts them into batches, preprocesses each batch in torch on the embedder's device, runs
the model under ``torch.inference_mode``, checks every row and L2-normalises it
(docs/method.md, Sec. 1, step 1: ``z_i = E(x_i) / ||E(x_i)||``).

Preprocessing: uint8 -> float32, resize (bicubic or bilinear with antialiasing, clamped to
[0, 255]; or ``area``), optional centre crop, ``(x / 255 - mean) / std``. It matches open_clip's
own PIL transforms to ~0.3 grey levels on average (torch's bicubic kernel, a = -0.75, is a little
sharper than PIL's a = -0.5, so single pixels at upsampled edges can differ by a few levels).
Geometry follows torchvision's ``Resize(int)`` + ``CenterCrop`` for ``resize_mode='shortest'`` and
``Resize((s, s))`` for ``'squash'``.

Source: torch (``torch.nn.functional.interpolate``), tqdm for the progress bar; both imported
lazily, so importing this module imports neither. It does not change torch's thread count.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "DTYPES",
    "Embedder",
    "EmbeddingError",
    "PreprocessConfig",
    "TorchEmbedder",
    "check_frames",
]

#: Model dtypes an embedder accepts (embeddings are always returned as float32).
DTYPES = ("float32", "float16", "bfloat16")


@runtime_checkable
class Embedder(Protocol):
    """What every embedder provides.

    Attributes:
        name: registry name (a key of ``spf_bench.metrics.embedders.EMBEDDERS``).
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

    Raises:
        ValueError: on a size below 1, an unknown mode or interpolation, or mean/std without 3
            entries or with a non-positive std.
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


def _torch_dtype(dtype: str) -> torch.dtype:
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


def resize(x: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """Resize (and for ``resize_mode="shortest"`` centre-crop) a batch of images.

    ``"squash"`` resizes to ``(size, size)``. ``"shortest"`` resizes the shorter side to ``size``
    and the longer one to ``int(size * long / short)`` (torchvision ``Resize(int)``), then crops
    the centre ``size x size`` with torchvision ``CenterCrop``'s rounding. A batch already at the
    target size is not resampled.

    Args:
        x: ``torch.Tensor`` of shape ``(B, 3, H, W)``, float on the 0-255 scale.
        cfg: the preprocessing to apply (``size``, ``resize_mode``, ``interpolation``).

    Returns:
        ``torch.Tensor`` of shape ``(B, 3, size, size)``, float, on the 0-255 scale (bicubic and
        bilinear results clamped to [0, 255]).
    """
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

    Args:
        name: registry name.
        dim: embedding width ``D``; ``features`` must return ``(B, D)``.
        model: the ``torch.nn.Module`` to put in eval mode and move to ``device`` / ``dtype``, or
            ``None`` (``pixel``).
        features: maps the preprocessed batch, ``torch.Tensor`` of shape ``(B, 3, S, S)`` in
            ``dtype``, to ``(B, D)`` un-normalised features.
        preprocess_config: the :class:`PreprocessConfig` applied before ``features``.
        device: torch device string.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"`` (model weights and input).
        batch_size: frames per forward pass.
        progress: show a tqdm bar (stderr) when an input spans more than 2 batches.
        info: provenance merged into :attr:`info` (library, model id, weights source).

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
            TypeError: if ``frames`` is not a numpy array.
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
        x = resize(x, cfg)
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

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """The bare model forward pass on a prepared batch (what :meth:`embed` runs per batch,
        without preprocessing, checks or normalisation; used by ``bench/studies/perf_measure.py``).

        Args:
            batch: ``torch.Tensor`` of shape ``(B, 3, S, S)`` from :meth:`preprocess`, in
                ``self.dtype``.

        Returns:
            ``torch.Tensor`` of shape ``(B, D)``, un-normalised features.
        """
        return self._features(batch)

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """Embed every frame.

        Args:
            frames: ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8 RGB, ``T >= 1``.

        Returns:
            ``np.ndarray`` of shape ``(T, D)``, float32, rows of unit L2 norm.

        Raises:
            TypeError: if ``frames`` is not a numpy array.
            ValueError: if ``frames`` is not a ``(T, H, W, 3)`` uint8 array with ``T >= 1``.
            EmbeddingError: if the model returns a shape other than ``(B, D)``, or a non-finite
                or zero-norm row; the message names the frame indices (try ``dtype="float32"``
                if a half-precision run overflowed).
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
                        f"(dtype {self.info['dtype']}). Such rows cannot be L2-normalised: the "
                        f"model's output collapsed; with float16/bfloat16 retry dtype='float32'."
                    )
                out[start : start + y.shape[0]] = (y / norms[:, None]).cpu().numpy()
        return out
