"""Wan2.2 generator on tiny random two-expert pipelines (CPU): warp installed end to end."""

from __future__ import annotations

import importlib
import json
import math
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from spf_bench.generators.base import GenerationRequest, Generator, GeneratorError
from spf_bench.generators.dit import DiTGenerator
from spf_bench.generators.retime import accumulate_positions, band_strengths, timestep_modulation
from spf_bench.generators.tiny import build_tiny_wan22_pipeline
from spf_bench.generators.wan22 import Wan22Generator
from spf_bench.generators.warped_rope import (
    WarpedWanRotaryPosEmbed,
    band_angles,
    frames_to_latent_positions,
    wan_temporal_frequencies,
)
from spf_bench.metrics.embedders import MissingWeightsError

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "tiny": True,
    "height": 32,
    "width": 32,
    "n_frames": 17,
    "steps": 4,
    "device": "cpu",
    "dtype": "float32",
    "max_sequence_length": 32,
}


@pytest.fixture(scope="module")
def t2v():
    return Wan22Generator(mode="t2v", guidance_scale_2=3.0, **TINY)


@pytest.fixture(scope="module")
def flf():
    return Wan22Generator(mode="flf", shift=8.0, keyframes="procedural", **TINY)


def _warp(gen: Wan22Generator, n: int = 17) -> np.ndarray:
    """A strong, non-trivial per-band warp (one ReTime iteration towards a quadratic tau)."""
    t = np.arange(n, dtype=np.float64)
    tau = (n - 1) * np.linspace(0, 1, n) ** 2
    return accumulate_positions(np.tile(t, (gen.bands, 1)), tau, band_strengths(gen.bands))


def fake_hf_cache(root: Path, repo: str, pipe) -> None:
    """Save ``pipe`` where the HF hub cache keeps ``repo`` (refs/main -> snapshots/<sha>)."""
    base = root / ("models--" + repo.replace("/", "--"))
    sha = "0" * 40
    pipe.save_pretrained(base / "snapshots" / sha)
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(sha)


