"""The trained toy Wan2.2 transformer (generators/wan22_toy.py) and its training
(bench/studies/train_toy.py)."""

from __future__ import annotations

import typing

import numpy as np
import pytest
import torch

from spf_bench.generators.base import GenerationRequest, Generator, GeneratorError
from spf_bench.generators.retime import (
    BASE_POSITIONS_KEY,
    G_MODES,
    accumulate_positions,
    band_strengths,
)
from spf_bench.generators.wan22_toy import (
    DEFAULT_WEIGHTS,
    HELD_OUT_STILLS,
    N_FRAMES,
    PACES,
    SIZE,
    TRAIN_STILLS,
    GMode,
    Wan22ToyGenerator,
    load_toy_transformer,
    pace_progress,
    resolve_weights,
    sample_positions,
    sample_video,
    transformation_clip,
)
from spf_bench.generators.warped_rope import WarpedWanRotaryPosEmbed

TARGET = "spf_bench.generators.wan22_toy.Wan22ToyGenerator"
STEPS = 4  # denoising steps in the fast tests (the bench default is 20)


@pytest.fixture(scope="module")
def gen():
    torch.set_num_threads(1)
    return Wan22ToyGenerator(steps=STEPS)


def _tau(n: int = N_FRAMES) -> np.ndarray:
    """A strong non-linear warp target (quadratic)."""
    return (n - 1) * np.linspace(0.0, 1.0, n) ** 2


# --------------------------------------------------------------------------- the generator
def test_shipped_checkpoint_generates_deterministically(gen):
    assert isinstance(gen, Generator)
    assert (gen.name, gen.honours_positions, gen.bands) == ("wan22_toy", True, 12)
    assert isinstance(gen.model.rope, WarpedWanRotaryPosEmbed)
    assert sum(p.numel() for p in gen.model.parameters()) < 1.5e6
    item = gen.items(1, seed=0)[0]
    a = gen.generate(item)
    assert a.frames.shape == (N_FRAMES, 64, 64, 3) and a.frames.dtype == np.uint8
    assert a.metadata["upsample"] == "nearest" and a.metadata["native_size"] == SIZE
    assert len(a.metadata["g_per_call"]) == STEPS
    # nearest-neighbour upsampling: each 16x16 pixel is a 4x4 block
    assert np.array_equal(a.frames[:, ::4, ::4].repeat(4, 1).repeat(4, 2), a.frames)
    b = gen.generate(item)
    assert np.array_equal(a.frames, b.frames)  # same request, same frames
    other = gen.generate(
        GenerationRequest(**{**item.__dict__, "extra": {**item.extra, "noise_seed": 1}})
    )
    assert not np.array_equal(a.frames, other.frames)  # the noise seed matters


def test_stock_positions_and_a0_reproduce_the_stock_model_bit_for_bit(gen):
    item = gen.items(1, seed=3)[0]
    warped_baseline = gen.generate(item).frames
    # a = 0: the ReTime update leaves every band at t exactly (same code path as a warp)
    stock = np.tile(np.arange(N_FRAMES, dtype=np.float64), (gen.bands, 1))
    a0 = accumulate_positions(stock, _tau(), band_strengths(gen.bands, 0.0, 0.0))
    assert np.array_equal(a0, stock)
    assert np.array_equal(gen.generate(item.with_positions(a0)).frames, warped_baseline)
    # the stock diffusers model (its own WanRotaryPosEmbed, no hook) on the same noise
    model, _ = load_toy_transformer(DEFAULT_WEIGHTS)
    assert type(model.rope).__name__ == "WanRotaryPosEmbed"
    noise = torch.randn(
        (1, 3, N_FRAMES, SIZE, SIZE), generator=torch.Generator().manual_seed(gen.noise_seed(item))
    )

    def unit(img):
        return torch.from_numpy(img.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]

    x = sample_video(model, unit(item.first_image), unit(item.last_image), noise, steps=STEPS)
    frames = ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()
    assert np.array_equal(frames.repeat(4, 1).repeat(4, 2), warped_baseline)
    # a real warp changes the learned model's frames
    warp = accumulate_positions(stock, _tau(), band_strengths(gen.bands, 1.0, 1.0))
    moved = gen.generate(item.with_positions(warp))
    assert not np.array_equal(moved.frames, warped_baseline)
    assert moved.metadata["warp_max_shift_frames"] > 3.0
    assert moved.metadata["warp_max_rotation_rad"][0] > moved.metadata["warp_max_rotation_rad"][-1]


