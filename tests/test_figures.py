"""bench/views/figures.py and bench/studies/ablation.py: every figure and table from fixture
records made by the real pipeline on tiny configs (real stills, real encoder and decoder);
figures.py only reads what the runs and the other bench stages wrote."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from spf_bench.bench.config import settings_from_config
from spf_bench.bench.pipeline import run_benchmark
from spf_bench.bench.results.record import parse_keyframes
from spf_bench.bench.studies import ablation as abl
from spf_bench.bench.studies import pacing_gt as pg
from spf_bench.bench.views import figures as fg
from spf_bench.bench.views import leaderboard as lb
from spf_bench.bench.views import load
from spf_bench.generators import pacing_gt as gpg
from spf_bench.metrics.atomic_io import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
FIGURES = (
    "spf_before_after",
    "pacing_by_model",
    "vbench",
    "keyframe_strip",
    "pacing_gt",
    "embedder_ablation",
)


def _compose(overrides):
    """The installed ``spf_bench.conf`` composed on its typed schemas (as conftest's
    ``compose_cfg``; module-scoped fixtures cannot use that function-scoped fixture)."""
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


def _cut_clip(path: Path, n_per_shot: int = 12) -> list[int]:
    """A real mp4 of three shots (slow pans over three stills); returns the cut frames.

    The pans move 1 px every 3 frames: at 1 px per frame the pixel embedder sees the
    chelsea -> coffee cut as only ~2.5x a frame of panning, and the calibrated penalty
    (0.008) keeps only the coffee -> rocket cut (efficientnet_lite0 finds both either way).
    """
    from spf_bench.generators.stills import load_still
    from spf_bench.metrics.video_io import write_video

    frames = []
    for name in ("chelsea", "coffee", "rocket"):
        big = load_still(name, 96)
        frames += [big[16 : 16 + 64, 4 + k // 3 : 4 + k // 3 + 64] for k in range(n_per_shot)]
    write_video(path, np.stack(frames), fps=12)
    return [n_per_shot, 2 * n_per_shot]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fig")
    clips = root / "clips"
    clips.mkdir()
    cuts = _cut_clip(clips / "shots.mp4")
    common = ["embedder=pixel", "logger=none", "progress=false", "plots=false"]
    morph = root / "morph-pixel"
    footage = root / "footage-pixel"
    for rd, overrides in (
        (morph, ["n_videos=3", "model.n_frames=17", "model.size=48", "retime.iterations=2"]),
        (footage, ["model=footage", "retime=none", "n_videos=1", f"model.paths={clips}"]),
    ):
        run_benchmark(settings_from_config(_compose([*common, *overrides, f"run_dir={rd}"])))
    return {"morph": morph, "footage": footage, "cuts": cuts}


@pytest.fixture(scope="module")
def empty_hf_cache(tmp_path_factory):
    """An empty Hugging Face cache, offline: every HF-hosted embedder (siglip, openclip, dinov2)
    is missing whatever this machine holds, so which embedders are skipped is decided here."""
    cache = tmp_path_factory.mktemp("empty_hf_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_CACHE", str(cache))
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield cache


@pytest.fixture(scope="module")
def gt_result(empty_hf_cache):
    specs = [s for s in gpg.SUITE if s.profile in ("sigmoid", "exp_down")][:6]
    return pg.run_pacing_gt(["pixel", "dinov2"], n_frames=13, size=32, specs=specs)


def _check_image(paths: list[Path]) -> None:
    png, pdf = sorted(paths, key=lambda p: p.suffix != ".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    img = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert min(img.shape) > 150 and img.std() > 10  # a drawn figure, not a blank canvas


def test_every_figure_and_table_from_fixture_records(runs, gt_result, empty_hf_cache, tmp_path):
    ab = abl.run_ablation([runs["morph"], runs["footage"]], ["pixel", "siglip"])
    written = fg.build_results(
        [runs["morph"], runs["footage"]],
        tmp_path,
        gt=gt_result,
        ablation=ab,
        n_resamples=200,
        provenance={"command": "test"},
    )
    for stem in FIGURES:
        _check_image(written[stem])
        assert {p.suffix for p in written[stem]} == {".png", ".pdf"}
    t = pd.read_csv(tmp_path / "leaderboard.csv")
    assert list(t.columns) == list(lb.COLUMNS)
    assert set(zip(t.model, t.retime, strict=True)) == {("morph", "warped"), ("footage", "none")}
    for name in (
        "leaderboard.md",
        "pacing_gt.csv",
        "pacing_gt_summary.md",
        "ablation.csv",
        "ablation_videos.csv",
        "ablation.md",
        "vbench_table.csv",
        "vbench_table.md",
        "README.md",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "No VBench records" in (tmp_path / "vbench_table.md").read_text()
    readme = (tmp_path / "README.md").read_text()
    assert "## Leaderboard" in readme and "| morph | warped | pixel |" in readme
    # Both are absent from the test's empty HF cache (the fixture), so both are listed.
    assert "`dinov2` skipped" in readme and "`siglip` skipped" in readme
    assert set(gt_result.skipped) == {"dinov2"} and set(ab.skipped) == {"siglip"}


def test_ablation_stored_and_re_embedded_paths_agree(runs, tmp_path):
    """Stored iteration-0 embeddings and a fresh embedding of the re-generated (morph) or
    re-decoded (footage) video give the same scores, equal to the run's own records."""
    stored = abl.run_ablation([runs["morph"], runs["footage"]], ["pixel"])
    bare = tmp_path / "bare"
    for name in ("morph", "footage"):
        shutil.copytree(runs[name], bare / name)
        for p in (bare / name / "spf").glob("*__it0.npz"):
            p.unlink()
    fresh = abl.run_ablation([bare / "morph", bare / "footage"], ["pixel"])
    a = pd.DataFrame(stored.rows).set_index(["model", "item_id"])
    b = pd.DataFrame(fresh.rows).set_index(["model", "item_id"])
    assert set(a.source) == {"stored"} and set(b.source) == {"embedded"}
    np.testing.assert_allclose(b.linearity_score, a.linearity_score, rtol=1e-6)
    recs = pd.concat([pd.read_parquet(runs[n] / "records.parquet") for n in ("morph", "footage")])
    base = recs[recs.iteration == 0].set_index(["model", "item_id"])
    np.testing.assert_allclose(a.linearity_score, base.loc[a.index, "linearity_score"])
    np.testing.assert_allclose(
        a.rms_s_vs_designed, base.loc[a.index, "rms_s_vs_designed"], equal_nan=True
    )
    assert a.loc["morph"].gt_max_error.notna().all() and a.loc["footage"].gt_max_error.isna().all()
    summary = abl.summarise(stored)
    assert list(summary.columns) == list(abl.SUMMARY_COLUMNS)
    assert stored.reference == "" and summary.rank_corr_vs_ref.isna().all()


