"""The leaderboard view (bench/views/) and its statistics: the math against hand-computed
values, the bootstrap's coverage, loading real run directories (records.parquet,
records/*.json, vbench.json) and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spf_bench.bench.config import settings_from_config
from spf_bench.bench.pipeline import run_benchmark
from spf_bench.bench.results import stats
from spf_bench.bench.views import external, load
from spf_bench.bench.views import leaderboard as lb
from spf_bench.metrics.atomic_io import atomic_write_json

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
        "rms_s_vs_designed": kw.get("rms_s_vs_designed", math.nan),
        "config_hash": kw.get("config_hash", "h1"),
        "git_sha": "abc",
        **{k: v for k, v in kw.items() if k.startswith("vbench_")},
    }


@pytest.fixture
def hand_records():
    """Warped morph: items a, b, c go 0 -> 2; d fails at iteration 1 (its final record is its
    ok iteration 0, bench/results/stats); e is degenerate and
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
                rms_s_vs_designed=mj / 10,
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
        "vbench_aesthetic_quality_within_1sd",
    ]
    assert list(t.model) == ["footage", "morph"]  # sorted by the group key
    m = t.set_index("model").loc["morph"]
    # a, b, c, d (at its ok iteration 0) and the degenerate e are scored; d's last record
    # failed, so it counts in n_failed too.
    assert (m.n, m.n_failed, m.n_degenerate, m.final_iteration) == (5, 1, 1, 2)
    assert m.linearity_mean == pytest.approx(0.775)  # (0.9 + 0.8 + 1.0 + 0.4) / 4; e is NaN
    assert m.linearity_std == pytest.approx(math.sqrt(0.2075 / 3))  # of 0.9, 0.8, 1.0, 0.4
    assert m.max_jump_mean == pytest.approx(0.175)  # (0.1 + 0.2 + 0.3 + 0.1) / 4, e NaN
    assert m.max_deviation_mean == pytest.approx(0.2)
    assert m.total_change_mean == pytest.approx((1 + 2 + 3 + 1 + 1e-4) / 5)
    assert m.rms_s_vs_designed_mean == pytest.approx(0.02)
    # Paired with the same items' iteration 0: a +0.4, b +0.2, c +0.3 (d, e: no final > 0).
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
    assert f.config_hash == "h2" and m.config_hash == "h1"
    assert (f.seed, f.n_per_seed, f.settings_hash) == ("-1", "-1:2", "h2")  # no seed column
    assert np.isnan(f.vbench_aesthetic_quality_mean) and f.vbench_aesthetic_quality_n == 0


def test_leaderboard_is_reproducible_and_seeded(hand_records):
    a = lb.build_leaderboard(hand_records, seed=3, n_resamples=500)
    b = lb.build_leaderboard(hand_records, seed=3, n_resamples=500)
    pd.testing.assert_frame_equal(a, b)


def test_paired_ci_is_the_bootstrap_of_the_differences(hand_records):
    t = lb.build_leaderboard(hand_records, seed=5, n_resamples=1000).set_index("model")
    # Differences in item order (a, b, c), computed as the leaderboard does: final - base.
    lo, hi = stats.bootstrap_ci([0.9 - 0.5, 0.8 - 0.6, 1.0 - 0.7], seed=5, n_resamples=1000)
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
    assert stats.bootstrap_ci([0.2, 0.6], method="percentile", n_resamples=4000) == (
        pytest.approx(0.2),
        pytest.approx(0.6),
    )
    assert stats.bootstrap_ci([0.7, 0.7, 0.7]) == (0.7, 0.7)
    assert all(math.isnan(v) for v in stats.bootstrap_ci([0.5]))
    assert all(math.isnan(v) for v in stats.bootstrap_ci([math.nan, 0.5]))
    with pytest.raises(ValueError, match="level"):
        stats.bootstrap_ci([1, 2], level=1.5)


