"""VBench in its own venv: real temporal_flickering against a hand computation, parsing of every
dimension's output shape, the missing-weights pre-flight, drift, verdict, CLI and run hook.

Tests that run VBench need ``.venv-vbench`` (``make vbench-env``). Without it they are skipped
on a developer machine and **fail** in CI (``CI=true``), where ``.ci/run`` builds it.

The adapter's plumbing (staging, the ``python -I`` subprocess and its JSON protocol, parsing,
drift, run-directory files, the CLI) is also tested without that venv, against a stand-in
"venv" whose interpreter is this one with a fake ``vbench`` package (:func:`fake_venv`) that
computes temporal_flickering with VBench's formula and deterministic values for the others.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spf_bench.bench import vbench_run as vr
from spf_bench.bench.results import record as rec
from spf_bench.bench.results.rundir import RunDir
from spf_bench.metrics import atomic_io
from spf_bench.metrics import vbench as vb
from spf_bench.metrics.measure import SPFSettings, measure_frames
from spf_bench.metrics.vbench import payload as vbp
from spf_bench.metrics.video_io import read_video, write_video

ALL_WEIGHT_FILES = 10  # distinct files the seven dimensions need (DINO: 2 code + 2 weights)
#: VBench sums absolute differences in float32; the hand computation is float64.
HAND_TOL = 1e-6


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def vbench_venv() -> Path:
    """The built VBench venv; skip without it, except in CI where it must exist."""
    stamp = vb.DEFAULT_VENV / ".installed"
    if not stamp.is_file():
        msg = f"{vb.DEFAULT_VENV} is not built (run `make vbench-env`)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must build the VBench venv before the tests: {msg}")
        pytest.skip(msg)
    return vb.DEFAULT_VENV


@pytest.fixture
def empty_cache(tmp_path) -> dict[str, str]:
    """An empty VBench cache and TORCH_HOME: only weight-free dimensions can run."""
    (tmp_path / "vbcache").mkdir()
    (tmp_path / "torch_home").mkdir()
    return {"cache_dir": str(tmp_path / "vbcache"), "torch_home": str(tmp_path / "torch_home")}


#: Flat grey levels per frame: lossless (crf 0) H.264 keeps them within 1 grey level.
FLAT_LEVELS = {
    "a/clip.mp4": [30, 30, 200, 60, 60, 61, 90, 250, 10, 128, 128, 128],
    "b/clip.mp4": [100, 110, 120, 130, 140, 150, 160, 170],  # same basename, other folder
    "steady.mp4": [77] * 10,
}


def _flat_video(path: Path, levels: list[int]) -> None:
    g = np.asarray(levels, dtype=np.uint8)
    frames = np.broadcast_to(g[:, None, None, None], (len(g), 32, 48, 3)).copy()
    write_video(path, frames, 8, crf=0)


def _noise_video(path: Path, n: int, step: int, seed: int) -> None:
    base = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    write_video(path, np.stack([np.roll(base, step * t, axis=1) for t in range(n)]), 8)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """Real mp4 files: flat grey sequences (closed-form scores), scrolling noise, a duplicate
    basename in two sub-folders, and a text file named .mp4."""
    d = tmp_path_factory.mktemp("vbench_videos")
    for rel, levels in FLAT_LEVELS.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        _flat_video(d / rel, levels)
    _noise_video(d / "noise_fast.mp4", 20, 3, 0)
    _noise_video(d / "noise_slow.mp4", 27, 1, 1)
    return d


def hand_flicker(path: Path) -> float:
    """VBench's temporal_flickering formula, by hand, on frames decoded by PyAV."""
    frames, _ = read_video(path)
    f = frames.astype(np.float64)
    mae = [np.abs(f[t + 1] - f[t]).mean() for t in range(len(f) - 1)]
    return (255.0 - sum(mae) / len(mae)) / 255.0


def closed_form_flicker(levels: list[int]) -> float:
    """The score of a flat-grey sequence: 1 - mean |g_{t+1} - g_t| / 255."""
    return 1.0 - float(np.mean(np.abs(np.diff(np.asarray(levels, dtype=np.float64))))) / 255.0


# ------------------------------------------------------------------ real VBench, no weights
def test_temporal_flickering_matches_hand_computation(
    generated, empty_cache, vbench_venv, tmp_path
):
    videos = vb.videos_in(generated)
    assert set(videos) == {*FLAT_LEVELS, "noise_fast.mp4", "noise_slow.mp4"}
    s = vb.VBenchSettings(dims=("temporal_flickering",), drift=False, **empty_cache)
    res = vb.score_videos(videos, s, work_dir=tmp_path / "work")
    assert res.errors == {} and res.dimension_errors == {}
    scores = {k: v["temporal_flickering"] for k, v in res.scores.items()}
    for key, path in videos.items():
        assert scores[key] == pytest.approx(hand_flicker(path), abs=HAND_TOL), key
    for key, levels in FLAT_LEVELS.items():  # within one grey level per step of the design
        assert abs(scores[key] - closed_form_flicker(levels)) <= 1.0 / 255 + 1e-12, key
    assert scores["steady.mp4"] == pytest.approx(1.0, abs=1e-12)
    # the two clip.mp4 files are told apart (VBench's listdir is flat: staging renames them)
    assert scores["a/clip.mp4"] != pytest.approx(scores["b/clip.mp4"], abs=1e-3)
    assert res.vbench_aggregate["temporal_flickering"] == pytest.approx(
        np.mean(list(scores.values()))
    )
    assert res.versions["vbench"] == "0.1.5"
    # what VBench saw: flat folder, staged names only, mapped back one to one
    staged = sorted(p.name for p in (tmp_path / "work" / "videos").iterdir())
    assert staged == [f"v{i:05d}.mp4" for i in range(len(videos))]


