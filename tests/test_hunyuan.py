"""HunyuanVideo, the third DiT family, on a tiny random pipeline (CPU): its rope adapter is bit
for bit the stock rope at a zero warp, rotates each band at the documented positions, and the
generator runs the bench's ReTime loop (docs/extending.md, "A video DiT with temporal RoPE")."""

from __future__ import annotations

import importlib
import json
import time

import numpy as np
import pytest
import torch
from diffusers.models.transformers.transformer_hunyuan_video import HunyuanVideoRotaryPosEmbed

from spf_bench.generators.base import Generator, GeneratorError
from spf_bench.generators.dit import DiTGenerator
from spf_bench.generators.hunyuan import (
    TINY_HUNYUAN,
    HunyuanVideoGenerator,
    build_tiny_hunyuan_video_pipeline,
    hunyuan_rope_class,
    hunyuan_temporal_frequencies,
)
from spf_bench.generators.retime import accumulate_positions, band_strengths
from spf_bench.generators.warped_rope import (
    LatentRopeAdapter,
    frames_to_latent_positions,
    warped_ropes,
)

torch.set_num_threads(1)
TINY = {
    "tiny": True,
    "height": 32,
    "width": 32,
    "n_frames": 17,
    "fps": 16.0,
    "steps": 3,
    "device": "cpu",
    "dtype": "float32",
    "vae_dtype": "float32",
    "offload": "none",
    "max_sequence_length": 32,
}


@pytest.fixture(scope="module")
def gen():
    return HunyuanVideoGenerator(**TINY)


def _warp(g: HunyuanVideoGenerator, n: int = 17) -> np.ndarray:
    t = np.arange(n, dtype=np.float64)
    tau = (n - 1) * np.linspace(0, 1, n) ** 2
    return accumulate_positions(np.tile(t, (g.bands, 1)), tau, band_strengths(g.bands))


def _stock_latents(g: HunyuanVideoGenerator, request) -> torch.Tensor:
    pipe = build_tiny_hunyuan_video_pipeline(g.tiny_seed)
    pipe.set_progress_bar_config(disable=True)
    assert not isinstance(pipe.transformer.rope, LatentRopeAdapter)
    return pipe(**g.pipeline_kwargs(request, "latent")).frames


def test_protocol_bands_and_the_patched_rope(gen):
    assert isinstance(gen, Generator) and isinstance(gen, DiTGenerator)
    assert gen.name == "hunyuan_video_tiny" and gen.honours_positions
    assert gen.bands == TINY_HUNYUAN["rope_axes_dim"][0] // 2 == 8
    np.testing.assert_allclose(gen.frequencies, 256.0 ** (-np.arange(8) / 8.0), rtol=1e-15)
    (rope,) = warped_ropes([gen.pipe.transformer])
    assert type(rope).__name__ == "WarpedHunyuanVideoRotaryPosEmbed"
    assert gen.patched == ["transformer"]
    items = gen.items(2, seed=0)
    assert len(items) == 2 and all(r.prompt and r.n_frames == 17 for r in items)


def test_zero_warp_is_bit_identical_to_the_unpatched_model(gen):
    request = gen.items(1, seed=0)[0]
    warped = gen.run_pipeline(request, "latent")
    assert torch.equal(warped, _stock_latents(gen, request))
    # The explicit stock grid takes the same path: still the stock model bit for bit.
    on_grid = gen.run_pipeline(request.with_positions(np.arange(17.0)), "latent")
    assert torch.equal(on_grid, warped)


def test_a_warp_changes_the_output_and_g_follows_its_schedule(gen):
    request = gen.items(1, seed=0)[0]
    stock = gen.run_pipeline(request, "latent")
    warped = gen.run_pipeline(request.with_positions(_warp(gen)), "latent")
    assert float((warped - stock).abs().max()) > 1e-4
    calls = gen.warp.calls
    assert len(calls) == TINY["steps"] and {c["label"] for c in calls} == {"transformer"}
    s = np.array([c["s"] for c in calls])
    assert s[0] == 1.0 and np.all(np.diff(s) < 0)
    # exp_up: g = (e^{3 s} - 1) / (e^3 - 1)
    np.testing.assert_allclose([c["g"] for c in calls], np.expm1(3 * s) / np.expm1(3.0), rtol=1e-12)


