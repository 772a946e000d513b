"""The offline fidelity measure (metrics/fidelity.py), its one-std verdict
(metrics/vbench/verdict.py) and its run-directory block (bench/vbench_run.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import linalg

from spf_bench.bench.config import settings_from_config
from spf_bench.bench.pipeline import run_benchmark
from spf_bench.bench.results.rundir import RunDir
from spf_bench.metrics.embedders import build_embedder
from spf_bench.metrics.fidelity import (
    crossfade_reference,
    frechet_bootstrap,
    frechet_distance,
    gaussian_stats,
    reference_projection,
)
from spf_bench.metrics.vbench import one_std_verdict, verdict_table
from spf_bench.metrics.vbench.payload import frechet_fidelity
from spf_bench.metrics.video_io import read_video


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    # ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2 = 5 + (1 + 1 + 4)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(11.0)
    assert frechet_distance(mu1, np.diag(a), mu1, np.diag(a)) == pytest.approx(0.0, abs=1e-12)


def test_frechet_distance_of_full_covariances_matches_the_matrix_square_root():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    c1, c2 = x @ x.T + 0.1 * np.eye(5), y @ y.T + 0.1 * np.eye(5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    want = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real)
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(want, rel=1e-9)
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(mu1, c1, mu2[:4], c2)


def test_bootstrap_of_samples_from_two_known_gaussians_finds_their_distance():
    """Items of 20 frames from N(0, I) and N(m, diag(4)) in 3-D: FD = |m|^2 + 3 (2 - 1)^2."""
    rng = np.random.default_rng(1)
    m = np.array([1.0, 2.0, 0.0])
    ref = [rng.normal(size=(20, 3)) for _ in range(200)]
    gen = [m + 2.0 * rng.normal(size=(20, 3)) for _ in range(200)]
    r = frechet_bootstrap(gen, ref, projection=np.eye(3), n_resamples=50)
    assert r.fd == pytest.approx(5.0 + 3.0, rel=0.05)
    assert r.ci_low < 8.0 < r.ci_high and 0 < r.std < 0.5
    assert (r.n_items, r.n_frames, r.dims, r.n_resamples) == (200, 4000, 3, 50)
    same = frechet_bootstrap(ref, ref, projection=np.eye(3), n_resamples=10)
    assert same.fd == pytest.approx(0.0, abs=1e-9)


def test_reference_projection_keeps_the_axes_of_largest_variance():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 3)) * np.array([10.0, 0.1, 1.0])
    p = reference_projection([x[:250], x[250:]], 2)
    assert p.shape == (3, 2)
    np.testing.assert_allclose(np.abs(p[:, 0]), [1, 0, 0], atol=0.01)
    np.testing.assert_allclose(np.abs(p[:, 1]), [0, 0, 1], atol=0.02)
    mu, cov = gaussian_stats(x)
    assert mu.shape == (3,) and cov.shape == (3, 3)


def test_crossfade_reference_is_evenly_paced():
    a, b = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 200, np.uint8)
    clip = crossfade_reference(a, b, 5)
    assert clip.shape == (5, 2, 2, 3) and clip.dtype == np.uint8
    assert list(clip[:, 0, 0, 0]) == [0, 50, 100, 150, 200]
    with pytest.raises(ValueError, match="n_frames"):
        crossfade_reference(a, b, 1)


@pytest.mark.parametrize(
    ("orig", "std", "ret", "within", "in_std"),
    [
        (0.90, 0.05, 0.94, True, 0.8),
        (0.90, 0.05, 0.95, True, 1.0),  # on the boundary: within
        (0.90, 0.05, 0.84, False, -1.2),
        (10.0, 2.0, 13.0, False, 1.5),  # a distance: larger is worse, the rule is the same
        (0.90, math.nan, 0.94, None, math.nan),
        (0.90, 0.05, math.nan, None, math.nan),
    ],
)
def test_one_std_verdict_on_hand_made_numbers(orig, std, ret, within, in_std):
    v = one_std_verdict(orig, std, ret)
    assert v["within_one_std"] is within
    assert v["delta_in_std"] == pytest.approx(in_std, nan_ok=True)


def test_verdict_table_uses_the_same_rule_on_hand_made_scores():
    rows = []
    for i, (o, r) in enumerate([(0.8, 0.85), (0.9, 0.9), (1.0, 0.95)]):
        for it, v in ((0, o), (1, r)):
            rows.append(
                dict(model="m", retime="warped", embedder="pixel", pacing="linear",
                     item_id=f"i{i}", seed=0, iteration=it, status="ok", vbench_x=v)
            )  # fmt: skip
    (row,) = verdict_table(pd.DataFrame(rows), ["x"])
    # original 0.8, 0.9, 1.0: mean 0.9, std 0.1; retimed mean 0.9: delta 0
    assert row["original_std"] == pytest.approx(0.1)
    assert row["within_one_std"] is True and row["delta"] == pytest.approx(0.0, abs=1e-12)


def test_frechet_fidelity_of_a_real_run_directory(compose_cfg, tmp_path):
    """morph crossfades (3 items) retimed by resampling: a verdict row per group, original
    and retimed measured against the same crossfade references."""
    cfg = compose_cfg(
        [
            f"run_dir={tmp_path / 'run'}", "progress=false", "logger=none", "plots=false",
            "report=false", "eval_embedders=[efficientnet_lite0]", "model=morph", "n_videos=3",
            "embedder=pixel", "retime=resample", "retime.iterations=1",
        ]
    )  # fmt: skip
    run_benchmark(settings_from_config(cfg))
    df = pd.read_parquet(tmp_path / "run" / "records.parquet")
    rd = RunDir(tmp_path / "run")

    def fidelity(name: str) -> dict:
        return frechet_fidelity(
            df,
            lambda row: read_video(rd.path / str(row.video_path))[0],
            lambda row: rd.maybe_heldout_embeddings(str(row.spf_path), name),
            build_embedder(name, progress=False),
            name,
            n_resamples=20,
        )

    out = fidelity("pixel")
    (group,), (row,) = out["groups"], out["verdict"]
    assert row["dimension"] == "frechet_pixel" and row["retime"] == "resample"
    assert group["n_items"] == row["n_original"] == row["n_retimed"] == 3
    assert row["original_mean"] == group["original"]["fd"] >= 0
    assert row["within_one_std"] is (
        abs(row["retimed_mean"] - row["original_mean"]) <= row["original_std"]
    )
    # the baseline crossfade of a morph item is close to its own evenly paced reference
    assert group["original"]["fd"] < 5.0 and group["original"]["std"] > 0
    # the held-out judge's frame rows are stored beside the SPF and reused as its features
    for rec in df.itertuples():
        with np.load(tmp_path / "run" / rec.spf_path) as npz:
            stored = npz["heldout_embeddings_efficientnet_lite0"]
        assert stored.shape == (rec.n_frames, 1280)
        np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1.0, rtol=1e-5)
    eff = fidelity("efficientnet_lite0")
    assert eff["verdict"][0]["dimension"] == "frechet_efficientnet_lite0"
    assert eff["groups"][0]["original"]["fd"] > 0


def test_leaderboard_row_carries_the_verdicts_and_the_frechet_columns():
    """Hand-made records and one Fréchet verdict row of the run directory's vbench.json."""
    from spf_bench.bench.views.leaderboard import build_leaderboard, render_markdown

    rows = []
    for i, (o, r) in enumerate([(0.8, 0.85), (0.9, 0.9), (1.0, 0.95)]):
        for it, v in ((0, o), (1, r)):
            rows.append(
                dict(model="m", retime="warped", embedder="pixel", pacing="linear",
                     item_id=f"i{i}", seed=0, iteration=it, status="ok",
                     linearity_score=0.8 + 0.1 * it, vbench_temporal_flickering=v,
                     run_dir="/r", config_hash="h")
            )  # fmt: skip
    df = pd.DataFrame(rows)
    fd = dict(model="m", retime="warped", embedder="pixel", pacing="linear",
              dimension="frechet_efficientnet_lite0", original_mean=10.0, original_std=2.0,
              retimed_mean=13.0, retimed_std=2.5, n_retimed=3, within_one_std=False)  # fmt: skip
    df.attrs["fidelity"] = {"/r": [fd]}
    (row,) = build_leaderboard(df, n_resamples=100).to_dict("records")
    assert row["vbench_temporal_flickering_within_1sd"] == "yes"  # |0.9 - 0.9| <= 0.1
    assert row["frechet_efficientnet_lite0_baseline"] == 10.0
    assert row["frechet_efficientnet_lite0_mean"] == 13.0
    assert row["frechet_efficientnet_lite0_within_1sd"] == "no"  # |13 - 10| > 2
    md = render_markdown(pd.DataFrame([row]))
    assert "FD efficientnet_lite0 within 1 std" in md and "10 → 13 ± 2.5" in md