def test_bootstrap_ci_covers_the_true_mean_at_its_nominal_rate():
    """Skewed scores (Beta(8, 2), mean 0.8, like Linearity Scores): the 95% BCa interval of
    n = 30 draws covers the true mean in about 95% of 400 simulated samples."""
    rng = np.random.default_rng(1234)
    true_mean = 8 / 10
    hits = 0
    sims = 400
    for i in range(sims):
        x = rng.beta(8, 2, size=30)
        lo, hi = stats.bootstrap_ci(x, n_resamples=1000, seed=i)
        hits += lo <= true_mean <= hi
    coverage = hits / sims
    # Binomial sd at 0.95 with 400 trials is 0.011; BCa at n = 30 runs ~1-2 points under.
    assert 0.90 <= coverage <= 0.985, coverage


# ------------------------------------------------------------------------------ real runs
@pytest.fixture(scope="module")
def morph_run(tmp_path_factory):
    """A real tiny warped morph run (pixel embedder, 9 frames, 2 items, 1 refinement)."""
    return _morph_run(tmp_path_factory.mktemp("lb") / "morph")


def _compose(overrides: list[str]):
    """The real config (the installed ``spf_bench.conf`` on its typed schemas), as the shared
    ``compose_cfg`` fixture composes it."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from spf_bench.conf.schema import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("spf_bench.conf", version_base="1.3"):
            return compose("config", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def _morph_run(rd: Path, *extra: str) -> Path:
    """A real tiny warped morph run into ``rd`` (pixel embedder, 9 frames, 2 items, 1
    refinement); ``extra`` overrides (e.g. ``seed=1``)."""
    cfg = _compose(
        [
            f"run_dir={rd}",
            "embedder=pixel",
            "n_videos=2",
            "model.n_frames=9",
            "model.size=32",
            "retime.iterations=1",
            "logger=none",
            "progress=false",
            "plots=false",
            "eval_embedders=[]",  # no held-out embedder: seconds, not a minute, on 2 CPUs
            *extra,
        ]
    )
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
    rec = load.load_records([rd])
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
    rec = load.load_records([rd])
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
    rec = load.load_records([morph_run, rd2])
    row = rec[(rec.item_id == "morph-0000") & (rec.iteration == 1)]
    assert len(row) == 1 and row.linearity_score.iloc[0] == pytest.approx(0.123)
    assert len(rec) == 4
    rec = load.load_records([rd2, morph_run])
    row = rec[(rec.item_id == "morph-0000") & (rec.iteration == 1)]
    assert row.linearity_score.iloc[0] != pytest.approx(0.123)


def test_cli_writes_csv_and_markdown(morph_run, tmp_path, capsys):
    out = tmp_path / "res" / "leaderboard.csv"
    assert lb.main([str(morph_run.parent / "m*"), "--out", str(out), "--resamples", "200"]) == 0
    t = pd.read_csv(out)
    assert list(t.columns) == list(lb.COLUMNS)  # no VBench here: no vbench columns
    md = out.with_suffix(".md").read_text()
    assert t.estimator[0] == "link"  # the default SPF estimator, in its own column
    assert f"| morph | warped | pixel | linear | link | 0 | {t.config_hash[0]} | 2 |" in md
    assert "## What each row groups" in md and str(morph_run) in md
    assert "No VBench scores" in md
    assert lb.main([str(tmp_path / "nothing*"), "--out", str(out)]) == 2
    with pytest.raises(FileNotFoundError, match="no records"):
        load.resolve_runs([tmp_path])
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
    rec = load.load_records([rd]).sort_values(["item_id", "iteration"])
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
    rec = load.load_records([rd])
    assert "vbench_n_frames" not in rec and "vbench_error" not in load.vbench_dimensions(rec)
    assert load.vbench_dimensions(rec) == ["subject_consistency", "temporal_flickering"]
    assert rec.vbench_temporal_flickering.tolist() == pytest.approx([0.9, 0.91, 0.92, 0.93])
    t = lb.build_leaderboard(rec, n_resamples=200)
    # final records are rows 1 and 3: subject consistency 0.8 and 0.6
    assert t.vbench_subject_consistency_mean.iloc[0] == pytest.approx(0.7)
    assert t.vbench_temporal_flickering_mean.iloc[0] == pytest.approx(0.92)
    assert "vbench_imaging_quality_mean" not in t  # no finite score anywhere


# ------------------------------------------------------------------------ row identity (seeds)
def _two_seed_records(settings=("s", "s")):
    """Items a, b under seed 0 (config c0) and seed 1 (config c1), warped 0 -> 1; the seed-free
    settings hashes as given. Final Linearity: seed 0: 0.9, 0.7; seed 1: 0.8, 0.6; baselines
    0.1 lower."""
    rows = []
    for seed, cfg, sh, finals in (
        (0, "c0", settings[0], (0.9, 0.7)),
        (1, "c1", settings[1], (0.8, 0.6)),
    ):
        for item, ls in zip("ab", finals, strict=True):
            for it, v in ((0, ls - 0.1), (1, ls)):
                rows.append(
                    {
                        **_rec("morph", "warped", item, it, v, config_hash=cfg),
                        "seed": seed,
                        "settings_hash": sh,
                    }
                )
    return pd.DataFrame(rows)


def test_two_seeds_are_two_rows_by_default():
    t = lb.build_leaderboard(_two_seed_records(), n_resamples=200)
    assert len(t) == 2
    assert list(t.seed) == ["0", "1"] and list(t.config_hash) == ["c0", "c1"]
    assert list(t.n) == [2, 2] and list(t.n_per_seed) == ["0:2", "1:2"]
    assert t.linearity_mean.tolist() == pytest.approx([0.8, 0.7])
    assert t.delta_linearity.tolist() == pytest.approx([0.1, 0.1])
    assert list(t.n_paired) == [2, 2]


def test_pool_seeds_gives_one_row_with_n_per_seed():
    rec = _two_seed_records()
    t = lb.build_leaderboard(rec, n_resamples=200, pool_seeds=True)
    assert len(t) == 1
    r = t.iloc[0]
    # the same item ids under two seeds are four videos, never collapsed
    assert (r.seed, r.config_hash, r.settings_hash, r.n_per_seed) == (
        "0+1",
        "c0+c1",
        "s",
        "0:2 1:2",
    )
    assert (r.n, r.n_paired) == (4, 4)
    assert r.linearity_mean == pytest.approx(0.75)
    assert r.delta_linearity == pytest.approx(0.1)
    notes = lb.grouping_notes(rec, pool_seeds=True)
    assert notes == [
        "morph / warped / pixel / linear: POOLED (--pool-seeds, settings s): "
        "seed 0 = config c0, seed 1 = config c1; no run dir recorded"
    ]


def test_different_settings_are_never_pooled():
    rec = _two_seed_records(settings=("s0", "s1"))  # the runs differ in more than the seed
    for pool in (False, True):
        t = lb.build_leaderboard(rec, n_resamples=200, pool_seeds=pool)
        assert len(t) == 2 and list(t.config_hash) == ["c0", "c1"]
        assert list(t.settings_hash) == ["s0", "s1"]
    notes = lb.grouping_notes(rec, pool_seeds=True)
    assert any(
        "2 different settings kept as separate rows (settings hashes s0, s1)" in n for n in notes
    )
    # same seed, two config hashes: two rows
    one_seed = rec.assign(seed=0)
    t = lb.build_leaderboard(one_seed, n_resamples=200)
    assert len(t) == 2 and list(t.seed) == ["0", "0"] and list(t.config_hash) == ["c0", "c1"]


@pytest.fixture(scope="module")
def seed1_run(morph_run, tmp_path_factory):
    """The morph run's settings with seed=1."""
    return _morph_run(tmp_path_factory.mktemp("lb_seed1") / "morph", "seed=1")


