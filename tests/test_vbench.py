"""VBench in its own venv: real temporal_flickering against a hand computation, parsing of every
dimension's output shape, the missing-weights pre-flight, drift, verdict, CLI and run hook.

Tests that run VBench need ``.venv-vbench`` (``make vbench-env``). Without it they are skipped
on a developer machine and **fail** in CI (``CI=true``), where ``.ci/run`` builds it.
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

from bench import records as rec
from metrics import vbench as vb
from metrics.video_io import read_video, write_video

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
    staged = vb._stage({"x": generated / "noise_slow.mp4"}, tmp_path / "videos")
    task = {
        "tag": "videos",
        "videos_dir": str(tmp_path / "videos"),
        "dimensions": ["motion_smoothness"],
    }
    out = vb._run_runner([task], tmp_path, s)
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
    merged = vb.merge_scores(_records(rows), res)
    assert merged["vbench_temporal_flickering"].isna().sum() == 1
    assert merged.loc[merged.item_id == "bad", "vbench_error"].item() == "no video"
    (v,) = vb.verdict_table(merged, ["temporal_flickering"])
    assert v["n_original"] == 3 and v["n_retimed"] == 3
    assert v["original_mean"] == pytest.approx(0.92) and v["original_std"] == pytest.approx(0.02)
    assert v["retimed_mean"] == pytest.approx(0.935) and v["delta_in_std"] == pytest.approx(0.75)
    assert v["within_one_std"] is True
    groups = vb.group_stats(merged, ["vbench_temporal_flickering"])
    assert [g["iteration"] for g in groups] == [0, 1, 2]
    assert groups[1]["vbench_temporal_flickering"]["mean"] == pytest.approx(0.5)
    # moving the retimed videos 1.5 std away flips the verdict
    for item in orig:
        scores[f"videos/{item}__it2.mp4"]["temporal_flickering"] = orig[item] + 0.03
    (v2,) = vb.verdict_table(vb.merge_scores(_records(rows), res), ["temporal_flickering"])
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
    (v,) = vb.verdict_table(vb.merge_scores(_records(rows), res), ["temporal_flickering"])
    assert v["within_one_std"] is None and math.isnan(v["original_std"])


# ------------------------------------------------------------------------- CLI and the run
@pytest.mark.slow
def test_cli_on_the_bundled_clips(bundled, empty_cache, vbench_venv, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name, path in bundled.items():
        (clips / f"{name}.mp4").symlink_to(path)
    cmd = [
        sys.executable, "-m", "bench.cli", "vbench", str(clips),
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
    from bench.cli import main

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
    from bench.pipeline import run_benchmark
    from bench.run import settings_from_config

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
    from bench.pipeline import run_benchmark
    from bench.run import settings_from_config

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
        [str(vbench_venv / "bin" / "python"), str(script), str(cache)],
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
