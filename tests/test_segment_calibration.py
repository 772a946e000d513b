"""Calibration of the automatic segmentation penalty (bench/studies/calibrate_segments.py;
docs/method.md, Sec. 5; results/segment_calibration/).

The known boundaries are written here as literals and checked against the clips themselves
(frame-to-frame pixel differences, identical frames of a hold), never against the
segmentation under test. A boundary counts as found within +-2 frames, one-to-one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from spf_bench.bench.studies import calibrate_segments as cs
from spf_bench.generators.posthoc.plan import (
    DEFAULT_PENALTY,
    DEFAULT_PENALTY_PER_FRAME,
    choose_segments,
)

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]

#: First frame of each new shot, by clip of the reduced set (seed 0): bikes.mp4's scene cuts and
#: the stitching plans ``bigbuckbunny[54:90] + bikes[33:65] + bigbuckbunny[5:39] + bikes[3:22]``
#: and ``carphone_pristine[22:54] + bigbuckbunny[55:74] + carphone_pristine[29:61] + bikes[..]``.
KNOWN_CUTS = {
    "bikes": (30, 76, 137, 187, 242),
    "stitched-00": (36, 68, 102),
    "stitched-01": (32, 51, 83, 119),
}

#: Measured at the calibrated default (absolute C = 0.008, pixel embedder): (found, extra,
#: missed). bikes: its weakest cut (76) is no visible step of the pixel S, and a change of pace
#: at 108 takes a keyframe; stitched-00: every cut found, each with a second keyframe two
#: frames before it (the cut's own short piece).
MEASURED = {"bikes": (4, 1, 1), "stitched-00": (3, 3, 0), "stitched-01": (4, 0, 0)}


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.linalg.norm(z, axis=1, keepdims=True)


@pytest.fixture(scope="session")
def reduced(tmp_path_factory):
    """The reduced labelled set with its pixel embeddings (cached for the smoke run) and S."""
    from spf_bench.metrics.embedders import build_embedder

    cache = tmp_path_factory.mktemp("segment_calibration_cache")
    clips = cs.build_set(reduced=True)
    emb = build_embedder("pixel", progress=False)
    z = cs.embed_clips(clips, "pixel", cache, embedder_obj=emb)
    return clips, z, cs.progress_curves(clips, z), cache


# ------------------------------------------------------------------------------- scoring
def test_match_boundaries_is_one_to_one_within_two_frames():
    assert cs.TOLERANCE == 2
    assert cs.match_boundaries([29], [30]) == (1, 0, 0)
    assert cs.match_boundaries([32], [30]) == (1, 0, 0)
    assert cs.match_boundaries([27], [30]) == (0, 1, 1)  # 3 frames off: missed + extra
    assert cs.match_boundaries([28, 30], [30]) == (1, 1, 0)  # a cut's second keyframe
    assert cs.match_boundaries([], [10, 20]) == (0, 0, 2)
    assert cs.match_boundaries([5], []) == (0, 1, 0)
    assert cs.match_boundaries([10, 14], [12, 13]) == (2, 0, 0)  # a maximum matching
    assert cs.match_boundaries([11], [12.9]) == (1, 0, 0)  # fractional known boundary
    assert cs.merge_close([28, 30, 50, 60, 61, 62]) == [29.0, 50.0, 61.0]


def test_choose_takes_the_lowest_value_of_the_best_plateau():
    def rows(rule, f1s):
        return [
            {"embedder": "e", "family": "all", "rule": rule, "value": v, "f1": f}
            for v, f in f1s.items()
        ]

    summary = rows("absolute", {0.001: 0.5, 0.002: 0.715, 0.004: 0.72, 0.008: 0.712, 0.016: 0.4})
    summary += rows("per_frame", {1e-5: 0.6, 2e-5: 0.62, 4e-5: 0.61})
    raw = cs.choose(summary, smooth=0)
    assert raw["rule"] == "absolute" and raw["argmax"] == 0.004
    assert raw["plateau"] == (0.002, 0.008) and raw["value"] == 0.002
    # smoothed over neighbours (0.5 and 0.4 drag the ends down): only 0.004 stays on top
    got = cs.choose(summary)
    assert got["plateau"] == (0.004, 0.004) and got["value"] == 0.004
    assert got["best_smoothed"] == pytest.approx((0.715 + 0.72 + 0.712) / 3)
    assert cs.choose(summary, rules=("per_frame",))["rule"] == "per_frame"


# ------------------------------------------------------------------------------- labels
def test_reduced_set_labels_are_the_cut_frames(reduced):
    """The stitched cuts are where the pixel frame-to-frame distance peaks, independently of
    the SPF: every cut is larger than every other frame step of its clip."""
    clips, z, _, _ = reduced
    footage = {c.clip_id: c for c in clips if c.family == "footage"}
    assert set(footage) == set(KNOWN_CUTS)
    for cid, cuts in KNOWN_CUTS.items():
        clip = footage[cid]
        assert clip.boundaries == tuple(float(c) for c in cuts)
        u = _unit(z[cid])
        step = np.arccos(np.clip(np.sum(u[1:] * u[:-1], axis=1), -1.0, 1.0))  # step i: i -> i+1
        at_cuts = step[[c - 1 for c in cuts]]
        others = np.delete(step, [c - 1 for c in cuts])
        assert at_cuts.min() > 1.4 * others.max(), (cid, at_cuts, others.max())
    assert sum(c.family == "synthetic" for c in clips) == 12


def test_chain_boundaries_are_where_the_frames_start_and_stop_changing():
    holds, fades = (6, 8, 7), (10, 12)
    frames = cs._chain(("chelsea", "coffee", "astronaut"), holds, fades)
    assert frames.shape[0] == sum(holds) + sum(fades) - len(fades)
    moving = np.abs(np.diff(frames.astype(np.int16), axis=0)).reshape(len(frames) - 1, -1).max(1)
    moving = moving > 0  # step i: frame i -> i + 1
    n = len(moving)
    starts = [i for i in range(n) if moving[i] and (i == 0 or not moving[i - 1])]
    ends = [i + 1 for i in range(n) if moving[i] and (i == n - 1 or not moving[i + 1])]
    assert cs._chain_boundaries(holds, fades) == [5, 15, 22, 34]
    assert sorted(starts + ends) == [5, 15, 22, 34]


def test_step_morph_boundaries_are_where_the_frames_start_and_stop_changing():
    """Within one frame: the designed onset and end are fractional, and the smoothstep's first
    and last increments round to no change in uint8."""
    steps = [c for c in cs.build_set() if c.family == "morph_step"]
    assert len(steps) == 6
    for clip in steps:
        onset, end = clip.boundaries
        frames = clip.make().astype(np.int16)
        still = np.abs(np.diff(frames, axis=0)).reshape(len(frames) - 1, -1).max(1) == 0
        moving = np.flatnonzero(~still)  # step i: frame i -> i + 1
        assert abs(moving.min() - onset) < 1 and abs(moving.max() + 1 - end) < 1, clip.clip_id


def test_synthetic_curve_steps_land_on_their_frames():
    t, jumps, heights = 120, (30, 70, 100), (0.15, 0.3, 0.2)
    s = cs.synthetic_curve(t, jumps, heights, np.full(t - 1, 0.35 / (t - 1)))
    assert s[0] == 0.0 and s[-1] == pytest.approx(1.0) and np.all(np.diff(s) >= 0)
    for c, h in zip(jumps, heights, strict=True):
        # the monotone normalisation spreads the rise over frames c - 2 .. c
        assert s[c] - s[c - 2] == pytest.approx(h + 2 * 0.35 / (t - 1), rel=1e-9)
    with pytest.raises(ValueError, match="jump frame"):
        cs.synthetic_curve(10, (10,), (1.0,), np.ones(9))


def test_synthetic_curve_is_normalised_like_the_spf():
    """The curve goes through the SPF's own monotone normalisation: a clip whose raw solution
    is the synthetic raw curve gets the same S, bit for bit (the hand-written gradient, clip,
    cumsum, scale gives the same values too)."""
    from spf_bench.metrics import spf

    rng = np.random.default_rng(0)
    for n in (3, 17, 120):
        raw = np.cumsum(rng.normal(size=n)) + rng.normal(scale=0.1, size=n)
        s, total = spf.monotone(raw)
        got = cs._monotone(raw)
        np.testing.assert_array_equal(got, s / total)
        g = np.cumsum(np.clip(np.gradient(raw), 0.0, None))
        np.testing.assert_array_equal(got, (g - g[0]) / (g - g[0])[-1])
        assert got[0] == 0.0 and got[-1] == 1.0


# ------------------------------------------------------------------------------- the default
def test_calibrated_default_is_the_committed_choice():
    chosen = json.loads((ROOT / "results/segment_calibration/chosen.json").read_text())
    assert chosen["rule"] == "absolute" and chosen["value"] == DEFAULT_PENALTY == 0.008
    assert chosen["tolerance_frames"] == cs.TOLERANCE
    assert set(chosen["embedders"]) == {"pixel", "efficientnet_lite0"}
    assert DEFAULT_PENALTY_PER_FRAME == cs.PREVIOUS_PER_FRAME  # kept for penalty=None callers


def test_default_recovers_the_known_cuts_of_real_and_stitched_footage(reduced):
    """Pixel embedder, 128 px: at least the measured hits, at most the measured extras."""
    _, _, curves, _ = reduced
    found = extra = missed = 0
    for cid, cuts in KNOWN_CUTS.items():
        pred = [b for _, b in choose_segments(curves[cid], penalty=DEFAULT_PENALTY)[0]][:-1]
        tp, fp, fn = cs.match_boundaries(pred, cuts)
        m_tp, m_fp, _ = MEASURED[cid]
        assert tp >= m_tp and fp <= m_fp, (cid, pred)
        found, extra, missed = found + tp, extra + fp, missed + fn
    assert found / (found + missed) >= 11 / 12  # recall
    assert found / (found + extra) >= 11 / 15  # precision


@pytest.mark.parametrize(
    ("n", "jumps", "heights", "measured"),
    [
        # bikes-like: five cuts of 5-10 % of the change each: precision and recall 1.
        (250, (30, 76, 137, 187, 242), (0.1, 0.05, 0.1, 0.1, 0.1), (5, 0, 0)),
        # larger steps: each found, each with the second keyframe of its own short piece.
        (120, (30, 70, 100), (0.15, 0.3, 0.2), (3, 3, 0)),
        (60, (20, 40), (0.3, 0.3), (2, 2, 0)),
    ],
)
def test_default_on_step_curves(n, jumps, heights, measured):
    s = cs.synthetic_curve(n, jumps, heights, np.full(n - 1, (1 - sum(heights)) / (n - 1)))
    pred = [b for _, b in choose_segments(s, penalty=DEFAULT_PENALTY)[0]][:-1]
    tp, fp, fn = cs.match_boundaries(pred, jumps)
    assert fn == 0 and tp == len(jumps), pred
    assert fp <= measured[1], pred
    # every extra keyframe is a cut's second one: merged, the cuts are found exactly once
    assert cs.match_boundaries(cs.merge_close(pred), jumps) == (len(jumps), 0, 0)


def test_reference_penalty_misses_the_cuts_of_bikes(reduced):
    """Why not the reference's 0.02: on bikes (pixel) it finds none of the five cuts."""
    _, _, curves, _ = reduced
    ref = [b for _, b in choose_segments(curves["bikes"], penalty=0.02)[0]][:-1]
    assert cs.match_boundaries(ref, KNOWN_CUTS["bikes"])[0] == 0, ref


# ------------------------------------------------------------------------------- the script
def test_script_writes_every_output(reduced, tmp_path):
    _, _, _, cache = reduced
    out = tmp_path / "cal"
    argv = ["--reduced", "--quick", "--embedders", "pixel", "--cache", str(cache)]
    assert cs.main([*argv, "--out", str(out), "--threads", "1"]) == 0
    for name in (
        "clips.csv",
        "sweep.csv",
        "by_k.csv",
        "per_clip.csv",
        "summary.csv",
        "by_length.csv",
        "chosen.json",
        "precision_recall.png",
        "README.md",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    chosen = json.loads((out / "chosen.json").read_text())
    assert chosen["rule"] in cs.DEFAULT_CANDIDATES and chosen["embedders"] == ["pixel"]
    readme = (out / "README.md").read_text()
    assert "+-2 frames" in readme and "## Against K" in readme
    import csv

    with open(out / "clips.csv") as fh:
        rows = {r["clip_id"]: r for r in csv.DictReader(fh)}
    assert rows["stitched-00"]["boundaries"] == "36 68 102"