@pytest.fixture(scope="module")
def window_run(morph_run, tmp_path_factory):
    """The morph run's settings with spf.window=5 (seed 0)."""
    return _morph_run(tmp_path_factory.mktemp("lb_window") / "morph", "spf.window=5")


def test_real_runs_two_seeds_never_collapse_and_pool_on_purpose(morph_run, seed1_run):
    rec = load.load_records([morph_run, seed1_run])
    assert len(rec) == 8  # 2 items x 2 iterations x 2 seeds: nothing replaced
    assert sorted(set(rec.seed)) == [0, 1]
    hashes = rec.groupby("seed").config_hash.first()
    assert hashes[0] != hashes[1]  # the seed is part of the run identity
    assert rec.settings_hash.nunique() == 1  # ... and the only difference
    ident = json.loads((morph_run / "identity.json").read_text())
    assert rec.settings_hash.iloc[0] == load.settings_hash(ident)
    t = lb.build_leaderboard(rec, n_resamples=200)
    assert len(t) == 2 and list(t.seed) == ["0", "1"] and list(t.n) == [2, 2]
    own = [pd.read_parquet(d / "records.parquet") for d in (morph_run, seed1_run)]
    for row, df in zip(t.itertuples(), own, strict=True):
        assert row.linearity_mean == pytest.approx(df[df.iteration == 1].linearity_score.mean())
    p = lb.build_leaderboard(rec, n_resamples=200, pool_seeds=True)
    assert len(p) == 1
    r = p.iloc[0]
    assert (r.seed, r.n_per_seed, r.n, r.n_runs) == ("0+1", "0:2 1:2", 4, 2)
    assert r.config_hash == "+".join(sorted(hashes))
    both = pd.concat(own)
    assert r.linearity_mean == pytest.approx(both[both.iteration == 1].linearity_score.mean())


