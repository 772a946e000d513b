"""bench/leaderboard.py: the math against hand-computed values, the bootstrap's coverage, loading
real run directories (records.parquet, records/*.json, vbench.json) and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import leaderboard as lb
from bench.pipeline import run_benchmark
from bench.records import atomic_write_json
from bench.run import settings_from_config

ROOT = Path(__file__).resolve().parents[1]


def _rec(model, retime, item, it, ls, *, status="ok", degenerate=False, **kw):
    return {
        "model": model,
        "retime": retime,
        "embedder": "pixel",
        "pacing": "linear",
        "item_id": item,
        "iteration": it,
        "status": status,
        "linearity_score": ls,
        "degenerate": degenerate,
        "max_jump": kw.get("max_jump", 0.1),
        "max_deviation": kw.get("max_deviation", 0.2),
        "total_change": kw.get("total_change", 1.0),
        "target_deviation": kw.get("target_deviation", 0.05),
        "gt_rms_error": kw.get("gt_rms_error", math.nan),
        "config_hash": kw.get("config_hash", "h1"),
        "git_sha": "abc",
        **{k: v for k, v in kw.items() if k.startswith("vbench_")},
    }


@pytest.fixture
def hand_records():
    """Warped morph: items a, b, c go 0 -> 2; d fails at iteration 1; e is degenerate and
    stopped at 0. Footage (none): two clips, one failed."""
    rows = []
    for item, base, final, mj in (("a", 0.5, 0.9, 0.1), ("b", 0.6, 0.8, 0.2), ("c", 0.7, 1.0, 0.3)):
        rows.append(_rec("morph", "warped", item, 0, base, max_jump=0.5))
        rows.append(_rec("morph", "warped", item, 1, (base + final) / 2))
        rows.append(
            _rec(
                "morph",
                "warped",
                item,
                2,
                final,
                max_jump=mj,
                total_change=10 * mj,
                gt_rms_error=mj / 10,
                vbench_aesthetic_quality=final / 2,
            )
        )
    rows.append(_rec("morph", "warped", "d", 0, 0.4))
    rows.append(_rec("morph", "warped", "d", 1, math.nan, status="failed"))
    rows.append(
        _rec(
            "morph",
            "warped",
            "e",
            0,
            math.nan,
            degenerate=True,
            max_jump=math.nan,
            max_deviation=math.nan,
            total_change=1e-4,
            target_deviation=math.nan,
        )
    )
    rows.append(_rec("footage", "none", "bikes", 0, 0.95, config_hash="h2"))
    rows.append(_rec("footage", "none", "carphone", 0, 0.85, config_hash="h2"))
    rows.append(_rec("footage", "none", "broken", 0, math.nan, status="failed", config_hash="h2"))
    return pd.DataFrame(rows)


def test_leaderboard_math_matches_hand_computation(hand_records):
    t = lb.build_leaderboard(hand_records, n_resamples=2000)
    assert list(t.columns[: len(lb.COLUMNS)]) == list(lb.COLUMNS)
    assert [c for c in t.columns if c.startswith("vbench_")] == [
        "vbench_aesthetic_quality_mean",
        "vbench_aesthetic_quality_std",
        "vbench_aesthetic_quality_n",
    ]
    assert list(t.model) == ["footage", "morph"]  # sorted by the group key
    m = t.set_index("model").loc["morph"]
    # a, b, c and the degenerate e are scored; d's final record failed.
    assert (m.n, m.n_failed, m.n_degenerate, m.final_iteration) == (4, 1, 1, 2)
    assert m.linearity_mean == pytest.approx(0.9)  # (0.9 + 0.8 + 1.0) / 3; e is NaN
    assert m.linearity_std == pytest.approx(0.1)  # sample std of 0.9, 0.8, 1.0
    assert m.max_jump_mean == pytest.approx(0.2)  # (0.1 + 0.2 + 0.3) / 3, e NaN
    assert m.max_deviation_mean == pytest.approx(0.2)
    assert m.total_change_mean == pytest.approx((1 + 2 + 3 + 1e-4) / 4)
    assert m.gt_rms_error_mean == pytest.approx(0.02)
    # Paired with the same items' iteration 0: a +0.4, b +0.2, c +0.3 (e has no final > 0).
    assert m.n_paired == 3
    assert m.baseline_linearity_mean == pytest.approx(0.6)
    assert m.delta_linearity == pytest.approx(0.3)
    assert m.linearity_ci_low <= m.linearity_mean <= m.linearity_ci_high
    assert m.delta_linearity_ci_low <= 0.3 <= m.delta_linearity_ci_high
    assert 0.2 - 1e-12 <= m.delta_linearity_ci_low
    assert m.delta_linearity_ci_high <= 0.4 + 1e-12
    assert m.vbench_aesthetic_quality_mean == pytest.approx(0.45)
    assert m.vbench_aesthetic_quality_std == pytest.approx(0.05)
    assert m.vbench_aesthetic_quality_n == 3
    f = t.set_index("model").loc["footage"]
    assert (f.n, f.n_failed, f.final_iteration, f.n_paired) == (2, 1, 0, 0)
    assert f.linearity_mean == pytest.approx(0.9)
    assert f.linearity_std == pytest.approx(math.sqrt(0.005))
    assert math.isnan(f.delta_linearity) and math.isnan(f.delta_linearity_ci_low)
    assert f.config_hashes == "h2" and m.config_hashes == "h1"
    assert np.isnan(f.vbench_aesthetic_quality_mean) and f.vbench_aesthetic_quality_n == 0


def test_leaderboard_is_reproducible_and_seeded(hand_records):
    a = lb.build_leaderboard(hand_records, seed=3, n_resamples=500)
    b = lb.build_leaderboard(hand_records, seed=3, n_resamples=500)
    pd.testing.assert_frame_equal(a, b)


def test_paired_ci_is_the_bootstrap_of_the_differences(hand_records):
    t = lb.build_leaderboard(hand_records, seed=5, n_resamples=1000).set_index("model")
    # Differences in item order (a, b, c), computed as the leaderboard does: final - base.
    lo, hi = lb.bootstrap_ci([0.9 - 0.5, 0.8 - 0.6, 1.0 - 0.7], seed=5, n_resamples=1000)
    assert (
        t.loc["morph", "delta_linearity_ci_low"],
        t.loc["morph", "delta_linearity_ci_high"],
    ) == (
        pytest.approx(lo),
        pytest.approx(hi),
    )


def test_bootstrap_ci_hand_cases():
    # Percentile bootstrap of the mean of two values: resampled means are a, (a+b)/2, b with
    # probabilities 1/4, 1/2, 1/4, so the 2.5% and 97.5% quantiles are exactly a and b.
    assert lb.bootstrap_ci([0.2, 0.6], method="percentile", n_resamples=4000) == (
        pytest.approx(0.2),
        pytest.approx(0.6),
    )
    assert lb.bootstrap_ci([0.7, 0.7, 0.7]) == (0.7, 0.7)
    assert all(math.isnan(v) for v in lb.bootstrap_ci([0.5]))
    assert all(math.isnan(v) for v in lb.bootstrap_ci([math.nan, 0.5]))
    with pytest.raises(ValueError, match="level"):
        lb.bootstrap_ci([1, 2], level=1.5)


def test_bootstrap_ci_covers_the_true_mean_at_its_nominal_rate():
    """Skewed scores (Beta(8, 2), mean 0.8, like Linearity Scores): the 95% BCa interval of
    n = 30 draws covers the true mean in about 95% of 400 simulated samples."""
    rng = np.random.default_rng(1234)
    true_mean = 8 / 10
    hits = 0
    sims = 400
    for i in range(sims):
        x = rng.beta(8, 2, size=30)
        lo, hi = lb.bootstrap_ci(x, n_resamples=1000, seed=i)
        hits += lo <= true_mean <= hi
    coverage = hits / sims
    # Binomial sd at 0.95 with 400 trials is 0.011; BCa at n = 30 runs ~1-2 points under.
    assert 0.90 <= coverage <= 0.985, coverage


# ------------------------------------------------------------------------------ real runs
@pytest.fixture(scope="module")
def morph_run(tmp_path_factory):
    """A real tiny warped morph run (pixel embedder, 9 frames, 2 items, 1 refinement)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    rd = tmp_path_factory.mktemp("lb") / "morph"
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                f"run_dir={rd}",
                "embedder=pixel",
                "n_videos=2",
                "model.n_frames=9",
                "model.size=32",
                "retime.iterations=1",
                "logger=none",
                "progress=false",
                "plots=false",
            ],
        )
    GlobalHydra.instance().clear()
    run_benchmark(settings_from_config(cfg))
    return rd


