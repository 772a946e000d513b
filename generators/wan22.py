"""Wan2.2 through diffusers, with the warped temporal RoPE installed (paper Sec. 4, "ReTime").

Variants (``conf/model/*.yaml``):

- ``wan22``: Wan2.2 T2V-A14B (``Wan-AI/Wan2.2-T2V-A14B-Diffusers``, ``WanPipeline``); two experts,
  ``transformer`` (high noise, ``t >= boundary_ratio * 1000``) and ``transformer_2`` (low noise),
  boundary from the checkpoint's ``model_index.json``.
- ``wan22_flf``: Wan2.2 I2V-A14B (``Wan-AI/Wan2.2-I2V-A14B-Diffusers``) in first-last-frame mode
  (``WanImageToVideoPipeline(image=..., last_image=...)``), the paper's morph setting: 480x480,
  81 frames at 16 fps, 20 steps, CFG 4, shift 8.
- ``wan22_5b``: Wan2.2 TI2V-5B (one transformer, ``expand_timesteps``); text-to-video or first-frame
  image-to-video. First-last-frame is refused: diffusers silently ignores ``last_image`` there.
- ``tiny: true``: the same code on a tiny random pipeline (:mod:`generators.tiny`), CPU.

Both experts' ``rope`` modules are replaced by
:class:`generators.warped_rope.WarpedWanRotaryPosEmbed` right after loading (before offload /
compile) and stay installed: ``request.positions = None`` (iteration 0 of the ReTime loop) runs
the same warped code with zero displacement, which is the stock model bit for bit.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np

from generators.base import GeneratedVideo, GenerationRequest, GeneratorError
from generators.common import (
    attach_keyframes,
    base_request,
    check_frame_rules,
    check_request,
    frames_to_uint8,
    load_prompt_suite,
    read_model_config,
    resolve_checkpoint,
    select_items,
    torch_dtype,
)
from generators.retime import G_MODES
from generators.warped_rope import (
    TemporalWarp,
    frames_to_latent_positions,
    install_wan_warp,
    max_extra_rotation,
    wan_band_count,
    wan_temporal_frequencies,
)

__all__ = ["DEFAULT_NEGATIVE_PROMPT", "Wan22Generator", "WanT2IRenderer"]

DEFAULT_NEGATIVE_PROMPT = (
    "blurry, low quality, distorted, deformed, static frame, flicker, jitter, watermark, text, "
    "abrupt cut, scene change, camera shake"
)
MODES = ("t2v", "flf", "i2v")
OFFLOAD = ("none", "model", "sequential")


def _load_wan_pipeline(
    model_id: str,
    mode: str,
    dtype: str,
    vae_dtype: str,
    allow_download: bool,
    cache_dir: str | None,
) -> Any:
    """Load a Wan diffusers checkpoint (already resolved) for ``mode``."""
    import diffusers

    cls = diffusers.WanPipeline if mode == "t2v" else diffusers.WanImageToVideoPipeline
    common = {"local_files_only": not allow_download, "cache_dir": cache_dir}
    vae = diffusers.AutoencoderKLWan.from_pretrained(
        model_id, subfolder="vae", dtype=torch_dtype(vae_dtype), **common
    )
    return cls.from_pretrained(model_id, vae=vae, dtype=torch_dtype(dtype), **common)


def _place(pipe: Any, device: str, offload: str) -> None:
    """Move a pipeline to ``device`` or enable CPU offload (after the warp is installed)."""
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)


class WanT2IRenderer:
    """Keyframe images from a Wan text-to-video checkpoint run at ``num_frames=1``.

    Used by first-last-frame modes to turn the suite's ``first_frame`` / ``last_frame``
    descriptions into images (``keyframes: t2i``). Loaded on first call; :meth:`close` frees it.

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
        self.allow_download, self.cache_dir, self.negative_prompt = (
            allow_download,
            cache_dir,
            negative_prompt,
        )
        self._pipe = None
        if model_id != "tiny":
            self._path = resolve_checkpoint(model_id, allow_download, cache_dir)

    def __call__(self, text: str, seed: int) -> np.ndarray:
        """Render ``text`` as one ``(H, W, 3)`` uint8 image with ``seed``."""
        import torch

        if self._pipe is None:
            if self.model_id == "tiny":
                from generators.tiny import build_tiny_wan22_pipeline

                self._pipe = build_tiny_wan22_pipeline("t2v", seed=101)
            else:
                self._pipe = _load_wan_pipeline(
                    self._path, "t2v", self.dtype, "float32", self.allow_download, self.cache_dir
                )
                _place(self._pipe, self.device, self.offload)
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