def test_real_runs_with_different_settings_stay_apart_and_say_why(morph_run, window_run):
    rec = load.load_records([morph_run, window_run])
    assert rec.settings_hash.nunique() == 2
    t = lb.build_leaderboard(rec, n_resamples=200, pool_seeds=True)
    assert len(t) == 2 and list(t.seed) == ["0", "0"]
    notes = lb.grouping_notes(rec, pool_seeds=True)
    (line,) = [n for n in notes if "different settings" in n]
    assert "config.spf.window: 30 -> 5" in line or "config.spf.window: 5 -> 30" in line


def test_run_without_identity_file_is_not_pooled(morph_run, seed1_run, tmp_path):
    import shutil

    rd = tmp_path / "old"
    shutil.copytree(seed1_run, rd)
    (rd / "identity.json").unlink()
    cfg = json.loads((rd / "config.json").read_text())
    cfg.pop("identity", None)
    atomic_write_json(rd / "config.json", cfg)
    rec = load.load_records([morph_run, rd])
    p = lb.build_leaderboard(rec, n_resamples=200, pool_seeds=True)
    assert len(p) == 2  # nothing tells that only the seed differs
    assert any("no identity.json" in n for n in lb.grouping_notes(rec, pool_seeds=True))


# ------------------------------------------------------------------------ external metrics
def test_spearman_ci_known_answers():
    x = np.array([0.2, 0.9, 0.4, 0.7, 0.5, 0.1])
    assert external.spearman_ci(x, x, n_resamples=500) == (pytest.approx(1.0), 1.0, 1.0, 6)
    assert external.spearman_ci(-3 * x, x, n_resamples=500) == (pytest.approx(-1.0), -1.0, -1.0, 6)
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=40), rng.normal(size=40)
    b = a + b  # correlated
    rho, lo, hi, n = external.spearman_ci(a, b, n_resamples=2000, seed=3)
    from scipy.stats import spearmanr

    assert rho == pytest.approx(spearmanr(a, b).statistic) and n == 40
    assert -1 <= lo < rho < hi <= 1
    assert external.spearman_ci(a, b, n_resamples=2000, seed=3) == (rho, lo, hi, n)  # seeded
    assert all(math.isnan(v) for v in external.spearman_ci([1, 2], [1, 2])[:3])  # n < 3
    assert all(math.isnan(v) for v in external.spearman_ci([1, 1, 1, 1], [1, 2, 3, 4])[:3])
    assert external.spearman_ci([1, np.nan, 3, 4, 5], [1, 2, np.nan, 4, 5])[3] == 3  # finite pairs
    with pytest.raises(ValueError, match="same length"):
        external.spearman_ci([1, 2, 3], [1, 2])