def test_ablation_embeds_an_embedder_without_stored_features(runs):
    """efficientnet_lite0 (real weights) on the pixel runs' videos: embedded here and chosen
    as the reference; pixel's rank correlation against it is scipy's Spearman rho of the two
    embedders' Linearity Scores over the same videos, paired by item."""
    from scipy.stats import spearmanr

    res = abl.run_ablation([runs["morph"]], ["pixel", "efficientnet_lite0"])
    df = pd.DataFrame(res.rows)
    assert set(df[df.embedder == "efficientnet_lite0"].source) == {"embedded"}
    assert set(df[df.embedder == "pixel"].source) == {"stored"}
    assert res.reference == "efficientnet_lite0"
    ls = df.pivot(index="item_id", columns="embedder", values="linearity_score")
    assert len(ls) == 3 and ls.notna().all().all()
    want = spearmanr(ls["pixel"], ls["efficientnet_lite0"]).statistic
    s = abl.summarise(res).set_index("embedder")
    assert s.loc["pixel", "rank_corr_vs_ref"] == pytest.approx(want, abs=1e-12)
    assert (s.reference == "efficientnet_lite0").all()


def test_rank_correlation_against_hand_computed_spearman():
    """Known Linearity Scores of two embedders on four videos: pixel ranks the videos
    (1, 2, 3, 4) where the reference ranks them (2, 1, 4, 3), so sum d^2 = 4 and
    rho = 1 - 6 * 4 / (4 * (4^2 - 1)) = 0.6; the rows are given out of order, so the
    videos must be paired by (model, item_id), not by position. A third embedder whose
    scores are all equal has no rank correlation (NaN)."""
    from scipy.stats import spearmanr

    ref = {"a": 0.80, "b": 0.70, "c": 0.95, "d": 0.90}
    pix = {"a": 0.50, "b": 0.60, "c": 0.70, "d": 0.80}
    rows = [
        {"embedder": "efficientnet_lite0", "model": "morph", "item_id": k, "linearity_score": v}
        for k, v in ref.items()
    ]
    rows += [
        {"embedder": "pixel", "model": "morph", "item_id": k, "linearity_score": pix[k]}
        for k in ("d", "b", "a", "c")
    ]
    rows += [
        {"embedder": "flat", "model": "morph", "item_id": k, "linearity_score": 0.9} for k in ref
    ]
    res = abl.AblationResult(rows=rows, reference="efficientnet_lite0")
    s = abl.summarise(res).set_index("embedder")
    assert s.loc["pixel", "rank_corr_vs_ref"] == pytest.approx(0.6, abs=1e-12)
    keys = sorted(ref)
    hand = spearmanr([pix[k] for k in keys], [ref[k] for k in keys]).statistic
    assert hand == pytest.approx(0.6, abs=1e-12)
    assert math.isnan(s.loc["flat", "rank_corr_vs_ref"])


