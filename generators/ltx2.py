"""LTX-2 (joint video + audio) through diffusers, with the warped temporal RoPE installed.

``model=ltx2`` loads ``Lightricks/LTX-2`` as an ``LTX2ConditionPipeline`` (text-to-video when a
request has no keyframes; keyframes as ``LTX2VideoCondition``, whose ``index`` is a *latent*
index: 0 = first latent, -1 = last). LTX-2 positions are continuous (seconds), so the warp shifts
the time coordinate of each video token per band (:class:`generators.warped_rope.
WarpedLTX2RotaryPosEmbed`); the audio-video cross-attention times follow per ``av_cross``.
The generated audio comes back in :attr:`GeneratedVideo.audio` (``(channels, samples)`` float32)
with its sample rate, for the video writer to mux.

``tiny: true`` runs the same code on :func:`generators.tiny.build_tiny_ltx2_pipeline` (CPU).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from generators.base import GeneratedVideo, GenerationRequest, GeneratorError
from generators.common import (
    check_frame_rules,
    check_request,
    frames_to_uint8,
    read_model_config,
    resolve_checkpoint,
    torch_dtype,
)
from generators.retime import G_MODES
from generators.warped_rope import (
    AV_CROSS_MODES,
    TemporalWarp,
    install_ltx2_warp,
    ltx2_band_count,
    ltx2_temporal_frequencies,
    max_extra_rotation,
)

__all__ = ["LTX2_DEFAULT_NEGATIVE_PROMPT", "LTX2Generator"]

LTX2_DEFAULT_NEGATIVE_PROMPT = (
    "worst quality, inconsistent motion, blurry, jittery, distorted, static, abrupt cut, "
    "scene change"
)
MODES = ("t2v", "flf", "i2v")
OFFLOAD = ("none", "model", "sequential")


class LTX2Generator:
    """LTX-2 generator honouring per-band time positions; returns video and audio.

    Implements :class:`generators.base.Generator`. ``bands`` is the number of temporal
    frequencies of the video self-attention rope (``heads * head_dim // 6``: 682 for LTX-2, 8
    for the tiny model), band 0 the highest frequency (LTX's own index order reversed).

    Args:
        model_id: diffusers checkpoint (``"Lightricks/LTX-2"``) or a local folder.
        mode: ``"t2v"``, ``"flf"`` (keyframes at latent 0 and -1) or ``"i2v"`` (first keyframe).
        height: pixels, multiple of 32.
        width: pixels, multiple of 32.
        n_frames: output frames, ``8n + 1``.
        fps: frame rate, frames per second (also the rope's time scale).
        steps: denoising steps.
        guidance_scale: video CFG scale.
        audio_guidance_scale: audio CFG scale (``None``: pipeline default).
        stg_scale: spatio-temporal guidance scale (``None``: pipeline default).
        modality_scale: modality-isolation guidance scale (``None``: pipeline default).
        guidance_rescale: CFG rescale (``None``: pipeline default).
        stg_blocks: transformer blocks for STG (``None``: pipeline default ``[28]``).
        use_cross_timestep: ``False`` for LTX-2.0 checkpoints, ``True`` for 2.3+.
        av_cross: audio-video cross-attention warp, one of ``video``, ``both``, ``none``
            (:func:`generators.warped_rope.install_ltx2_warp`).
        negative_prompt: negative prompt.
        max_sequence_length: text tokens.
        image_crf: H.264 CRF for keyframe re-compression (``None``: model default, 0: off).
        g_mode: timestep modulation of the warp.
        dtype: model dtype name.
        device: torch device.
        offload: ``none``, ``model`` or ``sequential``.
        allow_download: let ``from_pretrained`` download; otherwise a missing checkpoint is a
            :class:`GeneratorError` at construction.
        cache_dir: HF cache.
        tiny: build the tiny random pipeline.
        tiny_seed: its weight seed.
        prompts: prompt-suite YAML.
        shard_index: this shard.
        num_shards: number of shards.
        keyframes: keyframe source for ``flf`` / ``i2v`` (``t2i``, ``dir``, ``procedural``).
        keyframe_dir: keyframe PNG folder.
        keyframe_model_id: Wan T2V checkpoint rendering keyframes (``"tiny"`` allowed).
        keyframe_steps: its steps.
        name: name in records (default ``ltx2`` / ``ltx2_flf`` / ``ltx2_i2v``, ``_tiny``
            appended for the tiny model).

    Raises:
        GeneratorError: on invalid options, frame rules, or a missing checkpoint.
    """

    honours_positions = True

    def __init__(
        self,
        model_id: str = "Lightricks/LTX-2",
        mode: str = "t2v",
        height: int = 512,
        width: int = 768,
        n_frames: int = 121,
        fps: float = 24.0,
        steps: int = 40,
        guidance_scale: float = 4.0,
        audio_guidance_scale: float | None = None,
        stg_scale: float | None = None,
        modality_scale: float | None = None,
        guidance_rescale: float | None = None,
        stg_blocks: list[int] | None = None,
        use_cross_timestep: bool = False,
        av_cross: str = "video",
        negative_prompt: str = LTX2_DEFAULT_NEGATIVE_PROMPT,
        max_sequence_length: int = 1024,
        image_crf: int | None = None,
        g_mode: str = "exp_up",
        dtype: str = "bfloat16",
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
            raise GeneratorError(f"unknown LTX-2 mode {mode!r}; choose one of {MODES}")
        if offload not in OFFLOAD:
            raise GeneratorError(f"unknown offload {offload!r}; choose one of {OFFLOAD}")
        if g_mode not in G_MODES:
            raise GeneratorError(f"unknown g_mode {g_mode!r}; choose one of {G_MODES}")
        if av_cross not in AV_CROSS_MODES:
            raise GeneratorError(f"unknown av_cross {av_cross!r}; choose one of {AV_CROSS_MODES}")
        torch_dtype(dtype)
        self.model_id, self.mode, self.tiny = model_id, mode, bool(tiny)
        self.name = name or "ltx2" + {"t2v": "", "flf": "_flf", "i2v": "_i2v"}[mode] + (
            "_tiny" if tiny else ""
        )
        self.height, self.width, self.n_frames, self.fps = (
            int(height),
            int(width),
            int(n_frames),
            float(fps),
        )
        self.steps, self.guidance_scale = int(steps), float(guidance_scale)
        self.optional = {
            "audio_guidance_scale": audio_guidance_scale,
            "stg_scale": stg_scale,
            "modality_scale": modality_scale,
            "guidance_rescale": guidance_rescale,
            "spatio_temporal_guidance_blocks": None
            if stg_blocks is None
            else [int(b) for b in stg_blocks],
        }
        self.use_cross_timestep, self.av_cross = bool(use_cross_timestep), av_cross
        self.negative_prompt, self.max_sequence_length, self.image_crf = (
            negative_prompt,
            int(max_sequence_length),
            image_crf,
        )
        self.g_mode, self.dtype, self.device, self.offload = g_mode, dtype, device, offload
        self.allow_download, self.cache_dir, self.tiny_seed = (
            bool(allow_download),
            cache_dir,
            int(tiny_seed),
        )
        self.prompts, self.shard_index, self.num_shards = prompts, int(shard_index), int(num_shards)
        self.keyframes, self.keyframe_dir = keyframes, keyframe_dir
        self.keyframe_model_id, self.keyframe_steps = keyframe_model_id, int(keyframe_steps)

        if self.tiny:
            from generators.tiny import TINY_LTX2

            self._path = None
            tcfg = {
                "num_attention_heads": TINY_LTX2["heads"],
                "attention_head_dim": TINY_LTX2["head_dim"],
                "vae_scale_factors": (8, 8, 8),
                "patch_size": 1,
            }
            temporal, spatial = 8, 8
        else:
            import os

            self._path = resolve_checkpoint(model_id, self.allow_download, cache_dir)
            tcfg = read_model_config(self._path, "transformer") if os.path.isdir(self._path) else {}
            factors = tcfg.get("vae_scale_factors", (8, 32, 32))
            temporal, spatial = int(factors[0]), int(factors[1]) * int(tcfg.get("patch_size", 1))
        self.tcfg = tcfg
        self.inner_dim = int(tcfg.get("num_attention_heads", 32)) * int(
            tcfg.get("attention_head_dim", 128)
        )
        self.temporal_factor, self.spatial_multiple = temporal, spatial
        if mode != "t2v" and keyframes == "t2i" and not self.tiny and keyframe_model_id != "tiny":
            resolve_checkpoint(keyframe_model_id, self.allow_download, cache_dir)  # fail early
        check_frame_rules(self.n_frames, self.height, self.width, temporal, spatial, self.name)
        self.bands = ltx2_band_count(self.inner_dim, 3)
        self.frequencies = ltx2_temporal_frequencies(
            self.inner_dim,
            3,
            float(tcfg.get("rope_theta", 10000.0)),
            float(tcfg.get("pos_embed_max_pos", 20)),
        )
        self.warp = TemporalWarp(self.bands, g_mode)
        self._pipe: Any = None
        self.patched: list[str] = []

    # -- pipeline -------------------------------------------------------------------------
    @property
    def pipe(self) -> Any:
        """The ``LTX2ConditionPipeline`` with the warp installed (loaded on first use)."""
        if self._pipe is None:
            self._pipe = self._build()
        return self._pipe

    def _build(self) -> Any:
        if self.tiny:
            from generators.tiny import build_tiny_ltx2_pipeline

            pipe = build_tiny_ltx2_pipeline(self.tiny_seed)
        else:
            import diffusers

            pipe = diffusers.LTX2ConditionPipeline.from_pretrained(
                self._path,
                dtype=torch_dtype(self.dtype),
                local_files_only=not self.allow_download,
                cache_dir=self.cache_dir,
            )
        rope = pipe.transformer.rope
        if ltx2_band_count(rope.dim, 3) != self.bands:
            raise GeneratorError(
                f"checkpoint rope has {ltx2_band_count(rope.dim, 3)} temporal bands, "
                f"expected {self.bands}"
            )
        self.patched = install_ltx2_warp(pipe.transformer, self.warp, self.av_cross)
        if self.tiny:
            pipe.to(self.device)
        elif self.offload == "model":
            pipe.enable_model_cpu_offload(device=self.device)
        elif self.offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    # -- protocol -------------------------------------------------------------------------
    def items(self, n_videos: int, seed: int) -> list[GenerationRequest]:
        """This shard's share of ``n_videos`` prompt-suite items chosen with ``seed``.

        Keyframe modes attach ``first_image`` (and ``last_image``) from the keyframe source.
        """
        from generators.wan22 import prompt_suite_items

        return prompt_suite_items(self, n_videos, seed)

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
        """The ``LTX2ConditionPipeline`` call arguments for ``request`` (seeded generator included).

        Keyframes become ``LTX2VideoCondition(frames, index)`` with *latent* indices 0 (first) and
        -1 (last; diffusers places that keyframe at pixel frame ``8 (L - 2) + 1``).
        """
        import torch
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition
        from PIL import Image

        conditions = None
        if self.mode in ("flf", "i2v"):
            crf = {} if self.image_crf is None else {"crf": int(self.image_crf)}
            first = Image.fromarray(np.asarray(request.first_image, np.uint8))
            conditions = [LTX2VideoCondition(frames=first, index=0, **crf)]
            if self.mode == "flf":
                last = Image.fromarray(np.asarray(request.last_image, np.uint8))
                conditions.append(LTX2VideoCondition(frames=last, index=-1, **crf))
        kwargs: dict[str, Any] = {
            "conditions": conditions,
            "prompt": request.prompt,
            "negative_prompt": self.negative_prompt,
            "height": self.height,
            "width": self.width,
            "num_frames": request.n_frames,
            "frame_rate": float(request.fps),
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "use_cross_timestep": self.use_cross_timestep,
            "generator": torch.Generator("cpu").manual_seed(int(request.seed)),
            "output_type": output_type,
            "return_dict": False,
            "max_sequence_length": self.max_sequence_length,
        }
        kwargs.update({k: v for k, v in self.optional.items() if v is not None})
        return kwargs

    def run_pipeline(self, request: GenerationRequest, output_type: str = "np") -> tuple[Any, Any]:
        """Run the pipeline for ``request`` with its positions installed in the warp.

        Returns:
            ``(video, audio)`` as the pipeline returns them: video ``(1, T, H, W, 3)`` in [0, 1]
            for ``"np"`` (latents for ``"latent"``), audio ``(1, C, S)`` waveform (latents for
            ``"latent"``).

        Raises:
            GeneratorError: if the request is invalid.
        """
        self.check_request(request)
        pipe = self.pipe
        self.warp.set_positions(request.positions, request.n_frames)
        self.warp.reset_log()
        return pipe(**self.pipeline_kwargs(request, output_type))

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Render ``request`` (video and audio) at ``request.positions``.

        Returns:
            :class:`GeneratedVideo` with uint8 frames ``(T, H, W, 3)``, ``audio`` ``(C, S)``
            float32 in [-1, 1], ``audio_rate`` in Hz, and metadata with the warp diagnostic.
        """
        t0 = time.perf_counter()
        video, audio = self.run_pipeline(request, "np")
        frames = frames_to_uint8(video)
        wave = np.asarray(
            audio[0].float().cpu().numpy() if hasattr(audio, "cpu") else audio[0], dtype=np.float32
        )
        if wave.ndim == 1:
            wave = wave[None, :]
        meta = self.describe(request)
        meta["elapsed_s"] = round(time.perf_counter() - t0, 3)
        rate = int(self.pipe.vocoder.config.output_sampling_rate)
        meta["audio_rate"] = rate
        return GeneratedVideo(
            frames=frames,
            fps=request.fps,
            audio=np.clip(wave, -1.0, 1.0),
            audio_rate=rate,
            metadata=meta,
        )

    # -- diagnostics ----------------------------------------------------------------------
    def latent_centre_frames(self, n_frames: int) -> np.ndarray:
        """Output-frame index each video latent's time coordinate stands for.

        Read from the stock ``prepare_video_coords`` (``[start, end)`` in pixel frames, causal
        first latent): midpoint ``m`` seconds is frame ``m * fps - 0.5`` (0, 4.5, 12.5, ... for
        LTX-2's x8 VAE).

        Returns:
            ``np.ndarray`` of shape ``(L,)``, float64, frames.
        """
        from diffusers.models.transformers.transformer_ltx2 import LTX2AudioVideoRotaryPosEmbed

        factors = tuple(self.tcfg.get("vae_scale_factors", (8, 32, 32)))
        rope = LTX2AudioVideoRotaryPosEmbed(
            dim=6, scale_factors=factors, causal_offset=int(self.tcfg.get("causal_offset", 1))
        )
        n_latent = (n_frames - 1) // self.temporal_factor + 1
        coords = rope.prepare_video_coords(1, n_latent, 1, 1, "cpu", fps=1.0)[0, 0].double().numpy()
        return coords.mean(axis=1) - 0.5

    def describe(self, request: GenerationRequest) -> dict[str, Any]:
        """JSON-serialisable metadata of the last generation of ``request``."""
        pos = request.positions
        n = int(request.n_frames)
        pos = np.arange(n, dtype=np.float64) if pos is None else np.asarray(pos, np.float64)
        pos = np.broadcast_to(pos, (self.bands, n))
        centres = self.latent_centre_frames(n)
        frames = np.arange(n, dtype=np.float64)
        disp_s = np.stack([np.interp(centres, frames, row - frames) for row in pos]) / float(
            request.fps
        )
        calls = self.warp.calls
        return {
            "generator": self.name,
            "model_id": "tiny-random-ltx2" if self.tiny else self.model_id,
            "mode": self.mode,
            "item_id": request.item_id,
            "seed": int(request.seed),
            "prompt": request.prompt,
            "negative_prompt": self.negative_prompt,
            "height": self.height,
            "width": self.width,
            "n_frames": n,
            "fps": float(request.fps),
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            **{k: v for k, v in self.optional.items() if v is not None},
            "use_cross_timestep": self.use_cross_timestep,
            "av_cross": self.av_cross,
            "ropes_warped": list(self.patched),
            "dtype": self.dtype,
            "device": self.device,
            "offload": self.offload,
            "g_mode": self.g_mode,
            "bands": self.bands,
            "warped": request.positions is not None,
            "warp_max_shift_s": np.max(np.abs(disp_s), axis=1).round(8).tolist(),
            "warp_max_rotation_rad": max_extra_rotation(disp_s, self.frequencies).round(6).tolist(),
            "warp_calls": len(calls),
            "warp_schedule": [[c["label"], round(c["s"], 6), round(c["g"], 6)] for c in calls],
        }
