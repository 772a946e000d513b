"""End-to-end runs of bench/run.py's task on the real config, real generators and encoders."""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pandas as pd
import pytest

from spf_bench.bench.config import config_hash, resolved_config, settings_from_config
from spf_bench.bench.pipeline import run_benchmark
from spf_bench.bench.results import record as rec
from spf_bench.bench.results.rundir import RunDir
from spf_bench.generators.base import GeneratorError


def run(compose_cfg, tmp_path, *overrides):
    cfg = compose_cfg([f"run_dir={tmp_path / 'run'}", "progress=false", *overrides])
    return run_benchmark(settings_from_config(cfg)), tmp_path / "run"


def test_default_config_is_the_embedded_default(compose_cfg):
    cfg = compose_cfg([])
    assert (cfg.model.name, cfg.retime.name, cfg.embedder.name) == (
        "morph",
        "warped",
        "efficientnet_lite0",
    )
    assert cfg.retime.iterations == 3 and cfg.spf.window == 30 and cfg.spf.sigma == 20.0


def test_morph_warped_run_writes_every_artifact_and_improves_linearity(compose_cfg, tmp_path):
    summary, rd = run(compose_cfg, tmp_path, "n_videos=3", "embedder=pixel", "logger=wandb")
    df = pd.read_parquet(rd / "records.parquet")
    assert list(df.columns) == list(rec.COLUMNS)
    assert len(df) == 3 * 4 and (df.status == "ok").all()
    assert sorted(df.iteration.unique()) == [0, 1, 2, 3]
    assert pd.read_csv(rd / "records.csv").shape == df.shape
    for row in df.itertuples():
        assert (rd / row.video_path).stat().st_size > 0
        with np.load(rd / row.spf_path) as npz:
            assert npz["progress"].shape == (row.n_frames,)
            assert npz["embeddings"].shape[0] == row.n_frames
    for item in df.item_id.unique():
        assert (rd / "plots" / f"{item}.png").exists()
    assert (rd / "plots" / "summary.png").exists()
    # The ReTime loop evens the pace of every item (designed profiles are uneven).
    base = df[df.iteration == 0].set_index("item_id").linearity_score
    last = df[df.iteration == 3].set_index("item_id").linearity_score
    assert (last > base).all() and last.mean() > 0.97
    # Synthetic items carry their designed progress: the ground-truth error is recorded.
    assert df.rms_s_vs_designed.between(0, 1).all()
    on_disk = json.loads((rd / "summary.json").read_text())
    assert on_disk["linearity_gain_mean"] == pytest.approx(float((last - base).mean()))
    assert on_disk["n_failed"] == 0
    # W&B offline: files inside the run directory, metrics JSON written by us.
    assert summary["wandb"].get("mode") == "offline", summary["wandb"]
    assert list((rd / "wandb").glob("**/offline-run-*/run-*.wandb"))
    metrics = json.loads((rd / "wandb_metrics.json").read_text())
    assert metrics["linearity/iter0_mean"] == pytest.approx(base.mean())


def test_resume_skips_finished_iterations(compose_cfg, tmp_path):
    _, rd = run(compose_cfg, tmp_path, "n_videos=2", "embedder=pixel", "logger=none", "plots=false")
    first = pd.read_parquet(rd / "records.parquet")
    # Simulate a run killed after iteration 1 of one item: its later records vanish.
    for it in (2, 3):
        RunDir(rd).record_path("morph-0001", it).unlink()
    kept = {p: p.stat().st_mtime_ns for p in (rd / "records").glob("*.json")}
    spf_kept = {p: p.stat().st_mtime_ns for p in (rd / "spf").glob("*.npz")}
    _, rd = run(compose_cfg, tmp_path, "n_videos=2", "embedder=pixel", "logger=none", "plots=false")
    for p, mtime in kept.items():
        assert p.stat().st_mtime_ns == mtime, f"{p.name} was recomputed"
    for p in (rd / "spf").glob("morph-0000__*.npz"):
        assert p.stat().st_mtime_ns == spf_kept[p]
    again = pd.read_parquet(rd / "records.parquet")
    assert len(again) == len(first) == 8
    assert not again.duplicated(["item_id", "iteration"]).any()
    # Deterministic: the resumed iterations reproduce the first run's scores.
    pd.testing.assert_series_equal(
        again.sort_values(["item_id", "iteration"]).linearity_score.reset_index(drop=True),
        first.sort_values(["item_id", "iteration"]).linearity_score.reset_index(drop=True),
    )


