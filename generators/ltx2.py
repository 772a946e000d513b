"""LTX-2 (joint video + audio) through diffusers, with the warped temporal RoPE installed.

docs/method.md, Sec. 4. ``model=ltx2`` loads ``Lightricks/LTX-2`` as an
``LTX2ConditionPipeline`` (text-to-video when a request has no keyframes; keyframes as
``LTX2VideoCondition``, whose ``index`` is a *latent* index: 0 = first latent, -1 = last). LTX-2
positions are continuous (seconds), so the warp shifts the time coordinate of each video token
per band (:class:`spf_bench.generators.warped_rope.WarpedLTX2RotaryPosEmbed`); the audio-video
cross-attention times follow per ``av_cross``. The generated audio comes back in
:attr:`GeneratedVideo.audio` (``(channels, samples)`` float32) with its sample rate, for the
video writer to mux. Request checks, prompt-suite items, checkpoint resolution, seeding and
output conversion are those of :class:`spf_bench.generators.dit.DiTGenerator`.

``tiny: true`` runs the same code on :func:`spf_bench.generators.tiny.build_tiny_ltx2_pipeline`
(CPU). Importing this module imports neither torch nor diffusers (they come with the pipeline).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from spf_bench.generators.base import GenerationRequest, GeneratorError
from spf_bench.generators.common import (
    DtypeName,
    KeyframeSource,
    Offload,
    frames_to_uint8,
    read_model_config,
    torch_dtype,
)
from spf_bench.generators.dit import DiTGenerator, DiTLayout, Mode
from spf_bench.generators.retime import GMode
from spf_bench.generators.warped_rope import (
    AV_CROSS_MODES,
    AVCross,
    install_ltx2_warp,
    ltx2_band_count,
    ltx2_temporal_frequencies,
)

__all__ = ["LTX2_DEFAULT_NEGATIVE_PROMPT", "LTX2Generator"]

LTX2_DEFAULT_NEGATIVE_PROMPT = (
    "worst quality, inconsistent motion, blurry, jittery, distorted, static, abrupt cut, "
    "scene change"
)


class LTX2Generator(DiTGenerator):
    """LTX-2 generator honouring per-band time positions; returns video and audio.

    A :class:`spf_bench.generators.dit.DiTGenerator` (the
    :class:`spf_bench.generators.base.Generator` protocol). ``bands`` is the number of
    temporal frequencies of the video self-attention rope (``heads * head_dim // 6``: 682 for
    LTX-2, 8 for the tiny model), band 0 the highest frequency (LTX's own index order
    reversed). :meth:`run_pipeline` returns ``(video, audio)`` as the pipeline does: video
    ``(1, T, H, W, 3)`` in [0, 1] for ``"np"`` (latents for ``"latent"``), audio ``(1, C, S)``
    waveform (latents for ``"latent"``).

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
        av_cross: audio-video cross-attention warp, one of ``both`` (default: audio tokens'
            cross-attention times follow the video's time map, so audio and video tokens at
            the same output time keep the same phase), ``video`` (video side only: they drift
            apart), ``none`` (:func:`spf_bench.generators.warped_rope.install_ltx2_warp`).
        negative_prompt: negative prompt.
        max_sequence_length: text tokens.
        image_crf: H.264 CRF for keyframe re-compression (``None``: model default, 0: off).
        g_mode: timestep modulation of the warp.
        dtype: model dtype name.
        device: torch device.
        offload: ``none``, ``model`` or ``sequential``.
        allow_download: let ``from_pretrained`` download; otherwise a missing checkpoint is a
            :class:`~spf_bench.generators.common.MissingCheckpointError` at construction.
        cache_dir: HF cache.
        tiny: build the tiny random pipeline.
        tiny_seed: its weight seed.
        prompts: prompt-suite YAML.
        keyframes: keyframe source for ``flf`` / ``i2v`` (``t2i``, ``dir``, ``procedural``).
        keyframe_dir: keyframe PNG folder.
        keyframe_model_id: Wan T2V checkpoint rendering keyframes (``"tiny"`` allowed).
        keyframe_steps: its steps.
        name: name in records (default ``ltx2`` / ``ltx2_flf`` / ``ltx2_i2v``, ``_tiny``
            appended for the tiny model).

    Raises:
        GeneratorError: on invalid options, frame rules, or a missing checkpoint
            (:class:`~spf_bench.generators.common.MissingCheckpointError`).
    """

    family = "ltx2"
    label = "LTX-2"
    tiny_model_id = "tiny-random-ltx2"

    def __init__(
        self,
        model_id: str = "Lightricks/LTX-2",
        mode: Mode = "t2v",
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
        av_cross: AVCross = "both",
        negative_prompt: str = LTX2_DEFAULT_NEGATIVE_PROMPT,
        max_sequence_length: int = 1024,
        image_crf: int | None = None,
        g_mode: GMode = "exp_up",
        dtype: DtypeName = "bfloat16",
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
        self.image_crf = image_crf
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
    def _check_options(self) -> None:
        if self.av_cross not in AV_CROSS_MODES:
            raise GeneratorError(
                f"unknown av_cross {self.av_cross!r}; choose one of {AV_CROSS_MODES}"
            )

    def _layout(self) -> DiTLayout:
        if self.tiny:
            from spf_bench.generators.tiny import TINY_LTX2

            tcfg: dict[str, Any] = {
                "num_attention_heads": TINY_LTX2["heads"],
                "attention_head_dim": TINY_LTX2["head_dim"],
                "vae_scale_factors": TINY_LTX2["vae_scale_factors"],
                "patch_size": 1,
            }
            temporal, spatial = TINY_LTX2["vae_scale_factors"][:2]
        else:
            tcfg = read_model_config(self._path, "transformer") if os.path.isdir(self._path) else {}
            factors = tcfg.get("vae_scale_factors", (8, 32, 32))
            temporal, spatial = int(factors[0]), int(factors[1]) * int(tcfg.get("patch_size", 1))
        self.tcfg = tcfg
        self.inner_dim = int(tcfg.get("num_attention_heads", 32)) * int(
            tcfg.get("attention_head_dim", 128)
        )
        return DiTLayout(
            temporal_factor=temporal,
            spatial_multiple=spatial,
            bands=ltx2_band_count(self.inner_dim, 3),
            frequencies=ltx2_temporal_frequencies(
                self.inner_dim,
                3,
                float(tcfg.get("rope_theta", 10000.0)),
                float(tcfg.get("pos_embed_max_pos", 20)),
            ),
        )

    def _load_pipeline(self) -> Any:
        if self.tiny:
            from spf_bench.generators.tiny import build_tiny_ltx2_pipeline

            return build_tiny_ltx2_pipeline(self.tiny_seed)
        import diffusers

        return diffusers.LTX2ConditionPipeline.from_pretrained(
            self._path,
            dtype=torch_dtype(self.dtype),
            local_files_only=not self.allow_download,
            cache_dir=self.cache_dir,
        )

    def _install_warp(self, pipe: Any) -> list[str]:
        rope = pipe.transformer.rope
        if ltx2_band_count(rope.dim, 3) != self.bands:
            raise GeneratorError(
                f"checkpoint rope has {ltx2_band_count(rope.dim, 3)} temporal bands, "
                f"expected {self.bands}"
            )
        return install_ltx2_warp(pipe.transformer, self.warp, self.av_cross)

    def _decode(self, output: Any) -> tuple[np.ndarray, np.ndarray, int]:
        video, audio = output
        frames = frames_to_uint8(video)
        wave = np.asarray(
            audio[0].float().cpu().numpy() if hasattr(audio, "cpu") else audio[0], dtype=np.float32
        )
        if wave.ndim == 1:
            wave = wave[None, :]
        rate = int(self.pipe.vocoder.config.output_sampling_rate)
        return frames, np.clip(wave, -1.0, 1.0), rate

    # -- call -----------------------------------------------------------------------------
    def pipeline_kwargs(
        self, request: GenerationRequest, output_type: str = "np"
    ) -> dict[str, Any]:
        """The ``LTX2ConditionPipeline`` call arguments for ``request`` (seeded generator included).

        :meth:`base_kwargs` plus ``frame_rate``, ``use_cross_timestep``, ``return_dict=False``,
        the optional guidance settings that are set, and the keyframes as
        ``LTX2VideoCondition(frames, index)`` with *latent* indices 0 (first) and -1 (last;
        diffusers places that keyframe at pixel frame ``8 (L - 2) + 1``).
        """
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
        kwargs = self.base_kwargs(request, output_type)
        kwargs.update(
            conditions=conditions,
            frame_rate=float(request.fps),
            use_cross_timestep=self.use_cross_timestep,
            return_dict=False,
        )
        kwargs.update({k: v for k, v in self.optional.items() if v is not None})
        return kwargs

    # -- diagnostics ----------------------------------------------------------------------
    def latent_centre_frames(self, n_frames: int) -> np.ndarray:
        """Output-frame index each video latent's time coordinate stands for.

        Read from the stock ``prepare_video_coords`` (``[start, end)`` in pixel frames, causal
        first latent): midpoint ``m`` seconds is frame ``m * fps - 0.5`` (0, 4.5, 12.5, ... for
        LTX-2's x8 VAE).

        Args:
            n_frames: output frames ``8n + 1``.

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

    def _describe_model(self, request: GenerationRequest) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.optional.items() if v is not None},
            "use_cross_timestep": self.use_cross_timestep,
            "av_cross": self.av_cross,
            "ropes_warped": list(self.patched),
        }

    def _describe_warp(self, request: GenerationRequest) -> dict[str, Any]:
        pos = request.positions
        n = int(request.n_frames)
        pos = np.arange(n, dtype=np.float64) if pos is None else np.asarray(pos, np.float64)
        pos = np.broadcast_to(pos, (self.bands, n))
        centres = self.latent_centre_frames(n)
        frames = np.arange(n, dtype=np.float64)
        disp_s = np.stack([np.interp(centres, frames, row - frames) for row in pos]) / float(
            request.fps
        )
        return {
            "warp_max_shift_s": np.max(np.abs(disp_s), axis=1).round(8).tolist(),
            "warp_max_rotation_rad": self.max_rotation(disp_s),
            "warp_calls": len(self.warp.calls),
        }
