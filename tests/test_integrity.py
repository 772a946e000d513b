"""Run identity and data integrity: resume refusals, concurrent shards, killed runs, corrupt
files, file modes. Real runs of the bench (morph generator, pixel embedder, real H.264 files)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spf_bench.bench.config import settings_from_config
from spf_bench.bench.pipeline import run_benchmark
from spf_bench.bench.results.rundir import RunDir, RunIdentityError
from spf_bench.metrics import atomic_io

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "embedder=pixel",
    "model.n_frames=9",
    "model.size=32",
    "logger=none",
    "progress=false",
    "eval_embedders=[]",
    "report=false",
]


def _settings(compose_cfg, run_dir, *overrides):
    return settings_from_config(compose_cfg([f"run_dir={run_dir}", *SMALL, *overrides]))


def _keys(run_dir):
    return sorted((r.item_id, r.iteration) for r in RunDir(run_dir).all_records())


# -------------------------------------------------------------------------------- identity
def test_rerun_with_another_seed_is_refused_naming_it(compose_cfg, tmp_path):
    run_benchmark(_settings(compose_cfg, tmp_path, "n_videos=1", "retime.iterations=1"))
    before = _keys(tmp_path)
    with pytest.raises(RunIdentityError, match=r"config\.seed: 0 -> 1") as info:
        run_benchmark(_settings(compose_cfg, tmp_path, "n_videos=1", "seed=1"))
    assert "resume=force" in str(info.value)
    assert _keys(tmp_path) == before  # nothing written, nothing lost


def test_same_identity_resumes_and_force_recomputes(compose_cfg, tmp_path):
    s = _settings(compose_cfg, tmp_path, "n_videos=1", "retime.iterations=1")
    run_benchmark(s)
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "records").iterdir()}
    run_benchmark(_settings(compose_cfg, tmp_path, "n_videos=1", "retime.iterations=1"))
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "records").iterdir()} == first
    forced = _settings(
        compose_cfg, tmp_path, "n_videos=1", "retime.iterations=1", "seed=3", "resume=force"
    )
    run_benchmark(forced)
    rows = [r.as_dict() for r in RunDir(tmp_path).all_records()]
    assert {r["config_hash"] for r in rows} == {forced.config_hash} and len(rows) == 2
    assert json.loads((tmp_path / "identity.json").read_text())["hash"] == forced.config_hash


def test_resume_never_refuses_a_used_directory(compose_cfg, tmp_path):
    run_benchmark(_settings(compose_cfg, tmp_path, "n_videos=1", "retime=none"))
    with pytest.raises(RunIdentityError, match="resume=never"):
        run_benchmark(_settings(compose_cfg, tmp_path, "n_videos=1", "retime=none", "resume=never"))


def test_footage_content_is_part_of_the_identity(compose_cfg, tmp_path):
    from spf_bench.metrics.video_io import write_video

    clip = tmp_path / "clip.mp4"
    x = np.linspace(0, 255, 32, dtype=np.float64)
    frames = np.stack([np.full((32, 32, 3), v, np.uint8) for v in x])
    write_video(clip, frames, fps=8)
    over = ["model=footage", f"model.paths=[{clip}]", "n_videos=1", "retime=none"]
    run_dir = tmp_path / "run"
    s1 = settings_from_config(compose_cfg([f"run_dir={run_dir}", "embedder=pixel", *over]))
    assert list(s1.identity["inputs"]) == [str(clip)]
    run_benchmark(s1)
    write_video(clip, frames[::-1].copy(), fps=8)  # same name, other content
    s2 = settings_from_config(compose_cfg([f"run_dir={run_dir}", "embedder=pixel", *over]))
    assert s2.config_hash != s1.config_hash
    with pytest.raises(RunIdentityError, match=rf"inputs\.{clip}"):
        run_benchmark(s2)


def test_save_videos_is_part_of_the_identity(compose_cfg, tmp_path):
    a = _settings(compose_cfg, tmp_path, "save_videos=true").config_hash
    b = _settings(compose_cfg, tmp_path, "save_videos=false").config_hash
    assert a != b


# -------------------------------------------------------------------------------- corrupt files
def test_corrupt_record_and_spf_files_are_recomputed(compose_cfg, tmp_path):
    s = _settings(compose_cfg, tmp_path, "n_videos=2", "retime.iterations=2")
    ref = run_benchmark(s)
    good = pd.read_parquet(tmp_path / "records.parquet").set_index(["item_id", "iteration"])
    (tmp_path / "records" / "morph-0000__it1.json").write_text('{"item_id": "morph-00')
    npz = tmp_path / "spf" / "morph-0001__it0.npz"
    npz.write_bytes(npz.read_bytes()[:100])
    (tmp_path / "videos" / "morph-0000__it2.mp4").unlink()
    s2 = _settings(compose_cfg, tmp_path, "n_videos=2", "retime.iterations=2")
    summary = run_benchmark(s2)
    again = pd.read_parquet(tmp_path / "records.parquet").set_index(["item_id", "iteration"])
    assert _keys(tmp_path) == [(f"morph-000{i}", k) for i in (0, 1) for k in (0, 1, 2)]
    assert np.allclose(again.linearity_score, good.linearity_score.loc[again.index], atol=1e-9)
    assert summary["per_iteration"] == ref["per_iteration"]
    assert (tmp_path / "videos" / "morph-0000__it2.mp4").is_file()


def test_record_without_next_positions_is_redone_not_rendered_stock(compose_cfg, tmp_path):
    s = _settings(compose_cfg, tmp_path, "n_videos=1", "retime.iterations=2")
    run_benchmark(s)
    with np.load(tmp_path / "spf" / "morph-0000__it0.npz") as z:
        kept = {k: z[k] for k in z.files if k not in ("next_positions", "tau")}
    atomic_io.atomic_savez(tmp_path / "spf" / "morph-0000__it0.npz", **kept)
    stamp = (tmp_path / "records" / "morph-0000__it1.json").stat().st_mtime_ns
    run_benchmark(_settings(compose_cfg, tmp_path, "n_videos=1", "retime.iterations=2"))
    with np.load(tmp_path / "spf" / "morph-0000__it0.npz") as z:
        assert "next_positions" in z.files
    with np.load(tmp_path / "spf" / "morph-0000__it1.npz") as z:
        assert not np.allclose(z["positions"], np.arange(9))  # warped, not stock
    assert (tmp_path / "records" / "morph-0000__it1.json").stat().st_mtime_ns != stamp


# -------------------------------------------------------------------------------- file modes
def test_records_and_tables_follow_the_umask(tmp_path):
    code = (
        "import os, sys; os.umask(0o022); sys.argv = ['run.py', *sys.argv[1:]];"
        "from spf_bench.bench import run; run.main()"
    )
    args = [f"run_dir={tmp_path / 'run'}", *SMALL, "n_videos=1", "retime.iterations=1"]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = tmp_path / "run"
    files = [p for p in run.rglob("*") if p.is_file() and p.name != ".merge.lock"]
    assert len(files) >= 8
    modes = {str(p.relative_to(run)): oct(p.stat().st_mode & 0o777) for p in files}
    assert set(modes.values()) == {"0o644"}, modes


# -------------------------------------------------------------------------------- concurrency
@pytest.mark.slow
def test_concurrent_shards_into_one_directory_give_complete_tables(tmp_path):
    run_dir = tmp_path / "run"
    base = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        f"run_dir={run_dir}",
        *SMALL,
        "n_videos=6",
        "retime.iterations=1",
        "shard.count=3",
    ]
    procs = [
        subprocess.Popen(
            [*base, f"shard.index={k}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(3)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    df = pd.read_parquet(run_dir / "records.parquet")
    assert sorted(zip(df.item_id, df.iteration, strict=True)) == [
        (f"morph-{i:04d}", k) for i in range(6) for k in (0, 1)
    ]
    assert len(pd.read_csv(run_dir / "records.csv")) == 12
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n_items"] == 6 and summary["complete"] and summary["n_failed"] == 0
    assert not [p for p in run_dir.rglob("*") if atomic_io.is_temp_file(p)]


# -------------------------------------------------------------------------------- fault injection
def _child(settings, ready):
    os.environ["OMP_NUM_THREADS"] = "1"
    ready.set()
    run_benchmark(settings)


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(compose_cfg, tmp_path):
    # Campaigns: a fresh run directory is killed (SIGKILL) at random points, uniform over a
    # run's duration, until a run survives; then it is finished and checked against an
    # uninterrupted reference run. Campaigns repeat until at least 20 kills landed.
    over = ["n_videos=3", "retime.iterations=2", "model.n_frames=17", "model.size=64"]
    ref_dir = tmp_path / "ref"
    t0 = time.perf_counter()
    ref = run_benchmark(_settings(compose_cfg, ref_dir, *over))
    full = time.perf_counter() - t0
    want = pd.read_parquet(ref_dir / "records.parquet").set_index(["item_id", "iteration"])
    expected = [(f"morph-{i:04d}", k) for i in range(3) for k in range(3)]
    rng = np.random.default_rng(0)
    ctx = mp.get_context("fork")
    kills = 0
    for campaign in range(60):  # ~1-3 kills per campaign, depending on the machine's timing
        run_dir = tmp_path / f"run{campaign}"
        for _ in range(40):
            ready = ctx.Event()
            child = ctx.Process(target=_child, args=(_settings(compose_cfg, run_dir, *over), ready))
            child.start()
            ready.wait(60)
            time.sleep(float(rng.uniform(0.0, full)))
            alive = child.is_alive()
            if alive:
                os.kill(child.pid, signal.SIGKILL)
                kills += 1
            child.join()
            if not alive:
                break
        summary = run_benchmark(_settings(compose_cfg, run_dir, *over))
        assert _keys(run_dir) == expected  # 0 lost, 0 duplicated
        files = sorted(
            p.name for p in (run_dir / "records").iterdir() if not atomic_io.is_temp_file(p)
        )
        assert files == sorted(f"{i}__it{k}.json" for i, k in expected)
        got = pd.read_parquet(run_dir / "records.parquet").set_index(["item_id", "iteration"])
        assert len(got) == len(expected)
        assert np.allclose(got.linearity_score.sort_index(), want.linearity_score.sort_index())
        assert summary["per_iteration"] == ref["per_iteration"]
        if kills >= 20:
            break
    assert kills >= 20