def test_footage_measure_with_a_bad_and_a_static_clip(compose_cfg, tmp_path, clip_dir):
    paths = [str(clip_dir / n) for n in ("moving.mp4", "static.mp4", "truncated.mp4")]
    summary, rd = run(
        compose_cfg,
        tmp_path,
        "model=footage",
        "retime=none",
        "embedder=pixel",
        f"model.paths=[{','.join(paths)}]",
        "n_videos=3",
        "logger=none",
    )
    df = pd.read_parquet(rd / "records.parquet").set_index("item_id")
    assert df.loc["moving", "status"] == "ok" and not df.loc["moving", "degenerate"]
    assert df.loc["static", "status"] == "ok" and df.loc["static", "degenerate"]
    assert math.isnan(df.loc["static", "linearity_score"])  # never a perfect score
    assert df.loc["truncated", "status"] == "failed"
    err = df.loc["truncated", "error"]
    assert err.startswith("GeneratorError: cannot decode footage 'truncated': "), err
    detail = err.split(": ", 2)[2]  # the decoder's message: names the file, calls it truncated
    assert paths[2] in detail and "truncated" in detail.replace(paths[2], ""), err
    assert summary["n_failed"] == 1 and summary["failures"][0]["item_id"] == "truncated"


def test_footage_cannot_be_warped(compose_cfg, tmp_path):
    with pytest.raises(GeneratorError, match="retime=none"):
        run(compose_cfg, tmp_path, "model=footage", "retime=warped", "embedder=pixel")
    assert not (tmp_path / "run" / "records").exists()


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("n_videos=0", r"n_videos must be >= 1, got 0"),
        ("retime.iterations=-1", r"retime\.iterations=-1: must be >= 0"),
        ("shard.index=3", r"shard\.index=3 must lie in \[0, shard\.count=1\)"),
        ("spf.window=0", r"window"),
        ("retime.a_low=1.5", r"retime\.a_low must lie in \[0, 1\], got 1\.5"),
        ("retime=segmented", r"iterations must be 1, got 0"),
    ],
)
def test_bad_config_values_fail_before_work(compose_cfg, tmp_path, override, match):
    # Values of the right type that break a rule: refused by settings_from_config, before any
    # generator, embedder or file exists.
    overrides = [f"run_dir={tmp_path / 'run'}", override]
    if override == "retime=segmented":
        overrides.append("retime.iterations=0")
    cfg = compose_cfg(overrides)
    with pytest.raises(ValueError, match=match):
        settings_from_config(cfg)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("retime.update=sideways", r"Invalid value 'sideways', expected one of \[compose, addi"),
        ("pacing.name=bounce", r"Invalid value 'bounce', expected one of \[linear, ease_in_out"),
        ("embedder.name=clip", r"Invalid value 'clip'"),
        ("spf.window=1.5", r"Value '1\.5' of type 'float' could not be converted to Integer"),
        ("model.n_frames=many", r"Value 'many' (of type 'str' )?could not be converted to Integer"),
        ("n_videoz=3", r"Could not override 'n_videoz'"),
        ("model.n_framez=3", r"Could not override 'model\.n_framez'"),
        ("retime.itterations=2", r"Could not override 'retime\.itterations'"),
    ],
)
def test_wrong_key_type_or_choice_fails_at_compose_time(compose_cfg, override, match):
    # The typed schemas (conf/schema.py) make Hydra itself refuse these while composing.
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg([override])
    text = f"{info.value} {info.value.__cause__}"
    assert re.search(match, text), text


def test_unknown_group_option_is_a_clear_hydra_error(compose_cfg):
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match="bogus"):
        compose_cfg(["embedder=bogus"])


