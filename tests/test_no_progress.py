"""The no-progress test (metrics/no_progress.py, docs/method.md Sec. 1 step 7) and its calibration.

Unit tests of the statistic on synthetic embeddings with known answers, its wiring into the
``degenerate`` flag of the kernel, and the labelled calibration suite
(bench/studies/calibrate_progress.py) classified without error: pixel on the reduced suite,
efficientnet_lite0 on a handful of short clips.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spf_bench.metrics import no_progress, spf
from spf_bench.metrics.measure import SPFSettings, measure_embeddings


def _basis(dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=dim)
    a /= np.linalg.norm(a)
    b = rng.normal(size=dim)
    b -= a * (a @ b)
    b /= np.linalg.norm(b)
    return a, b


def great_circle(angles: np.ndarray, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Unit embeddings at the given angles along one great circle: ``d_ij = |a_j - a_i|``."""
    a, b = _basis(dim, seed)
    return np.cos(angles)[:, None] * a + np.sin(angles)[:, None] * b


def static_noise(t: int, noise: float, dim: int = 256, seed: int = 0) -> np.ndarray:
    """One content plus independent isotropic noise of norm ~``noise`` per frame."""
    a, _ = _basis(dim, seed)
    rng = np.random.default_rng(seed + 1)
    return a + rng.normal(scale=noise / math.sqrt(dim), size=(t, dim))


