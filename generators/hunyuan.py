"""HunyuanVideo through diffusers, with the warped temporal RoPE (docs/method.md, Sec. 4).

The third video DiT family of spf-bench, written the way docs/extending.md ("A video DiT with
temporal RoPE") tells a user to add one: a :class:`~spf_bench.generators.dit.DiTGenerator`
subclass with its layout, loader and call arguments, plus one small rope adapter.

- ``hunyuan_video``: ``hunyuanvideo-community/HunyuanVideo`` (``HunyuanVideoPipeline``,
  ``HunyuanVideoTransformer3DModel``), text-to-video; 720x1280 (or 544x960), ``4n + 1``
  frames at 24 fps, embedded (distilled) guidance 6.0, 50 steps.
- ``tiny: true``: the same code on a tiny random pipeline built in memory
  (:func:`build_tiny_hunyuan_video_pipeline`), CPU.

**The rope.** ``HunyuanVideoRotaryPosEmbed`` computes, for every token of a latent grid
``(T, H, W)``, ``cos/sin`` of ``position * w`` for three axes with
``diffusers.models.embeddings.get_1d_rotary_pos_embed`` (float32, ``theta = 256``, each
frequency repeated twice) and concatenates them ``[t | h | w]``: ``rope_axes_dim[0]`` temporal
channels, so ``B = rope_axes_dim[0] / 2`` temporal bands (8 for the released model's (16, 56,
56)), band ``b`` at ``w_b = theta^(-2b / rope_axes_dim[0])`` radians per latent frame, band 0 the
highest. The VAE is causal with temporal compression 4, as Wan's, so output frames map to latent
frames with :func:`~spf_bench.generators.warped_rope.frames_to_latent_positions`.
:class:`WarpedHunyuanVideoRotaryPosEmbed` (the adapter: a
:class:`~spf_bench.generators.warped_rope.LatentRopeAdapter` on the stock class) calls the stock
forward and overwrites the temporal channels with ``cos/sin(q_b(t) * w_b)``, computed in float32
on the full token grid with the stock arithmetic, so a zero warp is the stock output bit for bit.

Importing this module imports neither torch nor diffusers (they come with the pipeline).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Literal

import numpy as np

from spf_bench.generators.base import GenerationRequest, GeneratorError
from spf_bench.generators.common import (
    DEFAULT_NEGATIVE_PROMPT,
    DtypeName,
    Offload,
    check_dtype,
    frames_to_uint8,
    read_model_config,
    torch_dtype,
)
from spf_bench.generators.dit import DiTGenerator, DiTLayout
from spf_bench.generators.retime import GMode
from spf_bench.generators.tiny import char_tokenizer
from spf_bench.generators.warped_rope import (
    LatentRopeAdapter,
    TemporalWarp,
    frames_to_latent_positions,
)

__all__ = [
    "TINY_HUNYUAN",
    "HunyuanVideoGenerator",
    "build_tiny_hunyuan_video_pipeline",
    "hunyuan_band_count",
    "hunyuan_rope_class",
    "hunyuan_temporal_frequencies",
    "install_hunyuan_warp",
]

#: Tiny random HunyuanVideo: 2 heads x 32, rope axes (16, 8, 8) -> 8 temporal bands, one
#: double-stream and one single-stream block, patch (1, 2, 2), VAE x4 in time and x8 in space
#: (frames 4n+1, sides multiple of 16), Llama text model hidden 16, CLIP text model hidden 8.
TINY_HUNYUAN: dict[str, Any] = {
    "heads": 2,
    "head_dim": 32,
    "rope_axes_dim": (16, 8, 8),
    "rope_theta": 256.0,
    "latent_channels": 4,
    "text_dim": 16,
    "pooled_dim": 8,
    "max_sequence_length": 32,
    "temporal_factor": 4,
    "spatial_multiple": 16,
}

#: The prompt template of the tiny pipeline: the prompt alone (the released model wraps it in
#: a Llama chat template whose first 95 tokens are cropped; a character tokenizer cannot).
TINY_PROMPT_TEMPLATE: dict[str, Any] = {"template": "{}", "crop_start": 0}


# --------------------------------------------------------------------------------------------
# RoPE math
# --------------------------------------------------------------------------------------------


def hunyuan_band_count(rope_axes_dim: tuple[int, int, int] | list[int]) -> int:
    """Temporal RoPE bands of a HunyuanVideo transformer.

    Args:
        rope_axes_dim: the transformer's ``rope_axes_dim`` (channels per axis, ``(t, h, w)``).

    Returns:
        ``rope_axes_dim[0] // 2`` (8 for the released (16, 56, 56)).

    Raises:
        ValueError: if the temporal part is empty or odd.
    """
    t_dim = int(rope_axes_dim[0])
    if t_dim <= 0 or t_dim % 2:
        raise ValueError(f"rope_axes_dim {tuple(rope_axes_dim)} has no even temporal part")
    return t_dim // 2


def hunyuan_temporal_frequencies(
    rope_axes_dim: tuple[int, int, int] | list[int], theta: float = 256.0
) -> np.ndarray:
    """Angular rates ``w_b = theta^(-2b / t_dim)`` of the temporal bands, band 0 the highest.

    Args:
        rope_axes_dim: the transformer's ``rope_axes_dim``.
        theta: its ``rope_theta`` (256 for HunyuanVideo).

    Returns:
        ``np.ndarray`` of shape ``(B,)``, float64, radians per latent frame (the model computes
        them in float32: :func:`diffusers.models.embeddings.get_1d_rotary_pos_embed`).
    """
    t_dim = 2 * hunyuan_band_count(rope_axes_dim)
    return 1.0 / (float(theta) ** (np.arange(0, t_dim, 2, dtype=np.float64) / t_dim))


# --------------------------------------------------------------------------------------------
# The rope adapter
# --------------------------------------------------------------------------------------------


class _HunyuanRopeWarp(LatentRopeAdapter):
    """``HunyuanVideoRotaryPosEmbed`` with its temporal channels at warped positions.

    ``forward(hidden_states)`` returns the stock ``(freqs_cos, freqs_sin)``, each
    ``(T*H*W, head_dim)`` float32 with channels ``[t | h | w]``, whose first ``t_dim`` channels
    are recomputed as ``cos/sin(q_b(t) * w_b)`` (each band repeated twice) at the positions of
    :meth:`~spf_bench.generators.warped_rope.LatentRopeAdapter.latent_positions`. The class
    itself, ``WarpedHunyuanVideoRotaryPosEmbed``, is created on first use
    (:func:`hunyuan_rope_class`); build it with :meth:`from_stock`.
    """

    @classmethod
    def from_stock(cls, stock: Any, warp: TemporalWarp, temporal_factor: int = 4) -> Any:
        """Wrap a stock rope (copying its configuration; it holds no buffers).

        Args:
            stock: ``transformer.rope`` (a diffusers ``HunyuanVideoRotaryPosEmbed``).
            warp: shared warp state; ``warp.bands`` must be ``stock.rope_dim[0] // 2``.
            temporal_factor: VAE temporal compression (``pipe.vae_scale_factor_temporal``).

        Returns:
            The warped rope, attached to ``warp``.

        Raises:
            TypeError: ``stock`` is not a ``HunyuanVideoRotaryPosEmbed``.
            ValueError: it is already warped, or the band counts differ.
        """
        import torch
        from diffusers.models.transformers.transformer_hunyuan_video import (
            HunyuanVideoRotaryPosEmbed,
        )

        if not isinstance(stock, HunyuanVideoRotaryPosEmbed):
            raise TypeError(f"expected a HunyuanVideoRotaryPosEmbed, got {type(stock).__name__}")
        if isinstance(stock, LatentRopeAdapter):
            raise ValueError("rope is already warped")
        bands = hunyuan_band_count(stock.rope_dim)
        if warp.bands != bands:
            raise ValueError(f"warp has {warp.bands} bands, the rope {bands}")
        new = cls.__new__(cls)
        torch.nn.Module.__init__(new)
        for attr in ("patch_size", "patch_size_t", "rope_dim", "theta"):
            setattr(new, attr, getattr(stock, attr))
        new.bind(warp, temporal_factor)
        return new

    def forward(self, hidden_states: Any) -> tuple[Any, Any]:
        """Rotary tables of ``hidden_states`` ``(B, C, F, H, W)`` (latent frames).

        Returns:
            ``(freqs_cos, freqs_sin)``, each ``(F*H*W / patch, head_dim)`` float32, channels
            ``[t | h | w]``, the temporal ones at the warped positions.
        """
        import torch

        cos, sin = super().forward(hidden_states)  # type: ignore[misc]
        _, _, num_frames, height, width = hidden_states.shape
        ppf = num_frames // self.patch_size_t
        per_frame = (height // self.patch_size) * (width // self.patch_size)
        device = hidden_states.device
        q = torch.from_numpy(self.latent_positions(ppf).T.astype(np.float32))  # (L, B)
        q = q.to(device).repeat_interleave(per_frame, dim=0)  # (L*H*W, B), token order t-major
        t_dim = int(self.rope_dim[0])
        freqs = 1.0 / (
            self.theta ** (torch.arange(0, t_dim, 2, dtype=torch.float32, device=device) / t_dim)
        )
        angles = q * freqs[None, :]  # the stock torch.outer(pos, freqs), per band
        out = 2 * angles.shape[1]
        cos_t = angles.cos().repeat_interleave(2, dim=1, output_size=out).float()
        sin_t = angles.sin().repeat_interleave(2, dim=1, output_size=out).float()
        return (
            torch.cat([cos_t, cos[:, t_dim:]], dim=1),
            torch.cat([sin_t, sin[:, t_dim:]], dim=1),
        )


@functools.cache
def hunyuan_rope_class() -> type:
    """``WarpedHunyuanVideoRotaryPosEmbed``: :class:`_HunyuanRopeWarp` on diffusers'
    ``HunyuanVideoRotaryPosEmbed`` (created once, on first use: imports torch and diffusers).

    Returns:
        The class (a ``torch.nn.Module`` subclass).
    """
    from diffusers.models.transformers.transformer_hunyuan_video import (
        HunyuanVideoRotaryPosEmbed,
    )

    return type(
        "WarpedHunyuanVideoRotaryPosEmbed",
        (_HunyuanRopeWarp, HunyuanVideoRotaryPosEmbed),
        {
            "__module__": __name__,
            "__qualname__": "WarpedHunyuanVideoRotaryPosEmbed",
            "__doc__": _HunyuanRopeWarp.__doc__,
        },
    )


def install_hunyuan_warp(pipe: Any, warp: TemporalWarp) -> list[str]:
    """Swap the warped rope into ``pipe.transformer`` and hook its timestep.

    Call right after loading, before offload or ``torch.compile``; leave it installed
    (``positions=None`` is the stock model).

    Args:
        pipe: a diffusers ``HunyuanVideoPipeline``.
        warp: shared warp state (``bands`` = the transformer's temporal band count).

    Returns:
        ``["transformer"]``.

    Raises:
        ValueError: the pipeline has no transformer, or its rope is already warped.
    """
    model = getattr(pipe, "transformer", None)
    if model is None:
        raise ValueError("pipeline has no transformer to warp")
    k = int(getattr(pipe, "vae_scale_factor_temporal", 4))
    model.rope = hunyuan_rope_class().from_stock(model.rope, warp, k)
    model.register_forward_pre_hook(warp.pre_hook("transformer"), with_kwargs=True)
    return ["transformer"]


# --------------------------------------------------------------------------------------------
# The tiny pipeline
# --------------------------------------------------------------------------------------------


def build_tiny_hunyuan_video_pipeline(seed: int = 0) -> Any:
    """A tiny ``HunyuanVideoPipeline`` with random weights (:data:`TINY_HUNYUAN`), CPU, float32.

    Every component is the real diffusers / transformers class at a tiny size: Llama text
    model, CLIP text model, ``HunyuanVideoTransformer3DModel``, ``AutoencoderKLHunyuanVideo``
    and ``FlowMatchEulerDiscreteScheduler`` (shift 7, the released model's); the tokenizers are
    character-level (:func:`spf_bench.generators.tiny.char_tokenizer`). No download.

    Args:
        seed: weight seed (the same seed gives the same weights).

    Returns:
        The pipeline.
    """
    import torch
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    c = TINY_HUNYUAN
    tok, tok2 = char_tokenizer(c["max_sequence_length"]), char_tokenizer(77)
    ids = {"pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 3}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        text_encoder = LlamaModel(
            LlamaConfig(
                vocab_size=len(tok),
                hidden_size=c["text_dim"],
                intermediate_size=32,
                num_attention_heads=2,
                num_key_value_heads=2,
                num_hidden_layers=3,  # the pipeline reads the third-last hidden state
                **ids,
            )
        ).eval()
        text_encoder_2 = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tok2),
                hidden_size=c["pooled_dim"],
                intermediate_size=16,
                num_attention_heads=2,
                num_hidden_layers=1,
                max_position_embeddings=77,
                projection_dim=c["pooled_dim"],
                **ids,
            )
        ).eval()
        transformer = HunyuanVideoTransformer3DModel(
            in_channels=c["latent_channels"],
            out_channels=c["latent_channels"],
            num_attention_heads=c["heads"],
            attention_head_dim=c["head_dim"],
            num_layers=1,
            num_single_layers=1,
            num_refiner_layers=1,
            patch_size=2,
            patch_size_t=1,
            guidance_embeds=True,
            text_embed_dim=c["text_dim"],
            pooled_projection_dim=c["pooled_dim"],
            rope_theta=c["rope_theta"],
            rope_axes_dim=c["rope_axes_dim"],
        ).eval()
        vae = AutoencoderKLHunyuanVideo(
            latent_channels=c["latent_channels"],
            down_block_types=("HunyuanVideoDownBlock3D",) * 4,
            up_block_types=("HunyuanVideoUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=1,
            norm_num_groups=4,
            spatial_compression_ratio=8,
            temporal_compression_ratio=c["temporal_factor"],
        ).eval()
    return HunyuanVideoPipeline(
        text_encoder=text_encoder,
        tokenizer=tok,
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=text_encoder_2,
        tokenizer_2=tok2,
    )


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


class HunyuanVideoGenerator(DiTGenerator):
    """HunyuanVideo text-to-video honouring per-band time positions (warped temporal RoPE).

    A :class:`spf_bench.generators.dit.DiTGenerator` (the
    :class:`spf_bench.generators.base.Generator` protocol): ``bands`` = ``rope_axes_dim[0] / 2``
    (8, also for the tiny model); :meth:`generate` takes ``request.positions`` of shape
    ``(bands, n_frames)`` or ``(n_frames,)`` in output frame units and rotates band ``b`` of
    each denoising step at ``t + g(s) (P_b - t)`` (latent frames). :meth:`run_pipeline`
    returns the pipeline's ``frames``, ``(1, T, H, W, 3)`` float in [0, 1] for ``"np"``.

    Args:
        model_id: diffusers checkpoint repo id or local folder.
        mode: ``"t2v"`` only (the image-to-video checkpoint is another pipeline).
        height: output height, pixels (multiple of 16).
        width: output width, pixels (multiple of 16).
        n_frames: output frames, ``4n + 1``.
        fps: output frame rate, frames per second (24).
        steps: denoising steps.
        guidance_scale: embedded (distilled) guidance of the transformer.
        true_cfg_scale: classifier-free guidance with ``negative_prompt`` when > 1 (two
            transformer calls per step; 1 = off, the released model's default).
        shift: flow shift of the scheduler; ``None`` keeps the checkpoint's.
        negative_prompt: negative prompt (used when ``true_cfg_scale > 1``).
        max_sequence_length: Llama text tokens.
        g_mode: timestep modulation of the warp (:data:`spf_bench.generators.retime.G_MODES`).
        dtype: transformer / text-encoder dtype name.
        vae_dtype: VAE dtype name.
        device: torch device.
        offload: ``"none"``, ``"model"`` or ``"sequential"``.
        allow_download: let ``from_pretrained`` download a missing checkpoint; otherwise it is
            a :class:`~spf_bench.generators.common.MissingCheckpointError` at construction.
        cache_dir: HF cache to use instead of ``HF_HUB_CACHE``.
        tiny: build :func:`build_tiny_hunyuan_video_pipeline` instead of loading ``model_id``.
        tiny_seed: its weight seed.
        prompts: prompt-suite YAML (default ``conf/prompts/transformations.yaml``).
        name: name in records (default ``hunyuan_video`` / ``hunyuan_video_tiny``).

    Raises:
        GeneratorError: on an unknown mode, offload, g_mode or dtype, a broken frame rule, or a
            checkpoint missing from the HF cache with downloads off
            (:class:`~spf_bench.generators.common.MissingCheckpointError`, naming the repo id,
            the cache and the ``hf download`` command).
    """

    family = "hunyuan_video"
    label = "HunyuanVideo"
    tiny_model_id = "tiny-random-hunyuan-video"

    def __init__(
        self,
        model_id: str = "hunyuanvideo-community/HunyuanVideo",
        mode: Literal["t2v"] = "t2v",
        height: int = 544,
        width: int = 960,
        n_frames: int = 129,
        fps: float = 24.0,
        steps: int = 50,
        guidance_scale: float = 6.0,
        true_cfg_scale: float = 1.0,
        shift: float | None = None,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        max_sequence_length: int = 256,
        g_mode: GMode = "exp_up",
        dtype: DtypeName = "bfloat16",
        vae_dtype: DtypeName = "float16",
        device: str = "cuda",
        offload: Offload = "model",
        allow_download: bool = False,
        cache_dir: str | None = None,
        tiny: bool = False,
        tiny_seed: int = 0,
        prompts: str | None = None,
        name: str | None = None,
    ):
        self.true_cfg_scale, self.shift, self.vae_dtype = float(true_cfg_scale), shift, vae_dtype
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
            keyframes="procedural",
            keyframe_dir=None,
            keyframe_model_id="tiny",
            keyframe_steps=1,
            name=name,
        )

    # -- family hooks ---------------------------------------------------------------------
    def _check_options(self) -> None:
        if self.mode != "t2v":
            raise GeneratorError(
                f"{self.label}: mode {self.mode!r} is not supported; HunyuanVideoPipeline is "
                "text-to-video (mode=t2v)"
            )
        check_dtype(self.vae_dtype)

    def _layout(self) -> DiTLayout:
        if self.tiny:
            c = TINY_HUNYUAN
            rope_dim, theta = c["rope_axes_dim"], c["rope_theta"]
            temporal, spatial = c["temporal_factor"], c["spatial_multiple"]
        else:
            if os.path.isdir(self._path):
                tcfg = read_model_config(self._path, "transformer")
                vcfg = read_model_config(self._path, "vae")
            else:  # allow_download and not cached yet: the released model's values
                tcfg, vcfg = {}, {}
            rope_dim = tuple(tcfg.get("rope_axes_dim", (16, 56, 56)))
            theta = float(tcfg.get("rope_theta", 256.0))
            temporal = int(vcfg.get("temporal_compression_ratio", 4))
            spatial = int(vcfg.get("spatial_compression_ratio", 8)) * int(tcfg.get("patch_size", 2))
        return DiTLayout(
            temporal_factor=temporal,
            spatial_multiple=spatial,
            bands=hunyuan_band_count(rope_dim),
            frequencies=hunyuan_temporal_frequencies(rope_dim, theta),
        )

    def _load_pipeline(self) -> Any:
        if self.tiny:
            pipe = build_tiny_hunyuan_video_pipeline(self.tiny_seed)
        else:
            import diffusers

            common = {"local_files_only": not self.allow_download, "cache_dir": self.cache_dir}
            vae = diffusers.AutoencoderKLHunyuanVideo.from_pretrained(
                self._path, subfolder="vae", dtype=torch_dtype(self.vae_dtype), **common
            )
            pipe = diffusers.HunyuanVideoPipeline.from_pretrained(
                self._path, vae=vae, dtype=torch_dtype(self.dtype), **common
            )
            pipe.vae.enable_tiling()
        if self.shift is not None:
            cfg = dict(pipe.scheduler.config)
            pipe.scheduler = type(pipe.scheduler).from_config(cfg, shift=float(self.shift))
        return pipe

    def _install_warp(self, pipe: Any) -> list[str]:
        return install_hunyuan_warp(pipe, self.warp)

    def _unpack(self, output: Any) -> Any:
        return output.frames

    def _decode(self, output: Any) -> tuple[np.ndarray, None, None]:
        return frames_to_uint8(output), None, None

    def pipeline_kwargs(
        self, request: GenerationRequest, output_type: str = "np"
    ) -> dict[str, Any]:
        """The ``HunyuanVideoPipeline.__call__`` arguments for ``request``.

        Args:
            request: the request.
            output_type: diffusers ``output_type`` (``"np"`` or ``"latent"``).

        Returns:
            :meth:`base_kwargs` plus ``true_cfg_scale`` and, for the tiny model,
            :data:`TINY_PROMPT_TEMPLATE`.
        """
        kwargs = self.base_kwargs(request, output_type)
        kwargs["true_cfg_scale"] = self.true_cfg_scale
        if self.tiny:
            kwargs["prompt_template"] = TINY_PROMPT_TEMPLATE
        return kwargs

    def _describe_model(self, request: GenerationRequest) -> dict[str, Any]:
        return {"true_cfg_scale": self.true_cfg_scale, "shift": self.shift}

    def _describe_warp(self, request: GenerationRequest) -> dict[str, Any]:
        pos = request.positions
        if pos is None:
            pos = np.arange(request.n_frames, dtype=np.float64)
        rows = np.broadcast_to(np.asarray(pos, np.float64), (self.bands, request.n_frames))
        q = frames_to_latent_positions(rows, self.temporal_factor)
        disp = q - np.arange(q.shape[1])[None, :]  # latent frames
        return {
            "warp_max_shift_latent": np.max(np.abs(disp), axis=1).round(6).tolist(),
            "warp_max_rotation_rad": self.max_rotation(disp),
        }