def prompt_suite_items(
    gen: Any,
    n_videos: int,
    seed: int,
    *,
    guidance_scale: float = 4.0,
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
) -> list[GenerationRequest]:
    """A prompt-suite generator's share of ``n_videos`` items, keyframes attached.

    Shared by :class:`Wan22Generator` and :class:`generators.ltx2.LTX2Generator`: items are
    chosen from ``gen.prompts`` with ``seed`` and the generator's shard; ``t2v`` requests are
    returned as they are; first-last-frame and i2v requests get ``first_image`` (and
    ``last_image``) from ``gen.keyframes`` (``t2i`` renders them with :class:`WanT2IRenderer`
    at ``guidance_scale`` / ``negative_prompt``).

    Raises:
        GeneratorError: if the suite has fewer than ``n_videos`` items or keyframes fail.
    """
    chosen = select_items(
        load_prompt_suite(gen.prompts), n_videos, seed, gen.shard_index, gen.num_shards
    )
    reqs = [base_request(it, seed, gen.n_frames, gen.fps, gen.name) for it in chosen]
    if gen.mode == "t2v":
        return reqs
    render = None
    if gen.keyframes == "t2i":
        render = WanT2IRenderer(
            "tiny" if gen.tiny else gen.keyframe_model_id,
            gen.height,
            gen.width,
            gen.keyframe_steps,
            guidance_scale,
            gen.device,
            gen.dtype,
            gen.offload,
            gen.allow_download,
            gen.cache_dir,
            negative_prompt,
        )
    try:
        return attach_keyframes(
            reqs,
            gen.keyframes,
            gen.height,
            gen.width,
            gen.keyframe_dir,
            render,
            need_last=gen.mode == "flf",
        )
    finally:
        if render is not None:
            render.close()