def expected_g_great_circle(t: int, step: float, window: int = 30) -> float:
    """``G`` of a noiseless great circle with ``step`` radians per frame, by hand.

    Every pair at offset ``m`` is ``m * step`` apart; one block holds the origins that have a
    far pair (``T <= 1.5 k``), near pairs (offsets 1 .. k // 10) counted over those origins.
    """
    k = min(window, t - 1)
    n_near, m_far = max(1, k // 10), math.ceil(k / 2)
    origins = t - m_far
    far = [(m * step, t - m) for m in range(m_far, k + 1)]
    near = [(m * step, min(origins, t - m)) for m in range(1, n_near + 1)]
    mean = lambda pairs: sum(d * n for d, n in pairs) / sum(n for _, n in pairs)  # noqa: E731
    return mean(far) - mean(near)


# ------------------------------------------------------------------------------- statistic
@pytest.mark.parametrize(("t", "step"), [(33, 0.02), (41, 0.05), (45, 0.001)])
def test_linear_drift_gives_the_accumulated_change(t, step):
    dist = spf.diagonal_distances(great_circle(step * np.arange(t)), min(30, t - 1), 1.0)
    assert no_progress.progress_statistic(dist) == pytest.approx(
        expected_g_great_circle(t, step), rel=1e-6
    )


@pytest.mark.parametrize("noise", [0.01, 0.1, 0.5])
def test_pure_noise_gives_no_accumulated_change(noise):
    """Exchangeable frames: near and far pairs are equally far apart, whatever the noise."""
    z = static_noise(60, noise)
    dist = spf.diagonal_distances(z, 30, 1.0)
    d1 = dist[0, :59].mean()  # the noise distance itself, ~ noise * sqrt(2)
    g = no_progress.progress_statistic(dist)
    assert abs(g) < 0.05 * d1
    r = spf.compute_spf(z)
    assert r.degenerate and r.progress_statistic == pytest.approx(g)
    assert spf.compute_spf(z, progress_threshold=0.0).degenerate is False  # main's verdict


def test_drift_under_noise_is_progress_and_noise_alone_is_not():
    t, noise = 60, 0.1
    drift = (
        great_circle(np.linspace(0.0, 1.0, t), dim=256)
        + static_noise(t, noise)
        - (static_noise(1, 0.0)[0])
    )  # the same noise around a path of 1 rad
    m = measure_embeddings(drift)
    assert not m.degenerate and m.keyframes and math.isfinite(m.scores.linearity_score)
    s = measure_embeddings(static_noise(t, noise))
    assert s.degenerate and s.keyframes == () and math.isnan(s.scores.linearity_score)


def test_one_cut_in_a_long_static_clip_is_found():
    """Progress anywhere counts: a cut is not diluted by 600 static frames (max over blocks)."""
    t = 600
    z = static_noise(t, 0.05, seed=3)
    other = static_noise(1, 0.0, seed=9)[0]
    z[400:] += 1.5 * other  # a cut to another content at frame 400
    assert not spf.compute_spf(z).degenerate
    assert spf.compute_spf(static_noise(t, 0.05, seed=3)).degenerate


def test_power_is_undone_and_batch_matches_single():
    z = great_circle(np.linspace(0, 1.0, 41))
    g1 = spf.compute_spf(z).progress_statistic
    assert spf.compute_spf(z, power=2.0).progress_statistic == pytest.approx(g1, rel=1e-9)
    clips = [z, static_noise(41, 0.1), great_circle(np.linspace(0, 0.3, 41), seed=2)]
    for one, many in zip(map(spf.compute_spf, clips), spf.compute_spf_batch(clips), strict=True):
        assert many.progress_statistic == pytest.approx(one.progress_statistic, rel=1e-12)
        assert many.degenerate == one.degenerate


def test_short_clips_and_threshold_zero_skip_the_test():
    z = great_circle(np.array([0.0, 0.001, 0.002, 0.003]))  # T = 4: window 3 < MIN_WINDOW
    r = spf.compute_spf(z)
    assert math.isnan(r.progress_statistic) and not r.degenerate
    off = spf.compute_spf(static_noise(40, 0.1), progress_threshold=0.0)
    assert math.isnan(off.progress_statistic) and not off.degenerate
    with pytest.raises(ValueError, match="progress_threshold"):
        SPFSettings(progress_threshold=-1.0).check()
    with pytest.raises(ValueError, match="window"):
        no_progress.offset_bands(3)


def test_defaults_are_one_source_of_truth():
    assert SPFSettings().progress_threshold == no_progress.DEFAULT_PROGRESS_THRESHOLD == 0.07
    assert SPFSettings().solver_kwargs()["progress_threshold"] == 0.07


# ------------------------------------------------------------------------- calibration suite
@pytest.fixture(scope="module")
def reduced_suite():
    from spf_bench.bench.studies.calibrate_progress import build_suite

    return build_suite(reduced=True)


def test_reduced_suite_is_classified_without_error_with_pixel(reduced_suite):
    """Noise 1, 3, 8 grey levels, shake and codec flicker (H.264) flagged, each also with its
    frames duplicated; the slow zoom and pan, morphs, ground-truth sequences and bikes not."""
    from spf_bench.bench.studies.calibrate_progress import embed_suite, evaluate, rates

    embs = embed_suite(reduced_suite, "pixel", None)
    rows = evaluate(reduced_suite, embs, "pixel")
    wrong = [(r["clip_id"], r["statistic"]) for r in rows if not r["correct"]]
    assert wrong == []
    (rate,) = rates(rows)
    assert rate["fp_rate"] == 0.0 and rate["fn_rate"] == 0.0
    assert {r["family"] for r in rows if r["label"] == "static"} >= {"noise", "shake"}
    assert rate["n_progress"] == 8 and rate["n_static"] == 10
    # what main reported for them: a high Linearity for frozen clips
    frozen = [r for r in rows if r["family"] in ("noise", "shake")]
    assert all(r["linearity_test_off"] > 0.5 and math.isnan(r["linearity"]) for r in frozen)


@pytest.mark.slow
def test_a_few_short_clips_with_efficientnet(reduced_suite):
    """The issue's clips (noise 1, 3, 8, shake; first 24 frames) and a morph with the ImageNet
    embedder (~130 frames, 20-40 s on 2 cores)."""
    pytest.importorskip("timm")
    from spf_bench.bench.studies.calibrate_progress import SuiteClip, embed_suite, evaluate

    keep = ("noise-chelsea-g1", "noise-chelsea-g3", "noise-chelsea-g8", "shake-chelsea")
    picked = [c for c in reduced_suite if c.clip_id in keep]
    picked = [SuiteClip(c.clip_id, c.family, lambda c=c: c.make()[:24]) for c in picked]
    picked += [c for c in reduced_suite if c.family == "morph"][:1]
    assert len(picked) == 5
    embs = embed_suite(picked, "efficientnet_lite0", None)
    rows = evaluate(picked, embs, "efficientnet_lite0", duplicates=False)
    assert [(r["clip_id"], r["statistic"]) for r in rows if not r["correct"]] == []


def test_evaluate_scores_each_clip_with_and_without_the_test():
    """``linearity_test_off`` is the Linearity with the test off for every clip (solved once
    when the test leaves a clip unflagged), ``linearity`` the one with it on."""
    from spf_bench.bench.studies.calibrate_progress import SuiteClip, evaluate

    def unused():
        raise AssertionError("evaluate works from the embeddings")

    clips = [
        SuiteClip("noise-a", "noise", unused),
        SuiteClip("pan-a", "pan", unused),
        SuiteClip("pan-b", "pan", unused),
    ]
    embs = {
        "noise-a": static_noise(40, 0.1),
        "pan-a": great_circle(np.linspace(0, 1.0, 40) ** 1.5),
        "pan-b": great_circle(np.linspace(0, 0.6, 33), seed=2),
    }
    rows = evaluate(clips, embs, "synthetic")
    assert [r["clip_id"] for r in rows] == ["noise-a", "noise-a~dup", "pan-a", "pan-b"]
    assert [r["flagged"] for r in rows] == [True, True, False, False]
    off = SPFSettings(bootstrap=0, progress_threshold=0.0)
    on = SPFSettings(bootstrap=0)
    for r in rows:
        z = embs[r["clip_id"].split("~")[0]]
        z = z if "~" not in r["clip_id"] else np.repeat(z[: len(z) // 2], 2, axis=0)
        want_off = measure_embeddings(z, off).scores.linearity_score
        want_on = measure_embeddings(z, on).scores.linearity_score
        assert r["linearity_test_off"] == want_off
        assert r["linearity"] == want_on or (math.isnan(want_on) and math.isnan(r["linearity"]))
        assert math.isfinite(r["linearity_test_off"])
