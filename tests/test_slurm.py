"""Sweeps against a real SLURM controller (slurm/local_cluster.sh) and submitit's local executor.

Run with `make test-slurm`, which brings the single-node cluster up, exports SLURM_CONF, runs
these tests and brings the cluster down. Every sweep runs the real `bench/run.py -m` driver in
a subprocess (as a user would), on the real morph generator and pixel embedder at 9-33 frames;
the cluster-bound tests skip when SLURM_CONF is not set.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from spf_bench.bench.results.rundir import RunDir
from spf_bench.metrics import atomic_io
from spf_bench.slurm.sweep import STATUS_FILE, SUMMARY_FILE

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[1]
#: The test cluster: partition `debug`, 1 CPU per job, no GPU; timeout_min >= 10 so that a USR2
#: counts as a preemption (submitit counts it as a timeout below 10 minutes).
SLURM = [
    "hydra/launcher=slurm",
    "hydra.launcher.partition=debug",
    "hydra.launcher.gpus_per_node=null",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=null",
    "hydra.launcher.timeout_min=20",
    "hydra.launcher.signal_delay_s=30",
]
SMALL = ["model=morph", "embedder=pixel", "progress=false", "plots=false"]


def _env() -> dict[str, str]:
    # The driver is not itself a SLURM job here, even when pytest runs inside an allocation.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") or k == "SLURM_CONF"}
    env.update(HF_HUB_OFFLINE="1", WANDB_MODE="offline", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _sweep_args(tmp_path: Path, *overrides: str) -> list[str]:
    # The sweep dir carries ${oc.env:SLURM_JOB_ID,local} as conf/config.yaml's does: every job
    # must still land in the driver's directory (spf_bench.slurm.sweep pins it).
    return [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "-m",
        f"hydra.sweep.dir={tmp_path}/multirun_${{oc.env:SLURM_JOB_ID,local}}",
        f"run_dir={tmp_path}/runs/${{model.name}}-${{retime.name}}-${{embedder.name}}",
        *SMALL,
        *overrides,
    ]


def _run(args: list[str], timeout: float = 400, env: dict | None = None):
    t0 = time.perf_counter()
    proc = subprocess.run(
        args, cwd=ROOT, env=env or _env(), capture_output=True, text=True, timeout=timeout
    )
    return proc, time.perf_counter() - t0


def _sweep_dir(tmp_path: Path) -> Path:
    dirs = sorted(tmp_path.glob("multirun_*"))
    assert len(dirs) == 1, f"expected one sweep directory, found {dirs}"
    return dirs[0]


def _check_run_dir(run_dir: Path, n_items: int, iterations: int) -> pd.DataFrame:
    """Every (item, iteration) recorded exactly once, ok, in the files and the merged table."""
    files = sorted((run_dir / "records").glob("*.json"))
    assert len(files) == n_items * (iterations + 1), [p.name for p in files]
    rows = [r.as_dict() for r in RunDir(run_dir).all_records()]
    assert all(r["status"] == "ok" for r in rows), [r.get("error") for r in rows]
    df = pd.read_parquet(run_dir / "records.parquet")  # merged by spf_bench.slurm.sweep
    assert len(df) == len(files)
    assert not df.duplicated(["item_id", "iteration"]).any()
    assert df.item_id.nunique() == n_items
    assert sorted(df.iteration.unique()) == list(range(iterations + 1))
    return df


def _status(job_dir: Path) -> dict:
    return json.loads((job_dir / STATUS_FILE).read_text())


def _sacct(job_ids: list[str], *extra: str, timeout: float = 60) -> list[str]:
    """Accounting states of the jobs (one line per job), once none is still running: the driver
    gets a job's result when the job writes it, a moment before SLURM records the end."""
    deadline = time.time() + timeout
    while True:
        # `-j <id>` of an array's first task also lists its siblings: keep the asked ids.
        lines = subprocess.run(
            ["sacct", "-n", "-X", "-P", *extra, "-o", "JobIDRaw,State", "-j", ",".join(job_ids)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        pairs = [line.split("|") for line in lines]
        states = [st for i in job_ids for jid, st in pairs if jid == i]
        if not {"RUNNING", "PENDING", "COMPLETING"} & set(states) or time.time() > deadline:
            return states
        time.sleep(1)


@pytest.fixture(scope="session")
def slurm_cluster():
    """The running local cluster (slurm/local_cluster.sh up); skip when SLURM_CONF is unset."""
    conf = os.environ.get("SLURM_CONF")
    if not conf:
        pytest.skip("no SLURM cluster: run `make test-slurm` (slurm/local_cluster.sh up)")
    out = subprocess.run(["sinfo", "-h", "-o", "%P %t"], capture_output=True, text=True)
    assert out.returncode == 0 and "debug" in out.stdout, (
        f"SLURM_CONF={conf} is set but the cluster does not answer: {out.stderr}"
    )
    return conf


# ---------------------------------------------------------------------------------- SLURM
def test_slurm_sweep_of_four_jobs_completes_with_all_records(slurm_cluster, tmp_path):
    # model x retime x embedder x N items = morph x {none, warped} x pixel x 4, shards of 2.
    args = _sweep_args(
        tmp_path,
        *SLURM,
        "model.n_frames=9",
        "retime=none,warped",
        "n_videos=4",
        "shard.size=2",
        "shard.index=range(2)",
        "logger=wandb",
    )
    proc, wall = _run(args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = _sweep_dir(tmp_path)
    assert sweep.name == "multirun_local"
    summary = json.loads((sweep / SUMMARY_FILE).read_text())
    assert summary["complete"] and summary["n_jobs"] == summary["n_completed"] == 4
    assert summary["failures"] == []
    print(f"\n4-job SLURM sweep: driver {wall:.1f} s, jobs span {summary['jobs_span_s']:.1f} s")
    # Jobs ran on SLURM, each under its own job id, in its own numbered directory.
    ids = {_status(sweep / str(n))["slurm_job_id"] for n in range(4)}
    assert len(ids) == 4 and None not in ids
    assert not list(tmp_path.glob("multirun_[0-9]*")), "a job wrote outside the sweep dir"
    for n in range(4):
        st = _status(sweep / str(n))
        assert st["status"] == "completed" and st["n_items"] == st["n_items_expected"] == 2
        assert (sweep / str(n) / "records.parquet").exists()
        assert json.loads((sweep / str(n) / "summary.json").read_text())["shard"] == {
            "index": st["shard_index"],
            "count": 2,
            "n_items": 2,
        }
    _check_run_dir(tmp_path / "runs" / "morph-none-pixel", 4, 0)
    df = _check_run_dir(tmp_path / "runs" / "morph-warped-pixel", 4, 3)
    assert (df[df.iteration == 3].linearity_score.values > 0.9).all()
    # W&B: one offline run per job, grouped by the sweep id, files inside the job directory.
    runs = [_status(sweep / str(n))["wandb"] for n in range(4)]
    assert {r["group"] for r in runs} == {sweep.name}
    assert len({r["run_id"] for r in runs}) == 4
    assert {r["name"] for r in runs} == {
        f"morph-{rt}-pixel-shard{i}of2-job{2 * (rt == 'warped') + i}"
        for rt in ("none", "warped")
        for i in range(2)
    }
    for n, r in enumerate(runs):
        files = list((sweep / str(n) / "wandb").glob(f"**/offline-run-*/run-{r['run_id']}.wandb"))
        assert len(files) == 1 and sweep.name.encode() in files[0].read_bytes()
        assert (sweep / str(n) / "wandb_metrics.json").exists()
    # SLURM itself saw every job complete (accounting through slurmdbd).
    assert _sacct(sorted(ids)) == ["COMPLETED"] * 4


def test_slurm_four_shards_of_one_configuration_write_one_run_directory(slurm_cluster, tmp_path):
    # Four jobs of ONE configuration finish together into one run_dir (the layout of a big
    # sweep on shared storage): per-(item, iteration) records, tables merged under the lock.
    args = _sweep_args(
        tmp_path,
        *SLURM,
        "model.n_frames=9",
        "retime=warped",
        "retime.iterations=1",
        "n_videos=8",
        "shard.count=4",
        "shard.index=range(4)",
        "logger=none",
        "report=false",
        "eval_embedders=[]",
    )
    proc, _ = _run(args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((_sweep_dir(tmp_path) / SUMMARY_FILE).read_text())
    assert summary["complete"] and summary["n_jobs"] == summary["n_completed"] == 4
    run_dir = tmp_path / "runs" / "morph-warped-pixel"
    df = _check_run_dir(run_dir, 8, 1)
    assert sorted(df.item_id.unique()) == [f"morph-{i:04d}" for i in range(8)]
    merged = json.loads((run_dir / "summary.json").read_text())
    assert merged["n_items"] == 8 and merged["n_records"] == 16 and merged["n_failed"] == 0
    assert not [p for p in run_dir.rglob("*") if atomic_io.is_temp_file(p)]


def test_slurm_job_that_raises_is_recorded_and_the_others_complete(slurm_cluster, tmp_path):
    # siglip needs weights that an empty HF cache lacks: its two jobs raise MissingWeightsError.
    env = _env()
    env["HF_HOME"] = str(tmp_path / "empty_hf_home")
    args = _sweep_args(
        tmp_path,
        *SLURM,
        "model.n_frames=9",
        "retime=none",
        "embedder=pixel,siglip",
        "n_videos=4",
        "shard.size=2",
        "shard.index=range(2)",
        "logger=none",
    )
    proc, wall = _run(args, env=env)
    # Hydra re-raises the first failure once every job has ended ...
    assert proc.returncode != 0 and "MissingWeightsError" in proc.stderr
    sweep = _sweep_dir(tmp_path)
    summary = json.loads((sweep / SUMMARY_FILE).read_text())
    print(f"\nSLURM sweep with 2 failing jobs: driver {wall:.1f} s")
    # ... and every failure is recorded, with its traceback, while the other jobs complete.
    failed = {f["job_num"]: f for f in summary["failures"] if f["kind"] == "job"}
    assert sorted(failed) == [2, 3] and summary["n_completed"] == 2
    for f in failed.values():
        assert f["error"].startswith("MissingWeightsError")
        assert "Traceback (most recent call last)" in f["traceback"]
        assert "build_embedder" in f["traceback"]
        assert "embedder=siglip" in f["overrides"]
    for n in (2, 3):
        st = _status(sweep / str(n))
        assert st["status"] == "failed" and st["slurm_job_id"]
    _check_run_dir(tmp_path / "runs" / "morph-none-pixel", 4, 0)
    assert not summary["complete"]
    # SLURM reports the failing jobs COMPLETED: only job_status.json tells.
    ids = [_status(sweep / str(n))["slurm_job_id"] for n in (2, 3)]
    assert _sacct(ids) == ["COMPLETED", "COMPLETED"]
    # The summary command lists the same failures and exits 1.
    cli = subprocess.run(
        [sys.executable, "-m", "spf_bench.slurm.sweep", str(sweep), "--no-merge"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1 and cli.stdout.count("FAILED job") == 2


def _squeue_state(job_id: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%T %r"], capture_output=True, text=True
    )
    return out.stdout.strip()


def test_slurm_preempted_job_is_requeued_and_completes(slurm_cluster, tmp_path):
    n_items, iterations = 8, 3
    args = _sweep_args(
        tmp_path,
        *SLURM,
        "model.n_frames=33",
        "retime=warped",
        f"n_videos={n_items}",
        "logger=none",
    )
    t0 = time.perf_counter()
    driver = subprocess.Popen(
        args, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        run_dir = tmp_path / "runs" / "morph-warped-pixel"
        deadline = time.time() + 180
        while len(list((run_dir / "records").glob("*.json"))) < 6:
            assert time.time() < deadline and driver.poll() is None, "job never got going"
            time.sleep(0.5)
        sweep = _sweep_dir(tmp_path)
        job_id = _status(sweep / "0")["slurm_job_id"]
        before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in run_dir.glob("records/*")}
        # Preempt: SLURM sends USR2 to the job; submitit checkpoints (the launcher resubmits
        # the same Hydra job) and requeues it.
        subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
        t_signal = time.perf_counter()
        released, deadline = False, time.time() + 240
        while driver.poll() is None:
            assert time.time() < deadline, f"job {job_id} never came back: {_squeue_state(job_id)}"
            state = _squeue_state(job_id)
            # A cluster with the default cred_expire holds a requeued job ~121 s: release it
            # once the node has left the completing state (the local cluster needs no help).
            if not released and state.startswith("PENDING") and "BeginTime" in state:
                if time.perf_counter() - t_signal > 30:
                    nodes = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True)
                    if b"comp" not in nodes.stdout:
                        subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"])
                        released = True
            time.sleep(1)
        out, _ = driver.communicate(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    wall = time.perf_counter() - t0
    assert driver.returncode == 0, out[-3000:]
    print(
        f"\npreempted SLURM job: driver {wall:.1f} s, back after preemption in "
        f"{wall - (t_signal - t0):.1f} s"
    )
    st = _status(sweep / "0")
    assert st["status"] == "completed" and st["slurm_restart_count"] >= 1
    assert len(st["attempts"]) == 1 and st["slurm_job_id"] == job_id
    # No record lost, none duplicated, none finished before the preemption rewritten.
    _check_run_dir(run_dir, n_items, iterations)
    for p, (mtime, data) in before.items():
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data, f"{p.name} rewritten"
    log = "".join(p.read_text() for p in (sweep / ".submitit").glob("*/*_log.out"))
    assert "this job is preempted" in log and f"Requeued job {job_id}" in log
    assert _sacct([job_id], "-D") == ["REQUEUED", "COMPLETED"]


def test_slurm_job_killed_hard_is_listed_and_rerunning_the_sweep_finishes_it(
    slurm_cluster, tmp_path
):
    n_items, iterations = 8, 3
    args = _sweep_args(
        tmp_path, *SLURM, "model.n_frames=33", "retime=warped", f"n_videos={n_items}"
    )
    args[3] = f"hydra.sweep.dir={tmp_path}/multirun_first"
    driver = subprocess.Popen(
        [*args, "logger=none"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        run_dir = tmp_path / "runs" / "morph-warped-pixel"
        deadline = time.time() + 180
        while len(list((run_dir / "records").glob("*.json"))) < 4:
            assert time.time() < deadline and driver.poll() is None, "job never got going"
            time.sleep(0.5)
        # SIGKILL the job's Python process, as the OOM killer would (a `scancel` is a
        # cancellation: SIGTERM first, which submitit bypasses).
        os.kill(_status(tmp_path / "multirun_first" / "0")["pid"], signal.SIGKILL)
        out, _ = driver.communicate(timeout=120)  # no hang: sacct reports the dead job
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode != 0 and "UncompletedJobError" in out
    first = json.loads((tmp_path / "multirun_first" / SUMMARY_FILE).read_text())
    (fail,) = first["failures"]
    assert fail["kind"] == "job" and first["jobs"][0]["status"] == "running"
    assert "died hard" in fail["error"] and not first["complete"]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in run_dir.glob("records/*.json")}
    assert 4 <= len(before) < n_items * (iterations + 1)
    # The same sweep again (new sweep dir): finished records are skipped, the rest is done.
    args[3] = f"hydra.sweep.dir={tmp_path}/multirun_second"
    proc, wall = _run([*args, "logger=none"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"\nre-run after a hard kill: driver {wall:.1f} s")
    assert json.loads((tmp_path / "multirun_second" / SUMMARY_FILE).read_text())["complete"]
    _check_run_dir(run_dir, n_items, iterations)
    for p, (mtime, data) in before.items():
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data, f"{p.name} rewritten"


# ---------------------------------------------------------------------------------- local
def test_local_run_killed_with_sigkill_resumes_without_duplicates(tmp_path):
    n_items, iterations = 4, 3
    run_dir = tmp_path / "run"
    args = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        *SMALL,
        "model.n_frames=33",
        "retime=warped",
        f"n_videos={n_items}",
        "logger=none",
        f"run_dir={run_dir}",
        f"hydra.run.dir={tmp_path}/hydra",
    ]
    proc = subprocess.Popen(
        args, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.time() + 120
        while len(list((run_dir / "records").glob("*.json"))) < 6:
            assert time.time() < deadline and proc.poll() is None, "run never got going"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (run_dir / "summary.json").exists()
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in run_dir.glob("records/*.json")}
    assert 6 <= len(before) < n_items * (iterations + 1)
    again, _ = _run([*args[:-1], f"hydra.run.dir={tmp_path}/hydra2"], timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    files = sorted((run_dir / "records").glob("*.json"))
    assert len(files) == n_items * (iterations + 1)
    df = pd.read_parquet(run_dir / "records.parquet")
    assert len(df) == len(files) and not df.duplicated(["item_id", "iteration"]).any()
    assert (df.status == "ok").all()
    for p, (mtime, data) in before.items():
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data, f"{p.name} rewritten"
    assert _status(tmp_path / "hydra2")["status"] == "completed"


def test_submitit_local_sweep_completes_with_all_records(tmp_path):
    args = _sweep_args(
        tmp_path,
        "hydra/launcher=local",
        "model.n_frames=9",
        "retime=none,warped",
        "n_videos=4",
        "shard.size=2",
        "shard.index=range(2)",
        "logger=none",
    )
    proc, wall = _run(args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = _sweep_dir(tmp_path)
    summary = json.loads((sweep / SUMMARY_FILE).read_text())
    print(f"\n4-job submitit_local sweep: driver {wall:.1f} s")
    assert summary["complete"] and summary["n_completed"] == 4
    assert all(_status(sweep / str(n))["slurm_job_id"] is None for n in range(4))
    assert len(list((sweep / ".submitit").glob("*/*_result.pkl"))) == 4
    _check_run_dir(tmp_path / "runs" / "morph-none-pixel", 4, 0)
    _check_run_dir(tmp_path / "runs" / "morph-warped-pixel", 4, 3)
