"""Wan2.2 through diffusers, with the warped temporal RoPE installed (docs/method.md, Sec. 4).

Variants (``conf/model/*.yaml``):

- ``wan22``: Wan2.2 T2V-A14B (``Wan-AI/Wan2.2-T2V-A14B-Diffusers``, ``WanPipeline``); two experts,
  ``transformer`` (high noise, ``t >= boundary_ratio * 1000``) and ``transformer_2`` (low noise),
  boundary from the checkpoint's ``model_index.json``.
- ``wan22_flf``: Wan2.2 I2V-A14B (``Wan-AI/Wan2.2-I2V-A14B-Diffusers``) in first-last-frame mode
  (``WanImageToVideoPipeline(image=..., last_image=...)``), the paper's morph setting: 480x480,
  81 frames at 16 fps, 20 steps, CFG 4, shift 8.
- ``wan22_5b``: Wan2.2 TI2V-5B (one transformer, ``expand_timesteps``); text-to-video or first-frame
  image-to-video. First-last-frame is refused: diffusers silently ignores ``last_image`` there.
- ``tiny: true``: the same code on a tiny random pipeline (:mod:`spf_bench.generators.tiny`), CPU.

Both experts' ``rope`` modules are replaced by
:class:`spf_bench.generators.warped_rope.WarpedWanRotaryPosEmbed` right after loading (before
offload / compile) and stay installed: ``request.positions = None`` (iteration 0 of the ReTime
loop) runs the same warped code with zero displacement, which is the stock model bit for bit.
Request checks, prompt-suite items, checkpoint resolution, seeding and output conversion are
those of :class:`spf_bench.generators.dit.DiTGenerator`. Importing this module imports neither
torch nor diffusers (they come with the pipeline).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from spf_bench.generators.base import GenerationRequest, GeneratorError
from spf_bench.generators.common import (
    DEFAULT_NEGATIVE_PROMPT,
    DtypeName,
    KeyframeSource,
    Offload,
    WanT2IRenderer,
    check_dtype,
    frames_to_uint8,
    load_wan_pipeline,
    read_model_config,
)
from spf_bench.generators.dit import DiTGenerator, DiTLayout, Mode
from spf_bench.generators.retime import GMode
from spf_bench.generators.warped_rope import (
    frames_to_latent_positions,
    install_wan_warp,
    wan_band_count,
    wan_temporal_frequencies,
)

__all__ = ["DEFAULT_NEGATIVE_PROMPT", "Wan22Generator", "WanT2IRenderer"]

_FLF_5B = (
    "first-last-frame is not supported by Wan2.2 TI2V-5B in diffusers (WanImageToVideoPipeline "
    "silently ignores last_image when expand_timesteps is set)"
)


class Wan22Generator(DiTGenerator):
    """Wan2.2 generator honouring per-band time positions through the warped temporal RoPE.

    A :class:`spf_bench.generators.dit.DiTGenerator` (the
    :class:`spf_bench.generators.base.Generator` protocol). ``bands`` is the experts' temporal
    band count (22 for head dim 128; 8 for the tiny model); :meth:`generate` takes
    ``request.positions`` of shape ``(bands, n_frames)`` (or ``(n_frames,)``) in output frame
    units, maps them to latent frames
    (:func:`spf_bench.generators.warped_rope.frames_to_latent_positions`; in first-last-frame
    mode both end latents keep their stock positions) and rotates band ``b`` of each call to
    ``t + g(s) (P_b - t)``. :meth:`run_pipeline` returns the pipeline's ``frames``:
    ``(1, T, H, W, 3)`` float in [0, 1] for ``"np"``, latents ``(1, C, L, h, w)`` for
    ``"latent"``.

    Args:
        model_id: diffusers checkpoint repo id or local folder.
        mode: ``"t2v"``, ``"flf"`` (first-last-frame; I2V-A14B) or ``"i2v"`` (first frame only).
            Every choice argument is a ``Literal`` (a bad value fails when Hydra composes).
        height: output height, pixels (multiple of 16; 32 for TI2V-5B).
        width: output width, pixels.
        n_frames: output frames, ``4n + 1``.
        fps: output frame rate, frames per second (Wan2.2 A14B: 16).
        steps: denoising steps.
        guidance_scale: CFG scale (high-noise expert).
        guidance_scale_2: CFG scale of the low-noise expert (default: ``guidance_scale``).
        shift: flow shift of the scheduler; ``None`` keeps the checkpoint's.
        boundary_ratio: expert switch as a fraction of 1000 timesteps; ``None`` keeps the
            checkpoint's (T2V-A14B 0.875, I2V-A14B 0.9).
        negative_prompt: negative prompt.
        max_sequence_length: text tokens.
        g_mode: timestep modulation of the warp (:data:`spf_bench.generators.retime.G_MODES`:
            ``none``, ``exp_up``, ``exp_down``, ``linear``, ``cosine``).
        dtype: transformer / text-encoder dtype name (``bfloat16``, ``bf16``, ``float16``,
            ``fp16``, ``float32``, ``fp32``).
        vae_dtype: VAE dtype name (float32 recommended for Wan).
        device: torch device (``"cuda"``, ``"cpu"``).
        offload: ``"none"``, ``"model"`` (``enable_model_cpu_offload``) or ``"sequential"``.
        allow_download: let ``from_pretrained`` download a missing checkpoint; otherwise a missing
            checkpoint is a :class:`~spf_bench.generators.common.MissingCheckpointError` at
            construction.
        cache_dir: HF cache to use instead of ``HF_HUB_CACHE``.
        tiny: build the tiny random pipeline instead of loading ``model_id``.
        tiny_seed: weight seed of the tiny pipeline.
        prompts: prompt-suite YAML (default ``conf/prompts/transformations.yaml``).
        keyframes: first-last-frame keyframe source: ``"t2i"``, ``"dir"`` or ``"procedural"``
            (see :func:`spf_bench.generators.common.attach_keyframes`).
        keyframe_dir: keyframe PNG folder (read for ``dir``, cache for ``t2i``).
        keyframe_model_id: T2V checkpoint rendering keyframes for ``t2i`` (``"tiny"`` allowed).
        keyframe_steps: steps of the keyframe renderer.
        name: name used in records (default matches the config: ``wan22``, ``wan22_flf``,
            ``wan22_5b``, ``wan22_tiny``, ``wan22_flf_tiny``; ``_i2v`` for first-frame mode).

    Raises:
        GeneratorError: on an invalid mode / frame rule / offload option / dtype,
            first-last-frame with TI2V-5B, or a checkpoint missing from the HF cache
            (:class:`~spf_bench.generators.common.MissingCheckpointError`, naming the repo id,
            the cache and the ``hf download`` command).
    """

    family = "wan22"
    label = "Wan"
    tiny_model_id = "tiny-random-wan2.2"

    def __init__(
        self,
        model_id: str = "Wan-AI/Wan2.2-T2V-A14B-Diffusers",
        mode: Mode = "t2v",
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
        g_mode: GMode = "exp_up",
        dtype: DtypeName = "bfloat16",
        vae_dtype: DtypeName = "float32",
        device: str = "cuda",
        offload: Offload = "none",
        allow_download: bool = False,
        cache_dir: str | None = None,
        tiny: bool = False,
        tiny_seed: int = 0,
        prompts: str | None = None,
        keyframes: KeyframeSource = "t2i",
        keyframe_dir: str | None = None,
        keyframe_model_id: str = "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        keyframe_steps: int = 30,
        name: str | None = None,
    ):
        self.guidance_scale_2 = guidance_scale_2
        self.shift, self.boundary_ratio = shift, boundary_ratio
        self.vae_dtype = vae_dtype
        super().__init__(
            model_id=model_id,
            mode=mode,
            height=height,
            width=width,
            n_frames=n_frames,
            fps=fps,
            steps=steps,
            guidance_scale=guidance_scale,
            negative_prompt=negative_prompt,
            max_sequence_length=max_sequence_length,
            g_mode=g_mode,
            dtype=dtype,
            device=device,
            offload=offload,
            allow_download=allow_download,
            cache_dir=cache_dir,
            tiny=tiny,
            tiny_seed=tiny_seed,
            prompts=prompts,
            keyframes=keyframes,
            keyframe_dir=keyframe_dir,
            keyframe_model_id=keyframe_model_id,
            keyframe_steps=keyframe_steps,
            name=name,
        )

    # -- family hooks ---------------------------------------------------------------------
    def _default_name(self) -> str:
        """``wan22`` (``wan22_5b`` for TI2V-5B) + ``_flf`` / ``_i2v`` + ``_tiny``."""
        name = super()._default_name()
        if "ti2v-5b" in self.model_id.lower() and not self.tiny:
            name = "wan22_5b" + name.removeprefix("wan22")
        return name

    def _check_options(self) -> None:
        if self.mode == "flf" and not self.tiny and "ti2v-5b" in self.model_id.lower():
            raise GeneratorError(
                f"{self.model_id}: {_FLF_5B}; use Wan-AI/Wan2.2-I2V-A14B-Diffusers "
                "(model=wan22_flf) or mode=i2v"
            )
        check_dtype(self.vae_dtype)

    def _layout(self) -> DiTLayout:
        if self.tiny:
            from spf_bench.generators.tiny import TINY_WAN

            self.head_dim = TINY_WAN["head_dim"]
            self.expand_timesteps = False
            temporal, spatial = TINY_WAN["temporal_factor"], TINY_WAN["spatial_multiple"]
        else:
            if os.path.isdir(self._path):
                tcfg = read_model_config(self._path, "transformer")
                vcfg = read_model_config(self._path, "vae")
                index = _model_index(self._path)
            else:  # allow_download and not cached yet: published Wan2.2 values
                tcfg, vcfg = {}, {}
                index = {"expand_timesteps": "ti2v-5b" in self.model_id.lower()}
            self.head_dim = int(tcfg.get("attention_head_dim", 128))
            self.expand_timesteps = bool(index.get("expand_timesteps", False))
            patch = tcfg.get("patch_size", [1, 2, 2])
            temporal = int(vcfg.get("scale_factor_temporal", 4))
            spatial = int(
                vcfg.get("scale_factor_spatial", 16 if self.expand_timesteps else 8)
            ) * int(patch[1])
            if self.expand_timesteps and self.mode == "flf":
                raise GeneratorError(
                    f"{self.model_id} is a TI2V-5B layout (expand_timesteps): diffusers ignores "
                    "last_image, so first-last-frame is refused; use "
                    "Wan-AI/Wan2.2-I2V-A14B-Diffusers"
                )
        return DiTLayout(
            temporal_factor=temporal,
            spatial_multiple=spatial,
            bands=wan_band_count(self.head_dim),
            frequencies=wan_temporal_frequencies(self.head_dim),
        )

    def _load_pipeline(self) -> Any:
        if self.tiny:
            from spf_bench.generators.tiny import build_tiny_wan22_pipeline

            pipe = build_tiny_wan22_pipeline(self.mode, seed=self.tiny_seed)
        else:
            pipe = load_wan_pipeline(
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
        return pipe

    def _install_warp(self, pipe: Any) -> list[str]:
        return install_wan_warp(pipe, self.warp, pin_endpoints=self.mode == "flf")

    def _unpack(self, output: Any) -> Any:
        return output.frames

    def _decode(self, output: Any) -> tuple[np.ndarray, None, None]:
        return frames_to_uint8(output), None, None

    # -- keyframes, call ------------------------------------------------------------------
    @property
    def keyframe_guidance_scale(self) -> float:
        """CFG scale of the ``t2i`` keyframe renderer: the generator's own."""
        return self.guidance_scale

    @property
    def keyframe_negative_prompt(self) -> str:
        """Negative prompt of the ``t2i`` keyframe renderer: the generator's own."""
        return self.negative_prompt

    @property
    def experts(self) -> list[str]:
        """Names of the transformers whose rope is warped (``transformer``, ``transformer_2``);
        empty until the pipeline is loaded."""
        return list(self.patched)

    def pipeline_kwargs(
        self, request: GenerationRequest, output_type: str = "np"
    ) -> dict[str, Any]:
        """The diffusers call arguments for ``request`` (seeded generator included).

        Args:
            request: the request.
            output_type: diffusers ``output_type`` (``"np"``: frames in [0, 1]; ``"latent"``).

        Returns:
            Keyword arguments for ``WanPipeline`` / ``WanImageToVideoPipeline.__call__``:
            :meth:`base_kwargs`, ``guidance_scale_2`` when set and the pipeline has two
            experts, the keyframes as PIL images (``image``; ``last_image`` for ``flf``).
        """
        from PIL import Image

        kwargs = self.base_kwargs(request, output_type)
        if self.guidance_scale_2 is not None and self._boundary() is not None:
            kwargs["guidance_scale_2"] = float(self.guidance_scale_2)
        if self.mode in ("flf", "i2v"):
            kwargs["image"] = Image.fromarray(np.asarray(request.first_image, dtype=np.uint8))
        if self.mode == "flf":
            kwargs["last_image"] = Image.fromarray(np.asarray(request.last_image, dtype=np.uint8))
        return kwargs

    def _boundary(self) -> float | None:
        return getattr(self.pipe.config, "boundary_ratio", None)

    # -- diagnostics ----------------------------------------------------------------------
    def latent_positions(self, request: GenerationRequest) -> np.ndarray:
        """Per-band latent positions of ``request``.

        Returns:
            ``(bands, L)`` float64, latent frames (``L = (n_frames - 1) / 4 + 1``).
        """
        pos = request.positions
        if pos is None:
            pos = np.arange(request.n_frames, dtype=np.float64)
        pos = np.broadcast_to(np.asarray(pos, np.float64), (self.bands, request.n_frames))
        return frames_to_latent_positions(
            pos, self.temporal_factor, pin_endpoints=self.mode == "flf"
        )

    def _describe_model(self, request: GenerationRequest) -> dict[str, Any]:
        pipe = self._pipe
        return {
            "guidance_scale_2": self.guidance_scale_2,
            "shift": self.shift,
            "boundary_ratio": None
            if pipe is None
            else getattr(pipe.config, "boundary_ratio", None),
        }

    def _describe_warp(self, request: GenerationRequest) -> dict[str, Any]:
        q = self.latent_positions(request)
        disp = q - np.arange(q.shape[1])[None, :]
        calls = self.warp.calls
        experts = self.experts
        return {
            "experts_warped": experts,
            "warp_max_shift_latent": np.max(np.abs(disp), axis=1).round(6).tolist(),
            "warp_max_rotation_rad": self.max_rotation(disp),
            "warp_calls": {e: sum(c["label"] == e for c in calls) for e in experts},
        }


def _model_index(path: str) -> dict[str, Any]:
    with open(os.path.join(path, "model_index.json")) as fh:
        return json.load(fh)