def test_reference_composition_base(gen):
    # retime.composition=reference hands the previous positions as extra["base_positions"]:
    # band b rotates at B + g (P - B). A stock-grid base is the accumulated composition, bit for
    # bit; a base equal to P removes the timestep modulation (g scales a zero correction).
    item = gen.items(1, seed=5)[0]
    stock = np.tile(np.arange(N_FRAMES, dtype=np.float64), (gen.bands, 1))
    warp = accumulate_positions(stock, _tau(), band_strengths(gen.bands))
    accumulated = gen.generate(item.with_positions(warp))
    req = item.with_positions(warp)
    req.extra[BASE_POSITIONS_KEY] = stock
    same = gen.generate(req)
    assert np.array_equal(same.frames, accumulated.frames)
    assert same.metadata["composition"] == "reference"
    req.extra[BASE_POSITIONS_KEY] = warp
    assert not np.array_equal(gen.generate(req).frames, accumulated.frames)
    with pytest.raises(GeneratorError, match="base positions"):
        gen.generate(GenerationRequest(**{**item.__dict__, "extra": {BASE_POSITIONS_KEY: stock}}))
    req.extra[BASE_POSITIONS_KEY] = stock[:3]
    with pytest.raises(GeneratorError, match="base positions must have shape"):
        gen.generate(req)


def test_items_come_from_held_out_stills_only(gen):
    items = gen.items(16, seed=0)
    assert [it.item_id for it in items[:2]] == ["wan22_toy-0000", "wan22_toy-0001"]
    for it in items:
        assert it.extra["still_a"] in HELD_OUT_STILLS and it.extra["still_b"] in HELD_OUT_STILLS
        assert it.extra["still_a"] != it.extra["still_b"]
        assert it.first_image.shape == (SIZE, SIZE, 3) and it.first_image.dtype == np.uint8
        assert it.n_frames == N_FRAMES
    again = gen.items(16, seed=0)
    assert all(
        np.array_equal(a.first_image, b.first_image) for a, b in zip(items, again, strict=True)
    )
    assert not set(HELD_OUT_STILLS) & set(TRAIN_STILLS)
    with pytest.raises(ValueError, match="seen in training"):
        Wan22ToyGenerator(stills=["chelsea", TRAIN_STILLS[0]])


def test_bad_requests_raise(gen):
    item = gen.items(1, seed=0)[0]
    for n in (2, 34):
        with pytest.raises(GeneratorError, match="3 to 33 frames"):
            gen.generate(GenerationRequest(**{**item.__dict__, "n_frames": n}))
    with pytest.raises(GeneratorError, match="last_image"):
        gen.generate(GenerationRequest(**{**item.__dict__, "last_image": None}))
    with pytest.raises(GeneratorError, match="positions must have shape"):
        gen.generate(item.with_positions(np.zeros((3, N_FRAMES))))
    with pytest.raises(GeneratorError, match="finite"):
        gen.generate(item.with_positions(np.full(N_FRAMES, np.nan)))


def test_missing_checkpoint_fails_at_construction(tmp_path):
    with pytest.raises(GeneratorError, match="make train-toy"):
        Wan22ToyGenerator(weights=str(tmp_path / "none.safetensors"))


def test_input_files_and_literal_choices():
    assert Wan22ToyGenerator.input_files() == [DEFAULT_WEIGHTS]
    assert Wan22ToyGenerator.input_files(weights="/x/y.safetensors")[0].name == "y.safetensors"
    assert set(typing.get_args(GMode)) == set(G_MODES)


def test_model_config_composes_on_its_schema(compose_cfg, monkeypatch):
    # schema_wan22_toy is typed by the constructor (conf/schema.py MODEL_FAMILIES)
    from spf_bench.bench import config as bc
    from spf_bench.conf import schema

    monkeypatch.setitem(schema.MODEL_FAMILIES, "wan22_toy", TARGET)
    schema.register_configs()
    cfg = compose_cfg(["model=wan22_toy", "model.g_mode=cosine"])
    name, target, kwargs = bc.split_model_config(bc.resolved_config(cfg)["model"])
    assert (name, target, kwargs["g_mode"], cfg.n_videos) == ("wan22_toy", TARGET, "cosine", 16)
    # the checkpoint's content is part of the run identity
    digests = bc.input_digests(target, kwargs)
    assert len(digests) == 1
    key, digest = next(iter(digests.items()))
    assert key.endswith("wan22_toy.safetensors") and digest == bc.file_digest(DEFAULT_WEIGHTS)
    with pytest.raises(Exception, match="g_mode"):
        compose_cfg(["model=wan22_toy", "model.g_mode=sideways"])