def test_per_row_external_correlation_hand_values(hand_records):
    rec = hand_records.copy()
    rec["ext_twice"] = 2 * rec.linearity_score  # a metric monotone in Linearity
    rec["ext_reversed"] = 1 - rec.linearity_score
    t = lb.build_leaderboard(rec, n_resamples=500).set_index("model")
    m = t.loc["morph"]  # final records a, b, c, d (0.9, 0.8, 1.0, 0.4); e is NaN
    assert m.ext_twice_mean == pytest.approx(1.55) and m.ext_twice_n == 4
    assert (m.ext_twice_rho, m.ext_twice_rho_ci_low, m.ext_twice_rho_ci_high) == (
        pytest.approx(1.0),
        1.0,
        1.0,
    )
    assert m.ext_reversed_rho == pytest.approx(-1.0) and m.ext_reversed_rho_ci_high == -1.0
    f = t.loc["footage"]  # two scored clips: too few for a rank correlation
    assert f.ext_twice_n == 2 and math.isnan(f.ext_twice_rho)
    md = lb.render_markdown(t.reset_index())
    assert "ρ(twice, Linearity) [95% CI]" in md and "+1.00 [1.000, 1.000]" in md


def _published_files(run_dir: Path, out: Path, df: pd.DataFrame) -> dict[str, Path]:
    """Small files in the published formats, for the videos of a real run: VBench 0.1.5's
    ``imaging_quality_eval_results.json`` (MUSIQ 0-100 per video), ChronoMagic-Bench's
    ``<model>_<part>_MTScore.json`` (metamorphic score = Linearity), ``_CHScore.json``
    (TSI_score = -Linearity), ``_GPT4o-MTScore.json`` (string scores, one empty) and a CSV
    (absolute paths, and one id that names no record). VBench and the CSV name videos by
    absolute path; ChronoMagic-Bench by file name or stem, as its scripts do."""
    out.mkdir(parents=True, exist_ok=True)
    ls = dict(zip(df.video_path, df.linearity_score, strict=True))
    names = {vp: Path(vp).name for vp in ls}
    vb = {
        "imaging_quality": [
            float(np.mean([60 + 10 * i for i in range(len(ls))]) / 100),
            [
                {"video_path": str((run_dir / vp).resolve()), "video_results": 60.0 + 10 * i}
                for i, vp in enumerate(ls)
            ],
        ]
    }
    mt = {
        "average_general_score": 0.1,
        "average_metamorphic_score": float(np.mean(list(ls.values()))),
        "video_scores": [
            {"video_name": names[vp], "general_score": 0.1, "metamorphic_score": v}
            for vp, v in ls.items()
        ],
    }
    ch = {
        "total_average_score": 0.0,
        "all_scores": [
            {Path(vp).stem: {"AMPR_score": 0.1, "TSI_sum": 1.0, "TSI_score": -v}}
            for vp, v in ls.items()
        ],
    }
    gpt = {
        "Average Score": 3.0,
        "Formatted Data": {
            Path(vp).stem: {"Brief Reasoning Statement": "ok", "Score": str(i + 2) if i else ""}
            for i, vp in enumerate(ls)
        },
    }
    files = {
        "vbench": out / "imaging_quality_eval_results.json",
        "mtscore": out / "morph_1_MTScore.json",
        "chscore": out / "morph_1_CHScore.json",
        "gpt4o": out / "morph_1_GPT4o-MTScore.json",
        "csv": out / "extra.csv",
    }
    for key, data in (("vbench", vb), ("mtscore", mt), ("chscore", ch), ("gpt4o", gpt)):
        files[key].write_text(json.dumps(data, indent=4))
    lines = ["video,metric,value"]
    lines += [f"{(run_dir / vp).resolve()},My Score,{3 * v}" for vp, v in ls.items()]
    lines.append("not-a-run-video.mp4,My Score,0.5")
    files["csv"].write_text("\n".join(lines) + "\n")
    return files