def test_keyframe_strip_finds_the_cuts_of_real_footage(runs, tmp_path):
    rec = load.load_records([runs["footage"]])
    row = rec.iloc[0]
    s = np.load(Path(row.run_dir) / row.spf_path)["progress"]
    kf, how = fg._keyframes_for(row, s, 8)
    assert how == "the record's keyframes (paper S)" and kf == parse_keyframes(row.keyframes)
    for cut in runs["cuts"]:  # a keyframe within one frame of each cut
        assert min(abs(k - cut) for k in kf) <= 1, (kf, runs["cuts"])
    # without the column (a record from before it), segmented least squares on the stored S
    kf_s, how_s = fg._keyframes_for(row.drop("keyframes"), s, 8)
    assert "segmented least squares" in how_s and kf_s[0] == 0 and kf_s[-1] == s.size - 1
    _check_image(fg.fig_keyframe_strip(rec, tmp_path))


def test_keyframes_come_from_record_metadata_when_present():
    s = np.linspace(0, 1, 20)
    row = pd.Series({"metadata": json.dumps({"segment_plan": {"keyframes": [0, 7, 19]}})})
    assert fg._keyframes_for(row, s, 8) == ([0, 7, 19], "record metadata")
    row = pd.Series({"metadata": json.dumps({"keyframes": [0, 3, 9, 19]})})
    assert fg._keyframes_for(row, s, 8)[0] == [0, 3, 9, 19]


def test_vbench_table_hand_values_and_figure(runs, tmp_path):
    rd = tmp_path / "morph"
    shutil.copytree(runs["morph"], rd)
    df = pd.read_parquet(rd / "records.parquet")
    # original (iteration 0): 0.5, 0.6, 0.7 -> 0.6 ± 0.1; retimed (iteration 2): +0.05 each
    scores = {
        r.video_path: {"aesthetic_quality": 0.5 + 0.1 * int(r.item_id[-1]) + 0.025 * r.iteration}
        for r in df.itertuples()
    }
    atomic_write_json(rd / "vbench.json", {"per_video": scores})
    rec = load.load_records([rd])
    tab = fg.vbench_table(rec)
    assert len(tab) == 1
    r = tab.iloc[0]
    assert (r.dimension, r.n_original, r.n_retimed) == ("aesthetic_quality", 3, 3)
    assert r.original_mean == pytest.approx(0.6) and r.original_std == pytest.approx(0.1)
    assert r.retimed_mean == pytest.approx(0.65) and r.retimed_std == pytest.approx(0.1)
    assert r.within_1_std is True or r.within_1_std == True  # noqa: E712 (numpy bool)
    paths, tab2 = fg.fig_vbench(rec, tmp_path / "f")
    _check_image(paths)
    pd.testing.assert_frame_equal(tab, tab2)
    t = lb.build_leaderboard(rec, n_resamples=200)
    assert t.vbench_aesthetic_quality_mean.iloc[0] == pytest.approx(0.65)


