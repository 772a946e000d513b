"""Plain functions shared by the diffusers-backed generators (``wan22``, ``ltx2``).

Their common base class is :class:`spf_bench.generators.dit.DiTGenerator`; this module holds
what it and the first-last-frame keyframe path use:

- the transformation prompt suite (``conf/prompts/transformations.yaml``) and its reproducible
  selection by ``n_videos`` and ``seed`` (sharding is the bench's alone:
  :func:`spf_bench.bench.config.shard_items`);
- offline checkpoint resolution in the Hugging Face cache with one clear error
  (:class:`MissingCheckpointError`);
- frame-count / resolution rules;
- pipeline placement (device or CPU offload) and the Wan loader;
- keyframe images for first-last-frame items: from files, procedural stand-ins, or rendered by
  a Wan text-to-video checkpoint (:class:`WanT2IRenderer`);
- small conversions (dtype names, frames to uint8).

No Hydra here: generators receive plain keyword arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import yaml

from spf_bench.generators.base import GenerationRequest, GeneratorError
from spf_bench.metrics.embedders import MissingWeightsError

__all__ = [
    "DEFAULT_NEGATIVE_PROMPT",
    "DEFAULT_PROMPTS",
    "DTYPES",
    "KEYFRAME_SOURCES",
    "OFFLOAD",
    "DtypeName",
    "KeyframeSource",
    "MissingCheckpointError",
    "Offload",
    "PromptItem",
    "WanT2IRenderer",
    "attach_keyframes",
    "base_request",
    "check_dtype",
    "check_frame_rules",
    "frames_to_uint8",
    "item_seed",
    "load_prompt_suite",
    "load_wan_pipeline",
    "place_pipeline",
    "procedural_keyframe",
    "read_model_config",
    "resolve_checkpoint",
    "resolve_prompt_suite",
    "select_items",
    "torch_dtype",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROMPTS = REPO_ROOT / "conf" / "prompts" / "transformations.yaml"
#: Wan's negative prompt (Wan2.2 generators and the keyframe renderer).
DEFAULT_NEGATIVE_PROMPT = (
    "blurry, low quality, distorted, deformed, static frame, flicker, jitter, watermark, text, "
    "abrupt cut, scene change, camera shake"
)
#: Placements of a pipeline (:func:`place_pipeline`).
Offload = Literal["none", "model", "sequential"]
OFFLOAD: tuple[str, ...] = get_args(Offload)
#: Dtype names the generators accept (:func:`torch_dtype`).
DtypeName = Literal["bfloat16", "bf16", "float16", "fp16", "float32", "fp32"]
DTYPES: tuple[str, ...] = get_args(DtypeName)
#: Keyframe sources of first-last-frame / image-to-video items (:func:`attach_keyframes`).
KeyframeSource = Literal["t2i", "dir", "procedural"]
KEYFRAME_SOURCES: tuple[str, ...] = get_args(KeyframeSource)


class MissingCheckpointError(GeneratorError, MissingWeightsError):
    """A diffusers checkpoint is not on this machine and downloading was not allowed.

    Both a :class:`~spf_bench.generators.base.GeneratorError` (what callers of a generator
    catch) and a :class:`~spf_bench.metrics.embedders.MissingWeightsError` (what callers that
    check weights up front catch); picklable, so it crosses submitit/SLURM jobs.

    Attributes:
        model_id: the checkpoint's repo id.
        searched: the Hugging Face cache directory that was searched.
    """

    def __init__(self, message: str, *, model_id: str, searched: str) -> None:
        MissingWeightsError.__init__(self, message, model_id=model_id, searched=searched)

    def __reduce__(self):
        """Pickle support (keyword-only arguments)."""
        return (_rebuild_missing_checkpoint, (self.args[0], self.model_id, self.searched))


def _rebuild_missing_checkpoint(message: str, model_id: str, searched: str) -> Exception:
    return MissingCheckpointError(message, model_id=model_id, searched=searched)


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


def resolve_prompt_suite(path: str | os.PathLike | None = None) -> Path:
    """The prompt-suite file a generator reads.

    Args:
        path: ``None`` (:data:`DEFAULT_PROMPTS`), an absolute path, or a relative one: taken
            from the working directory when it exists there, else from the package root
            (so the configs' ``conf/prompts/transformations.yaml`` works from anywhere).

    Returns:
        The file's absolute path (symlinks resolved).

    Raises:
        GeneratorError: if the file does not exist.
    """
    path = Path(path) if path is not None else DEFAULT_PROMPTS
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path
    if not path.is_file():
        raise GeneratorError(f"prompt suite {path} not found")
    return path.resolve()


def load_prompt_suite(path: str | os.PathLike | None = None) -> list[PromptItem]:
    """Load and validate the prompt suite.

    Args:
        path: YAML file with a top-level ``prompts`` list of mappings with keys ``id``,
            ``prompt``, ``first_frame``, ``last_frame``; default :data:`DEFAULT_PROMPTS`
            (resolved by :func:`resolve_prompt_suite`).

    Returns:
        The items in file order.

    Raises:
        GeneratorError: if the file is missing, malformed, or ids / prompts repeat.
    """
    path = resolve_prompt_suite(path)
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


def select_items(suite: list[PromptItem], n_videos: int, seed: int) -> list[PromptItem]:
    """Reproducible choice of ``n_videos`` items.

    The suite is permuted with ``numpy.random.default_rng(seed)`` and the first ``n_videos``
    are taken, so the items of a smaller ``n_videos`` are a prefix of a larger one's. Sharding
    is the bench's (:func:`spf_bench.bench.config.shard_items` on this list).

    Args:
        suite: all items.
        n_videos: how many items the run covers.
        seed: selection seed.

    Returns:
        The items, in selection order.

    Raises:
        GeneratorError: if ``n_videos`` is not in ``1..len(suite)``.
    """
    n_videos = int(n_videos)
    if not 0 < n_videos <= len(suite):
        raise GeneratorError(
            f"asked for {n_videos} videos; the prompt suite has {len(suite)} items"
        )
    order = np.random.default_rng(int(seed)).permutation(len(suite))[:n_videos]
    return [suite[i] for i in order]


def check_dtype(name: str) -> str:
    """Validate a dtype name without importing torch.

    Args:
        name: one of :data:`DTYPES`.

    Returns:
        ``name``.

    Raises:
        GeneratorError: on another name.
    """
    if name not in DTYPES:
        raise GeneratorError(f"unknown dtype {name!r}; use bfloat16, float16 or float32")
    return name


def torch_dtype(name: str) -> Any:
    """A dtype name to the torch dtype.

    Args:
        name: ``"bfloat16"`` / ``"bf16"``, ``"float16"`` / ``"fp16"`` or ``"float32"`` /
            ``"fp32"`` (:data:`DTYPES`).

    Returns:
        The ``torch.dtype``.

    Raises:
        GeneratorError: on another name.
    """
    check_dtype(name)
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
        MissingCheckpointError: (a :class:`GeneratorError`) the checkpoint is not cached and
            downloads are off; the message names the repo id, the cache searched and the
            ``hf download`` command.
        GeneratorError: a local directory or cached snapshot without ``model_index.json``.
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
        raise MissingCheckpointError(
            f"checkpoint {model_id!r} is not in the Hugging Face cache {cache} and downloads "
            f"are off (allow_download=false). On a machine with internet access run:\n"
            f"    HF_HUB_CACHE={cache} hf download {model_id}\n"
            f"(or point HF_HOME / HF_HUB_CACHE at a cache that holds it, or set "
            f"allow_download=true). [{type(err).__name__}]",
            model_id=model_id,
            searched=str(cache),
        ) from None
    if not os.path.exists(os.path.join(path, "model_index.json")):
        raise GeneratorError(
            f"cached snapshot {path} of {model_id!r} has no model_index.json (incomplete download?)"
        )
    return path


def read_model_config(path: str, subfolder: str) -> dict[str, Any]:
    """Read ``<path>/<subfolder>/config.json`` of a resolved checkpoint.

    Args:
        path: snapshot directory (:func:`resolve_checkpoint`).
        subfolder: component (``"transformer"``, ``"vae"``).

    Returns:
        The parsed JSON.

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

    Args:
        frames: array-like (numpy, or a CPU tensor numpy accepts), values in ``[0, 1]``.

    Returns:
        ``np.ndarray`` of shape ``(T, H, W, 3)``, uint8 (``round(255 x)``, clipped).

    Raises:
        GeneratorError: on another shape.
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

    Args:
        text: the description (the seed of the image).
        height: pixels.
        width: pixels.

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
    """The request for one prompt item (no keyframe images yet).

    Args:
        item: the prompt-suite item.
        seed: the run's seed (the request's seed is :func:`item_seed` of it and the item id).
        n_frames: output frames.
        fps: output frame rate, frames per second.
        model: the generator's name, kept in ``extra["model"]``.

    Returns:
        :class:`GenerationRequest` with ``prompt`` and ``extra`` (``first_frame``,
        ``last_frame``, ``model``).
    """
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

    if source not in KEYFRAME_SOURCES:
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


# --------------------------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------------------------
def place_pipeline(pipe: Any, device: str, offload: str) -> None:
    """Move a diffusers pipeline to ``device`` or enable CPU offload onto it.

    Call after any module swap (the warped ropes): offload hooks wrap the modules present.

    Args:
        pipe: a diffusers pipeline.
        device: torch device (``"cuda"``, ``"cuda:1"``, ``"cpu"``).
        offload: ``"none"`` (``pipe.to(device)``), ``"model"`` (``enable_model_cpu_offload``:
            one component on the device at a time) or ``"sequential"``
            (``enable_sequential_cpu_offload``: least memory, slowest).

    Raises:
        GeneratorError: on another ``offload``.
    """
    if offload not in OFFLOAD:
        raise GeneratorError(f"unknown offload {offload!r}; choose one of {OFFLOAD}")
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)


