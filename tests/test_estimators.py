"""The ``link`` SPF estimator against a known answer (metrics/estimators.py, metrics/spf.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from spf_bench.bench.config import settings_from_config
from spf_bench.metrics import estimators, spf
from spf_bench.metrics.measure import SPFSettings, measure_embeddings


def kernel_curve(x: np.ndarray, ell: float, k: int = 256) -> np.ndarray:
    """Unit embeddings whose cosines are a Gaussian kernel of the true progress ``x``:
    ``z_i . z_j = mean_w cos(w (x_j - x_i)) ~= exp(-(x_j - x_i)^2 / (2 ell^2))`` over ``k``
    deterministic normal quantile frequencies. The angle is ``|dx| / ell`` for small ``dx`` and
    saturates at pi/2: far pairs under-read the progress between them, as real embeddings do."""
    w = norm.ppf((np.arange(k) + 0.5) / k) / ell
    return np.concatenate([np.cos(np.outer(x, w)), np.sin(np.outer(x, w))], 1) / np.sqrt(k)


def linearity(s: np.ndarray) -> float:
    return spf.score_progress(s).linearity_score


@pytest.mark.parametrize("ell", [0.1, 0.3])
def test_link_reads_a_saturating_speed_ramp_where_paper_reads_it_linear(ell):
    t = 61
    x = spf.pacing_curve("exp_up", np.linspace(0.0, 1.0, t), 3.0)  # the true progress
    z = kernel_curve(x, ell)
    truth = linearity(x)  # 0.7605
    paper = linearity(spf.compute_spf(z).progress)
    link = spf.compute_spf(z, estimator="link")
    assert abs(linearity(link.progress) - truth) < 0.02
    assert paper - truth > 0.03  # the paper's pull towards linear (0.116 at ell = 0.1)
    assert np.sqrt(np.mean((link.progress - x) ** 2)) < 0.02
    assert link.estimator == "link" and link.link_scale > 0


def test_link_keeps_an_even_pace_even():
    z = kernel_curve(np.linspace(0.0, 1.0, 61), 0.1)
    assert linearity(spf.compute_spf(z, estimator="link").progress) > 0.99


def test_paper_is_the_default_and_unchanged():
    z = kernel_curve(spf.pacing_curve("exp_up", np.linspace(0.0, 1.0, 41), 3.0), 0.2)
    a, b = spf.compute_spf(z), spf.compute_spf(z, estimator="paper")
    np.testing.assert_array_equal(a.raw, b.raw)
    assert a.estimator == "paper" and np.isnan(a.link_scale)


def test_link_on_an_unsaturated_great_circle_matches_paper():
    # exact arcs, no saturation within the window: the fitted link is near linear
    z = np.stack([np.cos(np.linspace(0, 1, 50)), np.sin(np.linspace(0, 1, 50))], 1)
    p = spf.compute_spf(z).progress
    q = spf.compute_spf(z, estimator="link").progress
    assert np.max(np.abs(p - q)) < 0.01


def test_link_flags_static_clips_and_batches_like_single():
    static = np.ones((20, 8))
    assert spf.compute_spf(static, estimator="link").degenerate
    clips = [
        kernel_curve(spf.pacing_curve("exp_up", np.linspace(0, 1, 33), a), 0.2) for a in (1, 3)
    ]
    batch = spf.compute_spf_batch(clips, estimator="link")
    for z, r in zip(clips, batch, strict=True):
        np.testing.assert_allclose(r.progress, spf.compute_spf(z, estimator="link").progress)


def test_link_bootstrap_interval_brackets_its_score():
    rng = np.random.default_rng(0)
    z = kernel_curve(spf.pacing_curve("exp_up", np.linspace(0, 1, 61), 3.0), 0.2)
    z = z + 0.01 * rng.normal(size=z.shape)
    m = measure_embeddings(z, SPFSettings(estimator="link", bootstrap=50))
    lo, hi = m.linearity_ci
    assert lo <= m.scores.linearity_score <= hi and hi - lo < 0.2


def test_keyframes_are_placed_on_the_papers_s_under_either_estimator():
    """A clip with two cuts (steps of S at frames 30 and 70) and a 3x speed ramp between: the
    link reads the ramp (its S differs from the paper's), the keyframes are the paper S's
    (``SPFResult.keyframe_progress``) and fall on both cuts under either estimator."""
    u = np.linspace(0.0, 1.0, 101)
    x = 0.6 * spf.pacing_curve("exp_up", u, 3.0) + 0.2 * (u >= 0.3) + 0.2 * (u >= 0.7)
    z = kernel_curve(x, 0.15)
    paper = measure_embeddings(z, SPFSettings(estimator="paper"))
    link = measure_embeddings(z, SPFSettings(estimator="link"))
    np.testing.assert_array_equal(link.keyframe_progress, paper.progress)
    np.testing.assert_array_equal(paper.keyframe_progress, paper.progress)
    assert np.max(np.abs(link.progress - paper.progress)) > 0.02
    assert link.keyframes == paper.keyframes
    for cut in (30, 70):  # S steps on arrival at the cut's first frame
        assert min(abs(k - cut) for k in link.keyframes) <= 1, link.keyframes
    static = measure_embeddings(np.ones((20, 8)), SPFSettings(estimator="link"))
    assert static.degenerate and static.keyframes == () and static.keyframe_progress.shape == (20,)


def test_unknown_estimator_is_one_clear_error():
    z = kernel_curve(np.linspace(0, 1, 10), 0.2)
    with pytest.raises(ValueError, match="estimator must be one of"):
        spf.compute_spf(z, estimator="kruskal")
    with pytest.raises(ValueError, match=r"spf\.estimator"):
        SPFSettings(estimator="kruskal").check()


def test_link_solve_errors_and_link_shape():
    f, fp = estimators.saturating_link(np.array([-1.0, 0.0, 1e-9, 100.0]), 2.0)
    np.testing.assert_allclose(f, [-1.0, 0.0, 1e-9, 2.0], rtol=1e-6)
    np.testing.assert_allclose(fp, [1.0, 1.0, 1.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="shapes disagree"):
        estimators.link_solve(np.zeros((3, 10)), np.zeros(9), np.ones(3), 1e-5)
    with pytest.raises(ValueError, match="max_iter"):
        estimators.link_solve(np.zeros((3, 10)), np.zeros(10), np.ones(3), 1e-5, max_iter=0)


def test_config_key_spf_estimator(compose_cfg, tmp_path):
    cfg = compose_cfg(["spf.estimator=paper", "embedder=pixel"])
    settings = settings_from_config(cfg, cwd=tmp_path)
    assert settings.spf.estimator == "paper"
    assert settings.spf.solver_kwargs()["estimator"] == "paper"
    # the default, in the config and in the settings (docs/method.md, Sec. 1, Estimators)
    assert settings_from_config(compose_cfg([]), cwd=tmp_path).spf.estimator == "link"
    assert SPFSettings().estimator == estimators.DEFAULT_ESTIMATOR == "link"
    with pytest.raises(Exception, match="kruskal"):
        compose_cfg(["spf.estimator=kruskal"])


def test_forward_normalisation_known_answer_and_reversal():
    raw = np.array([0.0, 1.0, 0.5, 2.0, 2.0, 3.0])
    s, total = spf.monotone_forward(raw)
    np.testing.assert_allclose(s, [0.0, 1.0, 1.0, 2.5, 2.5, 3.5])  # the dip is clipped
    assert total == 3.5
    # a non-decreasing R comes back unchanged (up to its offset), in both directions
    r = np.cumsum(np.random.default_rng(0).uniform(0, 1, 40))
    np.testing.assert_allclose(spf.monotone_forward(r)[0], r - r[0])
    back, _ = spf.monotone_forward(-r[::-1])
    np.testing.assert_allclose(back, (r[-1] - r)[::-1], atol=1e-12)
    batch, totals = spf.monotone_forward(np.stack([raw, 2 * raw]))
    np.testing.assert_allclose(totals, [3.5, 7.0])
    np.testing.assert_allclose(batch[0], s)


def test_link_reversal_is_exact_and_paper_is_half_a_frame_off():
    z = kernel_curve(spf.pacing_curve("exp_up", np.linspace(0, 1, 41), 3.0), 0.2)
    fwd, rev = spf.compute_spf(z, estimator="link"), spf.compute_spf(z[::-1], estimator="link")
    np.testing.assert_allclose(rev.progress, 1.0 - fwd.progress[::-1], atol=1e-8)
    p, q = spf.compute_spf(z), spf.compute_spf(z[::-1])
    assert np.max(np.abs(q.progress - (1.0 - p.progress[::-1]))) > 1e-3  # step 6 as published


def test_link_interval_is_the_wider_of_its_own_and_the_papers():
    rng = np.random.default_rng(1)
    z = kernel_curve(np.linspace(0.0, 1.0, 61), 0.3) + 0.02 * rng.normal(size=(61, 512))
    link = spf.compute_spf(z, estimator="link", bootstrap=100, seed=3)
    paper = spf.compute_spf(z, bootstrap=100, seed=3)
    ls = linearity(link.progress)
    lo, hi = link.linearity_ci
    assert 0 < lo < ls < hi < 1
    assert hi - ls == pytest.approx(ls - lo)  # symmetric: a normal interval, unclipped here
    assert hi - lo >= paper.linearity_ci[1] - paper.linearity_ci[0] - 1e-12