def _rope_tables(rope, n_latent: int) -> tuple[torch.Tensor, torch.Tensor]:
    c = TINY_HUNYUAN["latent_channels"]
    return rope(torch.zeros(1, c, n_latent, 4, 4))  # 2 x 2 patches per latent frame


@pytest.mark.parametrize("with_base", [False, True])
def test_band_phases_follow_the_formula(gen, with_base):
    """cos/sin of band b at latent frame i are those of q_b(i) * w_b, with
    q_b(i) = i + e_b(i) + g (d_b(i) - e_b(i)), d and e the latent displacements of the target
    and base positions; the height and width channels stay the stock ones."""
    (rope,) = warped_ropes([gen.pipe.transformer])
    stock = HunyuanVideoRotaryPosEmbed(2, 1, list(rope.rope_dim), rope.theta)
    target = _warp(gen)
    base = np.tile(np.arange(17.0), (gen.bands, 1)) + 0.5 * (target - np.arange(17.0))
    gen.warp.set_positions(target, 17, base=base if with_base else None)
    g = gen.warp.set_timestep(600.0)
    assert 0.0 < g < 1.0
    cos, sin = _rope_tables(rope, 5)
    stock_cos, stock_sin = _rope_tables(stock, 5)
    t_dim = 2 * gen.bands
    assert torch.equal(cos[:, t_dim:], stock_cos[:, t_dim:])
    assert torch.equal(sin[:, t_dim:], stock_sin[:, t_dim:])
    i = np.arange(5.0)
    d = frames_to_latent_positions(target) - i
    e = frames_to_latent_positions(base) - i if with_base else 0.0 * d
    q = i + e + g * (d - e)  # (B, L) latent frames
    expected = (q * hunyuan_temporal_frequencies(rope.rope_dim)[:, None]).T  # (L, B)
    phase = torch.atan2(sin[:, :t_dim:2], cos[:, :t_dim:2]).double().numpy()  # (L*4, B)
    gap = np.angle(np.exp(1j * (phase - np.repeat(expected, 4, axis=0))))
    assert np.abs(gap).max() < 1e-5
    assert np.abs(d).max() > 0.5  # the warp moves some band by more than half a latent frame
    gen.warp.set_positions(None, 17)


def test_the_adapter_refuses_the_wrong_rope_and_band_count(gen):
    from spf_bench.generators.warped_rope import TemporalWarp

    cls = hunyuan_rope_class()
    (rope,) = warped_ropes([gen.pipe.transformer])
    with pytest.raises(ValueError, match="already warped"):
        cls.from_stock(rope, TemporalWarp(8))
    stock = HunyuanVideoRotaryPosEmbed(2, 1, [16, 8, 8], 256.0)
    with pytest.raises(ValueError, match="warp has 4 bands, the rope 8"):
        cls.from_stock(stock, TemporalWarp(4))
    with pytest.raises(TypeError, match="HunyuanVideoRotaryPosEmbed"):
        cls.from_stock(torch.nn.Identity(), TemporalWarp(8))


def test_errors_frame_rules_modes_and_missing_checkpoint(tmp_path):
    with pytest.raises(GeneratorError, match="4n\\+1"):
        HunyuanVideoGenerator(**{**TINY, "n_frames": 16})
    with pytest.raises(GeneratorError, match="multiple of 16"):
        HunyuanVideoGenerator(**{**TINY, "width": 40})
    with pytest.raises(GeneratorError, match="text-to-video"):
        HunyuanVideoGenerator(**{**TINY, "mode": "flf"})
    t0 = time.perf_counter()
    with pytest.raises(GeneratorError) as err:
        HunyuanVideoGenerator(cache_dir=str(tmp_path))
    assert time.perf_counter() - t0 < 1.0
    msg = str(err.value)
    assert "hf download hunyuanvideo-community/HunyuanVideo" in msg and str(tmp_path) in msg


