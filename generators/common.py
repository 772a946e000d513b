"""Plumbing shared by the diffusers-backed generators (``wan22``, ``ltx2``).

- the transformation prompt suite (``conf/prompts/transformations.yaml``) and its reproducible
  selection by ``n_videos``, ``seed`` and shard;
- offline checkpoint resolution in the Hugging Face cache with one clear error;
- frame-count / resolution rules;
- small conversions (dtype names, frames to uint8, deterministic keyframe images).

No Hydra here: generators receive plain keyword arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from generators.base import GenerationRequest, GeneratorError

__all__ = [
    "DEFAULT_PROMPTS",
    "PromptItem",
    "attach_keyframes",
    "base_request",
    "check_frame_rules",
    "frames_to_uint8",
    "item_seed",
    "load_prompt_suite",
    "procedural_keyframe",
    "read_model_config",
    "resolve_checkpoint",
    "select_items",
    "torch_dtype",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROMPTS = REPO_ROOT / "conf" / "prompts" / "transformations.yaml"


@dataclass(frozen=True)
class PromptItem:
    """One A-to-B transformation of the prompt suite.

    Attributes:
        id: stable identifier (``"cat-to-lion"``), used in file names and seeds.
        prompt: the video prompt.
        first_frame: description of the first frame (subject A), for first-last-frame mode.
        last_frame: description of the last frame (subject B).
    """

    id: str
    prompt: str
    first_frame: str
    last_frame: str


def load_prompt_suite(path: str | os.PathLike | None = None) -> list[PromptItem]:
    """Load and validate the prompt suite.

    Args:
        path: YAML file with a top-level ``prompts`` list of mappings with keys ``id``,
            ``prompt``, ``first_frame``, ``last_frame``; default :data:`DEFAULT_PROMPTS`.

    Returns:
        The items in file order.

    Raises:
        GeneratorError: if the file is missing, malformed, or ids / prompts repeat.
    """
    path = Path(path) if path is not None else DEFAULT_PROMPTS
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path
    if not path.exists():
        raise GeneratorError(f"prompt suite {path} not found")
    data = yaml.safe_load(path.read_text())
    rows = data.get("prompts") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise GeneratorError(f"{path}: expected a top-level 'prompts' list")
    items, ids, prompts = [], set(), set()
    for i, row in enumerate(rows):
        missing = [k for k in ("id", "prompt", "first_frame", "last_frame") if not row.get(k)]
        if missing:
            raise GeneratorError(f"{path}: entry {i} lacks {missing}")
        item = PromptItem(
            str(row["id"]), str(row["prompt"]), str(row["first_frame"]), str(row["last_frame"])
        )
        if item.id in ids or item.prompt in prompts:
            raise GeneratorError(f"{path}: duplicate id or prompt at entry {i} ({item.id})")
        ids.add(item.id)
        prompts.add(item.prompt)
        items.append(item)
    return items


def item_seed(seed: int, item_id: str) -> int:
    """Per-item generation seed, stable under reordering and sharding.

    Args:
        seed: the run's seed.
        item_id: the item's stable id.

    Returns:
        An int in ``[0, 2**31)``.
    """
    digest = hashlib.sha256(f"{int(seed)}:{item_id}".encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


def select_items(
    suite: list[PromptItem], n_videos: int, seed: int, shard_index: int = 0, num_shards: int = 1
) -> list[PromptItem]:
    """Reproducible choice of ``n_videos`` items, then this shard's share of them.

    The suite is permuted with ``numpy.random.default_rng(seed)``, the first ``n_videos`` are
    taken, and shard ``k`` of ``m`` keeps positions ``k, k + m, ...``: the union of all shards is
    the same ``n_videos`` items whatever ``num_shards`` is.

    Args:
        suite: all items.
        n_videos: how many items the run covers (all shards together).
        seed: selection seed.
        shard_index: this shard, ``0 <= shard_index < num_shards``.
        num_shards: number of shards.

    Returns:
        This shard's items, in selection order.

    Raises:
        GeneratorError: if ``n_videos`` exceeds the suite or the shard spec is invalid.
    """
    n_videos, num_shards, shard_index = int(n_videos), int(num_shards), int(shard_index)
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise GeneratorError(f"invalid shard {shard_index} of {num_shards}")
    if not 0 < n_videos <= len(suite):
        raise GeneratorError(
            f"asked for {n_videos} videos; the prompt suite has {len(suite)} items"
        )
    order = np.random.default_rng(int(seed)).permutation(len(suite))[:n_videos]
    return [suite[i] for i in order[shard_index::num_shards]]


def torch_dtype(name: str) -> Any:
    """``"bfloat16"`` / ``"float16"`` / ``"float32"`` to the torch dtype.

    Raises:
        GeneratorError: on another name.
    """
    import torch

    table = {
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
        "float32": torch.float32,
        "fp32": torch.float32,
    }
    if name not in table:
        raise GeneratorError(f"unknown dtype {name!r}; use bfloat16, float16 or float32")
    return table[name]


def resolve_checkpoint(
    model_id: str, allow_download: bool = False, cache_dir: str | None = None
) -> str:
    """Find a diffusers checkpoint without touching the network.

    ``model_id`` may be a local directory (returned as is) or a Hub repo id, looked up in the HF
    cache (``HF_HUB_CACHE`` / ``HF_HOME``, or ``cache_dir``). Takes well under a second.

    Args:
        model_id: repo id (``"Wan-AI/Wan2.2-T2V-A14B-Diffusers"``) or a local path.
        allow_download: when ``True`` a missing checkpoint is left to ``from_pretrained`` to
            download; otherwise it is an error.
        cache_dir: HF cache to search instead of the default.

    Returns:
        The local snapshot directory, or ``model_id`` itself when downloading is allowed and the
        cache lacks it.

    Raises:
        GeneratorError: naming the repo id, the cache searched and the ``hf download`` command.
    """
    if os.path.isdir(model_id):
        if not os.path.exists(os.path.join(model_id, "model_index.json")):
            raise GeneratorError(
                f"{model_id} is a directory without model_index.json (not a diffusers checkpoint)"
            )
        return model_id
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    cache = cache_dir or constants.HF_HUB_CACHE
    try:
        path = snapshot_download(model_id, cache_dir=cache, local_files_only=True)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError) as err:
        if allow_download:
            return model_id
        raise GeneratorError(
            f"checkpoint {model_id!r} is not in the Hugging Face cache {cache} and downloads "
            f"are off (allow_download=false). On a machine with internet access run:\n"
            f"    HF_HUB_CACHE={cache} hf download {model_id}\n"
            f"(or point HF_HOME / HF_HUB_CACHE at a cache that holds it, or set "
            f"allow_download=true). [{type(err).__name__}]"
        ) from None
    if not os.path.exists(os.path.join(path, "model_index.json")):
        raise GeneratorError(
            f"cached snapshot {path} of {model_id!r} has no model_index.json (incomplete download?)"
        )
    return path


def read_model_config(path: str, subfolder: str) -> dict[str, Any]:
    """Read ``<path>/<subfolder>/config.json`` of a resolved checkpoint.

    Raises:
        GeneratorError: if the file is missing.
    """
    file = os.path.join(path, subfolder, "config.json")
    if not os.path.exists(file):
        raise GeneratorError(f"{file} missing: incomplete checkpoint")
    with open(file) as fh:
        return json.load(fh)


def check_frame_rules(
    n_frames: int, height: int, width: int, temporal: int, spatial: int, model: str
) -> None:
    """Validate a frame count and resolution against a model's rules.

    Args:
        n_frames: output frames; must be ``temporal * n + 1``.
        height: pixels; multiple of ``spatial``.
        width: pixels; multiple of ``spatial``.
        temporal: VAE temporal compression (Wan 4, LTX-2 8).
        spatial: required side multiple (VAE spatial compression times patch size: Wan2.2-A14B
            16, TI2V-5B 32, LTX-2 32).
        model: name used in the message.

    Raises:
        GeneratorError: explaining the rule and the nearest valid values.
    """
    problems = []
    if n_frames < 1 or (n_frames - 1) % temporal:
        lo = (max(n_frames, 1) - 1) // temporal * temporal + 1
        problems.append(f"n_frames={n_frames} must be {temporal}n+1 (e.g. {lo} or {lo + temporal})")
    for side, v in (("height", height), ("width", width)):
        if v < spatial or v % spatial:
            near = max(v // spatial, 1) * spatial
            problems.append(f"{side}={v} must be a positive multiple of {spatial} (e.g. {near})")
    if problems:
        raise GeneratorError(f"{model}: " + "; ".join(problems))


def frames_to_uint8(frames: Any) -> np.ndarray:
    """Pipeline output in ``[0, 1]`` (``(1, T, H, W, 3)`` or ``(T, H, W, 3)`` float) to uint8.

    Returns:
        ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8.
    """
    arr = np.asarray(frames, dtype=np.float32)
    if arr.ndim == 5:
        arr = arr[0]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise GeneratorError(f"unexpected frame array shape {arr.shape}")
    return np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8)


def procedural_keyframe(text: str, height: int, width: int) -> np.ndarray:
    """A deterministic stand-in keyframe for a description (tiny models / tests only).

    Smooth colour fields whose parameters come from a hash of ``text``: distinct descriptions
    give distinct images, no model needed.

    Returns:
        ``np.ndarray`` of shape ``(height, width, 3)``, uint8.
    """
    rng = np.random.default_rng(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    yy, xx = yy / max(height - 1, 1), xx / max(width - 1, 1)
    img = np.zeros((height, width, 3))
    for c in range(3):
        a, b = rng.uniform(0.5, 4.0, size=2)
        ph = rng.uniform(0, 2 * np.pi)
        img[..., c] = 0.5 + 0.5 * np.sin(2 * np.pi * (a * xx + b * yy) + ph)
    cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
    blob = ((yy - cy) ** 2 + (xx - cx) ** 2) < r**2
    img[blob] = rng.uniform(0, 1, size=3)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def base_request(
    item: PromptItem, seed: int, n_frames: int, fps: float, model: str
) -> GenerationRequest:
    """The request for one prompt item (no keyframe images yet)."""
    return GenerationRequest(
        item_id=item.id,
        seed=item_seed(seed, item.id),
        n_frames=int(n_frames),
        fps=float(fps),
        prompt=item.prompt,
        extra={"first_frame": item.first_frame, "last_frame": item.last_frame, "model": model},
    )


def _load_png(path: Path, height: int, width: int) -> np.ndarray:
    from PIL import Image

    img = Image.open(path).convert("RGB")
    if img.size != (width, height):
        img = img.resize((width, height), Image.BICUBIC)
    return np.asarray(img, dtype=np.uint8)


def attach_keyframes(
    requests: list[GenerationRequest],
    source: str,
    height: int,
    width: int,
    keyframe_dir: str | None = None,
    render: Any = None,
    need_last: bool = True,
) -> list[GenerationRequest]:
    """Give first-last-frame requests their keyframe images.

    The images are fixed per item and seed, so every ReTime iteration (which re-uses the request
    through :meth:`GenerationRequest.with_positions`) sees the same keyframes.

    Args:
        requests: requests whose ``extra`` holds ``first_frame`` / ``last_frame`` descriptions.
        source: ``"procedural"`` (hash-seeded stand-ins, tiny models and tests), ``"dir"``
            (``<keyframe_dir>/<item_id>_first.png`` and ``_last.png``), or ``"t2i"`` (rendered by
            ``render(description, seed) -> (H, W, 3) uint8``; cached as PNG in ``keyframe_dir``
            when given).
        height: keyframe height, pixels.
        width: keyframe width, pixels.
        keyframe_dir: folder of keyframe PNGs (read for ``dir``, cache for ``t2i``).
        render: the text-to-image callable for ``t2i``.
        need_last: also attach the last frame (first-last-frame mode); else only the first.

    Returns:
        New requests with ``first_image`` (and ``last_image``) set, uint8 ``(H, W, 3)``.

    Raises:
        GeneratorError: on an unknown source, missing files for ``dir``, or no renderer for
            ``t2i``.
    """
    from dataclasses import replace

    if source not in ("procedural", "dir", "t2i"):
        raise GeneratorError(f"unknown keyframe source {source!r}; use procedural, dir or t2i")
    folder = Path(keyframe_dir) if keyframe_dir else None
    if source == "dir" and folder is None:
        raise GeneratorError("keyframes=dir needs keyframe_dir")
    out = []
    for req in requests:
        images = []
        for which in ("first", "last") if need_last else ("first",):
            text = req.extra[f"{which}_frame"]
            file = folder / f"{req.item_id}_{which}.png" if folder is not None else None
            if file is not None and file.exists():
                images.append(_load_png(file, height, width))
            elif source == "dir":
                raise GeneratorError(f"keyframe {file} missing (keyframes=dir)")
            elif source == "procedural":
                images.append(procedural_keyframe(text, height, width))
            else:
                if render is None:
                    raise GeneratorError("keyframes=t2i needs a renderer")
                img = np.asarray(render(text, item_seed(req.seed, which)), dtype=np.uint8)
                if file is not None:
                    from PIL import Image

                    file.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(img).save(file)
                images.append(img)
        out.append(replace(req, first_image=images[0], last_image=images[1] if need_last else None))
    return out


def check_request(
    request: GenerationRequest,
    *,
    name: str,
    mode: str,
    height: int,
    width: int,
    temporal_factor: int,
    spatial_multiple: int,
    bands: int,
) -> None:
    """Validate a request for a diffusers video generator (Wan2.2, LTX-2).

    Checks the model's frame rule (``temporal_factor * n + 1`` frames, sides multiples of
    ``spatial_multiple``), the prompt, the positions' shape (``(n_frames,)`` or
    ``(bands, n_frames)``, output frame units) and the keyframes that ``mode`` needs
    (``flf``: first and last image; ``i2v``: first image).

    Raises:
        GeneratorError: naming the generator, the item and what is wrong.
    """
    check_frame_rules(request.n_frames, height, width, temporal_factor, spatial_multiple, name)
    if not request.prompt:
        raise GeneratorError(f"{name}: request {request.item_id} has no prompt")
    if request.positions is not None:
        shape = np.shape(request.positions)
        if shape not in ((request.n_frames,), (bands, request.n_frames)):
            raise GeneratorError(
                f"{name}: positions of shape {shape}; expected ({bands}, {request.n_frames}) "
                "(bands x frames, output frame units) or (n_frames,)"
            )
    if mode in ("flf", "i2v") and request.first_image is None:
        raise GeneratorError(f"{name}: request {request.item_id} lacks first_image (use items())")
    if mode == "flf" and request.last_image is None:
        raise GeneratorError(f"{name}: first-last-frame request {request.item_id} lacks last_image")
