"""``dinov2``: DINOv2 ViT-B/14 through Hugging Face transformers (``facebook/dinov2-base``).

The embedding (D = 768) is ``pooler_output``: the CLS token after the final layer norm (DINOv2's
global descriptor, ``x_norm_clstoken`` in the original code). An ablation embedder of the paper
(docs/method.md, Sec. 1, step 1). Weights come from the Hugging Face cache with the hub offline,
or from a ``save_pretrained`` directory; see :mod:`._hub`.

Source: ``transformers`` (``Dinov2Model``, ``Dinov2Config``) and torch, both imported lazily (after
the cache check, so missing weights fail before transformers is imported).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._hub import (
    hf_hub_cache_dir,
    hub_files_present,
    hub_load,
    missing_hub_weights,
    missing_local,
)
from .base import PreprocessConfig, TorchEmbedder

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "DINOV2_HUB_ID",
    "HF_WEIGHT_FILES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "build_dinov2",
    "locate_dinov2_weights",
]

DINOV2_HUB_ID = "facebook/dinov2-base"
#: The weight files transformers' ``from_pretrained`` takes from the cache (one of them, next to
#: ``config.json``); also what ``spf-bench prefetch`` fetches.
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_WEIGHTS_HINT = "/path/to/dinov2-base (a directory with config.json and model.safetensors)"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def locate_dinov2_weights(cache: str | None = None) -> str:
    """Where the ``dinov2`` weights are, from the cache layout alone (nothing is loaded).

    Args:
        cache: Hugging Face cache directory; ``None`` resolves it now (:func:`hf_hub_cache_dir`).

    Returns:
        ``"hf-hub:facebook/dinov2-base in <cache>"``.

    Raises:
        MissingWeightsError: if ``config.json`` or the weight file is not cached.
    """
    cache = hf_hub_cache_dir() if cache is None else cache
    if not hub_files_present(DINOV2_HUB_ID, cache, ("config.json",), HF_WEIGHT_FILES):
        raise missing_hub_weights("dinov2", DINOV2_HUB_ID, cache, _WEIGHTS_HINT)
    return f"hf-hub:{DINOV2_HUB_ID} in {cache}"


def build_dinov2(
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

    Preprocessing: shortest side to ``image_size`` (224) px, bicubic, centre crop, ImageNet
    mean/std. (The hub's image processor resizes to 256 and crops 224; we keep the whole short
    side, like ``openclip``.)

    Args:
        device: torch device string.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        batch_size: frames per forward pass.
        weights: a ``save_pretrained`` directory (``config.json`` + ``model.safetensors``), loaded
            with ``local_files_only=True``; ``None`` loads
            ``Dinov2Model.from_pretrained('facebook/dinov2-base')`` from the Hugging Face cache.
        allow_download: let transformers download missing weights; when ``False`` the hub is
            offline during the load (``local_files_only=True``).
        progress: show a tqdm bar on inputs longer than 2 batches.
        image_size: model input side in pixels.
        random_init: (tests) build ``Dinov2Model(Dinov2Config(**config_overrides))`` with random
            weights; nothing is read from disk.
        config_overrides: ``Dinov2Config`` fields for ``random_init``, e.g.
            ``dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=56)``
            with ``image_size=56``.
        seed: torch seed of ``random_init`` (the global RNG state is restored afterwards).

    Returns:
        A :class:`TorchEmbedder` with ``dim = config.hidden_size`` (768 for dinov2-base);
        ``info["weights"]`` names the source.

    Raises:
        MissingWeightsError: weights not cached and ``allow_download=False``, or ``weights``
            missing.
        ValueError: ``config_overrides`` without ``random_init``, ``weights`` together with
            ``random_init``, or ``weights`` not a directory.
    """
    if config_overrides and not random_init:
        raise ValueError("dinov2: config_overrides only applies with random_init=True")
    if random_init and weights is not None:
        raise ValueError("dinov2: pass either weights or random_init=True, not both")
    cache = hf_hub_cache_dir()
    if weights is not None:
        p = Path(weights).expanduser()
        if not p.exists():
            raise missing_local("dinov2", str(p), "a save_pretrained directory")
        if not p.is_dir():
            raise ValueError(
                "dinov2: weights must be a directory (config.json + model.safetensors), "
                f"got file {p}"
            )
    elif not random_init and not allow_download:
        locate_dinov2_weights(cache)  # fail fast, before importing transformers

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
        with hub_load("dinov2", DINOV2_HUB_ID, cache, _WEIGHTS_HINT, offline=not allow_download):
            model = Dinov2Model.from_pretrained(
                DINOV2_HUB_ID, cache_dir=cache, local_files_only=not allow_download
            )

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
