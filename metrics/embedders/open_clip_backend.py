"""``siglip`` and ``openclip``: image towers of open_clip models.

- ``siglip`` (D = 768): SigLIP2 ViT-B/16 at 512 px, open_clip ``hf-hub:timm/ViT-B-16-SigLIP2-512``,
  the paper's default embedder (docs/method.md, Sec. 1, step 1); squash to 512 px, bicubic,
  mean = std = 0.5.
- ``openclip`` (D = 512): OpenCLIP ViT-B/32 trained on LAION-2B, ``ViT-B-32`` /
  ``laion2b_s34b_b79k`` (hub ``laion/CLIP-ViT-B-32-laion2B-s34B-b79K``); shortest side to 224 px,
  bicubic, centre crop, CLIP mean/std.

Only ``model.visual`` is kept; the tokenizer is never loaded (it lives on the hub). Weights come
from the Hugging Face cache with the hub offline, or from ``weights=`` (a checkpoint file, or a
directory for open_clip's ``local-dir:`` schema); see :mod:`._hub`.

Source: ``open_clip_torch`` (``open_clip.create_model``, ``get_pretrained_cfg``,
``get_model_config``) and torch, both imported lazily (after the cache check, so missing weights
fail before open_clip is imported).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._hub import (
    hf_hub_cache_dir,
    hub_files_present,
    hub_load,
    missing_hub_weights,
    missing_local,
)
from .base import PreprocessConfig, TorchEmbedder

__all__ = [
    "OPENCLIP_ARCH",
    "OPENCLIP_HUB_ID",
    "OPENCLIP_TAG",
    "OPEN_CLIP_WEIGHT_FILES",
    "SIGLIP_ARCH",
    "SIGLIP_HUB_ID",
    "SIGLIP_TAG",
    "build_openclip",
    "build_siglip",
    "locate_openclip_weights",
    "locate_siglip_weights",
]

# Hub ids and the files each needs in the Hugging Face cache (the file names open_clip looks for:
# its config, for the hf-hub: schema, plus one of the weight files).
SIGLIP_HUB_ID = "timm/ViT-B-16-SigLIP2-512"
SIGLIP_ARCH = "ViT-B-16-SigLIP2-512"
SIGLIP_TAG = "webli"
OPENCLIP_ARCH = "ViT-B-32"
OPENCLIP_TAG = "laion2b_s34b_b79k"
OPENCLIP_HUB_ID = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
#: The weight files open_clip loads from a hub snapshot (one of them); also what
#: ``spf-bench prefetch`` fetches.
OPEN_CLIP_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_WEIGHTS_HINT = "/path/to/open_clip_model.safetensors (or a directory with open_clip_config.json)"


def _locate_hub(name: str, hub_id: str, use_hub_schema: bool, cache: str) -> str:
    """Check the cache for the files open_clip will load; raise MissingWeightsError if absent."""
    required = ("open_clip_config.json",) if use_hub_schema else ()
    if not hub_files_present(hub_id, cache, required, OPEN_CLIP_WEIGHT_FILES):
        raise missing_hub_weights(name, hub_id, cache, _WEIGHTS_HINT)
    return f"hf-hub:{hub_id} in {cache}"


def locate_siglip_weights(cache: str | None = None) -> str:
    """Where the ``siglip`` weights are, from the cache layout alone (nothing is loaded).

    Args:
        cache: Hugging Face cache directory; ``None`` resolves it now (:func:`hf_hub_cache_dir`).

    Returns:
        ``"hf-hub:timm/ViT-B-16-SigLIP2-512 in <cache>"``.

    Raises:
        MissingWeightsError: if ``open_clip_config.json`` or the weight file is not cached.
    """
    cache = hf_hub_cache_dir() if cache is None else cache
    return _locate_hub("siglip", SIGLIP_HUB_ID, True, cache)


def locate_openclip_weights(cache: str | None = None) -> str:
    """Where the ``openclip`` weights are, from the cache layout alone (nothing is loaded).

    Args:
        cache: Hugging Face cache directory; ``None`` resolves it now (:func:`hf_hub_cache_dir`).

    Returns:
        ``"hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K in <cache>"``.

    Raises:
        MissingWeightsError: if no open_clip weight file of that repository is cached.
    """
    cache = hf_hub_cache_dir() if cache is None else cache
    return _locate_hub("openclip", OPENCLIP_HUB_ID, False, cache)


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
    """Shared open_clip loader; keeps only the image tower (``model.visual``).

    ``use_hub_schema`` loads ``hf-hub:<hub_id>`` (config and weights from the hub repository);
    otherwise the built-in ``arch`` with pretrained tag ``tag``. The preprocessing is the loaded
    model's own (``visual.preprocess_cfg``); with ``weights=<file>`` or ``random_init`` the tag's
    mean/std/interpolation/resize mode are forced onto the built-in architecture.
    """
    cache = hf_hub_cache_dir()
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
                found = [str(p / f) for f in OPEN_CLIP_WEIGHT_FILES if (p / f).is_file()]
                if not found:
                    raise missing_local(
                        name, str(p), f"open_clip_config.json or one of {OPEN_CLIP_WEIGHT_FILES}"
                    )
                local_file = found[0]
        elif p.is_file():
            local_file = str(p)
        else:
            raise missing_local(name, str(p), "a checkpoint file or a directory")
    elif not random_init and not allow_download:
        # Fail fast (before importing open_clip) when the cache cannot hold the weights.
        _locate_hub(name, hub_id, use_hub_schema, cache)

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
        with hub_load(
            name,
            hub_id,
            cache,
            _WEIGHTS_HINT,
            offline=not allow_download,
            translate=local_dir is None and local_file is None,
        ):
            model = open_clip.create_model(
                model_name,
                pretrained=pretrained,
                force_preprocess_cfg=force,
                require_pretrained=True,
                **common,
            )
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


def build_siglip(
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
    from the Hugging Face cache. Preprocessing comes from the model's own config: squash to
    512 px, bicubic, mean = std = 0.5. The tokenizer is never loaded (it lives on the hub).

    Args:
        device: torch device string.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        batch_size: frames per forward pass.
        weights: a checkpoint file (loaded into the built-in ``ViT-B-16-SigLIP2-512``
            architecture, SigLIP preprocessing forced) or a directory (open_clip ``local-dir:``
            with ``open_clip_config.json``, or holding ``open_clip_model.safetensors`` /
            ``open_clip_pytorch_model.bin``); ``None`` uses the Hugging Face cache.
        allow_download: let open_clip download missing weights; when ``False`` the hub is offline
            during the load.
        progress: show a tqdm bar on inputs longer than 2 batches.
        random_init: (tests) build the same architecture with random weights and open_clip's
            ``webli`` preprocessing; nothing is read from disk.
        seed: torch seed of ``random_init`` (the global RNG state is restored afterwards).

    Returns:
        A :class:`TorchEmbedder` with ``dim = 768``; ``info["weights"]`` names the source.

    Raises:
        MissingWeightsError: weights not cached and ``allow_download=False``, or ``weights``
            missing.
        ValueError: ``weights`` together with ``random_init``.
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


def build_openclip(
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

    Args:
        device: torch device string.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        batch_size: frames per forward pass.
        weights: a checkpoint file (loaded into ``ViT-B-32`` with the tag's preprocessing) or a
            directory, as for :func:`build_siglip`; ``None`` uses the Hugging Face cache.
        allow_download: let open_clip download missing weights; when ``False`` the hub is offline
            during the load.
        progress: show a tqdm bar on inputs longer than 2 batches.
        random_init: (tests) ``ViT-B-32`` with random weights and the tag's preprocessing.
        seed: torch seed of ``random_init`` (the global RNG state is restored afterwards).

    Returns:
        A :class:`TorchEmbedder` with ``dim = 512``; ``info["weights"]`` names the source.

    Raises:
        MissingWeightsError: weights not cached and ``allow_download=False``, or ``weights``
            missing.
        ValueError: ``weights`` together with ``random_init``.
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