def test_config_hash_ignores_bookkeeping_keys(compose_cfg):

    def digest(*o):
        return config_hash(resolved_config(compose_cfg(list(o))))

    assert digest("n_videos=2", "logger=none") == digest("n_videos=9")
    assert digest() != digest("spf.window=10")
    assert digest() != digest("embedder=pixel")


def test_default_embedder_end_to_end_shard(compose_cfg, tmp_path):
    """The embedded default (efficientnet_lite0, real weights) on one shard of two."""
    summary, rd = run(
        compose_cfg,
        tmp_path,
        "n_videos=2",
        "shard.count=2",
        "shard.index=1",
        "retime.iterations=1",
        "model.n_frames=17",
        "logger=none",
        "save_videos=false",
    )
    df = pd.read_parquet(rd / "records.parquet")
    assert set(df.item_id) == {"morph-0001"} and len(df) == 2
    assert (df.embedder == "efficientnet_lite0").all() and (df.video_path == "").all()
    assert df.linearity_score.between(0, 1).all()
    assert (
        summary["per_iteration"][1]["linearity_mean"]
        > summary["per_iteration"][0]["linearity_mean"]
    )
    assert os.path.basename(str(rd)) == "run"


@pytest.mark.parametrize("model", ["morph", "footage", "wan22_tiny", "ltx2_tiny", "pacing_gt"])
def test_composed_config_pickles_by_reference(compose_cfg, model):
    # submitit ships each job's config to the cluster by pickle: the schema classes and choice
    # enums must be importable by name (conf/schema.py), and the round trip must be exact.
    import pickle
    import subprocess
    import sys

    cfg = compose_cfg([f"model={model}"])
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and type(again.retime.name) is type(cfg.retime.name)
    assert resolved_config(again) == resolved_config(cfg)
    # A fresh interpreter that never composed a config (a cluster node) can load it too.
    code = (
        "import pickle, sys; cfg = pickle.loads(sys.stdin.buffer.read());"
        "print(cfg.model.name, cfg.retime.name)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(cfg), capture_output=True
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert proc.stdout.decode().split() == [str(cfg.model.name), "warped"]


def test_resume_at_iteration_1_records_what_an_uninterrupted_run_records(compose_cfg, tmp_path):
    # retime=warped composes by reference: an uninterrupted run renders iteration 1 with the
    # stock grid as its composition base (stored in its SPF file, named in its metadata). A
    # run killed after iteration 0 and resumed must hand the renderer exactly that base.
    def go(name):
        cfg = compose_cfg(
            [
                f"run_dir={tmp_path / name}",
                "progress=false",
                "model=wan22_toy",
                "model.steps=4",
                "embedder=pixel",
                "n_videos=1",
                "retime.iterations=2",
                "eval_embedders=[]",
                "logger=none",
                "plots=false",
                "report=false",
            ]
        )
        run_benchmark(settings_from_config(cfg))
        return tmp_path / name

    fresh = go("fresh")
    resumed = go("resumed")
    (item,) = {r.item_id for r in RunDir(resumed).all_records()}
    for it in (1, 2):  # killed after iteration 0
        RunDir(resumed).record_path(item, it).unlink()
    kept = RunDir(resumed).record_path(item, 0).stat().st_mtime_ns
    go("resumed")
    assert RunDir(resumed).record_path(item, 0).stat().st_mtime_ns == kept
    for it in (0, 1, 2):
        a = RunDir(fresh).maybe_record(item, it)
        b = RunDir(resumed).maybe_record(item, it)
        assert a.status == b.status == "ok"
        assert b.linearity_score == a.linearity_score, it
        ma, mb = json.loads(a.metadata), json.loads(b.metadata)
        assert mb["composition"] == ma["composition"], it
        with np.load(fresh / a.spf_path) as na, np.load(resumed / b.spf_path) as nb:
            assert sorted(nb.files) == sorted(na.files), it
            for key in ("positions", "base_positions"):
                if key in na.files:
                    np.testing.assert_array_equal(nb[key], na[key], err_msg=f"{key} it {it}")
        if it >= 1:  # every refinement is rendered by reference, the first one included
            assert ma["composition"] == "reference", it
