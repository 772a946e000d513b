"""conf/experiment/toy128.yaml (issue 19's sweep on the learned toy): every retime path of its
multirun composes to valid settings, and a run killed mid-way resumes without recomputing
what it finished (a real SIGKILL of ``bench/run.py`` on a random-initialised toy)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from spf_bench.bench.config import CONF_DIR, settings_from_config
from spf_bench.bench.results.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]


def _sweep_retimes() -> list[str]:
    doc = yaml.safe_load((CONF_DIR / "experiment" / "toy128.yaml").read_text())
    return [r.strip() for r in doc["hydra"]["sweeper"]["params"]["retime"].split(",")]


def test_toy128_sweeps_every_retime_path():
    assert _sweep_retimes() == ["none", "warped_wan22_toy", "resample", "segmented_wan22_toy"]


@pytest.mark.parametrize("retime", _sweep_retimes())
def test_each_job_of_the_sweep_composes(compose_cfg, retime):
    s = settings_from_config(compose_cfg(["experiment=toy128", f"retime={retime}"]))
    assert (s.model_name, s.embedder_name, s.n_videos) == ("wan22_toy", "pixel", 128)
    assert s.eval_embedders == ("efficientnet_lite0",) and s.save_videos
    name = retime.removesuffix("_wan22_toy")
    assert s.retime.name == name and s.run_dir.name == f"wan22_toy-{name}"
    assert s.retime.iterations == {"none": 0, "segmented": 1}.get(name, 3)
    assert s.retime.regenerator == ("wan22_toy" if name == "segmented" else None)


@pytest.fixture(scope="module")
def random_toy(tmp_path_factory):
    from safetensors.torch import save_file

    from spf_bench.generators.wan22_toy import TOY_CONFIG, build_toy_transformer

    path = tmp_path_factory.mktemp("toy") / "random_toy.safetensors"
    state = {k: v.contiguous() for k, v in build_toy_transformer(seed=0).state_dict().items()}
    save_file(state, str(path), metadata={"config": json.dumps(TOY_CONFIG)})
    return path


def test_killed_run_resumes_without_recomputing(tmp_path, random_toy):
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable, str(ROOT / "bench" / "run.py"), "experiment=toy128", "retime=warped",
        "n_videos=6", f"model.weights={random_toy}", "model.steps=2", "eval_embedders=[]",
        "spf.progress_threshold=0", f"run_dir={run_dir}", "progress=false", "report=false",
        "save_videos=false",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = run_dir / "records"
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if records.is_dir() and len(list(records.glob("*.json"))) >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    before = {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert 3 <= len(before) < 24
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)
    after = {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert all(after[name] == m for name, m in before.items())  # nothing recomputed
    rows = RunDir(run_dir).records()
    assert len(rows) == 24 and all(r.status == "ok" for r in rows)  # 6 items x 4 iterations
