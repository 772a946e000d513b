"""A non-editable install works from any directory: `pip install .` into a fresh venv gives a
`spf-bench` with its configs as package data and no generic top-level import names.

The fresh venv borrows the test venv's third-party packages through a .pth line (a path line
adds the folder without running its .pth files, so the checkout's editable finder stays out):
what it imports of spf_bench comes from the wheel alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "_spf_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # Build from a copy of the tracked files, so nothing but what git ships goes in.
    src = base / "src"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            (src / f).write_bytes((ROOT / f).read_bytes())
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv, Path(purelib)


def test_generic_names_are_not_installed(installed):
    venv, purelib = installed
    for name in ("metrics", "bench", "generators", "conf"):
        assert not (purelib / name).exists()
        proc = subprocess.run(
            [str(venv / "bin" / "python"), "-c", f"import {name}"],
            capture_output=True,
            text=True,
            cwd=purelib.anchor,
        )
        assert proc.returncode == 1 and f"No module named '{name}'" in proc.stderr
    assert (purelib / "spf_bench" / "conf" / "config.yaml").is_file()
    assert (purelib / "spf_bench" / "conf" / "prompts" / "transformations.yaml").is_file()


def test_installed_spf_bench_run_writes_under_the_callers_directory(installed, tmp_path):
    venv, purelib = installed
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    args = [
        str(venv / "bin" / "spf-bench"),
        "run",
        "model=morph",
        "embedder=pixel",
        "n_videos=1",
        "retime.iterations=1",
        "model.n_frames=9",
        "logger=none",
        "progress=false",
    ]
    explicit = tmp_path / "explicit"
    proc = subprocess.run(
        [*args, f"run_dir={explicit}"], cwd=work, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((explicit / "summary.json").read_text())
    assert summary["n_records"] == 2 and summary["n_failed"] == 0
    # Without run_dir: ./runs/<model>-<retime>-<embedder>-<pacing>-<hash> under the caller's
    # working directory, never inside the installed package.
    proc = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p for p in (work / "runs").iterdir() if not p.name.startswith(".")]
    assert run_dir.name.startswith("morph-warped-pixel-linear-")
    assert (run_dir / "records.parquet").is_file()
    assert not list((purelib / "spf_bench").rglob("runs"))
    # A wrong key fails at compose time with Hydra's message, before any work.
    bad = subprocess.run(
        [*args, "retime.itterations=2"], cwd=work, env=env, capture_output=True, text=True
    )
    assert bad.returncode == 1 and "Could not override 'retime.itterations'" in bad.stderr
