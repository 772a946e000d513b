"""Tiny randomly initialised Wan2.2 and LTX-2 pipelines, built in memory on CPU.

They exercise the real diffusers pipelines end to end (text encoder, two-expert Wan transformer,
causal VAEs, LTX-2 audio VAE and vocoder, schedulers) with a few thousand parameters each and no
download, so the warped-RoPE machinery and ``bench/run.py`` can be tested on a laptop. Outputs
are noise-like pictures; only their mechanics are meaningful.

Sizes (chosen so every temporal/spatial rule of the real models still applies):

- Wan: transformer 2 heads x 48 (temporal RoPE split 16/16/16 -> 8 bands), 2 layers, patch
  (1, 2, 2); VAE z_dim 4, temporal x4, spatial x8 (sides multiple of 16, frames 4n+1);
  UMT5 encoder d_model 32, 1 layer. Two experts with the checkpoints' boundary ratios
  (T2V 0.875, I2V 0.9).
- LTX-2: transformer 2 heads x 24 (video RoPE 8 temporal frequencies), 1 layer; video VAE
  x8 in time and space (frames 8n+1, sides multiple of 8); Gemma3 text model hidden 16, 1 layer;
  audio VAE + vocoder rendering 8 kHz stereo.

A character-level ``tokenizers`` WordLevel tokenizer wrapped in ``PreTrainedTokenizerFast`` stands
in for the real tokenizers (no download). torch, diffusers and transformers are imported by the
builders, not at module import (the generators read :data:`TINY_WAN` / :data:`TINY_LTX2` at
construction).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TINY_LTX2",
    "TINY_WAN",
    "build_tiny_ltx2_pipeline",
    "build_tiny_wan22_pipeline",
    "char_tokenizer",
]

TINY_WAN: dict[str, Any] = {
    "z_dim": 4,
    "heads": 2,
    "head_dim": 48,
    "layers": 2,
    "text_dim": 32,
    "boundary_ratio_t2v": 0.875,
    "boundary_ratio_i2v": 0.9,
    "max_sequence_length": 32,
    "temporal_factor": 4,  # VAE x4 in time: 4n+1 frames
    "spatial_multiple": 16,  # VAE x8 in space x patch 2
}
TINY_LTX2: dict[str, Any] = {
    "heads": 2,
    "head_dim": 24,
    "layers": 1,
    "latent_channels": 4,
    "text_hidden": 16,
    "audio_rate": 8000,
    "max_sequence_length": 32,
    "vae_scale_factors": (8, 8, 8),  # time, height, width: 8n+1 frames, sides multiple of 8
}

_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789 .,;:'\"-!?()/&"


def char_tokenizer(
    max_length: int = 32, specials: tuple[str, ...] = ("<pad>", "</s>", "<unk>", "<bos>")
) -> Any:
    """A download-free character-level tokenizer.

    Args:
        max_length: ``model_max_length``.
        specials: pad, eos, unk and bos tokens (ids 0..3).

    Returns:
        ``transformers.PreTrainedTokenizerFast`` lower-casing text and mapping each character to
        one id (unknown characters to ``<unk>``).
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(specials)}
    for ch in _CHARS:
        vocab.setdefault(ch, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token=specials[2]))
    tk.normalizer = normalizers.Lowercase()
    tk.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=tk,
        pad_token=specials[0],
        eos_token=specials[1],
        unk_token=specials[2],
        bos_token=specials[3],
        model_max_length=max_length,
    )


def _seeded(seed: int, build: Any) -> Any:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def build_tiny_wan22_pipeline(mode: str = "t2v", seed: int = 0, two_experts: bool = True) -> Any:
    """A tiny Wan2.2 pipeline (A14B layout) with random weights.

    Args:
        mode: ``"t2v"`` (``WanPipeline``) or ``"flf"`` / ``"i2v"`` (``WanImageToVideoPipeline``, the
            I2V-A14B layout: the transformer takes noise, a 4-channel frame mask and the
            conditioning latents).
        seed: weight seed (the same seed gives the same weights).
        two_experts: build ``transformer_2`` and set the boundary ratio (Wan2.2-A14B).

    Returns:
        A diffusers pipeline on CPU, float32.

    Raises:
        ValueError: on an unknown mode.
    """
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    if mode not in ("t2v", "flf", "i2v"):
        raise ValueError(f"unknown mode {mode!r}")
    c = TINY_WAN
    tok = char_tokenizer(c["max_sequence_length"])
    z = c["z_dim"]
    in_channels = z if mode == "t2v" else 2 * z + 4

    def text_encoder() -> Any:
        cfg = UMT5Config(
            vocab_size=len(tok),
            d_model=c["text_dim"],
            d_kv=8,
            d_ff=32,
            num_layers=1,
            num_heads=4,
            relative_attention_num_buckets=8,
            relative_attention_max_distance=16,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
        return UMT5EncoderModel(cfg).eval()

    def transformer() -> Any:
        return WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=c["heads"],
            attention_head_dim=c["head_dim"],
            in_channels=in_channels,
            out_channels=z,
            text_dim=c["text_dim"],
            freq_dim=32,
            ffn_dim=32,
            num_layers=c["layers"],
            rope_max_seq_len=64,
        ).eval()

    def vae() -> Any:
        return AutoencoderKLWan(
            base_dim=3,
            z_dim=z,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
            latents_mean=[0.0] * z,
            latents_std=[1.0] * z,
        ).eval()

    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    )
    boundary = c["boundary_ratio_t2v"] if mode == "t2v" else c["boundary_ratio_i2v"]
    parts = {
        "tokenizer": tok,
        "text_encoder": _seeded(seed, text_encoder),
        "vae": _seeded(seed + 1, vae),
        "scheduler": scheduler,
        "transformer": _seeded(seed + 2, transformer),
        "transformer_2": _seeded(seed + 3, transformer) if two_experts else None,
        "boundary_ratio": boundary if two_experts else None,
    }
    if mode == "t2v":
        return WanPipeline(**parts)
    return WanImageToVideoPipeline(image_processor=None, image_encoder=None, **parts)


