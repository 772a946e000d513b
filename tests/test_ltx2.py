"""LTX-2 generator on a tiny random video+audio pipeline (CPU): warp, audio path, keyframes."""

from __future__ import annotations

import importlib
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from spf_bench.generators.base import GenerationRequest, Generator, GeneratorError
from spf_bench.generators.dit import DiTGenerator
from spf_bench.generators.ltx2 import LTX2Generator
from spf_bench.generators.retime import accumulate_positions, band_strengths, timestep_modulation
from spf_bench.generators.tiny import build_tiny_ltx2_pipeline
from spf_bench.generators.warped_rope import WarpedLTX2RotaryPosEmbed

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "tiny": True,
    "height": 64,
    "width": 64,
    "n_frames": 17,
    "fps": 16.0,
    "steps": 3,
    "device": "cpu",
    "dtype": "float32",
    "max_sequence_length": 32,
    "stg_blocks": [0],
    "keyframes": "procedural",
}


@pytest.fixture(scope="module")
def t2v():
    return LTX2Generator(mode="t2v", **TINY)


@pytest.fixture(scope="module")
def flf():
    return LTX2Generator(mode="flf", av_cross="video", **TINY)


def _warp(gen: LTX2Generator, n: int = 17) -> np.ndarray:
    t = np.arange(n, dtype=np.float64)
    tau = (n - 1) * np.linspace(0, 1, n) ** 2
    return accumulate_positions(np.tile(t, (gen.bands, 1)), tau, band_strengths(gen.bands))


def _stock_pipeline(gen: LTX2Generator):
    pipe = build_tiny_ltx2_pipeline(gen.tiny_seed)
    pipe.set_progress_bar_config(disable=True)
    assert not isinstance(pipe.transformer.rope, WarpedLTX2RotaryPosEmbed)
    return pipe