def test_note_figures_without_retimed_or_vbench_records(runs, tmp_path):
    rec = load.load_records([runs["footage"]])
    _check_image(fg.fig_spf_before_after(rec, tmp_path))
    paths, tab = fg.fig_vbench(rec, tmp_path)
    assert tab.empty
    _check_image(paths)


def test_pdfs_are_byte_reproducible(runs, tmp_path):
    rec = load.load_records([runs["morph"], runs["footage"]])
    a = fg.fig_pacing_by_model(rec, tmp_path / "a")
    b = fg.fig_pacing_by_model(rec, tmp_path / "b")
    for pa, pb in zip(sorted(a), sorted(b), strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name


@pytest.mark.parametrize("model", ["morph", "footage"])
@pytest.mark.parametrize("emb", ["efficientnet_lite0", "pixel"])
def test_figure_experiments_compose_to_the_runs_figures_reads(model, emb):
    """`make figures` step 1: conf/experiment/figures_<model>.yaml with each offline embedder
    and `run_dir=runs/figures/<model>-<embedder>` (the Makefile's loop) gives the settings of
    the committed results, in a directory `spf-bench figures` reads by default."""
    rd = f"runs/figures/{model}-{emb}"
    s = settings_from_config(
        _compose([f"experiment=figures_{model}", f"embedder={emb}", f"run_dir={rd}"])
    )
    assert (s.model_name, s.embedder_name, s.pacing.name) == (model, emb, "linear")
    assert s.retime.name == ("warped" if model == "morph" else "none")
    assert s.n_videos == (8 if model == "morph" else 3)
    if model == "morph":
        assert s.model_kwargs["n_frames"] == 33 and s.retime.iterations == 3
    else:
        assert s.model_kwargs["size"] == 224
    assert s.logger["name"] == "none" and s.save_videos and not s.plots
    assert any(Path(s.run_dir).match(g) for g in fg.DEFAULT_RUNS)


@pytest.mark.parametrize("experiment", ["pacing_gt", "embedder_ablation"])
def test_experiment_files_compose(experiment, tmp_path):
    s = settings_from_config(_compose([f"experiment={experiment}", f"run_dir={tmp_path}"]))
    assert s.retime.name == "none" and s.logger["name"] == "none"
    assert s.model_name == ("pacing_gt" if experiment == "pacing_gt" else "morph")
    assert math.isfinite(s.spf.sigma)


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_cli_reads_the_stage_outputs_and_writes_the_same_results(
    runs, gt_result, empty_hf_cache, tmp_path
):
    """`spf-bench figures RUNS --pacing-gt DIR --ablation DIR --out OUT` (step 4 of
    `make figures`) reads what bench/studies/pacing_gt.py and bench/studies/ablation.py wrote and
    gives the same tables as building from the in-memory results; it changes nothing in the runs."""
    ab = abl.run_ablation([runs["morph"], runs["footage"]], ["pixel", "siglip"])
    gt_dir, ab_dir = tmp_path / "pacing_gt", tmp_path / "ablation"
    pg.write_outputs(gt_result, gt_dir, gt_dir / pg.CURVES_FILE)
    abl.write_outputs(ab, ab_dir, ab_dir / abl.CURVES_FILE)
    before = {n: _tree(runs[n]) for n in ("morph", "footage")}
    run_args = [str(runs["morph"]), str(runs["footage"])]
    out = tmp_path / "out"
    assert (
        fg.main(
            [*run_args, "--pacing-gt", str(gt_dir), "--ablation", str(ab_dir), "--out", str(out)]
        )
        == 0
    )
    assert {n: _tree(runs[n]) for n in ("morph", "footage")} == before
    ref = tmp_path / "ref"
    fg.build_results(run_args, ref, gt=gt_result, ablation=ab, provenance={"command": "x"})
    for name in (
        "leaderboard.csv",
        "leaderboard.md",
        "pacing_gt.csv",
        "pacing_gt_summary.csv",
        "pacing_gt_summary.md",
        "ablation.csv",
        "ablation_videos.csv",
        "ablation.md",
        "vbench_table.csv",
    ):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    for stem in FIGURES:
        _check_image(sorted((out / "figures").glob(f"{stem}.*")))
    readme = (out / "README.md").read_text()
    for n in ("morph", "footage"):
        cfg = json.loads((runs[n] / "config.json").read_text())
        assert f"config hash `{cfg['config_hash']}`" in readme
        assert cfg["git_sha"] in readme
    assert "model=morph retime=warped embedder=pixel pacing=linear n_videos=3" in readme
    assert "6 sequences x 13 frames at 32 px; embedders: pixel; skipped (no weights): dinov2" in (
        readme
    )
    # A missing stage output: exit 2 with one line naming what to run.
    assert fg.main([*run_args, "--pacing-gt", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert fg.main([*run_args, "--pacing-gt", "none", "--ablation", "none", "--out", str(out)]) == 0
    assert "_not run_" in (out / "README.md").read_text()


def test_save_writes_atomically_and_leaves_no_temp_file(tmp_path):
    """``_save`` commits both formats through spf_bench.metrics.atomic_io (no temp file left,
    not even when savefig fails; the old destination then stays as it was)."""
    from spf_bench.metrics.atomic_io import is_temp_file

    out = tmp_path / "out"  # tmp_path also holds conftest's environment folder
    plt = fg.pyplot()
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1])
    paths = fg._save(fig, out, "x")
    assert [p.name for p in paths] == ["x.png", "x.pdf"]
    assert sorted(p.name for p in out.iterdir()) == ["x.pdf", "x.png"]
    assert paths[1].read_bytes().startswith(b"%PDF")
    before = paths[0].read_bytes()

    def broken(path, **kw):
        Path(path).write_bytes(b"partial")
        raise RuntimeError("disk full")

    fig2, _ = plt.subplots()
    fig2.savefig = broken
    with pytest.raises(RuntimeError, match="disk full"):
        fg._save(fig2, out, "x")
    assert sorted(p.name for p in out.iterdir()) == ["x.pdf", "x.png"]
    assert not any(is_temp_file(p) for p in out.iterdir())
    assert paths[0].read_bytes() == before


def test_frames_by_path_puts_every_retime_path_under_the_stock_frames(runs, tmp_path):
    """The fixture's morph run (warped) and the same items resampled: one row of stock frames
    and one per path for each item, from the real decoder."""
    rd = tmp_path / "morph-resample"
    over = ["embedder=pixel", "logger=none", "progress=false", "plots=false", "n_videos=3"]
    over += ["model.n_frames=17", "model.size=48", "retime=resample", "retime.iterations=1"]
    run_benchmark(settings_from_config(_compose([*over, f"run_dir={rd}"])))
    records = load.load_records([runs["morph"], rd, runs["footage"]])
    paths = fg.fig_frames_by_path(records, tmp_path / "figs", n_items=2)
    assert [p.name for p in paths] == ["frames_by_path_morph.png", "frames_by_path_morph.pdf"]
    _check_image(paths)
    img = Image.open(paths[0])
    assert img.width > 2 * img.height  # 2 items x 3 rows of 17 frames side by side
    assert fg.fig_frames_by_path(load.load_records([runs["morph"]]), tmp_path / "x") == []
