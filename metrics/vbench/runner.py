"""Run VBench in its own virtual environment: stage the videos, start the subprocess.

VBench 0.1.5's pins (numpy<2, transformers==4.33.2) clash with spf-bench's, so it runs in
``.venv-vbench`` (``make vbench-env``) as a subprocess: ``metrics/_vbench_runner.py`` executed
by that venv's interpreter, which imports only the standard library, torch and VBench and
talks to this side through two JSON files (``job.json`` in, ``out/runner_result.json`` out;
the format is in the runner's docstring).

The runner is started with ``python -I`` (isolated mode: the script's folder is not put on
``sys.path``, ``PYTHON*`` variables and the user site are ignored). Without it,
``metrics/`` would come first on ``sys.path`` and ``import vbench`` would find spf-bench's
``metrics/vbench/`` package instead of VBench.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from spf_bench.metrics.vbench.registry import (
    VBenchEnvError,
    VBenchError,
    VBenchSettings,
    venv_python,
)

__all__ = ["RUNNER", "run_vbench", "stage_videos"]

K = TypeVar("K", bound=Hashable)

#: The script run inside the VBench venv (a file, never imported by spf-bench).
RUNNER = Path(__file__).resolve().parents[1] / "_vbench_runner.py"


def stage_videos(
    keys_paths: Mapping[K, str | os.PathLike], dest: Path, prefix: str = "v"
) -> dict[str, K]:
    """Put each video into one flat folder under a unique name VBench cannot confuse.

    VBench lists a folder with a non-recursive, unsorted ``os.listdir`` and keys its output on
    the file path, so videos are staged as ``<prefix>00000.mp4``, ``<prefix>00001.mp4``, ...
    (symlinks to the absolute path; a copy where symlinks fail), in the order given.

    Args:
        keys_paths: caller's key (any hashable, e.g. ``(item, "start")``) -> video path.
        dest: the staging folder (created if needed).
        prefix: file-name prefix.

    Returns:
        Staged file name -> caller's key.

    Raises:
        OSError: if neither a symlink nor a copy can be made.
    """
    dest.mkdir(parents=True, exist_ok=True)
    staged = {}
    for i, (key, path) in enumerate(keys_paths.items()):
        name = f"{prefix}{i:05d}.mp4"
        target = dest / name
        try:
            target.symlink_to(Path(path).absolute())
        except OSError:
            shutil.copyfile(path, target)
        staged[name] = key
    return staged


def run_vbench(tasks: list[dict[str, Any]], work: Path, s: VBenchSettings) -> dict[str, Any]:
    """Run ``_vbench_runner.py`` in the VBench venv on ``tasks``; returns its result JSON.

    The environment of the subprocess is the caller's minus ``PYTHON*``, ``VIRTUAL_ENV*``,
    ``CONDA*`` and ``PYTEST*`` variables, plus ``VBENCH_CACHE_DIR``, ``TORCH_HOME``,
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, offline flags for Hugging Face, the thread counts
    and, on CPU, ``CUDA_VISIBLE_DEVICES=""``. Its stdout and stderr go to ``work/vbench.log``.

    Args:
        tasks: ``[{"tag": str, "videos_dir": str, "dimensions": [str, ...]}, ...]``; each
            ``videos_dir`` a flat folder of staged ``.mp4`` files (:func:`stage_videos`).
        work: working folder: ``job.json``, ``vbench.log`` and VBench's output ``out/`` go here.
        s: settings (paths, device, threads, timeout).

    Returns:
        The parsed ``work/out/runner_result.json``: ``{"vbench_version", "torch_version",
        "device", "n_frames": {tag: {file name: frames}}, "tasks": {tag: {dim: {"status",
        "error", "seconds", "results_file"}}}}``.

    Raises:
        VBenchEnvError: no venv, or the process exited non-zero / wrote no result file (the
            message carries the last 3000 characters of its log).
        VBenchError: the process ran past ``s.timeout_s`` seconds.
    """
    cache, torch_home, venv = s.paths()
    py = venv_python(venv)
    job = {
        "tasks": tasks,
        "output_dir": str(work / "out"),
        "device": s.device,
        "threads": s.threads,
    }
    (work / "job.json").write_text(json.dumps(job))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA", "PYTEST"))
    }
    env.update(
        VBENCH_CACHE_DIR=str(cache),
        TORCH_HOME=str(torch_home),
        TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        OMP_NUM_THREADS=str(s.threads),
        MKL_NUM_THREADS=str(s.threads),
        PYTHONNOUSERSITE="1",
    )
    if s.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    log = work / "vbench.log"
    with open(log, "w") as fh:
        try:
            proc = subprocess.run(
                # -I: isolated mode, so the runner's folder (metrics/, which holds spf-bench's
                # vbench/ package) is not on sys.path and `import vbench` finds VBench.
                [str(py), "-I", str(RUNNER), str(work / "job.json")],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(work),
                timeout=s.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise VBenchError(f"VBench ran past {s.timeout_s} s; log: {log}") from err
    result_file = work / "out" / "runner_result.json"
    if proc.returncode != 0 or not result_file.is_file():
        tail = log.read_text(errors="replace")[-3000:]
        raise VBenchEnvError(
            f"the VBench process failed (exit {proc.returncode}) before writing its results; "
            f"last output:\n{tail}"
        )
    return json.loads(result_file.read_text())