def load_wan_pipeline(
    path: str,
    mode: str,
    dtype: str,
    vae_dtype: str,
    allow_download: bool,
    cache_dir: str | None,
) -> Any:
    """Load a Wan diffusers checkpoint (already resolved, :func:`resolve_checkpoint`).

    The VAE is loaded on its own in ``vae_dtype`` (float32 recommended for Wan), the rest in
    ``dtype``.

    Args:
        path: snapshot directory (or repo id when downloads are allowed).
        mode: ``"t2v"`` (``WanPipeline``) or ``"flf"`` / ``"i2v"``
            (``WanImageToVideoPipeline``).
        dtype: transformer / text-encoder dtype name (:func:`torch_dtype`).
        vae_dtype: VAE dtype name.
        allow_download: let ``from_pretrained`` download.
        cache_dir: HF cache, or ``None`` for the default.

    Returns:
        The pipeline, on CPU.

    Raises:
        GeneratorError: on an unknown dtype name; diffusers' errors on a broken checkpoint.
    """
    import diffusers

    cls = diffusers.WanPipeline if mode == "t2v" else diffusers.WanImageToVideoPipeline
    common = {"local_files_only": not allow_download, "cache_dir": cache_dir}
    vae = diffusers.AutoencoderKLWan.from_pretrained(
        path, subfolder="vae", dtype=torch_dtype(vae_dtype), **common
    )
    return cls.from_pretrained(path, vae=vae, dtype=torch_dtype(dtype), **common)


