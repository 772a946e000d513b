"""User errors at the entry points (bench/errors.py): one line on stderr, a non-zero exit and no
traceback; HYDRA_FULL_ERROR=1 (the Hydra run) or --debug (spf-bench subcommands) shows it.
Every case runs the real command in a subprocess."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spf_bench.bench.errors import EXIT_USER_ERROR, UserError, is_user_error, one_line
from spf_bench.generators.common import MissingCheckpointError

ROOT = Path(__file__).resolve().parents[1]
SPF_BENCH = Path(sys.executable).with_name("spf-bench")
#: A one-item morph run in seconds (pixel embedder, no retime).
TINY = [
    "embedder=pixel",
    "model.n_frames=9",
    "model.size=32",
    "n_videos=1",
    "retime=none",
    "progress=false",
    "logger=none",
    "eval_embedders=[]",
    "report=false",
]


def _run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "OMP_NUM_THREADS": "1", **env}
    if "HYDRA_FULL_ERROR" not in env:
        full.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(cmd, cwd=cwd, env=full, capture_output=True, text=True, timeout=300)


def _one_line(proc: subprocess.CompletedProcess, prefix: str) -> str:
    assert proc.returncode == EXIT_USER_ERROR, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), proc.stderr
    return lines[0]


def test_missing_checkpoint_is_one_line_and_hydra_full_error_shows_the_traceback(tmp_path):
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "model=wan22", f"run_dir={tmp_path}/r"]
    env = {"HF_HUB_CACHE": str(tmp_path / "empty_hub"), "HF_HUB_OFFLINE": "1"}
    line = _one_line(_run(cmd, tmp_path, **env), "spf-bench run: error: checkpoint ")
    assert "Wan-AI/Wan2.2-T2V-A14B-Diffusers" in line and "hf download" in line
    full = _run(cmd, tmp_path, HYDRA_FULL_ERROR="1", **env)
    assert full.returncode != 0
    assert "Traceback" in full.stderr and "MissingCheckpointError" in full.stderr


@pytest.mark.slow
def test_rerun_into_a_finished_run_with_another_seed(tmp_path):
    run_dir = f"run_dir={tmp_path / 'run'}"
    first = _run([str(SPF_BENCH), "run", *TINY, run_dir, "seed=0"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    again = [sys.executable, str(ROOT / "bench" / "run.py"), *TINY, run_dir, "seed=1"]
    line = _one_line(_run(again, tmp_path), "spf-bench run: error: ")
    assert "config.seed: 0 -> 1" in line and "resume=force" in line
    # The same through the console script, and its --debug (HYDRA_FULL_ERROR for `run`).
    cli = [str(SPF_BENCH), "run", *TINY, run_dir, "seed=1"]
    _one_line(_run(cli, tmp_path), "spf-bench run: error: ")
    debug = _run([str(SPF_BENCH), "--debug", *cli[1:]], tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    assert "RunIdentityError" in debug.stderr


def test_subcommand_bad_input_is_one_line_and_debug_shows_the_traceback(tmp_path):
    cmd = ["study", "perf_measure", "--embedder", "nosuch", "--frames", "4", "--repeat", "1"]
    line = _one_line(_run([str(SPF_BENCH), *cmd], tmp_path), "spf-bench study perf_measure: ")
    assert "unknown embedder 'nosuch'" in line
    debug = _run([str(SPF_BENCH), "--debug", *cmd], tmp_path)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "ValueError: unknown embedder" in debug.stderr


def test_which_errors_are_user_errors():
    assert is_user_error(UserError("x")) and is_user_error(ValueError("bad"))
    assert is_user_error(MissingCheckpointError("no checkpoint", model_id="m", searched="/hub"))
    assert is_user_error(FileNotFoundError(errno.ENOENT, "No such file", "a.mp4"))
    full = OSError(errno.ENOSPC, "No space left on device", "/runs/x.json")
    assert is_user_error(full)
    assert one_line(full).startswith("disk full: ") and "No space left" in one_line(full)
    assert not is_user_error(OSError(errno.EIO, "I/O error"))
    assert not is_user_error(KeyError("k")) and not is_user_error(ZeroDivisionError())
    assert one_line(ValueError("a\n    b  c\n")) == "a b c"
    assert one_line(UserError()) == "UserError"


@pytest.mark.parametrize("name", ["perf_spf", "calibrate_segments", "train_toy"])
def test_studies_are_subcommands(tmp_path, name):
    proc = _run([str(SPF_BENCH), "study", name, "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: spf-bench study {name}")