class Wan22Generator:
    """Wan2.2 generator honouring per-band time positions through the warped temporal RoPE.

    Implements :class:`generators.base.Generator`. ``bands`` is the experts' temporal band count
    (22 for head dim 128; 8 for the tiny model); :meth:`generate` takes ``request.positions`` of
    shape ``(bands, n_frames)`` (or ``(n_frames,)``) in output frame units, maps them to latent
    frames (:func:`generators.warped_rope.frames_to_latent_positions`) and rotates band ``b`` of
    each call to ``t + g(s) (P_b - t)``.

    Args:
        model_id: diffusers checkpoint repo id or local folder.
        mode: ``"t2v"``, ``"flf"`` (first-last-frame; I2V-A14B) or ``"i2v"`` (first frame only).
        height: output height, pixels (multiple of 16; 32 for TI2V-5B).
        width: output width, pixels.
        n_frames: output frames, ``4n + 1``.
        fps: output frame rate (Wan2.2 A14B: 16).
        steps: denoising steps.
        guidance_scale: CFG scale (high-noise expert).
        guidance_scale_2: CFG scale of the low-noise expert (default: ``guidance_scale``).
        shift: flow shift of the scheduler; ``None`` keeps the checkpoint's.
        boundary_ratio: expert switch as a fraction of 1000 timesteps; ``None`` keeps the
            checkpoint's (T2V-A14B 0.875, I2V-A14B 0.9).
        negative_prompt: negative prompt.
        max_sequence_length: text tokens.
        g_mode: timestep modulation of the warp (:data:`generators.retime.G_MODES`).
        dtype: transformer / text-encoder dtype name.
        vae_dtype: VAE dtype name (float32 recommended for Wan).
        device: torch device (``"cuda"``, ``"cpu"``).
        offload: ``"none"``, ``"model"`` (``enable_model_cpu_offload``) or ``"sequential"``.
        allow_download: let ``from_pretrained`` download a missing checkpoint; otherwise a missing
            checkpoint is a :class:`GeneratorError` at construction.
        cache_dir: HF cache to use instead of ``HF_HUB_CACHE``.
        tiny: build the tiny random pipeline instead of loading ``model_id``.
        tiny_seed: weight seed of the tiny pipeline.
        prompts: prompt-suite YAML (default ``conf/prompts/transformations.yaml``).
        shard_index: this shard of the selected items.
        num_shards: number of shards.
        keyframes: first-last-frame keyframe source: ``"t2i"``, ``"dir"`` or ``"procedural"``
            (see :func:`generators.common.attach_keyframes`).
        keyframe_dir: keyframe PNG folder (read for ``dir``, cache for ``t2i``).
        keyframe_model_id: T2V checkpoint rendering keyframes for ``t2i`` (``"tiny"`` allowed).
        keyframe_steps: steps of the keyframe renderer.
        name: name used in records (default matches the config: ``wan22``, ``wan22_flf``,
            ``wan22_5b``, ``wan22_tiny``, ``wan22_flf_tiny``; ``_i2v`` for first-frame mode).

    Raises:
        GeneratorError: on an invalid mode / frame rule / offload option, first-last-frame with
            TI2V-5B, or a checkpoint missing from the HF cache (naming the repo id, the cache and
            the ``hf download`` command).
    """

    honours_positions = True

    def __init__(
        self,
        model_id: str = "Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        mode: str = "t2v",
        height: int = 480,
        width: int = 832,
        n_frames: int = 81,
        fps: float = 16.0,
        steps: int = 40,
        guidance_scale: float = 4.0,
        guidance_scale_2: float | None = None,
        shift: float | None = None,
        boundary_ratio: float | None = None,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        max_sequence_length: int = 512,
        g_mode: str = "exp_up",
        dtype: str = "bfloat16",
        vae_dtype: str = "float32",
        device: str = "cuda",
        offload: str = "none",
        allow_download: bool = False,
        cache_dir: str | None = None,
        tiny: bool = False,
        tiny_seed: int = 0,
        prompts: str | None = None,
        shard_index: int = 0,
        num_shards: int = 1,
        keyframes: str = "t2i",
        keyframe_dir: str | None = None,
        keyframe_model_id: str = "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        keyframe_steps: int = 30,
        name: str | None = None,
    ):
        if mode not in MODES:
            raise GeneratorError(f"unknown Wan mode {mode!r}; choose one of {MODES}")
        if offload not in OFFLOAD:
            raise GeneratorError(f"unknown offload {offload!r}; choose one of {OFFLOAD}")
        if g_mode not in G_MODES:
            raise GeneratorError(f"unknown g_mode {g_mode!r}; choose one of {G_MODES}")
        if mode == "flf" and not tiny and "ti2v-5b" in model_id.lower():
            raise GeneratorError(
                f"{model_id}: first-last-frame is not supported by Wan2.2 TI2V-5B in diffusers "
                "(WanImageToVideoPipeline silently ignores last_image when expand_timesteps is "
                "set); "
                "use Wan-AI/Wan2.2-I2V-A14B-Diffusers (model=wan22_flf) or mode=i2v"
            )
        self.model_id, self.mode, self.tiny = model_id, mode, bool(tiny)
        self.name = name or _default_name(model_id, mode, bool(tiny))
        self.height, self.width, self.n_frames, self.fps = (
            int(height),
            int(width),
            int(n_frames),
            float(fps),
        )
        self.steps, self.guidance_scale, self.guidance_scale_2 = (
            int(steps),
            float(guidance_scale),
            guidance_scale_2,
        )
        self.shift, self.boundary_ratio = shift, boundary_ratio
        self.negative_prompt, self.max_sequence_length = negative_prompt, int(max_sequence_length)
        self.g_mode, self.dtype, self.vae_dtype, self.device, self.offload = (
            g_mode,
            dtype,
            vae_dtype,
            device,
            offload,
        )
        self.allow_download, self.cache_dir = bool(allow_download), cache_dir
        self.tiny_seed = int(tiny_seed)
        self.prompts, self.shard_index, self.num_shards = prompts, int(shard_index), int(num_shards)
        self.keyframes, self.keyframe_dir = keyframes, keyframe_dir
        self.keyframe_model_id, self.keyframe_steps = keyframe_model_id, int(keyframe_steps)
        torch_dtype(dtype), torch_dtype(vae_dtype)  # validate names early

        if self.tiny:
            from generators.tiny import TINY_WAN

            self._path = None
            self.head_dim = TINY_WAN["head_dim"]
            self.expand_timesteps = False
            temporal, spatial = 4, 16
        else:
            self._path = resolve_checkpoint(model_id, self.allow_download, cache_dir)
            if os.path.isdir(self._path):
                tcfg = read_model_config(self._path, "transformer")
                vcfg = read_model_config(self._path, "vae")
                index = _model_index(self._path)
            else:  # allow_download and not cached yet: published Wan2.2 values
                tcfg, vcfg = {}, {}
                index = {"expand_timesteps": "ti2v-5b" in model_id.lower()}
            self.head_dim = int(tcfg.get("attention_head_dim", 128))
            self.expand_timesteps = bool(index.get("expand_timesteps", False))
            patch = tcfg.get("patch_size", [1, 2, 2])
            temporal = int(vcfg.get("scale_factor_temporal", 4))
            spatial = int(
                vcfg.get("scale_factor_spatial", 16 if self.expand_timesteps else 8)
            ) * int(patch[1])
            if self.expand_timesteps and mode == "flf":
                raise GeneratorError(
                    f"{model_id} is a TI2V-5B layout (expand_timesteps): diffusers ignores "
                    "last_image, so "
                    "first-last-frame is refused; use Wan-AI/Wan2.2-I2V-A14B-Diffusers"
                )
        self.temporal_factor, self.spatial_multiple = temporal, spatial
        if mode != "t2v" and keyframes == "t2i" and not self.tiny and keyframe_model_id != "tiny":
            resolve_checkpoint(keyframe_model_id, self.allow_download, cache_dir)  # fail early
        check_frame_rules(self.n_frames, self.height, self.width, temporal, spatial, self.name)
        self.bands = wan_band_count(self.head_dim)
        self.frequencies = wan_temporal_frequencies(self.head_dim)
        self.warp = TemporalWarp(self.bands, g_mode)
        self._pipe: Any = None
        self.experts: list[str] = []

    # -- pipeline -------------------------------------------------------------------------
    @property
    def pipe(self) -> Any:
        """The diffusers pipeline with the warp installed (loaded on first use)."""
        if self._pipe is None:
            self._pipe = self._build()
        return self._pipe

    def _build(self) -> Any:
        if self.tiny:
            from generators.tiny import build_tiny_wan22_pipeline

            pipe = build_tiny_wan22_pipeline(self.mode, seed=self.tiny_seed)
        else:
            pipe = _load_wan_pipeline(
                self._path,
                self.mode,
                self.dtype,
                self.vae_dtype,
                self.allow_download,
                self.cache_dir,
            )
        if self.mode == "flf" and getattr(pipe.config, "expand_timesteps", False):
            raise GeneratorError(
                f"{self.model_id}: expand_timesteps layout ignores last_image; FLF refused"
            )
        if self.boundary_ratio is not None:
            pipe.register_to_config(boundary_ratio=float(self.boundary_ratio))
        if self.shift is not None:
            cfg = dict(pipe.scheduler.config)
            key = "flow_shift" if "flow_shift" in cfg else "shift" if "shift" in cfg else None
            if key is None:
                raise GeneratorError(
                    f"scheduler {type(pipe.scheduler).__name__} has no flow shift to set"
                )
            pipe.scheduler = type(pipe.scheduler).from_config(cfg, **{key: float(self.shift)})
        # Install before any offloading / compilation, and keep installed.
        self.experts = install_wan_warp(pipe, self.warp, pin_endpoints=self.mode == "flf")
        if self.tiny:
            pipe.to(self.device)
        else:
            _place(pipe, self.device, self.offload)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    # -- protocol -------------------------------------------------------------------------
    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """This shard's share of ``n_videos`` prompt-suite items chosen with ``seed``.

        First-last-frame (and i2v) requests carry their keyframe images (``first_image``,
        ``last_image``, uint8 ``(H, W, 3)``) from the configured keyframe source.

        Raises:
            GeneratorError: if the suite has fewer than ``n_videos`` items or keyframes fail.
        """
        return prompt_suite_items(
            self,
            n_videos,
            seed,
            guidance_scale=self.guidance_scale,
            negative_prompt=self.negative_prompt,
        )

    def check_request(self, request: GenerationRequest) -> None:
        """Validate a request (:func:`generators.common.check_request`).

        Raises:
            GeneratorError: on a bad frame count, positions shape, missing prompt or keyframes.
        """
        check_request(
            request,
            name=self.name,
            mode=self.mode,
            height=self.height,
            width=self.width,
            temporal_factor=self.temporal_factor,
            spatial_multiple=self.spatial_multiple,
            bands=self.bands,
        )

    def pipeline_kwargs(
        self, request: GenerationRequest, output_type: str = "np"
    ) -> dict[str, Any]:
        """The diffusers call arguments for ``request`` (seeded generator included).

        Args:
            request: the request.
            output_type: diffusers ``output_type`` (``"np"``: frames in [0, 1]; ``"latent"``).

        Returns:
            Keyword arguments for ``WanPipeline`` / ``WanImageToVideoPipeline.__call__``.
        """
        import torch
        from PIL import Image

        kwargs: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": self.negative_prompt,
            "height": self.height,
            "width": self.width,
            "num_frames": request.n_frames,
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "generator": torch.Generator("cpu").manual_seed(int(request.seed)),
            "output_type": output_type,
            "max_sequence_length": self.max_sequence_length,
        }
        if self.guidance_scale_2 is not None and self._boundary() is not None:
            kwargs["guidance_scale_2"] = float(self.guidance_scale_2)
        if self.mode in ("flf", "i2v"):
            kwargs["image"] = Image.fromarray(np.asarray(request.first_image, dtype=np.uint8))
        if self.mode == "flf":
            kwargs["last_image"] = Image.fromarray(np.asarray(request.last_image, dtype=np.uint8))
        return kwargs

    def _boundary(self) -> float | None:
        return getattr(self.pipe.config, "boundary_ratio", None)

    def run_pipeline(self, request: GenerationRequest, output_type: str = "np") -> Any:
        """Run the pipeline for ``request`` with its positions installed in the warp.

        Args:
            request: the request (``positions`` ``None`` = stock grid, same code path).
            output_type: diffusers ``output_type``.

        Returns:
            The pipeline's ``frames``: ``(1, T, H, W, 3)`` float in [0, 1] for ``"np"``, latents
            ``(1, C, L, h, w)`` for ``"latent"``.

        Raises:
            GeneratorError: if the request is invalid.
        """
        self.check_request(request)
        pipe = self.pipe
        self.warp.set_positions(request.positions, request.n_frames)
        self.warp.reset_log()
        return pipe(**self.pipeline_kwargs(request, output_type)).frames

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Render ``request`` at ``request.positions`` (stock grid when ``None``).

        Returns:
            :class:`GeneratedVideo` with uint8 frames ``(T, H, W, 3)`` and metadata including the
            warp diagnostic ``warp_max_rotation_rad`` (per band, band 0 highest frequency).

        Raises:
            GeneratorError: if the request cannot be honoured.
        """
        t0 = time.perf_counter()
        frames = frames_to_uint8(self.run_pipeline(request, "np"))
        meta = self.describe(request)
        meta["elapsed_s"] = round(time.perf_counter() - t0, 3)
        return GeneratedVideo(frames=frames, fps=request.fps, metadata=meta)

    # -- diagnostics ----------------------------------------------------------------------
    def latent_positions(self, request: GenerationRequest) -> np.ndarray:
        """Per-band latent positions of ``request``, ``(bands, L)`` float64 latent frames."""
        pos = request.positions
        if pos is None:
            pos = np.arange(request.n_frames, dtype=np.float64)
        pos = np.broadcast_to(np.asarray(pos, np.float64), (self.bands, request.n_frames))
        return frames_to_latent_positions(
            pos, self.temporal_factor, pin_endpoints=self.mode == "flf"
        )

    def describe(self, request: GenerationRequest) -> dict[str, Any]:
        """JSON-serialisable metadata of the last generation of ``request``."""
        q = self.latent_positions(request)
        disp = q - np.arange(q.shape[1])[None, :]
        calls = self.warp.calls
        pipe = self._pipe
        return {
            "generator": self.name,
            "model_id": "tiny-random-wan2.2" if self.tiny else self.model_id,
            "mode": self.mode,
            "item_id": request.item_id,
            "seed": int(request.seed),
            "prompt": request.prompt,
            "negative_prompt": self.negative_prompt,
            "height": self.height,
            "width": self.width,
            "n_frames": int(request.n_frames),
            "fps": float(request.fps),
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "guidance_scale_2": self.guidance_scale_2,
            "shift": self.shift,
            "boundary_ratio": None
            if pipe is None
            else getattr(pipe.config, "boundary_ratio", None),
            "dtype": self.dtype,
            "device": self.device,
            "offload": self.offload,
            "g_mode": self.g_mode,
            "bands": self.bands,
            "warped": request.positions is not None,
            "experts_warped": list(self.experts),
            "warp_max_shift_latent": np.max(np.abs(disp), axis=1).round(6).tolist(),
            "warp_max_rotation_rad": max_extra_rotation(disp, self.frequencies).round(6).tolist(),
            "warp_calls": {e: sum(c["label"] == e for c in calls) for e in self.experts},
            "warp_schedule": [[c["label"], round(c["s"], 6), round(c["g"], 6)] for c in calls],
        }


def _default_name(model_id: str, mode: str, tiny: bool) -> str:
    """Record name matching the ``conf/model`` file: wan22, wan22_flf, wan22_5b, ..._tiny."""
    base = "wan22_5b" if "ti2v-5b" in model_id.lower() and not tiny else "wan22"
    base += {"t2v": "", "flf": "_flf", "i2v": "_i2v"}[mode]
    return base + ("_tiny" if tiny else "")


def _model_index(path: str) -> dict[str, Any]:
    with open(os.path.join(path, "model_index.json")) as fh:
        return json.load(fh)