def test_external_formats_join_with_known_answers(morph_run, tmp_path):
    df = pd.read_parquet(morph_run / "records.parquet")
    files = _published_files(morph_run, tmp_path / "ext", df)
    sources = [external.load_external(f) for f in files.values()]
    assert [s.format for s in sources] == [
        "VBench eval_results",
        "ChronoMagic-Bench MTScore",
        "ChronoMagic-Bench CHScore",
        "ChronoMagic-Bench GPT4o-MTScore",
        "CSV video,metric,value",
    ]
    rec, rep = external.join_external(load.load_records([morph_run]), sources, n_resamples=500)
    by_vp = rec.set_index("video_path")
    for i, vp in enumerate(df.video_path):
        assert by_vp.loc[vp, "ext_vbench_imaging_quality"] == pytest.approx((60 + 10 * i) / 100)
        assert by_vp.loc[vp, "ext_mtscore"] == pytest.approx(by_vp.loc[vp, "linearity_score"])
        assert by_vp.loc[vp, "ext_chscore"] == pytest.approx(-by_vp.loc[vp, "linearity_score"])
        assert by_vp.loc[vp, "ext_my_score"] == pytest.approx(3 * by_vp.loc[vp, "linearity_score"])
    c = rep.correlations
    assert (c["mtscore"]["n"], c["mtscore"]["rho"], c["mtscore"]["ci_low"]) == (
        4,
        pytest.approx(1.0),
        1.0,
    )
    assert (c["chscore"]["rho"], c["chscore"]["ci_high"]) == (pytest.approx(-1.0), -1.0)
    assert c["my_score"]["rho"] == pytest.approx(1.0)
    assert c["gpt4o_mtscore"]["n"] == 3  # the empty score is invalid, not a zero
    assert rep.unmatched == [
        {"file": str(files["csv"]), "video": "not-a-run-video.mp4", "metric": "my_score"}
    ]
    (bad,) = rep.invalid
    assert bad["metric"] == "gpt4o_mtscore" and bad["value"] == ""
    assert [f["n_matched"] for f in rep.files] == [4, 4, 4, 3, 4]


def test_external_ids_ambiguous_across_runs_are_reported(morph_run, seed1_run, tmp_path):
    rec = load.load_records([morph_run, seed1_run])
    name = Path(rec.video_path.iloc[0]).name  # the same file name in both runs
    full = str((morph_run / rec[rec.run_dir == str(morph_run)].video_path.iloc[0]).resolve())
    f = tmp_path / "x.csv"
    f.write_text(f"video,metric,value\n{name},m,1\n{full},m,2\n{full},m,3\n")
    out, rep = external.join_external(rec, [external.load_external(f)], n_resamples=100)
    (amb,) = rep.ambiguous
    assert amb["video"] == name and len(amb["candidates"]) == 2
    (dup,) = rep.duplicates  # the full path names one record; given twice, the later wins
    assert dup["video"] == full
    assert np.nansum(out.ext_m.to_numpy()) == 3.0 and np.isfinite(out.ext_m).sum() == 1


