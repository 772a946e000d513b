"""generators/pacing_gt.py and bench/studies/pacing_gt.py: designed sequences from real stills,
the error metrics against hand values, the ideal-embedder check, and the benchmark through its three
entry points."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spf_bench.bench.studies import pacing_gt as pg
from spf_bench.generators import pacing_gt as gpg
from spf_bench.generators.base import GeneratorError
from spf_bench.generators.stills import load_still

ROOT = Path(__file__).resolve().parents[1]


def test_suite_covers_every_transform_and_profile_early():
    assert len(gpg.SUITE) == 24 and len({s.seq_id for s in gpg.SUITE}) == 24
    first = gpg.SUITE[: len(gpg.TRANSFORMS) * len(gpg.PROFILES)]
    assert {(s.transform, s.profile) for s in first} == {
        (t, p) for t in gpg.TRANSFORMS for p in gpg.PROFILES
    }


@pytest.mark.parametrize("spec", gpg.SUITE[:12], ids=lambda s: s.seq_id)
def test_designed_progress_is_monotone_from_0_to_1(spec):
    p = gpg.designed_progress(spec, 41)
    assert p.shape == (41,) and p[0] == 0.0 and p[-1] == 1.0
    assert np.all(np.diff(p) >= 0)


def test_render_endpoints_match_the_stills():
    n, size = 9, 64
    rot = gpg.GTSpec("rotation", "sigmoid", ("chelsea",))
    frames, _ = gpg.render(rot, n, size=size, rotation_degrees=180.0)
    still = load_still("chelsea", size)
    c = (size - 1) / 2
    yy, xx = np.mgrid[:size, :size]
    disc = ((yy - c) ** 2 + (xx - c) ** 2) <= (size / 2 - 1) ** 2
    assert frames.shape == (n, size, size, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[0][disc], still[disc])  # angle 0: the still itself
    assert (frames[:, ~disc] == 128).all()  # the background never changes
    # angle 180: the disc turned upside down (both axes flipped), up to resampling
    flipped = still[::-1, ::-1]
    inner = ((yy - c) ** 2 + (xx - c) ** 2) <= (size / 2 - 4) ** 2
    assert np.abs(frames[-1][inner].astype(int) - flipped[inner]).mean() < 3
    zoom = gpg.GTSpec("zoom", "exp_up", ("astronaut",))
    zf, _ = gpg.render(zoom, n, size=size, zoom_max=2.0)
    # scale 1 shows the whole still; scale 2 its central half, magnified
    assert np.abs(zf[0].astype(int) - load_still("astronaut", size)).mean() < 6
    big = load_still("astronaut", 2 * size)
    centre = big[size // 2 : size // 2 + size, size // 2 : size // 2 + size]
    assert np.abs(zf[-1].astype(int) - centre).mean() < 6
    cf = gpg.GTSpec("crossfade", "step", ("chelsea", "coffee"))
    ff, pp = gpg.render(cf, n, size=size)
    assert np.array_equal(ff[0], load_still("chelsea", size))
    assert np.array_equal(ff[-1], load_still("coffee", size))
    assert np.array_equal(pp, gpg.designed_progress(cf, n))


def test_render_honours_positions():
    spec = gpg.GTSpec("rotation", "exp_down", ("coffee",))
    n = 7
    fwd, p = gpg.render(spec, n, size=32)
    rev, q = gpg.render(spec, n, size=32, positions=np.arange(n)[::-1].astype(float))
    assert np.array_equal(rev, fwd[::-1]) and np.array_equal(q, p[::-1])
    half, _ = gpg.render(spec, n, size=32, positions=np.full(n, 3.0))
    assert np.array_equal(half[0], fwd[3])
    with pytest.raises(ValueError, match="positions"):
        gpg.render(spec, n, size=32, positions=np.zeros(n + 1))
    with pytest.raises(ValueError, match="zoom_max"):
        gpg.render(spec, n, size=32, zoom_max=1.0)


def test_gt_errors_hand_values():
    u = np.linspace(0, 1, 11)
    same = pg.gt_errors(u**2, u**2)
    assert same["max_error"] == 0 and same["rms_error"] == 0
    assert same["slope_spearman"] == pytest.approx(1.0)
    e = pg.gt_errors(u, u**2)
    assert e["max_error"] == pytest.approx(0.25)  # |u - u^2| peaks at u = 1/2
    assert e["rms_error"] == pytest.approx(math.sqrt(np.mean((u - u**2) ** 2)))
    assert math.isnan(e["slope_spearman"])  # the slopes of S = u are constant
    # Designed progress is rescaled to [0, 1]; reversed slope order gives rho = -1.
    e = pg.gt_errors(u**2, 2 + 3 * (1 - (1 - u) ** 2))
    assert e["slope_spearman"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="flat"):
        pg.gt_errors(u, np.ones_like(u))
    with pytest.raises(ValueError, match="shape"):
        pg.gt_errors(u, u[:-1])


def test_an_ideal_embedder_recovers_the_designed_progress():
    """Embeddings on a great circle at an angle proportional to P: the SPF's distances are
    exactly additive, so S must recover P (only the solver's smoothing remains). The benchmark's
    errors for real embedders therefore measure the embedders, not the SPF machinery."""
    from spf_bench.metrics.spf import compute_spf

    for spec in gpg.SUITE[:12]:
        p = gpg.designed_progress(spec, 41)
        z = np.stack([np.cos(p), np.sin(p), np.zeros_like(p)], axis=1)
        e = pg.gt_errors(compute_spf(z).progress, p)
        assert e["max_error"] < 0.05 and e["rms_error"] < 0.02, (spec.seq_id, e)
        # step: P is flat on half the frames (tied slopes), S only nearly so
        assert e["slope_spearman"] > (0.9 if spec.profile == "step" else 0.98), (spec.seq_id, e)


def test_run_pacing_gt_pixel_and_skips_missing_weights(tmp_path, monkeypatch):
    # An empty Hugging Face cache, offline: siglip's weights are absent whatever this machine
    # holds, so the skip is decided here, not by the machine.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_hf_cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    specs = [s for s in gpg.SUITE if s.profile == "sigmoid"][:3]
    res = pg.run_pacing_gt(["pixel", "siglip"], n_frames=17, size=48, specs=specs)
    assert "siglip" in res.skipped and "MissingWeightsError" in res.skipped["siglip"]
    df = pd.DataFrame(res.rows)
    assert list(df.embedder.unique()) == ["pixel"] and len(df) == 3
    assert set(df["transform"]) == set(gpg.TRANSFORMS)
    assert df[["max_error", "rms_error"]].notna().all().all()
    assert (df.rms_error <= df.max_error).all()
    # A pixel crossfade's S follows the mixing weight closely (see results/pacing_gt.csv).
    cf = df[df["transform"] == "crossfade"].iloc[0]
    assert cf.rms_error < 0.06 and cf.slope_spearman > 0.9
    paths = pg.write_outputs(res, tmp_path, tmp_path / "curves.npz")
    summary = pd.read_csv(paths["summary"])
    assert list(summary.columns) == list(pg.SUMMARY_COLUMNS)
    assert set(summary["transform"]) == {*gpg.TRANSFORMS, "all"}
    all_row = summary[summary["transform"] == "all"].iloc[0]
    assert all_row.rms_error_mean == pytest.approx(df.rms_error.mean())
    md = paths["summary_md"].read_text()
    assert "`siglip` skipped" in md
    with np.load(paths["curves"]) as z:
        assert z["pixel/" + specs[0].seq_id].shape == (17,)
    # What was written reads back equal (rows but their timing, curves, skipped, settings).
    back = pg.read_outputs(tmp_path, paths["curves"])
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.rows), df.drop(columns=["seconds"]), check_dtype=False
    )
    assert back.skipped == res.skipped and back.settings == res.settings
    assert back.settings["n_frames"] == 17 and back.settings["spf"]["window"] == 30
    assert set(back.curves) == set(res.curves)
    for k, v in res.curves.items():
        np.testing.assert_array_equal(back.curves[k], v)


def test_run_pacing_gt_measures_with_the_given_spf_settings():
    """Non-default SPF settings reach the measurement: S equals the one measure_frames gives
    with those settings on the same frames, and differs from the default settings' S."""
    from spf_bench.metrics.embedders import build_embedder
    from spf_bench.metrics.measure import SPFSettings, measure_frames

    spec = next(s for s in gpg.SUITE if s.transform == "rotation")
    settings = SPFSettings(window=4, sigma=2.0, lam=1e-3, power=2.0)
    res = pg.run_pacing_gt(["pixel"], n_frames=15, size=32, specs=[spec], spf=settings)
    frames, p = gpg.render(spec, 15, size=32)
    want = measure_frames(frames, build_embedder("pixel", progress=False), settings)
    np.testing.assert_allclose(res.curves[f"pixel/{spec.seq_id}"], want.progress, rtol=1e-12)
    row = res.rows[0]
    assert row["rms_error"] == pytest.approx(pg.gt_errors(want.progress, p)["rms_error"])
    assert row["total_change"] == pytest.approx(want.spf.total_change)
    default = pg.run_pacing_gt(["pixel"], n_frames=15, size=32, specs=[spec])
    assert not np.allclose(default.curves[f"pixel/{spec.seq_id}"], want.progress)
    assert res.settings["spf"]["power"] == 2.0


def test_generator_through_the_pipeline_matches_the_module(compose_cfg, tmp_path):
    """`experiment=pacing_gt` runs the same sequences; analyze_run reproduces the records'
    rms_s_vs_designed at every iteration, warped ones included (the designed progress is
    re-evaluated at the rendered positions)."""
    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark

    cfg = compose_cfg(
        [
            "experiment=pacing_gt",
            f"run_dir={tmp_path / 'run'}",
            "embedder=pixel",
            "n_videos=3",
            "model.n_frames=17",
            "model.size=48",
            "retime=warped",
            "retime.iterations=1",
            "progress=false",
            "plots=false",
        ]
    )
    settings = settings_from_config(cfg)
    assert settings.model_name == "pacing_gt" and settings.logger["name"] == "none"
    assert settings.model_target == "spf_bench.generators.pacing_gt.PacingGTGenerator"
    summary = run_benchmark(settings)
    assert summary["n_failed"] == 0
    df = pd.read_parquet(tmp_path / "run" / "records.parquet")
    full = pg.analyze_run(tmp_path / "run")
    merged = full.merge(df, left_on=["seq_id", "iteration"], right_on=["item_id", "iteration"])
    assert len(merged) == 6
    np.testing.assert_allclose(merged.rms_error, merged.rms_s_vs_designed, rtol=1e-9)
    # Standalone module on the same sequence, iteration 0: the same S, the same errors.
    specs = [s for s in gpg.SUITE if s.seq_id in set(df.item_id)]
    res = pg.run_pacing_gt(["pixel"], n_frames=17, size=48, specs=specs)
    alone = pd.DataFrame(res.rows).set_index("seq_id").rms_error
    it0 = full[full.iteration == 0].set_index("seq_id").rms_error
    np.testing.assert_allclose(alone.loc[it0.index], it0, rtol=1e-9)
    with pytest.raises(GeneratorError, match="suite holds"):
        gpg.PacingGTGenerator().items(25, 0)


def test_cli_runs_mode(compose_cfg, tmp_path, capsys):
    from spf_bench.bench.config import settings_from_config
    from spf_bench.bench.pipeline import run_benchmark

    cfg = compose_cfg(
        [
            "experiment=pacing_gt",
            f"run_dir={tmp_path / 'run'}",
            "embedder=pixel",
            "n_videos=2",
            "model.n_frames=9",
            "model.size=32",
            "progress=false",
        ]
    )
    run_benchmark(settings_from_config(cfg))
    assert pg.main(["--runs", str(tmp_path / "run"), "--out", str(tmp_path)]) == 0
    assert len(pd.read_csv(tmp_path / "pacing_gt_runs.csv")) == 2
    assert "rotation-sigmoid-chelsea" in capsys.readouterr().out


def test_markdown_table_is_the_leaderboards_and_the_measurement_skips_the_bootstrap(monkeypatch):
    """One Markdown writer for the bench (leaderboard's); the benchmark's rows use no Linearity
    interval, so it measures without the bootstrap yet records the settings as given."""
    import dataclasses

    from spf_bench.bench.views import render
    from spf_bench.metrics.measure import SPFSettings

    assert pg.markdown_table is render.markdown_table and "markdown_table" in pg.__all__
    seen = []
    real = pg.measure_embeddings

    def spy(z, settings, **kw):
        seen.append(settings)
        return real(z, settings, **kw)

    monkeypatch.setattr(pg, "measure_embeddings", spy)
    spec = gpg.SUITE[0]
    settings = SPFSettings(window=4, sigma=2.0)
    res = pg.run_pacing_gt(["pixel"], n_frames=9, size=32, specs=[spec], spf=settings)
    assert seen == [dataclasses.replace(settings, bootstrap=0)]
    assert res.settings["spf"] == dataclasses.asdict(settings)
    assert settings.bootstrap > 0  # the default keeps its interval elsewhere


def test_cli_spf_flags_keep_their_defaults(monkeypatch, tmp_path):
    """``--window --sigma --lam --power`` default to SPFSettings and reach the benchmark."""
    from spf_bench.metrics.measure import SPFSettings

    got = []

    def fake_run(embedders, *, n_frames, size, spf, cache_dir=None):
        got.append(spf)
        return pg.PacingGTResult()

    monkeypatch.setattr(pg, "run_pacing_gt", fake_run)
    monkeypatch.setattr(pg, "write_outputs", lambda res, out, curves: {})
    assert pg.main(["--out", str(tmp_path)]) == 0
    args = ["--out", str(tmp_path), "--window", "4", "--sigma", "2", "--lam", "1e-3"]
    assert pg.main([*args, "--power", "2"]) == 0
    assert got == [SPFSettings(), SPFSettings(window=4, sigma=2.0, lam=1e-3, power=2.0)]