def test_checkpoint_digest_is_the_sha256_of_the_file(gen, tmp_path):
    """One digest for the run identity, the generator's metadata and the training script
    (generators.base.file_digest, imported by bench.config): SHA-256 of the bytes, also for
    files spanning several 1 MiB read blocks and for an empty file."""
    import hashlib

    from spf_bench.bench import config as bc
    from spf_bench.generators.base import file_digest

    assert bc.file_digest is file_digest
    want = hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest()
    assert gen.checkpoint_sha256 == file_digest(DEFAULT_WEIGHTS) == want
    big = tmp_path / "big.bin"
    big.write_bytes(np.random.default_rng(0).bytes((1 << 20) * 2 + 7))
    assert file_digest(str(big)) == hashlib.sha256(big.read_bytes()).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert file_digest(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()
    with pytest.raises(OSError):
        file_digest(tmp_path / "missing")


def test_training_outputs_are_written_atomically_with_the_umask_mode(tmp_path):
    """save_checkpoint / plot_losses / write_card (bench/studies/train_toy.py) write through
    metrics.atomic_io: missing folders are created, no temp file is left, the files get the
    mode of a plain write (umask applied; safetensors itself would leave 0600) and the
    returned digest is the checkpoint's SHA-256."""
    out = tmp_path / "out"  # tmp_path also holds the test environment's caches
    import os
    import stat

    from spf_bench.bench.studies.train_toy import (
        TrainResult,
        TrainSettings,
        plot_losses,
        save_checkpoint,
        write_card,
    )
    from spf_bench.generators.base import file_digest
    from spf_bench.generators.wan22_toy import build_toy_transformer

    result = TrainResult(
        model=build_toy_transformer(seed=0).eval(),
        losses=[1.0, 0.8, 0.7],
        val=[(3, 0.75)],
        settings=TrainSettings(steps=3),
    )
    old = os.umask(0o027)
    try:
        ckpt = save_checkpoint(result, out / "w" / "toy.safetensors")
        plot_losses(result, out / "r" / "loss.png")
        write_card(
            result,
            out / "w" / "toy.safetensors",
            ckpt,
            out / "w" / "toy.md",
            out / "r" / "loss.png",
            "cmd",
            host="test",
        )
    finally:
        os.umask(old)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["r/loss.png", "w/toy.md", "w/toy.safetensors"]
    for f in files:
        assert stat.S_IMODE((out / f).stat().st_mode) == 0o640, f
    assert ckpt == file_digest(out / "w" / "toy.safetensors")
    assert f"`{ckpt}`" in (out / "w" / "toy.md").read_text()
    model, meta = load_toy_transformer(out / "w" / "toy.safetensors")
    assert meta["final_loss_mean_last100"] == "0.833333"
    state = result.model.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


# --------------------------------------------------------------------------- training data
def test_transformation_clips_start_and_end_on_their_keyframes():
    rng = np.random.default_rng(0)
    kinds, paces = set(), set()
    for _ in range(60):
        frames, info = transformation_clip(rng)
        kinds.add(info["kind"])
        assert frames.shape == (N_FRAMES, SIZE, SIZE, 3) and frames.dtype == np.float32
        assert 0.0 <= frames.min() and frames.max() <= 1.0
        alpha = np.asarray(info["alpha"])
        assert alpha[0] == 0.0 and np.isclose(alpha[-1], 1.0, atol=1e-12)
        assert np.all(np.diff(alpha) >= 0)
        paces.add(info["pace"])
    assert kinds == {"crossfade", "wipe", "move"}
    assert paces == set(PACES)
    # sampled at given positions: as many frames, and the progress read at those positions
    u = np.array([0.0, 0.1, 0.15, 0.6, 1.0])
    frames, info = transformation_clip(np.random.default_rng(3), u=u)
    assert frames.shape == (5, SIZE, SIZE, 3)
    assert np.allclose(info["alpha"], pace_progress(info["pace"], info["params"], u))


def test_pace_progress_known_answers():
    u = np.linspace(0.0, 1.0, 11)
    assert np.allclose(pace_progress("linear", {}, u), u)
    # two steps with shares 0.25 / 0.75: flat 0.25 between them, 0 before, 1 after
    two = pace_progress(
        "multistep", {"centres": [0.2, 0.7], "widths": [0.05, 0.05], "shares": [0.25, 0.75]}, u
    )
    assert two[0] == 0.0 and np.isclose(two[-1], 1.0)
    assert np.allclose(two[[3, 4, 5]], 0.25) and np.allclose(two[[0, 1]], 0.0)
    with pytest.raises(ValueError, match="unknown pace family"):
        pace_progress("bounce", {}, u)


def test_training_positions_span_the_clip_at_every_density():
    rng = np.random.default_rng(0)
    counts, uneven = set(), 0
    for _ in range(300):
        p = sample_positions(rng)
        counts.add(len(p))
        assert p[0] == 0.0 and p[-1] == N_FRAMES - 1 and np.all(np.diff(p) > 0)
        uneven += not np.allclose(np.diff(p), np.diff(p)[0])
    assert counts == set(range(3, N_FRAMES + 1))
    assert 0.5 < uneven / 300 < 0.8  # 65% warped by construction


def test_segments_of_other_lengths_render_in_the_training_scale(gen):
    """A 9-frame first-last-frame segment: the rope sits at 0, 2, ..., 16 (the training clip's
    frame units), its stock grid and explicit integer positions give the same frames."""
    item = GenerationRequest(**{**gen.items(1, seed=0)[0].__dict__, "n_frames": 9})
    a = gen.generate(item)
    assert a.frames.shape == (9, 64, 64, 3)
    assert np.array_equal(gen.warp.positions, np.tile(2.0 * np.arange(9), (gen.bands, 1)))
    assert a.metadata["warp_max_shift_frames"] == 0.0
    b = gen.generate(item.with_positions(np.arange(9, dtype=np.float64)))
    assert np.array_equal(a.frames, b.frames)
    c = gen.generate(item.with_positions(8 * np.linspace(0, 1, 9) ** 2))
    assert not np.array_equal(a.frames, c.frames)
    assert np.isclose(c.metadata["warp_max_shift_frames"], 2.0)  # at frame 4: 4 - 8 * 0.25


def test_v1_checkpoint_stays_reachable_by_name():
    assert resolve_weights(None) == DEFAULT_WEIGHTS
    v1 = resolve_weights("wan22_toy_v1")
    assert v1 == DEFAULT_WEIGHTS.parent / "wan22_toy_v1.safetensors" and v1.is_file()
    assert resolve_weights("/x/y.safetensors").as_posix() == "/x/y.safetensors"
    gen1 = Wan22ToyGenerator(weights="wan22_toy_v1", steps=2)
    assert gen1.checkpoint_sha256 != Wan22ToyGenerator(steps=2).checkpoint_sha256


# --------------------------------------------------------------------------- training
@pytest.mark.slow
def test_a_few_training_steps_lower_the_loss_reproducibly():
    from spf_bench.bench.studies.train_toy import TrainSettings, train

    s = TrainSettings(steps=40, batch=4, lr=2e-3, warmup=5, eval_every=0, log_every=1000)
    r = train(s, log=None)
    first, last = np.mean(r.losses[:8]), np.mean(r.losses[-8:])
    assert np.isfinite(r.losses).all() and last < 0.8 * first, (first, last)
    # same seed, same settings, one thread: the same weights
    s3 = TrainSettings(steps=3, batch=2, warmup=1, eval_every=0, log_every=1000)
    a, b = train(s3, log=None).model.state_dict(), train(s3, log=None).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------- the ReTime loop on it
@pytest.mark.slow
def test_opposite_pacing_targets_bend_s_to_opposite_sides(compose_cfg, tmp_path):
    """The learned model follows warped RoPE: retimed towards ``exp_up`` (slow start) its ``S``
    ends below the diagonal, towards ``exp_down`` above it, from the same baseline (issue 12's
    "Done when"; results/wan22_toy/ measures the same on 16 items: -0.057 and +0.031)."""
    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark
    from spf_bench.bench.views.load import load_records

    torch.set_num_threads(1)
    side = {}
    for pacing in ("exp_up", "exp_down"):
        run_dir = tmp_path / pacing
        cfg = compose_cfg(
            [
                "model=wan22_toy",
                "retime=warped",
                "embedder=pixel",
                f"pacing={pacing}",
                "n_videos=4",
                "eval_embedders=[]",
                "logger=none",
                "progress=false",
                "plots=false",
                "save_videos=false",
                f"run_dir={run_dir}",
            ]
        )
        run_benchmark(settings_from_config(cfg))
        rec = load_records([run_dir])
        dev = {}
        for row in rec.itertuples():
            s = np.load(run_dir / row.spf_path)["progress"]
            dev.setdefault(row.iteration, []).append(float(np.mean(s - np.linspace(0, 1, s.size))))
        side[pacing] = {k: float(np.mean(v)) for k, v in dev.items()}
    base_up, base_down = side["exp_up"][0], side["exp_down"][0]
    assert base_up == pytest.approx(base_down, abs=1e-12)  # the same stock baseline
    last = max(side["exp_up"])
    up, down = side["exp_up"][last], side["exp_down"][last]
    # Measured on these 4 items: baseline +0.030, exp_up -0.041, exp_down +0.031 (exp_down
    # moves S little here; on 16 items +0.012 -> +0.031).
    assert up < 0.0 < down, side
    assert up < base_up - 0.03 and down - up > 0.03, side