def _equal(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_protocol_and_patched_ropes(t2v, flf):
    assert isinstance(t2v, Generator) and isinstance(t2v, DiTGenerator) and t2v.honours_positions
    assert t2v.name == "ltx2_tiny" and t2v.bands == 8  # 2 heads x 24 / 6
    tr = t2v.pipe.transformer
    assert t2v.av_cross == "both"  # the default keeps audio in sync (issue 12)
    for attr in ("rope", "cross_attn_rope", "cross_attn_audio_rope"):
        assert isinstance(getattr(tr, attr), WarpedLTX2RotaryPosEmbed), attr
    assert not isinstance(tr.audio_rope, WarpedLTX2RotaryPosEmbed)  # audio self-attention
    assert t2v.patched == ["rope", "cross_attn_rope", "cross_attn_audio_rope"]
    video = LTX2Generator(mode="t2v", av_cross="video", **TINY)
    assert not isinstance(video.pipe.transformer.cross_attn_audio_rope, WarpedLTX2RotaryPosEmbed)
    none = LTX2Generator(mode="t2v", av_cross="none", **TINY)
    assert (
        none.pipe.transformer.cross_attn_rope.__class__.__name__ == "LTX2AudioVideoRotaryPosEmbed"
    )


def test_items_and_request_checks_are_the_shared_dit_ones(t2v, flf):
    """LTX-2 and Wan2.2 choose the same prompt-suite items and seeds (one implementation)."""
    from spf_bench.generators.wan22 import Wan22Generator

    wan = Wan22Generator(tiny=True, height=32, width=32, n_frames=17, device="cpu")
    ours, theirs = t2v.items(5, seed=7), wan.items(5, seed=7)
    assert [(r.item_id, r.seed, r.prompt) for r in ours] == [
        (r.item_id, r.seed, r.prompt) for r in theirs
    ]
    assert all(r.extra["model"] == "ltx2_tiny" and r.n_frames == 17 for r in ours)
    req = flf.items(1, seed=0)[0]
    no_last = GenerationRequest(**{**req.__dict__, "last_image": None})
    with pytest.raises(GeneratorError, match=r"ltx2_flf_tiny: first-last-frame request .* lacks"):
        flf.check_request(no_last)
    with pytest.raises(GeneratorError, match="bands x frames"):
        t2v.check_request(req.with_positions(np.zeros((3, 17))))


def test_zero_warp_is_bit_identical_to_unpatched_model(t2v):
    req = t2v.items(1, seed=0)[0]
    stock = _stock_pipeline(t2v)
    ref = stock(**t2v.pipeline_kwargs(req, "latent"))
    t = np.arange(17, dtype=np.float64)
    tau = 16 * np.linspace(0, 1, 17) ** 3
    a_zero = accumulate_positions(np.tile(t, (t2v.bands, 1)), tau, np.zeros(t2v.bands))
    for positions in (None, np.tile(t, (t2v.bands, 1)), a_zero):
        assert _equal(t2v.run_pipeline(req.with_positions(positions), "latent"), ref)
    ref_np = stock(**t2v.pipeline_kwargs(req, "np"))
    got_np = t2v.run_pipeline(req.with_positions(a_zero), "np")
    assert np.array_equal(got_np[0], ref_np[0]) and torch.equal(got_np[1], ref_np[1])  # audio too
    assert len(t2v.warp.calls) == 3 * t2v.steps  # CFG batch + STG + modality-isolation calls


def test_keyframe_zero_warp_is_bit_identical_to_unpatched_model(flf):
    req = flf.items(1, seed=0)[0]
    ref = _stock_pipeline(flf)(**flf.pipeline_kwargs(req, "latent"))
    assert _equal(flf.run_pipeline(req, "latent"), ref)


@pytest.mark.parametrize("av_cross", ["video", "both", "none"])
def test_nontrivial_warp_changes_video_and_audio(av_cross):
    gen = LTX2Generator(mode="t2v", av_cross=av_cross, **TINY)
    req = gen.items(1, seed=0)[0]
    v0, a0 = gen.run_pipeline(req, "latent")
    v1, a1 = gen.run_pipeline(req.with_positions(_warp(gen)), "latent")
    rel_v = float((v1 - v0).norm() / v0.norm())
    rel_a = float((a1 - a0).norm() / a0.norm())
    assert rel_v > 1e-5 and rel_a > 1e-6, (rel_v, rel_a)


def test_g_follows_schedule_and_fps_reaches_the_rope(t2v):
    req = t2v.items(1, seed=1)[0].with_positions(_warp(t2v))
    seen = []
    hook = t2v.pipe.transformer.rope.register_forward_hook(
        lambda mod, args, out: seen.append((float(mod._g), mod.warp.fps))
    )
    try:
        t2v.run_pipeline(req, "latent")
    finally:
        hook.remove()
    calls = t2v.warp.calls
    s = np.array([c["s"] for c in calls])
    steps = t2v.pipe.scheduler.timesteps.double().numpy() / 1000.0
    assert np.allclose(s, np.repeat(steps, 3), atol=1e-6)
    assert np.allclose([c["g"] for c in calls], timestep_modulation(s, "exp_up"), atol=1e-12)
    assert [g for g, _ in seen] == [c["g"] for c in calls]
    assert all(fps == 16.0 for _, fps in seen)


def test_audio_path_returns_a_waveform(t2v):
    req = t2v.items(1, seed=0)[0].with_positions(_warp(t2v))
    video = t2v.generate(req)
    assert video.frames.shape == (17, 64, 64, 3) and video.frames.dtype == np.uint8
    assert video.audio.dtype == np.float32 and video.audio.ndim == 2 and video.audio.shape[0] == 2
    assert video.audio_rate == 8000
    duration = 17 / 16.0
    assert abs(video.audio.shape[1] / video.audio_rate - duration) < 0.1 * duration
    assert np.all(np.isfinite(video.audio)) and np.abs(video.audio).max() <= 1.0
    assert video.audio.std() > 0
    meta = json.loads(json.dumps(video.metadata))
    assert meta["audio_rate"] == 8000 and meta["warped"] and meta["bands"] == 8
    rot = np.array(meta["warp_max_rotation_rad"])
    assert rot.shape == (8,) and np.all(np.diff(rot) < 0) and rot[-1] > 0  # band 0 turns most


def test_keyframes_are_appended_with_their_own_times(flf):
    req = flf.items(1, seed=0)[0]
    assert req.first_image.shape == req.last_image.shape == (64, 64, 3)
    seen = []
    hook = flf.pipe.transformer.register_forward_pre_hook(
        lambda mod, args, kw: seen.append(kw["video_coords"].clone()), with_kwargs=True
    )
    try:
        flf.run_pipeline(req.with_positions(_warp(flf)), "latent")
    finally:
        hook.remove()
    coords = seen[0]  # (B, 3, N, 2): 3 latent frames x 8 x 8 tokens + 64 last-keyframe tokens
    assert coords.shape[2] == 3 * 64 + 64
    mid = coords[0, 0, -64:].mean(-1) * 16.0 - 0.5  # keyframe at pixel frame 8 (L - 2) + 1 = 9
    assert torch.allclose(mid, torch.full_like(mid, 9.0))
    assert np.allclose(flf.latent_centre_frames(17), [0.0, 4.5, 12.5])


def test_errors_frame_rules_and_missing_checkpoint(tmp_path):
    with pytest.raises(GeneratorError, match="8n\\+1"):
        LTX2Generator(mode="t2v", **{**TINY, "n_frames": 16})
    with pytest.raises(GeneratorError, match="multiple of 8"):
        LTX2Generator(mode="t2v", **{**TINY, "width": 60})
    with pytest.raises(GeneratorError, match="av_cross"):
        LTX2Generator(mode="t2v", **{**TINY, "av_cross": "audio"})
    t0 = time.perf_counter()
    with pytest.raises(GeneratorError) as err:
        LTX2Generator(model_id="Lightricks/LTX-2", cache_dir=str(tmp_path))
    assert time.perf_counter() - t0 < 1.0
    assert "hf download Lightricks/LTX-2" in str(err.value) and str(tmp_path) in str(err.value)


def test_configs_build():
    from spf_bench.bench.config import compose_model

    name, target, cfg = compose_model("ltx2_tiny")  # the bench's composition (typed schema)
    assert name == "ltx2_tiny"
    module, cls = target.rsplit(".", 1)
    gen = getattr(importlib.import_module(module), cls)(**cfg)
    assert gen.name == "ltx2_tiny" and gen.bands == 8
    _, target, real = compose_model("ltx2")
    assert target == "spf_bench.generators.ltx2.LTX2Generator"
    assert real["model_id"] == "Lightricks/LTX-2" and real["n_frames"] % 8 == 1
    with pytest.raises(GeneratorError, match="hf download Lightricks/LTX-2"):
        LTX2Generator(**{**real, "cache_dir": "/nonexistent-hf-cache"})


def test_real_loading_code_from_an_offline_hf_cache(tmp_path):
    base = tmp_path / "models--test-org--tiny-ltx2"
    build_tiny_ltx2_pipeline(0).save_pretrained(base / "snapshots" / ("0" * 40))
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text("0" * 40)
    real = {k: v for k, v in TINY.items() if k != "tiny"}
    gen = LTX2Generator(model_id="test-org/tiny-ltx2", cache_dir=str(tmp_path), mode="flf", **real)
    assert gen.bands == 8 and gen.spatial_multiple == 8 and gen.temporal_factor == 8
    video = gen.generate(gen.items(1, seed=0)[0].with_positions(_warp(gen)))
    assert video.frames.shape == (17, 64, 64, 3) and video.audio.shape[0] == 2
    assert video.audio_rate == 8000


def test_bench_retime_loop_writes_every_iteration_with_audio(compose_cfg, tmp_path):
    import av
    import pandas as pd

    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark

    cfg = compose_cfg(
        [
            "model=ltx2_tiny",
            "retime=warped",
            "n_videos=1",
            # random tiny weights: plumbing, not pacing (their noise-like frames fail the
            # no-progress test, docs/method.md Sec. 1 step 7)
            "spf.progress_threshold=0",
            "embedder=pixel",
            "logger=none",
            "plots=false",
            f"run_dir={tmp_path / 'run'}",
            "progress=false",
        ]
    )
    run_benchmark(settings_from_config(cfg))
    df = pd.read_parquet(tmp_path / "run" / "records.parquet").sort_values("iteration")
    assert df.iteration.tolist() == [0, 1, 2, 3] and (df.status == "ok").all()
    metas = [json.loads(m) if isinstance(m, str) else m for m in df.metadata]
    assert [m["warped"] for m in metas] == [False, True, True, True]
    with av.open(str(tmp_path / "run" / df.video_path.iloc[-1])) as container:
        kinds = sorted(s.type for s in container.streams)
        rate = container.streams.audio[0].rate
    assert kinds == ["audio", "video"] and rate == 8000


# --------------------------------------------------------------------------- audio-video sync


def _cross_phase_gap(gen: LTX2Generator, times_s: np.ndarray) -> float:
    """Largest cross-attention phase gap (radians, wrapped to [0, pi]) between a video token and
    an audio token at the same output times, read from the installed cross-attention ropes'
    cos/sin outputs at full modulation."""
    tr = gen.pipe.transformer
    gen.warp.set_positions(_warp(gen), gen.n_frames)
    gen.warp.fps = gen.fps
    gen.warp.set_timestep(1000.0)  # exp_up: g = 1, the whole warp
    half = 0.5 / gen.fps  # a video token spans one frame around its time; audio any span
    t = torch.as_tensor(times_s, dtype=torch.float32)
    video = torch.stack([t - half, t + half], -1)[None, None]  # (1, 1, N, 2) seconds
    audio = torch.stack([t - 0.01, t + 0.01], -1)[None, None]
    cv, sv = tr.cross_attn_rope(video)
    ca, sa = tr.cross_attn_audio_rope(audio)
    assert cv.shape == ca.shape  # same layout, same frequencies: stock phases are equal
    gap = torch.atan2(sv, cv).double() - torch.atan2(sa, ca).double()
    gap = torch.remainder(gap + math.pi, 2 * math.pi) - math.pi
    return float(gap.abs().max())


def test_audio_and_video_tokens_at_the_same_time_keep_the_same_phase(t2v):
    """av_cross=both (default): 0 rad between audio and video tokens at one output time;
    av_cross=video (the old default) turns them apart (issue 12 measured 2.98 rad on LTX-2)."""
    times = (np.arange(17) + 0.5) / 16.0  # every output frame's centre, seconds
    assert _cross_phase_gap(t2v, times) < 1e-6
    video_only = LTX2Generator(mode="t2v", av_cross="video", **TINY)
    gap = _cross_phase_gap(video_only, times)
    assert gap > 0.05, gap
    # the gap is the warp's extra rotation of the fastest cross-attention band
    rope = video_only.pipe.transformer.cross_attn_rope
    f_max = 10000.0**1.0 * math.pi / 2  # LTX's highest frequency (index F - 1)
    shift_s = float(np.max(np.abs(_warp(video_only) - np.arange(17.0)))) / 16.0
    assert gap <= 2 * f_max * shift_s / rope.base_num_frames + 1e-4