def test_external_bad_files_are_clear_errors(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("clip,score\na,1\n")
    with pytest.raises(ValueError, match="video,metric,value"):
        external.load_external(f)
    j = tmp_path / "bad.json"
    j.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="expected a JSON object"):
        external.load_external(j)
    j.write_text(json.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not a recognised per-video format"):
        external.load_external(j)
    with pytest.raises(FileNotFoundError):
        external.load_external(tmp_path / "missing.json")


def test_cli_external_and_pool_seeds(morph_run, seed1_run, tmp_path, capsys):
    df = pd.read_parquet(morph_run / "records.parquet")
    files = _published_files(morph_run, tmp_path / "ext", df)
    out = tmp_path / "res" / "leaderboard.csv"
    args = [str(morph_run), str(seed1_run), "--out", str(out), "--resamples", "200"]
    args += ["--pool-seeds", "--external", *(str(files[k]) for k in ("vbench", "csv", "mtscore"))]
    assert lb.main(args) == 0
    cap = capsys.readouterr()
    assert "not-a-run-video.mp4" in cap.err and "match no record" in cap.err
    # ChronoMagic names videos by file name: with two runs of the same items, ambiguous
    assert "4 video id(s) name several records (ambiguous, not joined)" in cap.err
    assert "POOLED" in cap.out
    t = pd.read_csv(out)
    assert len(t) == 1 and t.n_per_seed[0] == "0:2 1:2" and t.seed[0] == "0+1"
    assert {"ext_my_score_rho", "ext_vbench_imaging_quality_rho_ci_low"} <= set(t.columns)
    assert "ext_mtscore_mean" not in t  # nothing of it joined
    assert t.ext_my_score_n[0] == 2  # only seed 0's final videos were scored
    md = out.with_suffix(".md").read_text()
    assert "not-a-run-video.mp4" in md and "POOLED" in md and "| n per seed |" in md
    side = json.loads(out.with_suffix(".external.json").read_text())
    assert side["unmatched"][0]["video"] == "not-a-run-video.mp4"
    assert len(side["ambiguous"]) == 4
    assert side["correlations_with_linearity"]["my_score"]["rho"] == pytest.approx(1.0)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert lb.main([str(morph_run), "--out", str(out), "--external", str(bad)]) == 2
    assert "not a recognised" in capsys.readouterr().err


def test_heldout_columns_pair_each_item_with_its_baseline():
    import json as _json

    import pandas as pd

    def held(**scores):
        return _json.dumps({e: {"linearity_score": v} for e, v in scores.items()})

    rows = []
    # guided gain +0.3 on each item; held-out (mean of two embedders) gains 0.1 and 0.3
    for item, h0, h1 in (("a", (0.5, 0.7), (0.7, 0.7)), ("b", (0.4, 0.4), (0.7, 0.7))):
        rows.append(_rec("morph", "warped", item, 0, 0.6) | {"heldout": held(p=h0[0], q=h0[1])})
        rows.append(_rec("morph", "warped", item, 1, 0.9) | {"heldout": held(p=h1[0], q=h1[1])})
    t = lb.build_leaderboard(pd.DataFrame(rows), n_resamples=500).iloc[0]
    assert t.heldout_embedders == "p+q"
    assert t.heldout_linearity == pytest.approx(0.7)  # finals: (0.7+0.7)/2 and (0.7+0.7)/2
    assert t.heldout_delta == pytest.approx((0.1 + 0.3) / 2)  # a: 0.7-0.6, b: 0.7-0.4
    assert t.delta_linearity == pytest.approx(0.3)
    assert t.heldout_delta_ci_low <= t.heldout_delta <= t.heldout_delta_ci_high
    assert stats.heldout_mean(held(p=float("nan"), q=0.8)) == pytest.approx(0.8)
    assert math.isnan(stats.heldout_mean("")) and math.isnan(stats.heldout_mean("{bad"))


def test_estimator_column_names_the_spf_estimator_and_old_records_read_paper(hand_records):
    old = hand_records.drop(columns=["estimator"], errors="ignore")  # written before the key
    t = lb.build_leaderboard(old, n_resamples=200)
    assert list(t.estimator) == ["paper", "paper"]
    both = hand_records.assign(estimator="paper")
    link = hand_records[hand_records.model == "footage"].assign(estimator="link", config_hash="h3")
    t = lb.build_leaderboard(pd.concat([both, link]), n_resamples=200)
    assert list(zip(t.model, t.estimator, t.config_hash, strict=True)) == [
        ("footage", "paper", "h2"),
        ("footage", "link", "h3"),
        ("morph", "paper", "h1"),
    ]  # the estimator is in the config hash: one row per estimator, each labelled
    md = lb.render_markdown(t)
    assert "| SPF estimator |" in md and "| footage | none | pixel | linear | link |" in md