class WanT2IRenderer:
    """Keyframe images from a Wan text-to-video checkpoint run at ``num_frames=1``.

    Used by the first-last-frame modes of every DiT generator to turn the suite's
    ``first_frame`` / ``last_frame`` descriptions into images (``keyframes: t2i``,
    :func:`attach_keyframes`). Loaded on first call; :meth:`close` frees it.

    Args:
        model_id: T2V checkpoint (default the TI2V-5B, whose T2V path renders single frames) or
            ``"tiny"`` for the tiny random pipeline.
        height: pixels.
        width: pixels.
        steps: denoising steps.
        guidance_scale: CFG scale.
        device: torch device.
        dtype: transformer dtype name.
        offload: ``none``, ``model`` or ``sequential``.
        allow_download: let ``from_pretrained`` download.
        cache_dir: HF cache.
        negative_prompt: negative prompt.

    Raises:
        MissingCheckpointError: the checkpoint is not cached and downloads are off (at
            construction, before any work).
    """

    def __init__(
        self,
        model_id: str = "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        height: int = 480,
        width: int = 480,
        steps: int = 30,
        guidance_scale: float = 4.0,
        device: str = "cuda",
        dtype: str = "bfloat16",
        offload: str = "none",
        allow_download: bool = False,
        cache_dir: str | None = None,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
    ):
        self.model_id, self.height, self.width = model_id, int(height), int(width)
        self.steps, self.guidance_scale = int(steps), float(guidance_scale)
        self.device, self.dtype, self.offload = device, dtype, offload
        self.allow_download, self.cache_dir = allow_download, cache_dir
        self.negative_prompt = negative_prompt
        self._pipe = None
        if model_id != "tiny":
            self._path = resolve_checkpoint(model_id, allow_download, cache_dir)

    def __call__(self, text: str, seed: int) -> np.ndarray:
        """Render ``text`` as one image.

        Args:
            text: the description.
            seed: generation seed (CPU ``torch.Generator``).

        Returns:
            ``(height, width, 3)`` uint8.
        """
        import torch

        if self._pipe is None:
            if self.model_id == "tiny":
                from spf_bench.generators.tiny import build_tiny_wan22_pipeline

                self._pipe = build_tiny_wan22_pipeline("t2v", seed=101)
            else:
                self._pipe = load_wan_pipeline(
                    self._path, "t2v", self.dtype, "float32", self.allow_download, self.cache_dir
                )
                place_pipeline(self._pipe, self.device, self.offload)
            self._pipe.set_progress_bar_config(disable=True)
        out = self._pipe(
            prompt=text,
            negative_prompt=self.negative_prompt,
            height=self.height,
            width=self.width,
            num_frames=1,
            num_inference_steps=self.steps,
            guidance_scale=self.guidance_scale,
            generator=torch.Generator("cpu").manual_seed(int(seed)),
            output_type="np",
        )
        return frames_to_uint8(out.frames)[0]

    def close(self) -> None:
        """Free the pipeline (and GPU memory)."""
        self._pipe = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover
            pass