def test_unreadable_video_is_an_explicit_failure(generated, empty_cache, vbench_venv, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n")
    truncated = tmp_path / "cut.mp4"
    data = (generated / "noise_fast.mp4").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    videos = {"good": generated / "noise_slow.mp4", "notes": bad, "cut": truncated}
    s = vb.VBenchSettings(dims=("temporal_flickering",), drift=False, **empty_cache)
    res = vb.score_videos(videos, s)
    assert res.failed == ["cut", "notes"]
    assert "decode" in res.errors["notes"] and "truncated" in res.errors["cut"]["decode"]
    assert math.isnan(res.scores["notes"]["temporal_flickering"])
    assert res.scores["good"]["temporal_flickering"] == pytest.approx(
        hand_flicker(generated / "noise_slow.mp4"), abs=HAND_TOL
    )


def test_hidden_downloads_are_blocked_in_the_runner(generated, empty_cache, vbench_venv, tmp_path):
    """Bypassing the pre-flight, VBench's wget for a missing AMT-S file fails loudly."""
    s = vb.VBenchSettings(dims=("motion_smoothness",), drift=False, **empty_cache)
    staged = vb.stage_videos({"x": generated / "noise_slow.mp4"}, tmp_path / "videos")
    task = {
        "tag": "videos",
        "videos_dir": str(tmp_path / "videos"),
        "dimensions": ["motion_smoothness"],
    }
    out = vb.run_vbench([task], tmp_path, s)
    entry = out["tasks"]["videos"]["motion_smoothness"]
    assert entry["status"] == "failed"
    assert "CalledProcessError" in entry["error"] and "wget" in entry["error"]
    assert "downloads are disabled" in (tmp_path / "vbench.log").read_text()
    assert not (Path(empty_cache["cache_dir"]) / "amt_model" / "amt-s.pth").exists()
    assert staged == {"v00000.mp4": "x"}


# ----------------------------------------------------------------------- missing weights
def test_missing_weights_lists_every_file_and_its_source(empty_cache):
    with pytest.raises(vb.MissingVBenchWeightsError) as exc:
        vb.check_weights(list(vb.DIMENSIONS), empty_cache["cache_dir"], empty_cache["torch_home"])
    err = exc.value
    assert len(err.missing) == ALL_WEIGHT_FILES
    msg = str(err)
    for _dim, path, wf in err.missing:
        assert str(path) in msg and wf.source in msg
    for needle in (
        "clip_model/ViT-B-32.pt",
        "clip_model/ViT-L-14.pt",
        "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth",
        "pyiqa_model/musiq_spaq_ckpt-358bb6af.pth",
        "amt_model/amt-s.pth",
        "raft_model/models/raft-things.pth",
        "dino_model/dino_vitbase16_pretrain.pth",
        "dino_model/facebookresearch_dino_main/hubconf.py",
        str(Path(empty_cache["torch_home"]) / "hub/checkpoints/dino_vitbase16_pretrain.pth"),
        "docs/vbench.md",
    ):
        assert needle in msg, needle
    # weight-free dimension: nothing missing
    vb.check_weights(["temporal_flickering"], empty_cache["cache_dir"], empty_cache["torch_home"])


def test_missing_weights_only_lists_what_is_absent(empty_cache):
    cache = Path(empty_cache["cache_dir"])
    (cache / "clip_model").mkdir()
    (cache / "clip_model" / "ViT-B-32.pt").write_bytes(b"x")
    (cache / "clip_model" / "ViT-L-14.pt").write_bytes(b"")  # empty: a broken download
    missing = vb.missing_weights(
        ["background_consistency", "aesthetic_quality"], cache, empty_cache["torch_home"]
    )
    assert [str(p.relative_to(cache)) for _, p, _ in missing] == [
        "clip_model/ViT-L-14.pt",
        "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth",
    ]


def test_score_videos_fails_before_running_anything(generated, empty_cache, vbench_venv, tmp_path):
    s = vb.VBenchSettings(dims=("temporal_flickering", "dynamic_degree"), **empty_cache)
    with pytest.raises(vb.MissingVBenchWeightsError, match=r"raft-things\.pth"):
        vb.score_videos(vb.videos_in(generated), s, work_dir=tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_missing_venv_is_a_clear_error(empty_cache, tmp_path):
    s = vb.VBenchSettings(dims=("temporal_flickering",), venv=str(tmp_path / "nope"), **empty_cache)
    with pytest.raises(vb.VBenchEnvError, match="make vbench-env"):
        vb.preflight(s)


def test_settings_reject_unknown_names():
    with pytest.raises(ValueError, match="unsupported VBench dimension"):
        vb.VBenchSettings.from_dict({"dims": ["temporal_flickering", "scene"]})
    with pytest.raises(ValueError, match="unknown vbench setting"):
        vb.VBenchSettings.from_dict({"dimz": ["temporal_flickering"]})
    s = vb.VBenchSettings.from_dict({"dims": "temporal_flickering", "enabled": True})
    assert s.dims == ("temporal_flickering",) and s.resolved_drift_dims() == ()
    assert vb.VBenchSettings().resolved_drift_dims() == ("imaging_quality", "aesthetic_quality")


# ------------------------------------------------------------------ parsing every dimension
STAGED = {"v00000.mp4": "videos/a.mp4", "v00001.mp4": "videos/b.mp4", "v00002.mp4": "videos/c.mp4"}
FRAMES = {"v00000.mp4": 17, "v00001.mp4": 33, "v00002.mp4": 9}


def _entries(values, extra=None):
    out = []
    for (name, _), v in zip(STAGED.items(), values, strict=True):
        e = {"video_path": f"/tmp/stage/videos/{name}", "video_results": v}
        e.update((extra or {}).get(name, {}))
        out.append(e)
    return out[::-1]  # VBench's order is listdir's, not ours


def test_parse_subject_consistency_frame_weighted():
    vals = [0.95, 0.80, 0.99]
    w = [FRAMES[n] - 1 for n in STAGED]
    agg = sum(v * k for v, k in zip(vals, w, strict=True)) / sum(w)
    out = {"subject_consistency": [agg, _entries(vals)]}
    scores, _raw, a, errors = vb.parse_dimension_results("subject_consistency", out, STAGED, FRAMES)
    assert scores == {"videos/a.mp4": 0.95, "videos/b.mp4": 0.80, "videos/c.mp4": 0.99}
    assert a == pytest.approx(agg) and errors == {}
    assert agg != pytest.approx(np.mean(vals))  # frame weighting matters here
    out_wrong = {"subject_consistency": [float(np.mean(vals)), _entries(vals)]}
    with pytest.raises(vb.VBenchOutputError, match="does not match"):
        vb.parse_dimension_results("subject_consistency", out_wrong, STAGED, FRAMES)


def test_parse_background_consistency_uses_cnt_per_video():
    vals, cnt = [0.9, 0.7, 0.8], [4, 30, 10]
    extra = {
        n: {"video_sim": v * c, "cnt_per_video": c}
        for n, v, c in zip(STAGED, vals, cnt, strict=True)
    }
    agg = sum(v * c for v, c in zip(vals, cnt, strict=True)) / sum(cnt)
    out = {"background_consistency": [agg, _entries(vals, extra)]}
    scores, _, a, _ = vb.parse_dimension_results("background_consistency", out, STAGED, None)
    assert scores["videos/b.mp4"] == 0.7 and a == pytest.approx(agg)


@pytest.mark.parametrize("dim", ["temporal_flickering", "motion_smoothness", "aesthetic_quality"])
def test_parse_video_mean_dimensions(dim):
    vals = [0.97, 0.5, 0.61]
    out = {dim: [float(np.mean(vals)), _entries(vals)]}
    scores, raw, _a, errors = vb.parse_dimension_results(dim, out, STAGED, FRAMES)
    assert [scores[k] for k in STAGED.values()] == vals and errors == {}
    assert raw == scores


def test_parse_imaging_quality_scales_per_video_by_one_hundredth():
    vals = [55.0, 71.5, 40.25]  # MUSIQ per video, 0-100
    out = {"imaging_quality": [float(np.mean(vals)) / 100.0, _entries(vals)]}
    scores, raw, a, _ = vb.parse_dimension_results("imaging_quality", out, STAGED, FRAMES)
    assert scores == {"videos/a.mp4": 0.55, "videos/b.mp4": 0.715, "videos/c.mp4": 0.4025}
    assert raw["videos/b.mp4"] == 71.5 and a == pytest.approx(0.5558333333)
    unscaled = {"imaging_quality": [float(np.mean(vals)), _entries(vals)]}
    with pytest.raises(vb.VBenchOutputError, match="scale"):
        vb.parse_dimension_results("imaging_quality", unscaled, STAGED, FRAMES)


def test_parse_dynamic_degree_booleans():
    vals = [True, False, True]
    out = {"dynamic_degree": [float(np.mean(vals)), _entries(vals)]}
    scores, raw, a, _ = vb.parse_dimension_results("dynamic_degree", out, STAGED, FRAMES)
    assert scores == {"videos/a.mp4": 1.0, "videos/b.mp4": 0.0, "videos/c.mp4": 1.0}
    assert raw["videos/b.mp4"] is False and a == pytest.approx(2 / 3)
    floats = {"dynamic_degree": [0.5, _entries([0.3, 0.9, 0.3])]}
    with pytest.raises(vb.VBenchOutputError, match="boolean"):
        vb.parse_dimension_results("dynamic_degree", floats, STAGED, FRAMES)


def test_parse_dropped_video_is_reported_not_silent():
    entries = [e for e in _entries([0.9, 0.8, 0.7]) if not e["video_path"].endswith("v00001.mp4")]
    out = {"temporal_flickering": [0.8, entries]}
    scores, _, _, errors = vb.parse_dimension_results("temporal_flickering", out, STAGED, FRAMES)
    assert set(scores) == {"videos/a.mp4", "videos/c.mp4"}
    assert (
        list(errors) == ["videos/b.mp4"]
        and "no temporal_flickering score" in errors["videos/b.mp4"]
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"temporal_flickering": {"aggregate": 0.9}},
        {"temporal_flickering": [0.9]},
        {"temporal_flickering": [0.9, [{"video_results": 0.9}]]},
        {"temporal_flickering": [0.9, [{"video_path": "/x/unknown.mp4", "video_results": 0.9}]]},
        {"temporal_flickering": [0.9, _entries([0.9, 0.9, 0.9]) + _entries([0.9, 0.9, 0.9])]},
        {"temporal_flickering": [0.9, _entries([0.9, float("nan"), 0.9])]},
        {"temporal_flickering": ["0.9", _entries([0.9, 0.9, 0.9])]},
        {"subject_consistency": [0.9, _entries([0.9, 0.9, 0.9])]},
    ],
)
def test_parse_rejects_malformed_output(bad):
    with pytest.raises(vb.VBenchOutputError):
        vb.parse_dimension_results("temporal_flickering", bad, STAGED, FRAMES)