def test_load_real_run_and_vbench_json_contract(morph_run, tmp_path):
    import shutil

    rd = tmp_path / "copy"
    shutil.copytree(morph_run, rd)
    df = pd.read_parquet(rd / "records.parquet")
    # Flat mapping keyed on the record's video_path; a wrapped one with other keys works too.
    flat = {
        vp: {"Aesthetic Quality": 0.5 + 0.1 * i, "dynamic_degree": bool(i % 2)}
        for i, vp in enumerate(df.video_path)
    }
    atomic_write_json(rd / "vbench.json", flat)
    rec = lb.load_records([rd])
    assert {"vbench_aesthetic_quality", "vbench_dynamic_degree"} <= set(rec.columns)
    assert rec.vbench_aesthetic_quality.tolist() == pytest.approx(
        [0.5 + 0.1 * i for i in range(len(df))]
    )
    atomic_write_json(
        rd / "vbench.json",
        {
            "aggregate": {"x": 1},
            "per_video": {str((rd / df.video_path[0]).resolve()): {"imaging_quality": 0.3}},
        },
    )
    rec = lb.load_records([rd])
    assert rec.vbench_imaging_quality.iloc[0] == pytest.approx(0.3)
    assert rec.vbench_imaging_quality.iloc[1:].isna().all()
    t = lb.build_leaderboard(rec, n_resamples=200)
    assert t.vbench_imaging_quality_n.iloc[0] == 0  # only an iteration-0 video was scored
    assert len(t) == 1 and t.n.iloc[0] == 2 and t.final_iteration.iloc[0] == 1
    # The leaderboard's numbers equal those of the run's own records.
    fin = df[df.iteration == 1].linearity_score
    assert t.linearity_mean.iloc[0] == pytest.approx(fin.mean())
    base = df[df.iteration == 0].set_index("item_id").linearity_score
    gain = (df[df.iteration == 1].set_index("item_id").linearity_score - base).mean()
    assert t.delta_linearity.iloc[0] == pytest.approx(gain)
    summary = json.loads((morph_run / "summary.json").read_text())
    assert t.delta_linearity.iloc[0] == pytest.approx(summary["linearity_gain_mean"])


