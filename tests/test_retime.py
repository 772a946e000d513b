"""Warp schedules and the ReTime position update (generators/retime.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spf_bench.generators.base import GeneratedVideo
from spf_bench.generators.retime import (
    BASE_POSITIONS_KEY,
    COMPOSITIONS,
    G_MODES,
    LOOP_MODES,
    accumulate_positions,
    band_strengths,
    in_model_positions,
    loop_settings,
    renderer_for,
    retime_loop,
    timestep_modulation,
)
from spf_bench.metrics import spf
from spf_bench.metrics.measure import measure_frames


def test_band_strengths_paper_values():
    a = band_strengths(22, a_low=0.2, a_high=0.8, lam=3.0)
    assert a.shape == (22,)
    assert a[0] == pytest.approx(0.2)
    assert a[-1] == pytest.approx(0.8 - 0.6 * math.exp(-3))  # ~0.77, the paper's figure
    assert np.all(np.diff(a) > 0)  # low-frequency bands are warped more
    assert band_strengths(0).size == 0
    with pytest.raises(ValueError):
        band_strengths(4, a_low=1.5)


@pytest.mark.parametrize("mode", G_MODES)
def test_timestep_modulation_range_and_ends(mode):
    s = np.linspace(0, 1, 101)
    g = timestep_modulation(s, mode)
    assert np.all((g >= 0) & (g <= 1))
    if mode == "none":
        assert np.all(g == 1)
    elif mode == "exp_down":  # the reference's: full warp at the end of denoising (s = 0)
        assert g[0] == pytest.approx(1) and g[-1] == pytest.approx(0)
        assert np.all(np.diff(g) < 0)  # falls as s rises
    else:
        assert g[0] == pytest.approx(0) and g[-1] == pytest.approx(1)
        assert np.all(np.diff(g) > 0)
    with pytest.raises(ValueError, match="unknown"):
        timestep_modulation(0.5, "bogus")


def test_modulations_match_the_reference_formulas():
    """Each g(s) against its formula written out here, s = timestep / 1000 (1 = noise)."""
    e3 = math.e**3
    for s in (0.0, 0.1, 0.25, 0.5, 0.9, 1.0):
        ref = {
            "none": 1.0,
            "exp_up": (math.e ** (3 * s) - 1) / (e3 - 1),
            "exp_down": (math.e ** (3 * (1 - s)) - 1) / (e3 - 1),
            "linear": s,
            "cosine": (1 - math.cos(math.pi * s)) / 2,
        }
        for mode, want in ref.items():
            assert float(timestep_modulation(s, mode)) == pytest.approx(want, abs=1e-14), mode
    s = np.linspace(0, 1, 11)
    # exp_down is exp_up mirrored in time (not its complement, as spf-bench had it before)
    np.testing.assert_allclose(
        timestep_modulation(s, "exp_down"), timestep_modulation(1 - s, "exp_up"), atol=1e-15
    )
    assert float(timestep_modulation(0.5, "exp_down")) < 0.5  # convex in s


def test_exp_up_known_value():
    assert timestep_modulation(0.5, "exp_up") == pytest.approx((math.e**1.5 - 1) / (math.e**3 - 1))


def test_loop_settings_and_in_model_positions():
    assert loop_settings("default", "compose", "accumulated") == ("compose", "accumulated")
    assert loop_settings("default", "additive", "reference") == ("additive", "reference")
    assert loop_settings("paper", "compose", "accumulated") == ("additive", "reference")
    for bad in (("bogus", "compose", "accumulated"), ("default", "x", "accumulated")):
        with pytest.raises(ValueError, match="unknown"):
            loop_settings(*bad)
    with pytest.raises(ValueError, match="composition"):
        loop_settings("default", "compose", "x")
    assert set(LOOP_MODES) == {"default", "paper"}
    assert set(COMPOSITIONS) == {"accumulated", "reference"}
    t = np.arange(5.0)
    P = np.stack([t + 1.0, t + 2.0])
    B = np.stack([t + 0.5, t])
    np.testing.assert_array_equal(in_model_positions(P, 0.25), t + 0.25 * (P - t))
    np.testing.assert_array_equal(in_model_positions(P, 0.25, B), B + 0.25 * (P - B))
    np.testing.assert_array_equal(in_model_positions(P, 1.0, B), P)
    np.testing.assert_array_equal(in_model_positions(P, 0.0, B), B)
    with pytest.raises(ValueError, match="base"):
        in_model_positions(P, 0.5, np.zeros((3, 5)))


def test_rules_agree_at_identity_and_match_paper_formula():
    n = 21
    t = np.arange(n, dtype=float)
    tau = t + 2.0 * np.sin(np.pi * t / (n - 1))
    a = band_strengths(4)
    stock = np.tile(t, (4, 1))
    comp = accumulate_positions(stock, tau, a, "compose")
    add = accumulate_positions(stock, tau, a, "additive")
    np.testing.assert_allclose(comp, add, atol=1e-12)
    np.testing.assert_allclose(comp, (1 - a[:, None]) * t + a[:, None] * tau, atol=1e-12)


def test_compose_is_exact_for_a_known_renderer():
    # Content at position p is c(p) = p^2 (a renderer honouring positions exactly). After
    # rendering at P, output frame j shows c(P_j); asking frame k to show what frame tau_k showed
    # must give positions P(tau_k).
    n = 33
    t = np.arange(n, dtype=float)
    p = (n - 1) * (t / (n - 1)) ** 2
    tau = (n - 1) * np.sqrt(t / (n - 1))
    new = accumulate_positions(p, tau, rule="compose")
    np.testing.assert_allclose(new, np.interp(tau, t, p), atol=1e-12)
    np.testing.assert_allclose(new, t, atol=0.05)  # p o tau == identity here


def test_bad_shapes_and_rule():
    with pytest.raises(ValueError, match="tau"):
        accumulate_positions(np.arange(5.0), np.arange(4.0))
    with pytest.raises(ValueError, match="strengths"):
        accumulate_positions(np.zeros((3, 5)), np.arange(5.0))
    with pytest.raises(ValueError, match="rule"):
        accumulate_positions(np.arange(5.0), np.arange(5.0), rule="bogus")


# --------------------------------------------------------------------------- the loop's composition


class _Pixels:
    """A pixel embedder (flattened frames) for the measurement of the fake renderers."""

    name = "pixel"

    def embed(self, frames: np.ndarray) -> np.ndarray:
        return frames.reshape(len(frames), -1).astype(np.float64)


def _measure(frames: np.ndarray):
    return measure_frames(frames, _Pixels())


class _Crossfade:
    """A renderer honouring positions exactly: a sigmoid crossfade between two fixed random
    images sampled at the mean position over bands; records its calls."""

    def __init__(self, n: int = 33, takes_base: bool = True):
        rng = np.random.default_rng(0)
        self.a, self.b = rng.uniform(0, 1, (2, 8, 8, 3))
        self.n = n
        self.calls: list[tuple] = []
        self.takes_base = takes_base

    def frames(self, positions):
        if positions is None:
            p = np.arange(self.n, dtype=float)
        else:
            p = np.atleast_2d(positions).mean(0)
        alpha = 1 / (1 + np.exp(-(p / (self.n - 1) - 0.5) * 14))
        out = (1 - alpha)[:, None, None, None] * self.a + alpha[:, None, None, None] * self.b
        return GeneratedVideo(frames=(out * 255).round().astype(np.uint8), fps=16.0)

    def renderer(self):
        if self.takes_base:

            def render(positions, previous, base=None):
                self.calls.append((positions, base))
                return self.frames(positions)

        else:

            def render(positions, previous):
                self.calls.append((positions, "no base"))
                return self.frames(positions)

        return render


def test_reference_composition_hands_the_previous_positions_as_base():
    bands = 3
    a = band_strengths(bands)
    fake = _Crossfade()
    steps = list(
        retime_loop(
            fake.renderer(), _measure, iterations=3, update="additive", strengths=a,
            bands=bands, composition="reference",
        )
    )  # fmt: skip
    assert [len(fake.calls), len(steps)] == [4, 4]
    assert fake.calls[0] == (None, None)  # the baseline: stock, no base
    for k in (1, 2, 3):
        positions, base = fake.calls[k]
        np.testing.assert_array_equal(positions, steps[k - 1].next_positions)
        np.testing.assert_array_equal(base, steps[k - 1].positions)  # previous iteration's
        np.testing.assert_array_equal(steps[k].base_positions, base)
    np.testing.assert_array_equal(fake.calls[1][1], np.tile(np.arange(33.0), (bands, 1)))
    # the accumulated composition calls the same renderer without a base
    fake2 = _Crossfade()
    acc = list(retime_loop(fake2.renderer(), _measure, iterations=2, strengths=a, bands=bands))
    assert all(base is None for _, base in fake2.calls)
    assert all(s.base_positions is None for s in acc)


def test_paper_mode_is_the_additive_update_with_the_reference_composition():
    bands = 2
    a = band_strengths(bands)
    runs = {}
    for kw in ({"mode": "paper"}, {"update": "additive", "composition": "reference"}):
        fake = _Crossfade()
        steps = list(
            retime_loop(fake.renderer(), _measure, iterations=2, strengths=a, bands=bands, **kw)
        )
        runs[tuple(kw)] = (steps, fake.calls)
    (paper, pc), (explicit, ec) = runs.values()
    for s, t in zip(paper, explicit, strict=True):
        np.testing.assert_array_equal(s.positions, t.positions)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(pc[1:], ec[1:], strict=True))
    s0 = paper[0]  # additive: P1 = t + a (tau - t) and P2 = P1 + a (tau1 - t)
    t = np.arange(33.0)
    np.testing.assert_allclose(paper[1].positions, t + a[:, None] * (s0.tau - t), atol=1e-12)
    np.testing.assert_allclose(
        paper[2].positions, paper[1].positions + a[:, None] * (paper[1].tau - t), atol=1e-12
    )


def test_reference_composition_with_a_renderer_without_base_and_resume():
    a = band_strengths(2)
    fake = _Crossfade(takes_base=False)  # a posthoc-style renderer: renders positions exactly
    steps = list(
        retime_loop(fake.renderer(), _measure, iterations=2, strengths=a, bands=2, mode="paper")
    )
    assert len(steps) == 3 and all(base == "no base" for _, base in fake.calls)
    # resuming at iteration 2 under the reference composition needs the base
    fake = _Crossfade()
    with pytest.raises(ValueError, match="base="):
        list(
            retime_loop(
                fake.renderer(), _measure, iterations=3, strengths=a, bands=2, start=2,
                positions=steps[2].positions, composition="reference",
            )
        )  # fmt: skip
    base = steps[1].positions
    got = list(
        retime_loop(
            fake.renderer(), _measure, iterations=2, strengths=a, bands=2, start=2,
            positions=steps[2].positions, composition="reference", base=base,
        )
    )  # fmt: skip
    assert len(got) == 1 and np.array_equal(fake.calls[0][1], base)


def test_renderer_for_carries_the_base_in_the_request():
    from spf_bench.generators.base import GenerationRequest

    seen = []

    class Gen:
        def generate(self, request):
            seen.append(request)
            return GeneratedVideo(frames=np.zeros((3, 2, 2, 3), np.uint8), fps=1.0)

    req = GenerationRequest(item_id="x", seed=0, n_frames=3, fps=1.0, extra={"k": 1})
    render = renderer_for(Gen(), req)
    render(np.arange(3.0) + 1, None)
    render(np.arange(3.0) + 2, None, base=np.arange(3.0) + 1)
    assert BASE_POSITIONS_KEY not in seen[0].extra
    np.testing.assert_array_equal(seen[1].extra[BASE_POSITIONS_KEY], np.arange(3.0) + 1)
    assert req.extra == {"k": 1}  # the item's own request is untouched


def test_guide_picks_the_s_the_loop_inverts():
    """``guide=None`` inverts the measurement's own S (link, the default estimator);
    ``guide="paper"`` the paper estimator's S, which every measurement carries. The two
    differ on this sigmoid crossfade, so the two loops render at different positions."""
    runs = {}
    for guide in (None, "paper"):
        fake = _Crossfade()
        runs[guide] = list(retime_loop(fake.renderer(), _measure, iterations=1, guide=guide))
    for guide, steps in runs.items():
        m = steps[0].measurement
        assert m.spf.estimator == "link"
        s = m.progress if guide is None else m.keyframe_progress
        np.testing.assert_array_equal(steps[0].tau, spf.invert_progress(s, 33, "linear"))
    np.testing.assert_array_equal(runs[None][0].measurement.progress_of("link"),
                                  runs[None][0].measurement.progress)  # fmt: skip
    assert np.max(np.abs(runs[None][0].tau - runs["paper"][0].tau)) > 0.05
    with pytest.raises(ValueError, match="not of 'kruskal'"):
        runs[None][0].measurement.progress_of("kruskal")


def test_guide_estimator_config(compose_cfg, tmp_path):
    from spf_bench.bench.config import settings_from_config
    from spf_bench.conf.schema import RetimeSettings

    warped = settings_from_config(compose_cfg(["retime=warped"]), cwd=tmp_path)
    assert warped.retime.guide_estimator == "paper" and warped.spf.estimator == "link"
    resample = settings_from_config(compose_cfg(["retime=resample"]), cwd=tmp_path)
    assert resample.retime.guide_estimator is None
    with pytest.raises(ValueError, match=r"retime\.guide_estimator='link'"):
        RetimeSettings(name="warped", iterations=1, guide_estimator="link").check()