# ------------------------------------------------------------------------------- drift
def test_flicker_drift_on_designed_frames():
    # 40 frames: the first 6 (15%) steady, the last 6 alternate between grey 0 and 51
    levels = [100] * 20 + [0, 51] * 10
    frames = np.broadcast_to(np.array(levels, np.uint8)[:, None, None, None], (40, 4, 4, 3))
    assert vb.segment_bounds(40) == (slice(0, 6), slice(34, 40))
    assert vb.flicker_score(frames[:6]) == 1.0
    assert vb.flicker_score(frames[34:]) == pytest.approx(1 - 51 / 255)
    assert vb.flicker_drift(frames) == pytest.approx(20.0)


def test_spf_pace_drift_on_designed_progress():
    t = np.linspace(0, 1, 101)
    assert vb.spf_pace_drift(t) == pytest.approx(0.0, abs=1e-9)
    # S = t^2: first 15 frames rise 0.0196 over 0.14, last 15 rise 0.2604 over 0.14
    assert vb.spf_pace_drift(t**2) == pytest.approx(100 * (0.2604 - 0.0196) / 0.14)
    assert math.isnan(vb.spf_pace_drift(np.zeros(50)))
    with pytest.raises(ValueError, match="at least"):
        vb.segment_bounds(3)


# --------------------------------------------------------------- records, groups, verdict
def _records(rows):
    return rec.to_frame(
        [{"status": "ok", "retime": "warped", "pacing": "linear", **r} for r in rows]
    )


def test_verdict_and_groups_by_hand():
    rows, scores = [], {}
    orig = {"m0": 0.90, "m1": 0.94, "m2": 0.92}  # mean 0.92, std 0.02
    retimed = {"m0": 0.925, "m1": 0.945, "m2": 0.935}  # mean 0.935: delta 0.015 = 0.75 std
    for item in orig:
        for it, val in ((0, orig[item]), (1, 0.5), (2, retimed[item])):
            vp = f"videos/{item}__it{it}.mp4"
            rows.append(
                {"model": "morph", "item_id": item, "seed": 0, "iteration": it, "video_path": vp}
            )
            scores[vp] = {"temporal_flickering": val}
    rows.append({"model": "morph", "item_id": "bad", "iteration": 0, "status": "failed"})
    res = vb.VBenchResult(dims=["temporal_flickering"], scores=scores)
    merged = vbp.merge_scores(_records(rows), res)
    assert merged["vbench_temporal_flickering"].isna().sum() == 1
    assert merged.loc[merged.item_id == "bad", "vbench_error"].item() == "no video"
    (v,) = vb.verdict_table(merged, ["temporal_flickering"])
    assert v["n_original"] == 3 and v["n_retimed"] == 3
    assert v["original_mean"] == pytest.approx(0.92) and v["original_std"] == pytest.approx(0.02)
    assert v["retimed_mean"] == pytest.approx(0.935) and v["delta_in_std"] == pytest.approx(0.75)
    assert v["within_one_std"] is True
    assert (v["retime"], v["embedder"], v["pacing"]) == ("warped", "", "linear")
    groups = vr.group_stats(merged, ["vbench_temporal_flickering"])
    assert [g["iteration"] for g in groups] == [0, 1, 2]
    assert groups[1]["vbench_temporal_flickering"]["mean"] == pytest.approx(0.5)
    # moving the retimed videos 1.5 std away flips the verdict
    for item in orig:
        scores[f"videos/{item}__it2.mp4"]["temporal_flickering"] = orig[item] + 0.03
    (v2,) = vb.verdict_table(vbp.merge_scores(_records(rows), res), ["temporal_flickering"])
    assert v2["within_one_std"] is False and v2["delta_in_std"] == pytest.approx(1.5)