def test_duplicates_last_run_wins_and_json_records_fallback(morph_run, tmp_path):
    import shutil

    rd2 = tmp_path / "partial"
    shutil.copytree(morph_run, rd2)
    (rd2 / "records.parquet").unlink()  # an unfinished run: records/*.json only
    path = rd2 / "records" / "morph-0000__it1.json"
    r = json.loads(path.read_text())
    r["linearity_score"] = 0.123
    atomic_write_json(path, r)
    rec = lb.load_records([morph_run, rd2])
    row = rec[(rec.item_id == "morph-0000") & (rec.iteration == 1)]
    assert len(row) == 1 and row.linearity_score.iloc[0] == pytest.approx(0.123)
    assert len(rec) == 4
    rec = lb.load_records([rd2, morph_run])
    row = rec[(rec.item_id == "morph-0000") & (rec.iteration == 1)]
    assert row.linearity_score.iloc[0] != pytest.approx(0.123)


def test_cli_writes_csv_and_markdown(morph_run, tmp_path, capsys):
    out = tmp_path / "res" / "leaderboard.csv"
    assert lb.main([str(morph_run.parent / "m*"), "--out", str(out), "--resamples", "200"]) == 0
    t = pd.read_csv(out)
    assert list(t.columns) == list(lb.COLUMNS)  # no VBench here: no vbench columns
    md = out.with_suffix(".md").read_text()
    assert "| morph | warped | pixel | linear | 2 |" in md
    assert "No VBench scores" in md
    assert lb.main([str(tmp_path / "nothing*"), "--out", str(out)]) == 2
    with pytest.raises(FileNotFoundError, match="no records"):
        lb.resolve_runs([tmp_path])
    assert "leaderboard" in capsys.readouterr().err