def _stock_pipeline(gen: Wan22Generator):
    """An unpatched tiny pipeline with the same weights and scheduler as ``gen``'s."""
    pipe = build_tiny_wan22_pipeline(gen.mode, seed=gen.tiny_seed)
    pipe.scheduler = type(gen.pipe.scheduler).from_config(gen.pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    assert not isinstance(pipe.transformer.rope, WarpedWanRotaryPosEmbed)
    return pipe


# --------------------------------------------------------------------------- protocol, items


def test_protocol_bands_and_items(t2v):
    assert isinstance(t2v, Generator) and isinstance(t2v, DiTGenerator)
    assert t2v.name == "wan22_tiny" and t2v.honours_positions and t2v.bands == 8
    a, b = t2v.items(6, seed=3), t2v.items(6, seed=3)
    assert [r.item_id for r in a] == [r.item_id for r in b]
    assert [r.seed for r in a] == [r.seed for r in b]
    assert len({r.item_id for r in a}) == 6 and all(r.prompt and r.n_frames == 17 for r in a)
    assert [r.item_id for r in t2v.items(6, seed=4)] != [r.item_id for r in a]
    # a smaller run's items are a prefix of a larger one's (n_videos is not in the run hash)
    assert [(r.item_id, r.seed) for r in t2v.items(4, seed=3)] == [
        (r.item_id, r.seed) for r in a[:4]
    ]
    with pytest.raises(GeneratorError, match="prompt suite has"):
        t2v.items(10_000, seed=0)


def test_sharding_is_the_bench_s_alone():
    """One sharding mechanism (issue 10): the generator has none; the bench's shard.* strides
    over gen.items() (tests/test_sweep.py checks the union of the shards)."""
    import inspect

    for cls in (Wan22Generator, DiTGenerator):
        params = inspect.signature(cls.__init__).parameters
        assert "shard_index" not in params and "num_shards" not in params
    with pytest.raises(TypeError, match="shard_index"):
        Wan22Generator(shard_index=1, num_shards=2, **TINY)


# --------------------------------------------------------------------------- bit identity


def test_zero_warp_is_bit_identical_to_unpatched_model(t2v):
    req = t2v.items(1, seed=0)[0]
    stock = _stock_pipeline(t2v)
    ref = stock(**t2v.pipeline_kwargs(req, "latent")).frames
    t = np.arange(17, dtype=np.float64)
    tau = 16 * np.linspace(0, 1, 17) ** 3
    a_zero = accumulate_positions(np.tile(t, (t2v.bands, 1)), tau, np.zeros(t2v.bands))
    for positions in (None, np.tile(t, (t2v.bands, 1)), a_zero):  # baseline, tau = t, a = 0
        got = t2v.run_pipeline(req.with_positions(positions), "latent")
        assert torch.equal(got, ref)
    frames_ref = stock(**t2v.pipeline_kwargs(req, "np")).frames
    assert np.array_equal(t2v.run_pipeline(req.with_positions(a_zero), "np"), frames_ref)
    assert len(t2v.warp.calls) == 2 * t2v.steps  # the warped ropes ran (CFG: 2 calls a step)


def test_flf_zero_warp_is_bit_identical_to_unpatched_model(flf):
    req = flf.items(1, seed=0)[0]
    ref = _stock_pipeline(flf)(**flf.pipeline_kwargs(req, "latent")).frames
    assert torch.equal(flf.run_pipeline(req, "latent"), ref)
    t = np.tile(np.arange(17.0), (flf.bands, 1))
    assert torch.equal(flf.run_pipeline(req.with_positions(t), "latent"), ref)


def test_nontrivial_warp_changes_output(t2v):
    req = t2v.items(1, seed=0)[0]
    base = t2v.run_pipeline(req, "latent")
    warped = t2v.run_pipeline(req.with_positions(_warp(t2v)), "latent")
    rel = float((warped - base).norm() / base.norm())
    assert 1e-6 < rel < 1.0, rel


# --------------------------------------------------------------------------- experts, schedule


def test_both_experts_receive_the_warp_at_every_step(t2v):
    req = t2v.items(1, seed=1)[0].with_positions(_warp(t2v))
    pipe = t2v.pipe
    seen = []
    hooks = [
        getattr(pipe, name).rope.register_forward_hook(
            lambda mod, args, out, name=name: seen.append((name, out[0].clone()))
        )
        for name in ("transformer", "transformer_2")
    ]
    try:
        t2v.run_pipeline(req, "latent")
    finally:
        for h in hooks:
            h.remove()
    calls = t2v.warp.calls
    assert len(seen) == len(calls) == 2 * t2v.steps
    boundary = pipe.config.boundary_ratio * 1000
    Q = frames_to_latent_positions(req.positions)  # (bands, L) latent frames
    w = wan_temporal_frequencies(t2v.head_dim)
    td, n_lat = 2 * t2v.bands, Q.shape[1]
    for (label, cos), call in zip(seen, calls, strict=True):
        assert label == call["label"]
        assert label == ("transformer" if call["timestep"] >= boundary else "transformer_2")
        q = np.arange(n_lat) + call["g"] * (Q - np.arange(n_lat))
        ref = np.cos(band_angles(q, w))
        got = cos[0, :, 0, :td:2].reshape(n_lat, -1, t2v.bands)[:, 0].double().numpy()
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
        assert call["g"] > 0 and not np.allclose(
            got, np.cos(band_angles(Q * 0 + np.arange(n_lat), w))
        )
    labels = [label for label, _ in seen]
    assert labels.count("transformer") >= 2 and labels.count("transformer_2") >= 2
    # the installed ropes of both experts hold the same mapped positions
    for name in ("transformer", "transformer_2"):
        rope = getattr(pipe, name).rope
        assert isinstance(rope, WarpedWanRotaryPosEmbed)
        assert np.array_equal(rope.latent_displacement(n_lat) + np.arange(n_lat), Q)


@pytest.mark.parametrize("mode", ["exp_up", "linear", "cosine", "none"])
def test_g_follows_its_schedule_across_steps(t2v, mode):
    req = t2v.items(1, seed=2)[0].with_positions(_warp(t2v))
    t2v.warp.g_mode = mode
    try:
        t2v.run_pipeline(req, "latent")
    finally:
        t2v.warp.g_mode = "exp_up"
    calls = t2v.warp.calls
    steps = t2v.pipe.scheduler.timesteps.double().numpy() / 1000.0
    s = np.array([c["s"] for c in calls])
    g = np.array([c["g"] for c in calls])
    assert np.allclose(s, np.repeat(steps, 2))  # two CFG calls per step
    assert np.allclose(g, timestep_modulation(s, mode), rtol=0, atol=1e-12)
    if mode == "none":
        assert np.all(g == 1.0)
    else:
        assert np.all(np.diff(g[::2]) < 0)  # full warp early, less as denoising ends


# --------------------------------------------------------------------------- first-last-frame


def test_flf_conditions_on_the_last_frame(flf):
    req = flf.items(1, seed=0)[0]
    assert req.first_image.shape == req.last_image.shape == (32, 32, 3)
    masks = []
    hook = flf.pipe.transformer.register_forward_pre_hook(
        lambda mod, args, kw: masks.append(kw["hidden_states"][:, 4:8].clone()), with_kwargs=True
    )
    try:
        base = flf.run_pipeline(req, "latent")
    finally:
        hook.remove()
    # (4, L, h, w): per-frame mask of the conditioning video, 4 frames per latent. Latent 0 is
    # frame 0 (repeated); the last latent holds frames F-4..F-1 and only frame F-1 is kept.
    mask = masks[0][0]
    assert torch.all(mask[:, 0] == 1)
    assert torch.all(mask[:3, -1] == 0) and torch.all(mask[3, -1] == 1)
    assert torch.all(mask[:, 1:-1] == 0)
    other = GenerationRequest(**{**req.__dict__, "last_image": 255 - req.last_image})
    assert not torch.equal(flf.run_pipeline(other, "latent"), base)
    # end latents keep their stock positions under any warp (they hold the keyframes)
    q = flf.latent_positions(req.with_positions(_warp(flf)))
    assert np.all(q[:, 0] == 0) and np.all(q[:, -1] == q.shape[1] - 1)
    assert np.any(q[:, 1:-1] != np.arange(1, q.shape[1] - 1))


def test_flf_request_without_keyframes_is_refused(flf):
    req = flf.items(1, seed=0)[0]
    with pytest.raises(GeneratorError, match="last_image"):
        flf.generate(GenerationRequest(**{**req.__dict__, "last_image": None}))


# --------------------------------------------------------------------------- errors, metadata


def test_5b_first_last_frame_refused_and_missing_checkpoint_is_fast(tmp_path):
    with pytest.raises(GeneratorError, match="last_image"):
        Wan22Generator(model_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers", mode="flf")
    t0 = time.perf_counter()
    with pytest.raises(GeneratorError) as err:
        Wan22Generator(model_id="Wan-AI/Wan2.2-T2V-A14B-Diffusers", cache_dir=str(tmp_path))
    assert time.perf_counter() - t0 < 1.0
    msg = str(err.value)
    assert "Wan-AI/Wan2.2-T2V-A14B-Diffusers" in msg and str(tmp_path) in msg
    assert "hf download Wan-AI/Wan2.2-T2V-A14B-Diffusers" in msg
    # Also a MissingWeightsError (what weight pre-flights catch), and it crosses SLURM jobs.
    assert isinstance(err.value, MissingWeightsError) and isinstance(err.value, GeneratorError)
    assert err.value.model_id == "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
    assert err.value.searched == str(tmp_path)
    back = pickle.loads(pickle.dumps(err.value))
    assert type(back) is type(err.value) and str(back) == msg
    assert (back.model_id, back.searched) == (err.value.model_id, err.value.searched)


def test_frame_rules_and_positions_shape(t2v):
    with pytest.raises(GeneratorError, match="4n\\+1"):
        Wan22Generator(mode="t2v", **{**TINY, "n_frames": 18})
    with pytest.raises(GeneratorError, match="multiple of 16"):
        Wan22Generator(mode="t2v", **{**TINY, "height": 40})
    req = t2v.items(1, seed=0)[0]
    with pytest.raises(GeneratorError, match="bands x frames"):
        t2v.generate(req.with_positions(np.zeros((3, 17))))
    with pytest.raises(GeneratorError, match="4n\\+1"):
        t2v.generate(GenerationRequest(**{**req.__dict__, "n_frames": 16}))


def test_generate_returns_uint8_and_json_metadata(t2v):
    req = t2v.items(1, seed=0)[0].with_positions(_warp(t2v))
    video = t2v.generate(req)
    assert video.frames.shape == (17, 32, 32, 3) and video.frames.dtype == np.uint8
    assert video.fps == 16.0 and video.audio is None
    meta = json.loads(json.dumps(video.metadata))
    assert (
        meta["warped"]
        and meta["bands"] == 8
        and meta["experts_warped"] == ["transformer", "transformer_2"]
    )
    rot = np.array(meta["warp_max_rotation_rad"])
    assert rot.shape == (8,) and rot[0] > 0.05 and np.all(rot >= 0)
    assert meta["warp_calls"]["transformer"] > 0 and meta["warp_calls"]["transformer_2"] > 0
    assert len(meta["warp_schedule"]) == 2 * t2v.steps


def _config(name: str, **override):
    """``conf/model/<name>.yaml`` composed the way the bench composes it (its typed schema
    supplies ``_target_``): ``(generator class, keyword arguments)``."""
    from spf_bench.bench.config import compose_model

    got, target, kwargs = compose_model(name, override)
    assert got == name
    module, cls = target.rsplit(".", 1)
    return getattr(importlib.import_module(module), cls), kwargs


def _from_config(name: str, **override):
    cls, kwargs = _config(name, **override)
    return cls(**kwargs)


def test_tiny_configs_build_and_generate():
    gen = _from_config("wan22_tiny")
    assert gen.name == "wan22_tiny"
    video = gen.generate(gen.items(1, seed=0)[0])
    assert video.frames.shape == (17, 32, 32, 3)
    flf = _from_config("wan22_flf_tiny")
    reqs = flf.items(2, seed=0)  # keyframes rendered by the tiny T2V pipeline (t2i path)
    again = flf.items(2, seed=0)
    for r, s in zip(reqs, again, strict=True):
        assert r.first_image.shape == (32, 32, 3) and r.first_image.dtype == np.uint8
        assert np.array_equal(r.first_image, s.first_image) and np.array_equal(
            r.last_image, s.last_image
        )
        assert not np.array_equal(r.first_image, r.last_image)


@pytest.mark.parametrize("name", ["wan22", "wan22_flf", "wan22_5b"])
def test_real_configs_name_the_missing_checkpoint(name, tmp_path):
    cfg = yaml.safe_load((ROOT / "conf" / "model" / f"{name}.yaml").read_text())
    cls, kwargs = _config(name, cache_dir=str(tmp_path))
    assert cls is Wan22Generator and kwargs["model_id"] == cfg["model_id"]
    t0 = time.perf_counter()
    with pytest.raises(GeneratorError, match="hf download " + cfg["model_id"]):
        cls(**kwargs)
    assert time.perf_counter() - t0 < 1.0


def test_real_loading_code_from_an_offline_hf_cache(tmp_path):
    """The from_pretrained path (vae loaded apart, dtype, offline cache) on saved tiny weights."""
    fake_hf_cache(tmp_path, "test-org/tiny-wan22-t2v", build_tiny_wan22_pipeline("t2v"))
    fake_hf_cache(tmp_path, "test-org/tiny-wan22-i2v", build_tiny_wan22_pipeline("flf"))
    real = {k: v for k, v in TINY.items() if k != "tiny"}
    gen = Wan22Generator(model_id="test-org/tiny-wan22-t2v", cache_dir=str(tmp_path), **real)
    assert gen.bands == 8 and gen.spatial_multiple == 16 and gen.temporal_factor == 4
    req = gen.items(1, seed=0)[0]
    video = gen.generate(req.with_positions(_warp(gen)))
    assert video.frames.shape == (17, 32, 32, 3)
    assert video.metadata["boundary_ratio"] == 0.875  # from the checkpoint's model_index.json
    assert isinstance(gen.pipe.transformer_2.rope, WarpedWanRotaryPosEmbed)
    mem = Wan22Generator(mode="t2v", **TINY)
    # same weights; loaded parameters differ in memory alignment only (float rounding)
    torch.testing.assert_close(
        gen.run_pipeline(req, "latent"), mem.run_pipeline(req, "latent"), rtol=1e-4, atol=1e-5
    )
    flf = Wan22Generator(
        model_id="test-org/tiny-wan22-i2v",
        mode="flf",
        shift=8.0,
        keyframes="procedural",
        cache_dir=str(tmp_path),
        **real,
    )
    assert flf.generate(flf.items(1, seed=0)[0]).frames.shape == (17, 32, 32, 3)
    assert flf.pipe.scheduler.config.flow_shift == 8.0


@pytest.mark.parametrize("model", ["wan22_tiny", "wan22_flf_tiny"])
def test_bench_retime_loop_writes_every_iteration(compose_cfg, tmp_path, model):
    """bench/run.py's task with retime=warped: baseline + 3 warped iterations, all recorded."""
    import pandas as pd

    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark

    cfg = compose_cfg(
        [
            f"model={model}",
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
    rot = np.array([m["warp_max_rotation_rad"] for m in metas])
    assert np.all(rot[0] == 0) and np.all(np.diff(rot[:, 0]) > 0)  # the warp accumulates
    assert all(m["warp_calls"]["transformer_2"] > 0 for m in metas)


# --------------------------------------------------------------------------- typed choices


@pytest.mark.parametrize(
    "override",
    [
        "model.g_mode=up",
        "model.mode=v2v",
        "model.dtype=float64",
        "model.vae_dtype=half",
        "model.offload=cpu",
        "model.keyframes=web",
    ],
)
def test_bad_choice_fails_when_hydra_composes(compose_cfg, override):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match=override.split("=")[0]):
        compose_cfg(["model=wan22_tiny", override])


def test_good_choices_compose_to_their_strings(compose_cfg):
    from spf_bench.bench.config import settings_from_config

    cfg = compose_cfg(["model=wan22_tiny", "model.g_mode=exp_down", "model.dtype=bf16"])
    kwargs = settings_from_config(cfg).model_kwargs
    assert kwargs["g_mode"] == "exp_down" and kwargs["dtype"] == "bf16"
    assert kwargs["mode"] == "t2v" and kwargs["offload"] == "none"


# --------------------------------------------------------------------------- run identity inputs


def test_input_files_are_the_prompt_suite_used_and_dir_keyframes(tmp_path):
    from spf_bench.generators.common import DEFAULT_PROMPTS

    assert Wan22Generator.input_files() == [DEFAULT_PROMPTS.resolve()]
    rel = "conf/prompts/transformations.yaml"  # as the configs write it: from the package
    assert Wan22Generator.input_files(prompts=rel) == [DEFAULT_PROMPTS.resolve()]
    suite = tmp_path / "suite.yaml"
    suite.write_text(DEFAULT_PROMPTS.read_text())
    (tmp_path / "kf").mkdir()
    for name in ("b_first.png", "a_first.png", "notes.txt"):
        (tmp_path / "kf" / name).write_bytes(b"x")
    kw = {"prompts": str(suite), "keyframe_dir": str(tmp_path / "kf")}
    assert Wan22Generator.input_files(**kw) == [suite.resolve()]  # t2v reads no keyframes
    assert Wan22Generator.input_files(mode="flf", keyframes="t2i", **kw) == [suite.resolve()]
    assert Wan22Generator.input_files(mode="flf", keyframes="dir", **kw) == [
        suite.resolve(),
        (tmp_path / "kf" / "a_first.png").resolve(),
        (tmp_path / "kf" / "b_first.png").resolve(),
    ]
    with pytest.raises(GeneratorError, match="not found"):
        Wan22Generator.input_files(prompts=str(tmp_path / "missing.yaml"))


def test_prompt_suite_content_is_part_of_the_run_identity(compose_cfg, tmp_path):
    from spf_bench.bench.config import settings_from_config
    from spf_bench.generators.common import DEFAULT_PROMPTS

    suite = tmp_path / "suite.yaml"
    suite.write_text(DEFAULT_PROMPTS.read_text())

    def settings():
        cfg = compose_cfg(["model=wan22_tiny", f"model.prompts={suite}", "logger=none"])
        return settings_from_config(cfg, cwd=tmp_path)

    first = settings()
    assert list(first.identity["inputs"]) == [str(suite.resolve())]
    assert settings().config_hash == first.config_hash  # same content, same run
    suite.write_text(DEFAULT_PROMPTS.read_text().replace("housecat", "house cat", 1))
    assert settings().config_hash != first.config_hash
    for name in ("ltx2_tiny", "wan22_flf_tiny"):  # every DiT config lists its prompt suite
        s = settings_from_config(compose_cfg([f"model={name}"]), cwd=tmp_path)
        # a file shipped in the package is named by its package path (host-independent)
        assert list(s.identity["inputs"]) == ["spf_bench/conf/prompts/transformations.yaml"]


# --------------------------------------------------------------------------- compositions


def _latent_positions_by_hand(p: np.ndarray, n_frames: int = 17) -> np.ndarray:
    """Frame positions (B, F) to Wan latent positions, written out independently: latent 0 at
    frame 0, latent i at frame 4i - 1.5; the displacement there scaled by (L - 1)/(F - 1)."""
    n_lat = (n_frames - 1) // 4 + 1
    centres = np.array([0.0] + [4 * i - 1.5 for i in range(1, n_lat)])
    t = np.arange(n_frames, dtype=np.float64)
    out = np.empty((p.shape[0], n_lat))
    for b in range(p.shape[0]):
        disp = np.interp(centres, t, p[b] - t)
        out[b] = np.arange(n_lat) + disp * (n_lat - 1) / (n_frames - 1)
    return out


def test_paper_mode_positions_match_the_reference_formula():
    """retime.mode=paper: the positions the patched rope uses at every denoising call of three
    refinements equal the reference node's (1 - a g) * linear + a g * (linear + (tau - t)),
    linear = the previous iteration's positions, computed here from the measured tau alone."""
    from spf_bench.generators.retime import renderer_for, retime_loop
    from spf_bench.metrics.embedders import build_embedder
    from spf_bench.metrics.measure import SPFSettings, measure_frames

    gen = Wan22Generator(mode="t2v", **TINY)
    gen.warp.record_applied = True
    item = gen.items(1, seed=0)[0]
    a = band_strengths(gen.bands)
    pixel = build_embedder("pixel", progress=False)
    inner = renderer_for(gen, item)
    applied = []

    def render(positions, previous, base=None):
        video = inner(positions, previous, base=base)
        applied.append(
            [(dict(gen.warp.calls[e["call"]]), e["positions"]) for e in gen.warp.applied]
        )
        return video

    steps = list(
        retime_loop(
            render,
            lambda frames: measure_frames(frames, pixel, SPFSettings(progress_threshold=0.0)),
            iterations=3,
            strengths=a,
            bands=gen.bands,
            mode="paper",
        )
    )
    assert len(steps) == 4 and all(s.stop == "" for s in steps)
    t = np.arange(17, dtype=np.float64)
    linear = np.tile(t, (gen.bands, 1))  # the reference's per-band "linear" input
    worst, drift = 0.0, 0.0
    for k in range(4):
        assert len(applied[k]) == 2 * gen.steps  # one rope evaluation per transformer call
        if k == 0:
            assert all(np.array_equal(q, _latent_positions_by_hand(linear)) for _, q in applied[0])
            continue
        correction = steps[k - 1].tau - t  # the measured tau of the previous output
        for call, q in applied[k]:
            s = call["timestep"] / 1000.0
            g = (math.exp(3 * s) - 1) / (math.exp(3) - 1)  # the reference's exp_up
            ag = a[:, None] * g
            frames = (1 - ag) * linear + ag * (linear + correction[None, :])
            want = _latent_positions_by_hand(frames)
            worst = max(worst, float(np.max(np.abs(q - want))) * 16 / 4)  # latent -> frames
            acc = _latent_positions_by_hand(t + g * (steps[k].positions - t))  # accumulated
            drift = max(drift, float(np.max(np.abs(q - acc))) * 16 / 4)
        linear = linear + a[:, None] * correction[None, :]  # the additive update
        np.testing.assert_allclose(steps[k].positions, linear, rtol=0, atol=1e-12)
    assert worst < 1e-6, worst
    assert drift > 1e-3, drift  # the accumulated composition would differ (so this can fail)


def test_reference_iteration_one_equals_accumulated_bit_for_bit(t2v):
    """From the stock grid both compositions are the paper's formula: the same latents."""
    from spf_bench.generators.retime import BASE_POSITIONS_KEY

    req = t2v.items(1, seed=0)[0].with_positions(_warp(t2v))
    acc = t2v.run_pipeline(req, "latent")
    ref = req.with_positions(req.positions)
    ref.extra[BASE_POSITIONS_KEY] = np.tile(np.arange(17.0), (t2v.bands, 1))
    assert torch.equal(t2v.run_pipeline(ref, "latent"), acc)
    ref.extra[BASE_POSITIONS_KEY] = ref.positions  # base = target: g no longer matters
    frozen = t2v.run_pipeline(ref, "latent")
    none_g = Wan22Generator(mode="t2v", g_mode="none", guidance_scale_2=3.0, **TINY)
    assert torch.equal(none_g.run_pipeline(req, "latent"), frozen)
    meta = t2v.describe(ref)
    assert meta["warp_composition"] == "reference"
    assert t2v.describe(req)["warp_composition"] == "accumulated"
    with pytest.raises(GeneratorError, match="base positions of shape"):
        bad = req.with_positions(req.positions)
        bad.extra[BASE_POSITIONS_KEY] = np.zeros((3, 17))
        t2v.check_request(bad)