def test_verdict_needs_two_originals():
    rows = [
        {"model": "m", "item_id": "x", "iteration": 0, "video_path": "a.mp4"},
        {"model": "m", "item_id": "x", "iteration": 1, "video_path": "b.mp4"},
    ]
    res = vb.VBenchResult(
        dims=["temporal_flickering"],
        scores={"a.mp4": {"temporal_flickering": 0.9}, "b.mp4": {"temporal_flickering": 0.8}},
    )
    (v,) = vb.verdict_table(vbp.merge_scores(_records(rows), res), ["temporal_flickering"])
    assert v["within_one_std"] is None and math.isnan(v["original_std"])


# ------------------------------------------------------------------------- CLI and the run
@pytest.mark.slow
def test_cli_on_the_bundled_clips(bundled, empty_cache, vbench_venv, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name, path in bundled.items():
        (clips / f"{name}.mp4").symlink_to(path)
    cmd = [
        sys.executable, "-m", "spf_bench.bench.cli", "vbench", str(clips),
        "--dims", "temporal_flickering", "--embedder", "pixel",
        "--cache-dir", empty_cache["cache_dir"], "--torch-home", empty_cache["torch_home"],
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=vb.ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads((clips / "vbench.json").read_text())
    assert out["schema"] == "spf-bench/vbench/1" and out["n_failed"] == 0
    for name, path in bundled.items():
        v = out["videos"][f"{name}.mp4"]
        assert v["scores"]["temporal_flickering"] == pytest.approx(hand_flicker(path), abs=HAND_TOL)
        assert v["drift"]["temporal_flickering"] >= 0 and v["drift"]["spf_pace"] >= 0
    assert out["aggregate"]["temporal_flickering"]["n"] == 3
    assert "temporal_flickering" in proc.stdout and "VBench aggregates" in proc.stdout


def test_cli_missing_weights_exits_2_without_traceback(empty_cache, vbench_venv, tmp_path):
    from spf_bench.bench.cli import main

    (tmp_path / "v").mkdir()
    _noise_video(tmp_path / "v" / "x.mp4", 8, 1, 0)
    code = main(
        [
            "vbench",
            str(tmp_path / "v"),
            "--dims",
            "imaging_quality",
            "--cache-dir",
            empty_cache["cache_dir"],
            "--torch-home",
            empty_cache["torch_home"],
        ]
    )
    assert code == 2 and not (tmp_path / "v" / "vbench.json").exists()


@pytest.mark.slow
def test_run_hook_writes_vbench_json_and_merged_records(
    compose_cfg, empty_cache, vbench_venv, tmp_path
):
    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark

    rd = tmp_path / "run"
    overrides = [
        f"run_dir={rd}", "progress=false", "logger=none", "plots=false",
        "model=morph", "retime=warped", "retime.iterations=1", "embedder=pixel", "n_videos=3",
        "vbench.enabled=true", "vbench.dims=[temporal_flickering]",
        f"vbench.cache_dir={empty_cache['cache_dir']}",
        f"vbench.torch_home={empty_cache['torch_home']}",
    ]  # fmt: skip
    summary = run_benchmark(settings_from_config(compose_cfg(overrides)))
    df = pd.read_parquet(rd / "records.parquet")
    assert list(df.columns) == list(rec.COLUMNS)  # the records table itself is untouched
    merged = pd.read_parquet(rd / "records_vbench.parquet")
    assert len(merged) == len(df) == 6
    out = json.loads((rd / "vbench.json").read_text())
    assert set(out["videos"]) == set(df.video_path)
    for row in merged.itertuples():
        assert row.vbench_temporal_flickering == pytest.approx(
            hand_flicker(rd / row.video_path), abs=HAND_TOL
        )
        assert out["videos"][row.video_path]["scores"]["temporal_flickering"] == (
            row.vbench_temporal_flickering
        )
        with np.load(rd / row.spf_path) as npz:
            assert row.drift_spf_pace == pytest.approx(vb.spf_pace_drift(npz["progress"]))
    (v,) = out["verdict"]
    assert (v["model"], v["retime"], v["n_original"], v["n_retimed"]) == ("morph", "warped", 3, 3)
    orig = merged[merged.iteration == 0].vbench_temporal_flickering
    assert v["original_mean"] == pytest.approx(orig.mean())
    assert v["original_std"] == pytest.approx(orig.std(ddof=1))
    assert summary["vbench"]["verdict"] == out["verdict"]
    assert {g["iteration"] for g in out["groups"]} == {0, 1}


def test_run_hook_preflight_fails_before_generating(
    compose_cfg, empty_cache, vbench_venv, tmp_path
):
    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark

    rd = tmp_path / "run"
    overrides = [
        f"run_dir={rd}", "progress=false", "logger=none", "embedder=pixel", "n_videos=1",
        "vbench.enabled=true", "vbench.dims=[temporal_flickering,motion_smoothness]",
        f"vbench.cache_dir={empty_cache['cache_dir']}",
        f"vbench.torch_home={empty_cache['torch_home']}",
    ]  # fmt: skip
    with pytest.raises(vb.MissingVBenchWeightsError, match=r"amt-s\.pth"):
        run_benchmark(settings_from_config(compose_cfg(overrides)))
    assert not (rd / "videos").exists() and not (rd / "records").exists()


# ------------------------------------------- real dimension code with random-initialised weights
@pytest.mark.slow
def test_real_output_shapes_with_random_weights(vbench_venv, tmp_path):
    """Five weight-needing dimensions run VBench's real code on random weights in the real file
    formats (tests/_vbench_random_weights.py): their real output shapes and scales parse, and
    VBench's aggregates agree with the per-video values (the parser checks it). Scores mean
    nothing except where frames are identical (consistency 1, zero drift)."""
    cache, torch_home = tmp_path / "cache", tmp_path / "torch_home"
    torch_home.mkdir()
    script = Path(__file__).with_name("_vbench_random_weights.py")
    proc = subprocess.run(
        [str(vbench_venv / "bin" / "python"), "-I", str(script), str(cache)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    videos = tmp_path / "videos"
    base = np.random.default_rng(0).integers(0, 256, (128, 160, 3), dtype=np.uint8)
    write_video(
        videos / "moving.mp4", np.stack([np.roll(base, 9 * t, axis=1) for t in range(16)]), 8
    )
    write_video(videos / "still.mp4", np.stack([base] * 14), 8)
    dims = (
        "background_consistency",
        "motion_smoothness",
        "dynamic_degree",
        "aesthetic_quality",
        "imaging_quality",
    )
    s = vb.VBenchSettings(dims=dims, cache_dir=str(cache), torch_home=str(torch_home))
    assert vb.missing_weights(dims, cache, torch_home) == []
    res = vb.score_videos(vb.videos_in(videos), s)
    assert res.errors == {} and res.dimension_errors == {}
    for key in ("moving.mp4", "still.mp4"):
        raw, sc = res.raw[key], res.scores[key]
        assert isinstance(raw["dynamic_degree"], bool)
        assert sc["dynamic_degree"] == float(raw["dynamic_degree"])
        assert sc["imaging_quality"] == pytest.approx(raw["imaging_quality"] / 100)
        assert 0 <= sc["motion_smoothness"] <= 1
        assert 0 <= sc["background_consistency"] <= 1 + 1e-6  # float32 cosine can pass 1
    assert res.scores["still.mp4"]["background_consistency"] == pytest.approx(1.0, abs=1e-6)
    assert res.vbench_aggregate["imaging_quality"] == pytest.approx(
        np.mean([res.raw[k]["imaging_quality"] for k in res.raw]) / 100
    )
    assert res.drift["still.mp4"]["vbench_imaging_quality"] == pytest.approx(0.0, abs=1e-9)
    assert res.drift["still.mp4"]["vbench_aesthetic_quality"] == pytest.approx(0.0, abs=1e-9)
    assert math.isfinite(res.drift["moving.mp4"]["vbench_imaging_quality"])


def test_provisioning_script_fills_exactly_the_checked_layout(tmp_path):
    """The generated script, run with stand-ins for curl/git/unzip that create files instead of
    downloading, leaves no weight file missing for the pre-flight check."""
    script = vb.provisioning_script()
    for dim in vb.DIMENSIONS.values():
        for wf in dim.weights:
            if "github.com/facebookresearch/dino" not in wf.source:
                assert wf.source.split(" ")[0] in script, wf
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stubs = {
        "curl": 'while [ $# -gt 0 ]; do [ "$1" = -o ] && { printf x > "$2"; shift; }; shift; done',
        "git": 'd="${@: -1}"; mkdir -p "$d"; printf x > "$d/hubconf.py"; '
        'printf x > "$d/vision_transformer.py"',
        "unzip": 'while [ $# -gt 0 ]; do [ "$1" = -d ] && d="$2"; shift; done; '
        'mkdir -p "$d/models"; printf x > "$d/models/raft-things.pth"',
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    (tmp_path / "get.sh").write_text(script)
    cache = tmp_path / "cache"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "VBENCH_CACHE_DIR": str(cache)}
    proc = subprocess.run(
        ["bash", str(tmp_path / "get.sh")], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert vb.missing_weights(list(vb.DIMENSIONS), cache, cache / "torch_home") == []


# --------------------------------------------------- drift measured with the kernel and settings
def _paced_frames() -> np.ndarray:
    """40 frames of scrolling noise, slow - fast - slow: the SPF's pace changes."""
    base = np.random.default_rng(3).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    shifts = np.cumsum([1] * 14 + [6] * 6 + [1] * 20)
    return np.stack([np.roll(base, int(x), axis=1) for x in shifts])


@pytest.fixture(scope="module")
def pixel():
    from spf_bench.metrics.embedders import build_embedder

    return build_embedder("pixel", progress=False)


def test_frame_drift_measures_with_the_kernel_and_the_given_spf_settings(pixel):
    frames = _paced_frames()
    # Scrolling white noise: the drift plumbing is under test, so the no-progress test is off
    # in both settings (under the defaults this clip is degenerate: see the last assertion).
    # The paper estimator in both: on saturated noise its S depends strongly on the window
    # (the link estimator undoes most of the saturation, so its window matters far less).
    run = SPFSettings(window=4, sigma=2.0, progress_threshold=0.0, estimator="paper")
    wide = SPFSettings(progress_threshold=0.0, estimator="paper")
    d, err = vb.frame_drift(frames, embedder=pixel, spf=run)
    assert err is None and d["temporal_flickering"] == pytest.approx(0.0)
    expect = vb.spf_pace_drift(measure_frames(frames, pixel, run).progress)
    assert d["spf_pace"] == pytest.approx(expect, rel=1e-12)
    other, _ = vb.frame_drift(frames, embedder=pixel, spf=wide)
    assert other["spf_pace"] == pytest.approx(
        vb.spf_pace_drift(measure_frames(frames, pixel, wide).progress), rel=1e-12
    )
    assert abs(d["spf_pace"] - other["spf_pace"]) > 1.0  # the settings matter here
    default, _ = vb.frame_drift(frames, embedder=pixel)  # None -> SPFSettings() defaults
    assert measure_frames(frames, pixel, SPFSettings()).degenerate
    assert math.isnan(default["spf_pace"]) or default["spf_pace"] == pytest.approx(
        vb.spf_pace_drift(measure_frames(frames, pixel, SPFSettings()).progress)
    )
    # a given SPF wins over the embedder; neither -> NaN
    given, _ = vb.frame_drift(frames, progress=np.linspace(0, 1, 40), embedder=pixel, spf=run)
    assert given["spf_pace"] == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(vb.frame_drift(frames)[0]["spf_pace"])
    # a static clip is degenerate: NaN, no error
    still, err = vb.frame_drift(np.stack([frames[0]] * 12), embedder=pixel)
    assert math.isnan(still["spf_pace"]) and err is None


def test_frame_drift_too_short_is_nan_with_the_reason(pixel):
    d, err = vb.frame_drift(_paced_frames()[:3], embedder=pixel)
    assert math.isnan(d["temporal_flickering"]) and math.isnan(d["spf_pace"])
    assert "at least 4 frames" in err


# ----------------------------------------------------------- the one verdict: known answer
def _verdict_records() -> pd.DataFrame:
    """Five groups whose verdicts differ if anything but (model, retime, embedder, pacing)
    groups them, or if the retimed side is not each item's last ok iteration > 0."""
    rows = []

    def add(emb, pacing, item, it, val, seed=0, retime="warped", status="ok"):
        rows.append(
            {
                "model": "m", "retime": retime, "embedder": emb, "pacing": pacing,
                "item_id": item, "seed": seed, "iteration": it, "status": status,
                "video_path": f"{retime}/{emb}/{pacing}/{item}-{seed}-{it}.mp4",
                "vbench_temporal_flickering": val,
            }
        )  # fmt: skip

    # A (e1, linear): originals .90 .94 .92 (mean .92, std .02); retimed = last ok iteration:
    # a, b at iteration 2, c at iteration 1 (its iteration 2 failed) -> .925 .945 .935
    for item, o, r1, r2 in (
        ("a", 0.90, 0.5, 0.925),
        ("b", 0.94, 0.5, 0.945),
        ("c", 0.92, 0.935, 0),
    ):
        add("e1", "linear", item, 0, o)
        add("e1", "linear", item, 1, r1)
        add("e1", "linear", item, 2, r2, status="ok" if item != "c" else "failed")
    add("e1", "linear", "a", 0, 0.10)  # a duplicate record of a's original: counted once
    # B (e2, linear): .5 .6 .7 and item "a" with seed 1 (another video): .6; retimed .8 x 4
    for item, seed, o in (("a", 0, 0.5), ("b", 0, 0.6), ("c", 0, 0.7), ("a", 1, 0.6)):
        add("e2", "linear", item, 0, o, seed=seed)
        add("e2", "linear", item, 1, 0.8, seed=seed)
    # C (e1, ease_in_out): no spread at all: delta 0 <= std 0
    for item in ("a", "b"):
        add("e1", "ease_in_out", item, 0, 0.9)
        add("e1", "ease_in_out", item, 1, 0.9)
    # D (retime none): originals only, no verdict
    for item, o in (("a", 0.3), ("b", 0.4)):
        add("e1", "linear", item, 0, o, retime="none")
    # E (e3, linear): the retimed video has no score (NaN): no verdict
    for item, o in (("a", 0.3), ("b", 0.4)):
        add("e3", "linear", item, 0, o)
        add("e3", "linear", item, 1, float("nan"))
    return pd.DataFrame(rows)


def test_one_verdict_groups_by_model_retime_embedder_pacing_known_answer():
    rows = vb.verdict_table(_verdict_records(), ["temporal_flickering"])
    by = {(r["retime"], r["embedder"], r["pacing"]): r for r in rows}
    assert list(by) == [  # sorted groups, each with its own baseline
        ("none", "e1", "linear"),
        ("warped", "e1", "ease_in_out"),
        ("warped", "e1", "linear"),
        ("warped", "e2", "linear"),
        ("warped", "e3", "linear"),
    ]
    a = by["warped", "e1", "linear"]
    assert (a["n_original"], a["n_retimed"]) == (3, 3)
    assert a["original_mean"] == pytest.approx(0.92) and a["original_std"] == pytest.approx(0.02)
    assert a["retimed_mean"] == pytest.approx(0.935) and a["retimed_std"] == pytest.approx(0.01)
    assert a["delta"] == pytest.approx(0.015) and a["delta_in_std"] == pytest.approx(0.75)
    assert a["within_one_std"] is True
    b = by["warped", "e2", "linear"]
    assert (b["n_original"], b["n_retimed"]) == (4, 4)
    assert b["original_mean"] == pytest.approx(0.6)
    assert b["original_std"] == pytest.approx(math.sqrt(0.02 / 3))
    assert b["retimed_mean"] == pytest.approx(0.8) and b["retimed_std"] == pytest.approx(0.0)
    assert b["delta_in_std"] == pytest.approx(0.2 / math.sqrt(0.02 / 3))
    assert b["within_one_std"] is False
    c = by["warped", "e1", "ease_in_out"]
    assert c["original_std"] == 0.0 and c["delta"] == pytest.approx(0.0)
    assert c["within_one_std"] is True and math.isnan(c["delta_in_std"])
    d = by["none", "e1", "linear"]
    assert (d["n_original"], d["n_retimed"]) == (2, 0) and d["within_one_std"] is None
    assert d["original_mean"] == pytest.approx(0.35) and math.isnan(d["retimed_mean"])
    e = by["warped", "e3", "linear"]
    assert (e["n_original"], e["n_retimed"]) == (2, 0) and e["within_one_std"] is None
    # pooling per model (the old run-directory verdict) would have mixed A, B, C and E
    pooled = _verdict_records().assign(embedder="x", pacing="x")
    (p,) = [r for r in vb.verdict_table(pooled, ["temporal_flickering"]) if r["retime"] != "none"]
    assert p["within_one_std"] != a["within_one_std"] or p["n_original"] != a["n_original"]


def test_figures_vbench_table_is_the_one_verdict():
    from spf_bench.bench.views import figures as fg
    from spf_bench.bench.views.load import GROUP_KEYS

    assert vb.VERDICT_KEYS == GROUP_KEYS
    records = _verdict_records()
    tab = fg.vbench_table(records)
    rows = vb.verdict_table(records, ["temporal_flickering"])
    assert len(tab) == len(rows) == 5
    for r, t in zip(rows, tab.itertuples(), strict=True):
        assert (t.model, t.retime, t.embedder, t.pacing, t.dimension) == (
            r["model"], r["retime"], r["embedder"], r["pacing"], r["dimension"]
        )  # fmt: skip
        assert (t.n_original, t.n_retimed) == (r["n_original"], r["n_retimed"])
        for col in ("original_mean", "original_std", "retimed_mean", "retimed_std"):
            assert getattr(t, col) == pytest.approx(r[col], nan_ok=True), col
        assert t.within_1_std == r["within_one_std"]


def test_verdict_rejects_records_without_the_columns_it_needs():
    with pytest.raises(ValueError, match="vbench_imaging_quality"):
        vb.verdict_table(_verdict_records(), ["imaging_quality"])
    with pytest.raises(ValueError, match="embedder"):
        vb.verdict_table(_verdict_records().drop(columns="embedder"), ["temporal_flickering"])


# ----------------------------------------------- a run directory: config.json's SPF settings
def test_run_spf_settings_come_from_config_json(tmp_path):
    job, run = tmp_path / "job", tmp_path / "run"
    job.mkdir(), run.mkdir()
    spf = {"window": 12, "sigma": 5.0, "lam": 1e-4, "power": 2.0}
    (run / "config.json").write_text(json.dumps({"config": {"spf": spf}}))
    assert vr.run_spf_settings(job, run) == SPFSettings(**spf)
    (job / "config.json").write_text(json.dumps({"config": {"spf": {**spf, "window": 7}}}))
    assert vr.run_spf_settings(job, run).window == 7  # the first folder that has one wins
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        vr.run_spf_settings(tmp_path / "nowhere")
    (job / "config.json").write_text(json.dumps({"config": {}}))
    with pytest.raises(ValueError, match=r"config\.spf"):
        vr.run_spf_settings(job)
    (job / "config.json").write_text(json.dumps({"config": {"spf": {"window": 0}}}))
    with pytest.raises(ValueError):
        vr.run_spf_settings(job)


# ------------------------------------------------ the adapter without .venv-vbench: a fake VBench
#: A stand-in for the VBench package: its API, file names and output shapes, with
#: temporal_flickering computed by VBench's formula and deterministic values for the others.
FAKE_VBENCH = """
import json, os
from pathlib import Path

import av
import numpy as np


def _frames(p):
    with av.open(str(p)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


class VBench:
    def __init__(self, device, full_info, output_path):
        self.out = Path(output_path)

    def evaluate(self, videos_path, name, dimension_list, mode, local):
        assert mode == "custom_input" and local
        (dim,) = dimension_list
        vids, weights = [], []
        for f in os.listdir(videos_path):
            p = os.path.join(videos_path, f)
            x = _frames(p).astype(np.float64)
            if dim == "temporal_flickering":
                mae = [np.abs(x[t + 1] - x[t]).mean() for t in range(len(x) - 1)]
                v = (255.0 - np.mean(mae)) / 255.0
            elif dim == "imaging_quality":
                v = x.mean() / 255.0 * 100.0
            elif dim == "dynamic_degree":
                v = bool(np.abs(np.diff(x, axis=0)).mean() > 1)
            elif dim == "subject_consistency":
                v = 1.0 - x[..., 0].std() / 500.0
            else:
                raise RuntimeError("the fake VBench has no " + dim)
            vids.append({"video_path": p, "video_results": v if isinstance(v, bool) else float(v)})
            weights.append(len(x) - 1)
        values = [float(v["video_results"]) for v in vids]
        if dim == "subject_consistency":
            agg = float(np.dot(values, weights) / np.sum(weights))
        elif dim == "imaging_quality":
            agg = float(np.mean(values)) / 100.0
        else:
            agg = float(np.mean(values))
        (self.out / (name + "_eval_results.json")).write_text(json.dumps({dim: [agg, vids]}))
"""
FAKE_DECORD = """
import av


class VideoReader:
    def __init__(self, path, num_threads=1):
        with av.open(path) as c:
            self.n = sum(1 for _ in c.decode(video=0))

    def __len__(self):
        return self.n
"""
#: bin/python of the fake venv: this interpreter, always isolated, with the fake packages
#: appended to sys.path. Called without -I it puts the script's folder first on sys.path,
#: as Python does, so the runner's own refusal can be tested.
FAKE_PYTHON = r"""#!/usr/bin/env bash
iso=0
if [ "$1" = "-I" ]; then iso=1; shift; fi
exec "{real}" -I -c '
import os, runpy, sys
iso, fake, script, *rest = sys.argv[1:]
if iso != "1":
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
sys.path.append(fake)
sys.argv = [script, *rest]
runpy.run_path(script, run_name="__main__")' "$iso" "{fake}" "$@"
"""


@pytest.fixture(scope="module")
def fake_venv(tmp_path_factory) -> Path:
    """A VBench "venv" (``bin/python`` and the ``.installed`` stamp) running the fake VBench."""
    root = tmp_path_factory.mktemp("fake_vbench")
    pkgs = root / "pkgs"
    (pkgs / "vbench").mkdir(parents=True)
    (pkgs / "vbench" / "__init__.py").write_text(FAKE_VBENCH)
    (pkgs / "decord.py").write_text(FAKE_DECORD)
    venv = root / "venv"
    (venv / "bin").mkdir(parents=True)
    py = venv / "bin" / "python"
    py.write_text(FAKE_PYTHON.format(real=sys.executable, fake=pkgs))
    py.chmod(0o755)
    (venv / ".installed").write_text("")
    return venv


@pytest.fixture
def fake_weights(empty_cache) -> dict[str, str]:
    """Placeholder files wherever the pre-flight check looks (the fake VBench reads none)."""
    for dim in vb.DIMENSIONS.values():
        for wf in dim.weights:
            root = empty_cache["cache_dir" if wf.root == "cache" else "torch_home"]
            p = Path(root) / wf.path
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"x")
    return empty_cache


def test_runner_refuses_to_start_without_isolated_mode(fake_venv, tmp_path):
    """Started without -I, metrics/ is on sys.path and `import vbench` would be spf-bench's own
    package: the runner says so and exits 3 instead of importing it."""
    (tmp_path / "job.json").write_text(json.dumps({"tasks": [], "output_dir": str(tmp_path)}))
    py = str(fake_venv / "bin" / "python")
    proc = subprocess.run(
        [py, str(vb.RUNNER), str(tmp_path / "job.json")], capture_output=True, text=True
    )
    assert proc.returncode == 3 and "python -I" in proc.stderr
    assert not (tmp_path / "runner_result.json").exists()


def test_score_videos_through_the_runner_protocol(
    generated, fake_venv, fake_weights, pixel, tmp_path
):
    """Staging, the isolated subprocess, parsing of four dimension shapes, decode failures,
    in-process and VBench-segment drift; the SPF pace drift uses the given SPF settings."""
    videos = {k: str(p) for k, p in vb.videos_in(generated).items()}
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    videos["notes"] = str(bad)
    dims = ("temporal_flickering", "imaging_quality", "dynamic_degree", "subject_consistency")
    s = vb.VBenchSettings(
        dims=dims, drift_dims=("imaging_quality",), venv=str(fake_venv), **fake_weights
    )
    spf = SPFSettings(window=4, sigma=2.0)
    res = vb.score_videos(videos, s, embedder=pixel, spf=spf, work_dir=tmp_path / "work")
    assert res.failed == ["notes"] and "decode" in res.errors["notes"]
    assert res.dimension_errors == {} and res.versions["vbench"] == ""  # no dist metadata
    staged = sorted(p.name for p in (tmp_path / "work" / "videos").iterdir())
    assert staged == [f"v{i:05d}.mp4" for i in range(len(videos) - 1)]
    for key, path in vb.videos_in(generated).items():
        sc, raw = res.scores[key], res.raw[key]
        assert sc["temporal_flickering"] == pytest.approx(hand_flicker(path), abs=1e-12)
        assert sc["imaging_quality"] == pytest.approx(raw["imaging_quality"] / 100)
        assert sc["dynamic_degree"] == float(raw["dynamic_degree"])
        frames, _ = read_video(path)
        assert res.n_frames[key] == len(frames)
        assert res.drift[key]["temporal_flickering"] == pytest.approx(vb.flicker_drift(frames))
        m = measure_frames(frames, pixel, spf)
        expect = math.nan if m.degenerate else vb.spf_pace_drift(m.progress)
        assert res.drift[key]["spf_pace"] == pytest.approx(expect, nan_ok=True)
        assert math.isfinite(res.drift[key]["vbench_imaging_quality"])
    assert res.scores["steady.mp4"]["dynamic_degree"] == 0.0
    assert res.drift["steady.mp4"]["vbench_imaging_quality"] == pytest.approx(0.0, abs=1e-9)
    # white noise has no semantic progress: degenerate, so its SPF pace drift is undefined
    assert math.isnan(res.drift["noise_fast.mp4"]["spf_pace"])
    assert set(res.drift_metrics) == {"temporal_flickering", "spf_pace", "vbench_imaging_quality"}
    assert all(math.isnan(v) for v in res.scores["notes"].values())


def _fake_run_dir(root: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A run directory as run_benchmark leaves it: 2 items x iterations 0-1, videos, SPF files
    (one record without one) and config.json with non-default SPF settings."""
    rd = root / "run"
    progress = {}
    rows = []
    for n, item in enumerate(("i0", "i1")):
        for it in (0, 1):
            vp, sp = f"videos/{item}__it{it}.mp4", f"spf/{item}__it{it}.npz"
            _noise_video(rd / vp, 16 + 4 * n, 1 + it + n, seed=n)
            t = np.linspace(0, 1, 16 + 4 * n)
            if (item, it) != ("i1", 1):  # this record's SPF file is missing
                progress[vp] = t ** (2 - it)
                atomic_io.atomic_savez(rd / sp, progress=progress[vp])
            rows.append(
                {"model": "morph", "retime": "warped", "embedder": "pixel", "pacing": "linear",
                 "item_id": item, "seed": n, "iteration": it, "status": "ok",
                 "video_path": vp, "spf_path": sp}
            )  # fmt: skip
    rows.append({"model": "morph", "retime": "warped", "embedder": "pixel", "pacing": "linear",
                 "item_id": "i2", "iteration": 0, "status": "failed"})  # fmt: skip
    RunDir(rd).write_tables(rows)
    spf = {"window": 6, "sigma": 3.0, "lam": 1e-5, "power": 1.0}
    (rd / "config.json").write_text(json.dumps({"config": {"spf": spf}}))
    return rd, progress


def test_score_run_writes_its_files_and_passes_the_run_spf_settings_down(
    fake_venv, fake_weights, tmp_path, monkeypatch
):
    rd, progress = _fake_run_dir(tmp_path)
    before = (rd / "records.parquet").read_bytes()
    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return vb.score_videos(*args, **kwargs)

    monkeypatch.setattr(vr, "score_videos", spy)
    s = vb.VBenchSettings(dims=("temporal_flickering",), venv=str(fake_venv), **fake_weights)
    payload = vr.score_run(rd, s)
    assert seen["spf"] == SPFSettings(window=6, sigma=3.0)  # from config.json
    assert (rd / "records.parquet").read_bytes() == before
    merged = pd.read_parquet(rd / "records_vbench.parquet")
    on_disk = json.loads((rd / "vbench.json").read_text())
    assert on_disk["schema"] == vbp.SCHEMA and on_disk["run_dir"] == str(rd)
    assert set(on_disk["videos"]) == set(progress) | {"videos/i1__it1.mp4"}
    for row in merged.itertuples():
        if row.status != "ok":
            assert math.isnan(row.vbench_temporal_flickering) and row.vbench_error == "no video"
            continue
        assert row.vbench_temporal_flickering == pytest.approx(
            hand_flicker(rd / row.video_path), abs=1e-12
        )
        if row.video_path in progress:  # the run's spf/*.npz, not re-embedded
            assert row.drift_spf_pace == pytest.approx(vb.spf_pace_drift(progress[row.video_path]))
        else:
            assert math.isnan(row.drift_spf_pace)
    assert payload["verdict"] == vb.verdict_table(merged, ["temporal_flickering"])
    (v,) = payload["verdict"]
    assert (v["n_original"], v["n_retimed"]) == (2, 2)
    assert [g["iteration"] for g in payload["groups"]] == [0, 1]
    b = vbp.brief(payload)
    assert b["file"] == "vbench.json" and b["verdict"] == payload["verdict"] and b["n_failed"] == 0

    # an explicit spf wins (checked without running VBench again); without it, a run
    # directory needs its config.json
    class Seen(Exception):
        pass

    def stop(*args, **kwargs):
        seen.update(kwargs)
        raise Seen

    monkeypatch.setattr(vr, "score_videos", stop)
    with pytest.raises(Seen):
        vr.score_run(rd, s, spf=SPFSettings(window=9))
    assert seen["spf"].window == 9
    (rd / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        vr.score_run(rd, s)


def test_cli_on_a_folder_and_a_run_directory_with_the_fake_vbench(
    generated, fake_venv, fake_weights, tmp_path, capsys
):
    from spf_bench.bench.cli import main

    common = [
        "--dims", "temporal_flickering", "--venv", str(fake_venv),
        "--cache-dir", fake_weights["cache_dir"], "--torch-home", fake_weights["torch_home"],
    ]  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    assert main(["vbench", str(generated), *common, "--embedder", "pixel", "--out", str(out)]) == 0
    payload = json.loads((out / "vbench.json").read_text())
    assert payload["videos_dir"] == str(generated) and payload["n_failed"] == 0
    assert set(payload["videos"]) == set(vb.videos_in(generated))
    assert payload["videos"]["noise_fast.mp4"]["drift"]["spf_pace"] is None  # degenerate: null
    assert "VBench aggregates" in capsys.readouterr().out
    rd, _ = _fake_run_dir(tmp_path)
    assert main(["vbench", str(rd), *common]) == 0
    assert (rd / "vbench.json").is_file() and (rd / "records_vbench.parquet").is_file()
    assert "within 1 std" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["vbench", str(empty), *common]) == 2
    assert "no video files" in capsys.readouterr().err


def test_metrics_vbench_imports_no_bench_and_runs_as_a_module():
    code = (
        "import sys, spf_bench.metrics.vbench; "
        "bad = [m for m in sys.modules if m.startswith(('spf_bench.bench', 'hydra', 'omega'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    proc = subprocess.run(
        [sys.executable, "-m", "spf_bench.metrics.vbench", "provision-script", "imaging_quality"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0 and "musiq_spaq_ckpt-358bb6af.pth" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "spf_bench.metrics.vbench"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "usage" in proc.stderr