def test_vbench_record_columns_win_over_vbench_json(morph_run, tmp_path):
    import shutil

    rd = tmp_path / "cols"
    shutil.copytree(morph_run, rd)
    df = pd.read_parquet(rd / "records.parquet")
    df["vbench_motion_smoothness"] = [0.9, None, 0.8, 0.7]  # one video lacks a score
    df["vbench_dynamic_degree"] = [True, False, True, True]
    df.to_parquet(rd / "records.parquet", index=False)
    atomic_write_json(rd / "vbench.json", {vp: {"motion_smoothness": 0.1} for vp in df.video_path})
    rec = lb.load_records([rd]).sort_values(["item_id", "iteration"])
    assert rec.vbench_motion_smoothness.tolist() == pytest.approx([0.9, 0.1, 0.8, 0.7])
    assert rec.vbench_dynamic_degree.tolist() == [1.0, 0.0, 1.0, 1.0]
    t = lb.build_leaderboard(rec, n_resamples=200)
    # final records (iteration 1) of the two items: 0.1 and 0.7; dynamic degree 0 and 1
    assert t.vbench_motion_smoothness_mean.iloc[0] == pytest.approx(0.4)
    assert t.vbench_dynamic_degree_mean.iloc[0] == pytest.approx(0.5)
    assert "VBench dynamic_degree" in lb.render_markdown(t)


def test_vbench_files_of_metrics_vbench(morph_run, tmp_path):
    """The files metrics/vbench.py writes: vbench.json (schema spf-bench/vbench/1, scores nested
    under "scores" beside raw values and frame counts) and records_vbench.parquet (records plus
    vbench_<dim> columns and the vbench_error message column)."""
    import shutil

    rd = tmp_path / "vb"
    shutil.copytree(morph_run, rd)
    df = pd.read_parquet(rd / "records.parquet")
    videos = {
        vp: {
            "scores": {"temporal_flickering": 0.9 + 0.01 * i, "imaging_quality": None},
            "raw": {"temporal_flickering": 0.9 + 0.01 * i},
            "n_frames": 9,
            "drift": {"flicker": 0.5},
            "errors": {},
        }
        for i, vp in enumerate(df.video_path)
    }
    payload = {
        "schema": "spf-bench/vbench/1",
        "dimensions": ["temporal_flickering"],
        "videos": videos,
        "aggregate": {"temporal_flickering": {"mean": 0.9}},
    }
    atomic_write_json(rd / "vbench.json", payload)
    side = df.assign(
        vbench_subject_consistency=[0.7, 0.8, np.nan, 0.6],
        vbench_error=["", "", "dropped by VBench", ""],
    )
    side.to_parquet(rd / "records_vbench.parquet", index=False)
    rec = lb.load_records([rd])
    assert "vbench_n_frames" not in rec and "vbench_error" not in lb.vbench_dimensions(rec)
    assert lb.vbench_dimensions(rec) == ["subject_consistency", "temporal_flickering"]
    assert rec.vbench_temporal_flickering.tolist() == pytest.approx([0.9, 0.91, 0.92, 0.93])
    t = lb.build_leaderboard(rec, n_resamples=200)
    # final records are rows 1 and 3: subject consistency 0.8 and 0.6
    assert t.vbench_subject_consistency_mean.iloc[0] == pytest.approx(0.7)
    assert t.vbench_temporal_flickering_mean.iloc[0] == pytest.approx(0.92)
    assert "vbench_imaging_quality_mean" not in t  # no finite score anywhere
