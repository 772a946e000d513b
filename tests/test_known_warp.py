"""The known-retiming study's truth construction on a real clip (bench/studies/known_warp.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from spf_bench.bench.studies import known_warp
from spf_bench.metrics.embedders import build_embedder
from spf_bench.metrics.video_io import bundled_clips, read_video


@pytest.fixture(scope="module")
def bikes_pixel() -> np.ndarray:
    """Pixel embeddings of bikes.mp4 frames 80-135 (a stretch without cuts), decoded by PyAV."""
    frames, _ = read_video(bundled_clips()["bikes"], max_frames=136, size=128)
    return build_embedder("pixel", progress=False).embed(frames[80:136])


@pytest.mark.parametrize("warp", list(known_warp.WARPS))
def test_warps_are_monotone_with_exact_ends(warp):
    w = known_warp.warp_positions(warp, 56)
    assert w[0] == 0.0 and w[-1] == pytest.approx(55.0)
    assert np.all(np.diff(w) >= 0)


def test_piecewise_warp_runs_at_its_speeds():
    w = known_warp.warp_positions("piecewise", 401)
    speeds = [np.mean(np.diff(w[q * 100 : (q + 1) * 100])) for q in range(4)]
    np.testing.assert_allclose(np.array(speeds) / speeds[0], [1.0, 0.25, 2.0, 4.0], rtol=1e-9)
    with pytest.raises(ValueError, match="unknown warp"):
        known_warp.warp_positions("spiral", 10)


def test_linearity_in_time_known_values():
    t = np.sort(np.random.default_rng(0).uniform(0, 1, 200))
    assert known_warp.linearity_in_time(t, t) == pytest.approx(1.0)
    u = np.linspace(0.0, 1.0, 2001)  # RMS of u^2 - u over [0, 1] is sqrt(1/30)
    assert known_warp.linearity_in_time(u**2, u) == pytest.approx(1 - math.sqrt(1 / 30), abs=1e-6)
    assert math.isnan(known_warp.linearity_in_time(np.zeros(5), np.arange(5.0)))


@pytest.mark.parametrize("estimator", ["paper", "link"])
def test_identity_warp_has_zero_bias_and_reversal_commutes(bikes_pixel, estimator):
    t = bikes_pixel.shape[0]
    cases = {
        "identity": known_warp.Case(None, np.arange(t), lambda s: s),
        "reverse": known_warp.build_cases(t)["reverse"],
    }
    rows = {r["case"]: r for r in known_warp.evaluate(bikes_pixel, {}, cases, estimator)}
    assert rows["identity"]["bias"] == 0.0 and rows["identity"]["rms"] == 0.0
    assert abs(rows["reverse"]["bias"]) < 0.03 and rows["reverse"]["rms"] < 0.05


def test_speed_ramp_bias_paper_against_link(bikes_pixel):
    cases = {"ramp": known_warp.build_cases(bikes_pixel.shape[0])["exp_up_T3/nearest"]}
    paper = known_warp.evaluate(bikes_pixel, {}, cases, "paper")[0]
    link = known_warp.evaluate(bikes_pixel, {}, cases, "link")[0]
    assert paper["bias"] > 0.08  # the issue's +0.13 on this clip
    assert abs(link["bias"]) < 0.03


def test_link_reads_the_reversed_clip_exactly(bikes_pixel):
    # forward-difference normalisation: S(reversed) = 1 - S reversed, to rounding
    cases = {"reverse": known_warp.build_cases(bikes_pixel.shape[0])["reverse"]}
    row = known_warp.evaluate(bikes_pixel, {}, cases, "link")[0]
    assert row["rms"] < 1e-8 and abs(row["bias"]) < 1e-8


def test_verdicts_by_interval_overlap_and_by_paired_difference():
    # three clips, two cases: "a" link always 0.01 above paper (intervals overlap, the
    # paired difference is exactly +0.01: worse only when paired); "b" link far below.
    rows = []
    for clip, base in enumerate((0.020, 0.030, 0.040)):
        for est, shift_a, shift_b in (("paper", 0.0, 0.0), ("link", 0.01, -0.019)):
            for case, shift in (("a", shift_a), ("b", shift_b)):
                rows.append(
                    {"embedder": "pixel", "estimator": est, "clip": f"c{clip}", "case": case,
                     "bias": 0.0, "rms": base + shift}
                )  # fmt: skip
    summary = known_warp.summarise(pd.DataFrame(rows))
    link_a = summary[(summary.estimator == "link") & (summary.case == "a")].iloc[0]
    assert link_a.d_rms == pytest.approx(0.01) and link_a.d_rms_low == pytest.approx(0.01)
    v = known_warp.verdicts(summary, cases=("a", "b")).set_index("case")
    assert (v.loc["a", "overlap"], v.loc["a", "paired"]) == ("tie", "worse")
    assert v.loc["b", "paired"] == "better" and v.loc["b", "d_rms"] == pytest.approx(-0.019)
    assert list(v.estimator) == ["link", "link"]  # paper is the reference, not judged