def build_tiny_ltx2_pipeline(seed: int = 0) -> Any:
    """A tiny LTX-2 ``LTX2ConditionPipeline`` (video + audio) with random weights.

    Args:
        seed: weight seed.

    Returns:
        The pipeline on CPU, float32; ``pipe.vocoder.config.output_sampling_rate`` is the audio
        rate (8000 Hz).
    """
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2ConditionPipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import Gemma3TextConfig, Gemma3TextModel

    c = TINY_LTX2
    tok = char_tokenizer(c["max_sequence_length"], ("<pad>", "<eos>", "<unk>", "<bos>"))
    hidden = c["text_hidden"]
    inner = c["heads"] * c["head_dim"]

    def text_encoder() -> Any:
        cfg = Gemma3TextConfig(
            vocab_size=len(tok),
            hidden_size=hidden,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=8,
            max_position_embeddings=64,
            sliding_window=16,
            pad_token_id=0,
        )
        return Gemma3TextModel(cfg).eval()

    def transformer() -> Any:
        return LTX2VideoTransformer3DModel(
            in_channels=c["latent_channels"],
            out_channels=c["latent_channels"],
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=c["heads"],
            attention_head_dim=c["head_dim"],
            cross_attention_dim=inner,
            audio_in_channels=4,
            audio_out_channels=4,
            audio_num_attention_heads=2,
            audio_attention_head_dim=4,
            audio_cross_attention_dim=8,
            num_layers=c["layers"],
            caption_channels=hidden,
            vae_scale_factors=c["vae_scale_factors"],
            rope_type="split",
        ).eval()

    def connectors() -> Any:
        return LTX2TextConnectors(
            caption_channels=hidden,
            text_proj_in_factor=2,
            video_connector_num_attention_heads=2,
            video_connector_attention_head_dim=8,
            video_connector_num_layers=1,
            video_connector_num_learnable_registers=None,
            audio_connector_num_attention_heads=2,
            audio_connector_attention_head_dim=8,
            audio_connector_num_layers=1,
            audio_connector_num_learnable_registers=None,
            connector_rope_base_seq_len=32,
            rope_type="split",
        ).eval()

    def vae() -> Any:
        model = AutoencoderKLLTX2Video(
            in_channels=3,
            out_channels=3,
            latent_channels=c["latent_channels"],
            block_out_channels=(8, 8, 8),
            decoder_block_out_channels=(8, 8, 8),
            layers_per_block=(1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, True),
            decoder_spatio_temporal_scaling=(True, True, True),
            decoder_inject_noise=(False,) * 4,
            downsample_type=("spatiotemporal",) * 3,
            upsample_residual=(False,) * 3,
            upsample_factor=(1,) * 3,
            timestep_conditioning=False,
            patch_size=1,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        ).eval()
        model.use_framewise_encoding = False
        model.use_framewise_decoding = False
        return model

    def audio_vae() -> Any:
        return AutoencoderKLLTX2Audio(
            base_channels=4,
            output_channels=2,
            ch_mult=(1,),
            num_res_blocks=1,
            attn_resolutions=None,
            in_channels=2,
            resolution=32,
            latent_channels=2,
            norm_type="pixel",
            causality_axis="height",
            dropout=0.0,
            mid_block_add_attention=False,
            sample_rate=16000,
            mel_hop_length=160,
            is_causal=True,
            mel_bins=8,
        ).eval()

    def vocoder() -> Any:
        # 100 mel frames/s (16 kHz, hop 160) x 80 = 8 kHz output.
        return LTX2Vocoder(
            in_channels=16,
            hidden_channels=8,
            out_channels=2,
            upsample_kernel_sizes=[16, 20],
            upsample_factors=[8, 10],
            resnet_kernel_sizes=[3],
            resnet_dilations=[[1, 3, 5]],
            output_sampling_rate=c["audio_rate"],
        ).eval()

    return LTX2ConditionPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=_seeded(seed + 1, vae),
        audio_vae=_seeded(seed + 2, audio_vae),
        text_encoder=_seeded(seed, text_encoder),
        tokenizer=tok,
        connectors=_seeded(seed + 3, connectors),
        transformer=_seeded(seed + 4, transformer),
        vocoder=_seeded(seed + 5, vocoder),
    )
