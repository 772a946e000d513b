"""Sweep plumbing without a cluster: launcher configs, sharding, the Hydra callback's status
files and the sweep summary (slurm/sweep.py) on a real multirun with Hydra's basic launcher."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from spf_bench.bench.config import settings_from_config, shard_items, shard_size
from spf_bench.conf.schema import register_configs
from spf_bench.slurm.sweep import SUMMARY_FILE, expected_jobs

ROOT = Path(__file__).resolve().parents[1]


def _compose_with_hydra(conf_dir: Path, overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()  # the typed schemas the config's defaults name (logger/_schema, ...)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
            return compose("config", overrides=overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


def test_launcher_configs_are_typed_and_take_site_settings(tmp_path):
    from hydra.errors import ConfigCompositionException

    conf = tmp_path / "conf"  # a copy: the site file must not touch the shared checkout
    shutil.copytree(ROOT / "conf", conf)
    for p in (conf / "local").glob("*.yaml"):
        p.unlink()
    cfg = _compose_with_hydra(conf, ["hydra/launcher=slurm"])
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher")
    assert launcher["max_num_timeout"] >= 1 and launcher["timeout_min"] >= 10
    assert launcher["signal_delay_s"] > 0 and launcher["array_parallelism"] >= 1
    assert launcher["submitit_folder"] == "${hydra.sweep.dir}/.submitit/%j"
    assert launcher["partition"] is None
    # Typed: the plugin's dataclass rejects a value of the wrong type.
    with pytest.raises(ConfigCompositionException, match="max_num_timeout"):
        _compose_with_hydra(conf, ["hydra/launcher=slurm", "hydra.launcher.max_num_timeout=x"])
    # Site settings from the (gitignored) conf/local/slurm.yaml; the command line still wins.
    (conf / "local" / "slurm.yaml").write_text("partition: gpu\naccount: lab\nsetup: [ml cuda]\n")
    site = _compose_with_hydra(conf, ["hydra/launcher=slurm"]).hydra.launcher
    assert (site.partition, site.account, list(site.setup)) == ("gpu", "lab", ["ml cuda"])
    cli = _compose_with_hydra(conf, ["hydra/launcher=slurm", "hydra.launcher.partition=debug"])
    assert cli.hydra.launcher.partition == "debug"
    local = _compose_with_hydra(conf, ["hydra/launcher=local"]).hydra.launcher
    assert local._target_.endswith("submitit_launcher.LocalLauncher")
    assert "partition" not in local
    # The callback that records job status is registered for every run and sweep.
    assert cfg.hydra.callbacks.sweep._target_ == "spf_bench.slurm.sweep.SweepCallback"


def test_shard_size_sets_the_shard_count_and_bounds_each_job(compose_cfg):
    # 10 items in jobs of at most 4: ceil(10 / 4) = 3 strided shards, written out by hand.
    expected = [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    items = [f"morph-{i:04d}" for i in range(10)]
    for k, want in enumerate(expected):
        s = settings_from_config(compose_cfg(["n_videos=10", "shard.size=4", f"shard.index={k}"]))
        assert (s.shard_index, s.shard_count) == (k, 3)
        assert shard_items(items, s.shard_index, s.shard_count) == [items[i] for i in want]
        assert shard_size(10, k, 3) == len(want)
    with pytest.raises(ValueError, match=r"shard\.index=3 must lie in \[0, shard\.count=3\)"):
        settings_from_config(compose_cfg(["n_videos=10", "shard.size=4", "shard.index=3"]))
    with pytest.raises(ValueError, match=r"shard\.size must be a positive integer"):
        settings_from_config(compose_cfg(["shard.size=0"]))
    # Sharding never changes the configuration's hash, so shards share one cache.
    hashes = {settings_from_config(compose_cfg([f"shard.size={n}"])).config_hash for n in (1, 2, 4)}
    assert len(hashes) == 1


def test_shards_of_a_real_suite_cover_it_once(compose_cfg):
    from spf_bench.bench.build import build_generator

    s = settings_from_config(compose_cfg(["n_videos=7", "shard.count=3", "model.n_frames=5"]))
    gen = build_generator(s.model_target, s.model_kwargs)
    suite = [it.item_id for it in gen.items(7, s.seed)]
    got = [[it.item_id for it in shard_items(gen.items(7, s.seed), k, 3)] for k in range(3)]
    flat = [i for g in got for i in g]
    assert sorted(flat) == sorted(suite) and len(set(flat)) == 7
    assert [len(g) for g in got] == [3, 2, 2]


def test_basic_launcher_sweep_records_every_failure_and_merges_records(tmp_path):
    # Three jobs on Hydra's in-process launcher: two shards of a 2-item run, and a third job
    # whose shard index is out of range (it raises ValueError before any work).
    sweep, run_dir = tmp_path / "sweep", tmp_path / "run"
    args = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "-m",
        f"hydra.sweep.dir={sweep}",
        f"run_dir={run_dir}",
        "model.n_frames=9",
        "embedder=pixel",
        "retime=none",
        "logger=none",
        "progress=false",
        "plots=false",
        "n_videos=2",
        "shard.count=2",
        "shard.index=range(3)",
    ]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "shard.index=2 must lie in [0, shard.count=2)" in proc.stderr
    summary = json.loads((sweep / SUMMARY_FILE).read_text())
    assert (summary["n_jobs"], summary["n_completed"], summary["n_failed"]) == (3, 2, 1)
    (fail,) = summary["failures"]
    assert fail["kind"] == "job" and fail["job_num"] == 2 and "shard.index=2" in fail["overrides"]
    assert fail["error"] == "ValueError: shard.index=2 must lie in [0, shard.count=2)"
    assert fail["traceback"].rstrip().endswith(fail["error"])
    assert not summary["complete"]
    # Job directories hold their own tables; the run_dir cache holds the records, merged.
    for n in (0, 1):
        status = json.loads((sweep / str(n) / "job_status.json").read_text())
        assert status["status"] == "completed" and status["n_items"] == 1
        assert len(pd.read_parquet(sweep / str(n) / "records.parquet")) == 1
    merged = pd.read_parquet(run_dir / "records.parquet")
    assert sorted(merged.item_id) == ["morph-0000", "morph-0001"]
    assert json.loads((run_dir / "summary.json").read_text())["n_items"] == 2
    assert (run_dir / "config.json").exists()
    jobs = expected_jobs(sweep)
    assert [j[-1] for j in jobs] == ["shard.index=0", "shard.index=1", "shard.index=2"]
    # The command-line summary agrees and exits 1 (incomplete).
    cli = subprocess.run(
        [sys.executable, "-m", "spf_bench.slurm.sweep", str(sweep), "--no-merge"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1 and "FAILED job 2" in cli.stdout
