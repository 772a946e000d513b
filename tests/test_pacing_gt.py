"""bench/pacing_gt.py: designed sequences from real stills, the error metrics against hand
values, the ideal-embedder check, and the benchmark through its three entry points."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import pacing_gt as pg
from generators.base import GeneratorError
from generators.stills import load_still

ROOT = Path(__file__).resolve().parents[1]


def test_suite_covers_every_transform_and_profile_early():
    assert len(pg.SUITE) == 24 and len({s.seq_id for s in pg.SUITE}) == 24
    first = pg.SUITE[: len(pg.TRANSFORMS) * len(pg.PROFILES)]
    assert {(s.transform, s.profile) for s in first} == {
        (t, p) for t in pg.TRANSFORMS for p in pg.PROFILES
    }


@pytest.mark.parametrize("spec", pg.SUITE[:12], ids=lambda s: s.seq_id)
def test_designed_progress_is_monotone_from_0_to_1(spec):
    p = pg.designed_progress(spec, 41)
    assert p.shape == (41,) and p[0] == 0.0 and p[-1] == 1.0
    assert np.all(np.diff(p) >= 0)


def test_render_endpoints_match_the_stills():
    n, size = 9, 64
    rot = pg.GTSpec("rotation", "sigmoid", ("chelsea",))
    frames, _ = pg.render(rot, n, size=size, rotation_degrees=180.0)
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
    zoom = pg.GTSpec("zoom", "exp_up", ("astronaut",))
    zf, _ = pg.render(zoom, n, size=size, zoom_max=2.0)
    # scale 1 shows the whole still; scale 2 its central half, magnified
    assert np.abs(zf[0].astype(int) - load_still("astronaut", size)).mean() < 6
    big = load_still("astronaut", 2 * size)
    centre = big[size // 2 : size // 2 + size, size // 2 : size // 2 + size]
    assert np.abs(zf[-1].astype(int) - centre).mean() < 6
    cf = pg.GTSpec("crossfade", "step", ("chelsea", "coffee"))
    ff, pp = pg.render(cf, n, size=size)
    assert np.array_equal(ff[0], load_still("chelsea", size))
    assert np.array_equal(ff[-1], load_still("coffee", size))
    assert np.array_equal(pp, pg.designed_progress(cf, n))


def test_render_honours_positions():
    spec = pg.GTSpec("rotation", "exp_down", ("coffee",))
    n = 7
    fwd, p = pg.render(spec, n, size=32)
    rev, q = pg.render(spec, n, size=32, positions=np.arange(n)[::-1].astype(float))
    assert np.array_equal(rev, fwd[::-1]) and np.array_equal(q, p[::-1])
    half, _ = pg.render(spec, n, size=32, positions=np.full(n, 3.0))
    assert np.array_equal(half[0], fwd[3])
    with pytest.raises(ValueError, match="positions"):
        pg.render(spec, n, size=32, positions=np.zeros(n + 1))
    with pytest.raises(ValueError, match="zoom_max"):
        pg.render(spec, n, size=32, zoom_max=1.0)


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
    from metrics.spf import compute_spf

    for spec in pg.SUITE[:12]:
        p = pg.designed_progress(spec, 41)
        z = np.stack([np.cos(p), np.sin(p), np.zeros_like(p)], axis=1)
        e = pg.gt_errors(compute_spf(z).progress, p)
        assert e["max_error"] < 0.05 and e["rms_error"] < 0.02, (spec.seq_id, e)
        # step: P is flat on half the frames (tied slopes), S only nearly so
        assert e["slope_spearman"] > (0.9 if spec.profile == "step" else 0.98), (spec.seq_id, e)


def test_run_pacing_gt_pixel_and_skips_missing_weights(tmp_path):
    specs = [s for s in pg.SUITE if s.profile == "sigmoid"][:3]
    res = pg.run_pacing_gt(["pixel", "siglip"], n_frames=17, size=48, specs=specs)
    assert "siglip" in res.skipped and "MissingWeightsError" in res.skipped["siglip"]
    df = pd.DataFrame(res.rows)
    assert list(df.embedder.unique()) == ["pixel"] and len(df) == 3
    assert set(df["transform"]) == set(pg.TRANSFORMS)
    assert df[["max_error", "rms_error"]].notna().all().all()
    assert (df.rms_error <= df.max_error).all()
    # A pixel crossfade's S follows the mixing weight closely (see results/pacing_gt.csv).
    cf = df[df["transform"] == "crossfade"].iloc[0]
    assert cf.rms_error < 0.06 and cf.slope_spearman > 0.9
    paths = pg.write_outputs(res, tmp_path, tmp_path / "curves.npz")
    summary = pd.read_csv(paths["summary"])
    assert list(summary.columns) == list(pg.SUMMARY_COLUMNS)
    assert set(summary["transform"]) == {*pg.TRANSFORMS, "all"}
    all_row = summary[summary["transform"] == "all"].iloc[0]
    assert all_row.rms_error_mean == pytest.approx(df.rms_error.mean())
    md = paths["summary_md"].read_text()
    assert "`siglip` skipped" in md
    with np.load(paths["curves"]) as z:
        assert z["pixel/" + specs[0].seq_id].shape == (17,)


def test_generator_through_the_pipeline_matches_the_module(compose_cfg, tmp_path):
    """`experiment=pacing_gt` runs the same sequences; analyze_run reproduces the records'
    gt_rms_error at every iteration, warped ones included (the designed progress is
    re-evaluated at the rendered positions)."""
    from bench.pipeline import run_benchmark
    from bench.run import settings_from_config

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
    assert cfg.model.name == "pacing_gt" and cfg.logger.name == "none"
    summary = run_benchmark(settings_from_config(cfg))
    assert summary["n_failed"] == 0
    df = pd.read_parquet(tmp_path / "run" / "records.parquet")
    full = pg.analyze_run(tmp_path / "run")
    merged = full.merge(df, left_on=["seq_id", "iteration"], right_on=["item_id", "iteration"])
    assert len(merged) == 6
    np.testing.assert_allclose(merged.rms_error, merged.gt_rms_error, rtol=1e-9)
    # Standalone module on the same sequence, iteration 0: the same S, the same errors.
    specs = [s for s in pg.SUITE if s.seq_id in set(df.item_id)]
    res = pg.run_pacing_gt(["pixel"], n_frames=17, size=48, specs=specs)
    alone = pd.DataFrame(res.rows).set_index("seq_id").rms_error
    it0 = full[full.iteration == 0].set_index("seq_id").rms_error
    np.testing.assert_allclose(alone.loc[it0.index], it0, rtol=1e-9)
    with pytest.raises(GeneratorError, match="suite holds"):
        pg.PacingGTGenerator().items(25, 0)


def test_cli_runs_mode(compose_cfg, tmp_path, capsys):
    from bench.pipeline import run_benchmark
    from bench.run import settings_from_config

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