def test_configs_build_and_are_typed(compose_cfg):
    from hydra.errors import ConfigCompositionException

    from spf_bench.bench.config import compose_model

    name, target, cfg = compose_model("hunyuan_video_tiny")
    assert name == "hunyuan_video_tiny"
    module, cls = target.rsplit(".", 1)
    g = getattr(importlib.import_module(module), cls)(**cfg)
    assert g.name == "hunyuan_video_tiny" and g.bands == 8
    _, _, real = compose_model("hunyuan_video")
    assert real["model_id"] == "hunyuanvideo-community/HunyuanVideo" and real["n_frames"] % 4 == 1
    with pytest.raises(GeneratorError, match="hf download hunyuanvideo-community/HunyuanVideo"):
        HunyuanVideoGenerator(**{**real, "cache_dir": "/nonexistent-hf-cache"})
    with pytest.raises(ConfigCompositionException) as err:  # mode is Literal["t2v"]
        compose_cfg(["model=hunyuan_video_tiny", "model.mode=flf"])
    assert "Invalid value 'flf', expected one of [t2v]" in str(err.value.__cause__)
    with pytest.raises(ConfigCompositionException, match=r"model\.true_cfg"):
        compose_cfg(["model=hunyuan_video_tiny", "model.true_cfg=2"])


def test_real_loading_code_from_an_offline_hf_cache(tmp_path):
    base = tmp_path / "models--test-org--tiny-hunyuan"
    build_tiny_hunyuan_video_pipeline(0).save_pretrained(base / "snapshots" / ("0" * 40))
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text("0" * 40)
    real = {k: v for k, v in TINY.items() if k != "tiny"}
    g = HunyuanVideoGenerator(model_id="test-org/tiny-hunyuan", cache_dir=str(tmp_path), **real)
    assert g.bands == 8 and g.spatial_multiple == 16 and g.temporal_factor == 4
    video = g.generate(g.items(1, seed=0)[0].with_positions(_warp(g)))
    assert video.frames.shape == (17, 32, 32, 3) and video.frames.dtype == np.uint8
    assert video.metadata["model_id"] == "test-org/tiny-hunyuan" and video.metadata["warped"]


def test_bench_retime_loop_runs_three_iterations(compose_cfg, tmp_path):
    import pandas as pd

    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark

    cfg = compose_cfg(
        [
            "model=hunyuan_video_tiny",
            "retime=warped",
            "retime.iterations=3",
            "n_videos=1",
            # random tiny weights: plumbing, not pacing (noise-like frames fail the no-progress
            # test, docs/method.md Sec. 1 step 7)
            "spf.progress_threshold=0",
            "embedder=pixel",
            "eval_embedders=[]",
            "logger=none",
            "plots=false",
            "report=false",
            f"run_dir={tmp_path / 'run'}",
            "progress=false",
        ]
    )
    run_benchmark(settings_from_config(cfg))
    df = pd.read_parquet(tmp_path / "run" / "records.parquet").sort_values("iteration")
    assert df.iteration.tolist() == [0, 1, 2, 3] and (df.status == "ok").all()
    assert (df.model == "hunyuan_video_tiny").all()
    metas = [json.loads(m) if isinstance(m, str) else m for m in df.metadata]
    assert [m["warped"] for m in metas] == [False, True, True, True]
    # the default composition: each iteration on the previous one's positions
    assert [m["warp_composition"] for m in metas][1:] == ["reference"] * 3
    assert all(len(m["warp_max_rotation_rad"]) == 8 for m in metas)


def test_the_adapter_rotates_at_the_same_positions_as_the_wan_rope():
    """One formula across families: for the same warp, composition base and g, the adapter's
    latent positions equal those the Wan rope rotates at (both causal VAEs with factor 4)."""
    from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

    from spf_bench.generators.warped_rope import TemporalWarp, wan_rope_class

    warp = TemporalWarp(8)
    warp.record_applied = True
    wan = wan_rope_class().from_stock(WanRotaryPosEmbed(48, (1, 2, 2), 64), warp, 4)
    hunyuan = hunyuan_rope_class().from_stock(
        HunyuanVideoRotaryPosEmbed(2, 1, [16, 8, 8], 256.0), warp, 4
    )
    target = 16.0 * np.linspace(0.0, 1.0, 17) ** 1.5
    warp.set_positions(target, 17, base=0.5 * (target + np.arange(17.0)))
    warp.set_timestep(700.0)
    wan(torch.zeros(1, 4, 5, 4, 4))
    _rope_tables(hunyuan, 5)
    by_rope = {a["rope"]: a["positions"] for a in warp.applied}
    np.testing.assert_allclose(
        by_rope["WarpedHunyuanVideoRotaryPosEmbed"], by_rope["wan"], rtol=0, atol=1e-12
    )
    assert np.abs(by_rope["wan"] - np.arange(5.0)).max() > 0.3
